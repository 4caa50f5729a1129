import * as vscode from 'vscode';
import { errorMessage } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { MemoryService, MemoryView, RecallResult } from '../../core/memoryService';
import { describeWriter, writerOf, type Writer } from '../../core/provenance';
import { fromRawRow } from '../../core/store/schema';
import { Disposable } from '../disposable';
import { Commands, ContextKeys, Views } from '../ids';
import type { StoreConnection } from '../storeConnection';
import { Throttle } from '../throttle';
import { preview } from '../tools/format';
import { personWriter, writerLabel } from '../writers';

export type MemoryTreeNode =
  /** "Stored recently": what was written in the last 24 h, grouped by writer, for a person to review. */
  | { kind: 'recent'; count: number; shown: number; unreviewed: number }
  | { kind: 'writer'; label: string; writer?: Writer; memories: MemoryView[]; unreviewed: number }
  | { kind: 'scope'; scope: string; count: number }
  | { kind: 'category'; scope: string; category: string; count: number }
  | { kind: 'memory'; memory: MemoryView | RecallResult; legacy: boolean; score?: number; recent?: boolean }
  | { kind: 'more'; scope: string; category: string; shown: number; total: number }
  | { kind: 'message'; text: string; icon: string };

const PAGE = 100;
/** What "Stored recently" covers, and at most how many memories it lists. */
export const RECENT_MS = 24 * 60 * 60 * 1000;
const RECENT_LIMIT = 200;

/** `reviewed` is on MemoryView; a recall result (the search) does not carry it. */
const unreviewed = (m: MemoryView | RecallResult) => 'reviewed' in m && m.reviewed === false;

/** How many memories consolidation merged into this one (its `merged_from`). */
const mergedCount = (m: MemoryView | RecallResult) => ('metadata' in m && Array.isArray(m.metadata.merged_from) ? m.metadata.merged_from.length : 0);

/** The text a memory is listed by: its upgraded one-sentence abstract, else its text. */
function title(m: MemoryView | RecallResult): string {
  if ('metadata' in m && typeof m.metadata.l0_abstract === 'string' && m.metadata.l0_abstract.trim()) return m.metadata.l0_abstract;
  return m.text;
}

/**
 * The "Memories" view: scope → category → memory (legacy ones marked), opening a memory as a
 * read-only document, with forget / edit in the context menu and a search filter. Refreshed from
 * change events — this window's writes and, through the StoreWatcher, other processes' commits —
 * at most once a second. Reading never creates a store.
 */
export class MemoriesTree extends Disposable implements vscode.TreeDataProvider<MemoryTreeNode> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<MemoryTreeNode | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  private readonly refreshThrottle = this._register(new Throttle(() => this.fireNow(), 1000));
  readonly view: vscode.TreeView<MemoryTreeNode>;
  private counts: Promise<Map<string, Map<string, number>>> | undefined;
  private recent: Promise<RecentMemories> | undefined;
  private readonly pages = new Map<string, number>();
  private _filter = '';

  constructor(private readonly connection: StoreConnection, private readonly log: Logger) {
    super();
    this.view = this._register(vscode.window.createTreeView(Views.memories, { treeDataProvider: this, showCollapseAll: true, canSelectMany: false }));
    this._register(connection.onDidChangeMemories(() => this.refresh()));
    this._register(connection.onDidOpen(() => this.refresh()));
    this._register(connection.onDidChangeLocation(() => this.refresh()));
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()));
  }

  get filter(): string {
    return this._filter;
  }

  /** Shows only the memories a search finds (hybrid recall over every scope, not counted as a recall). */
  setFilter(query: string): void {
    this._filter = query.trim();
    this.view.description = this._filter ? `search: “${preview(this._filter, 30)}”` : undefined;
    void vscode.commands.executeCommand('setContext', ContextKeys.memoriesFiltered, !!this._filter);
    this.fireNow();
  }

  /** Asks for a refresh (coalesced to one per second). */
  refresh(): void {
    this.refreshThrottle.schedule();
  }

  private fireNow(): void {
    this.counts = undefined;
    this.recent = undefined;
    this._onDidChangeTreeData.fire(undefined);
  }

  getTreeItem(node: MemoryTreeNode): vscode.TreeItem {
    const ws = this.connection.workspaceScope;
    switch (node.kind) {
      case 'recent': {
        const item = new vscode.TreeItem('Stored recently', node.unreviewed ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
        item.id = 'recent';
        item.description = `last 24 h · ${node.shown < node.count ? `newest ${node.shown} of ${node.count}` : node.count}${node.unreviewed ? ` · ${node.unreviewed} to review` : ''}`;
        item.iconPath = new vscode.ThemeIcon(node.unreviewed ? 'inbox' : 'history');
        item.tooltip = `Memories written in the last 24 hours, grouped by who wrote them. Keep marks an agent's memory reviewed${node.unreviewed ? `; ${node.unreviewed} await it` : ''}.`;
        item.contextValue = 'recent';
        return item;
      }
      case 'writer': {
        const item = new vscode.TreeItem(node.label, node.unreviewed ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `recent-writer:${node.label}`;
        item.description = `${node.memories.length}${node.unreviewed ? ` · ${node.unreviewed} to review` : ''}`;
        item.iconPath = new vscode.ThemeIcon(writerIcon(node.writer));
        item.tooltip = node.writer ? describeWriter({ writer: node.writer }) : 'Written before Memory Lane recorded writers, or by a tool that names none.';
        item.contextValue = 'recentWriter';
        return item;
      }
      case 'scope': {
        const item = new vscode.TreeItem(node.scope === ws ? 'This workspace' : node.scope, node.scope === ws ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `scope:${node.scope}`;
        item.description = `${node.scope === ws ? `${node.scope} · ` : ''}${node.count}`;
        item.iconPath = new vscode.ThemeIcon(node.scope === 'global' ? 'globe' : node.scope === ws ? 'root-folder' : 'folder-library');
        item.contextValue = 'scope';
        return item;
      }
      case 'category': {
        const item = new vscode.TreeItem(node.category, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `category:${node.scope}:${node.category}`;
        item.description = String(node.count);
        item.iconPath = new vscode.ThemeIcon('symbol-folder');
        item.contextValue = 'category';
        return item;
      }
      case 'memory': {
        const m = node.memory;
        const item = new vscode.TreeItem(preview(title(m), 90), vscode.TreeItemCollapsibleState.None);
        item.id = `memory:${m.id}${node.score !== undefined ? ':search' : node.recent ? ':recent' : ''}`;
        const waiting = unreviewed(m);
        const merged = mergedCount(m);
        const bits = [waiting ? 'to review' : undefined, node.legacy ? 'legacy' : undefined, merged ? `merged ${merged + 1}` : undefined, node.score !== undefined ? `score ${node.score.toFixed(2)}` : undefined, `importance ${m.importance}`];
        if (node.score !== undefined || node.recent) bits.push(m.scope === ws ? 'workspace' : m.scope);
        item.description = bits.filter(Boolean).join(' · ');
        item.iconPath = new vscode.ThemeIcon(waiting ? 'circle-filled' : node.legacy ? 'circle-large-outline' : 'note');
        const tip = new vscode.MarkdownString();
        tip.appendMarkdown(`**${m.category}** · \`${m.scope}\` · importance ${m.importance}${node.legacy ? ' · *legacy (not upgraded)*' : ''}\n\n`);
        tip.appendText(preview(m.text, 600));
        tip.appendMarkdown(`\n\n\`${m.id}\` · updated ${new Date(m.updated_at).toLocaleString()}`);
        if ('metadata' in m) {
          tip.appendMarkdown('\n\nWritten by ').appendText(describeWriter(m.metadata));
          if (waiting) tip.appendMarkdown(' · **not reviewed yet** (Keep marks it reviewed)');
          if (merged) tip.appendMarkdown(`\n\nConsolidation merged ${merged} ${merged === 1 ? 'memory' : 'memories'} into this one; *Restore Merged Originals…* puts ${merged === 1 ? 'it' : 'them'} back.`);
        }
        item.tooltip = tip;
        // `memory…` gets Open, Edit and Forget; `….unreviewed` also Keep, `….merged` Restore Merged Originals (package.json's view/item/context).
        item.contextValue = `${node.legacy ? 'memory.legacy' : 'memory'}${node.recent ? '.recent' : ''}${waiting ? '.unreviewed' : ''}${merged ? '.merged' : ''}`;
        item.command = { command: Commands.openMemory, title: 'Open Memory', arguments: [m.id] };
        return item;
      }
      case 'more': {
        const item = new vscode.TreeItem(`Show more… (${node.shown} of ${node.total})`, vscode.TreeItemCollapsibleState.None);
        item.id = `more:${node.scope}:${node.category}:${node.shown}`;
        item.iconPath = new vscode.ThemeIcon('ellipsis');
        item.command = { command: Commands.refreshMemories, title: 'Show more', arguments: [{ more: `${node.scope}\u0000${node.category}` }] };
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon(node.icon);
        return item;
      }
    }
  }

  /** Lists one more page of a category (the "Show more…" row). */
  showMore(key: string): void {
    this.pages.set(key, (this.pages.get(key) ?? 1) + 1);
    this.fireNow();
  }

  async getChildren(node?: MemoryTreeNode): Promise<MemoryTreeNode[]> {
    try {
      const service = await this.connection.existingService();
      if (!service) return [];
      if (!node) {
        if (this._filter) return await this.search(this._filter);
        const [counts, recent] = await Promise.all([this.loadCounts(), this.loadRecent()]);
        const ws = this.connection.workspaceScope;
        const order = (s: string) => (s === ws ? 0 : s === 'global' ? 1 : 2);
        const scopes: MemoryTreeNode[] = [...counts.entries()]
          .sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))
          .map(([scope, cats]) => ({ kind: 'scope', scope, count: [...cats.values()].reduce((x, y) => x + y, 0) }));
        return recent.total ? [{ kind: 'recent', count: recent.total, shown: recent.items.length, unreviewed: recent.unreviewed }, ...scopes] : scopes;
      }
      if (node.kind === 'recent') return groupByWriter((await this.loadRecent()).items);
      if (node.kind === 'writer') return node.memories.map((m) => ({ kind: 'memory', memory: m, legacy: m.legacy, recent: true }));
      if (node.kind === 'scope') {
        const cats = (await this.loadCounts()).get(node.scope) ?? new Map<string, number>();
        return [...cats.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([category, count]) => ({ kind: 'category', scope: node.scope, category, count }));
      }
      if (node.kind === 'category') {
        const key = `${node.scope}\u0000${node.category}`;
        const limit = Math.min(500, PAGE * (this.pages.get(key) ?? 1));
        const page = await service.list({ scopes: [node.scope], category: node.category, sort: 'updated', limit });
        const items: MemoryTreeNode[] = page.items.map((m) => ({ kind: 'memory', memory: m, legacy: m.legacy }));
        if (page.total > page.items.length) items.push({ kind: 'more', scope: node.scope, category: node.category, shown: page.items.length, total: page.total });
        return items;
      }
      return [];
    } catch (err) {
      this.log.warn(`[views] listing memories failed: ${errorMessage(err)}`);
      return [{ kind: 'message', text: `Cannot read the store: ${errorMessage(err)}`, icon: 'error' }];
    }
  }

  getParent(): undefined {
    return undefined;
  }

  private async search(query: string): Promise<MemoryTreeNode[]> {
    const service = (await this.connection.existingService())!;
    const scopes = [...(await this.loadCounts()).keys()];
    if (scopes.length === 0) return [];
    const r = await service.recall(query, { scopes, limit: 50, count: false, full: true, caller: personWriter() });
    if (r.results.length === 0) return [{ kind: 'message', text: `No memory matches “${preview(query, 40)}”`, icon: 'search-stop' }];
    const full = await service.memoryStore.getMany(r.results.map((x) => x.id));
    return r.results.map((x) => {
      const rec = full.get(x.id);
      const legacy = rec ? !(typeof rec.metadata.l0_abstract === 'string' && rec.metadata.l0_abstract) : false;
      return { kind: 'memory', memory: x, legacy, score: x.score };
    });
  }

  /** What was written in the last 24 h, newest first (a text changed by an update counts as written then). */
  private loadRecent(): Promise<RecentMemories> {
    this.recent ??= (async () => {
      const service = await this.connection.existingService();
      return service ? listRecent(service, RECENT_LIMIT) : { items: [], total: 0, unreviewed: 0 };
    })();
    return this.recent;
  }

  /** Counts per scope and category from two light columns (no vectors, no texts). */
  private loadCounts(): Promise<Map<string, Map<string, number>>> {
    this.counts ??= (async () => {
      const service = await this.connection.existingService();
      const out = new Map<string, Map<string, number>>();
      if (!service) return out;
      for (const raw of await service.memoryStore.rows(undefined, { columns: ['scope', 'category'] })) {
        const { scope, category } = fromRawRow({ ...raw, metadata: '{}' });
        const cats = out.get(scope) ?? new Map<string, number>();
        cats.set(category, (cats.get(category) ?? 0) + 1);
        out.set(scope, cats);
      }
      return out;
    })();
    return this.counts;
  }
}

export interface RecentMemories {
  /** The unreviewed ones first, then the others, each newest first; at most the limit. */
  items: MemoryView[];
  /** All written in the last 24 h. */
  total: number;
  /** Of those, the agents' memories nobody kept yet. */
  unreviewed: number;
}

/**
 * What was written in the last 24 h (a text changed by an update counts as written then), the ones
 * that wait for review first: an import of thousands must not push an agent's memory off the list.
 */
export async function listRecent(service: MemoryService, limit: number): Promise<RecentMemories> {
  const since = Date.now() - RECENT_MS;
  const waiting = await service.list({ since, reviewed: false, sort: 'updated', limit });
  const rest = await service.list({ since, reviewed: true, sort: 'updated', limit: Math.max(1, limit - waiting.items.length) });
  const items = [...waiting.items, ...rest.items].slice(0, limit);
  return { items, total: waiting.total + rest.total, unreviewed: waiting.total };
}

/** One group per writer (kind and client), the groups that wait for review first, then by size. */
export function groupByWriter(memories: MemoryView[]): MemoryTreeNode[] {
  const groups = new Map<string, { writer?: Writer; memories: MemoryView[] }>();
  for (const m of memories) {
    const writer = m.writer ?? writerOf(m.metadata);
    const label = writerLabel(writer);
    const group = groups.get(label) ?? { ...(writer ? { writer } : {}), memories: [] };
    group.memories.push(m);
    groups.set(label, group);
  }
  return [...groups.entries()]
    .map(([label, g]): MemoryTreeNode & { kind: 'writer' } => ({ kind: 'writer', label, ...(g.writer ? { writer: g.writer } : {}), memories: g.memories, unreviewed: g.memories.filter(unreviewed).length }))
    .sort((a, b) => Number(b.unreviewed > 0) - Number(a.unreviewed > 0) || b.memories.length - a.memories.length || a.label.localeCompare(b.label));
}

function writerIcon(writer: Writer | undefined): string {
  switch (writer?.kind) {
    case 'lm-tool': return 'tools';
    case 'participant': return 'comment-discussion';
    case 'mcp': return 'plug';
    case 'cli': return 'terminal';
    case 'import': return 'cloud-download';
    case 'upgrade': case 'consolidate': return 'sparkle';
    default: return 'question';
  }
}
