import * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import type { MemoryService, RecallResult } from '../../core/memoryService';
import { CATEGORIES } from '../../core/store/schema';
import { Disposable } from '../disposable';
import { Commands } from '../ids';
import { memoryUri } from '../memoryDocuments';
import { guarded } from '../notifications';
import type { StoreConnection } from '../storeConnection';
import { preview } from '../tools/format';
import type { MemoriesTree, MemoryTreeNode } from '../views/memoriesTree';
import { personWriter } from '../writers';

/** A command's memory argument: a tree row (context menu), an id (links, tests) or nothing (palette: ask). */
type MemoryArg = MemoryTreeNode | string | undefined;

function idOf(arg: MemoryArg): string | undefined {
  if (typeof arg === 'string') return arg;
  if (arg && arg.kind === 'memory') return arg.memory.id;
  return undefined;
}

/**
 * The memory commands of the palette, the editor context menu and the Memories view: Store
 * Selection as Memory, Recall…, Open Memory, Edit Memory…, Forget Memory, and the view's filter.
 */
export class MemoryCommands extends Disposable {
  constructor(private readonly connection: StoreConnection, private readonly tree: MemoriesTree, private readonly log: Logger) {
    super();
    const register = <A extends unknown[], R>(id: string, what: string, fn: (...args: A) => Promise<R>) =>
      this._register(vscode.commands.registerCommand(id, guarded(what, log, fn)));
    register(Commands.storeSelection, 'Store Selection as Memory', (text?: string) => this.storeSelection(text));
    register(Commands.recall, 'Recall', (query?: string) => this.recall(query));
    register(Commands.openMemory, 'Open Memory', (arg?: MemoryArg) => this.open(arg));
    register(Commands.editMemory, 'Edit Memory', (arg?: MemoryArg) => this.edit(arg));
    register(Commands.forgetMemory, 'Forget Memory', (arg?: MemoryArg, options?: { confirmed?: boolean }) => this.forget(arg, options));
    register(Commands.keepMemory, 'Keep Memory', (arg?: MemoryArg) => this.keep(arg));
    register(Commands.filterMemories, 'Search Memories', async (given?: string) => {
      const query = given ?? await vscode.window.showInputBox({ title: 'Memory Lane: search memories', prompt: 'Show the memories that match (hybrid search over every scope). Empty: show all.', value: this.tree.filter });
      if (query !== undefined) this.tree.setFilter(query);
    });
    register(Commands.clearMemoriesFilter, 'Clear Filter', async () => this.tree.setFilter(''));
    register(Commands.refreshMemories, 'Refresh Memories', async (arg?: { more?: string }) => {
      if (arg?.more) this.tree.showMore(arg.more);
      else this.tree.refresh();
    });
  }

  /** Stores the editor's selection (or the given text) in this workspace's scope; returns its id. */
  private async storeSelection(given?: string): Promise<string | undefined> {
    const editor = vscode.window.activeTextEditor;
    let text = given ?? (editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : undefined);
    text ??= await vscode.window.showInputBox({ title: 'Memory Lane: store a memory', prompt: 'What should agents remember? (a fact, preference, decision or lesson)' });
    if (!text?.trim()) return undefined;
    const service = await this.connection.service();
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Memory Lane: storing' }, () => service.store({ text, writer: personWriter() }));
    if (r.status === 'duplicate') {
      const choice = await vscode.window.showInformationMessage(`Memory Lane: a near-duplicate is already stored: “${preview(r.existing.text, 80)}”.`, 'Open It', 'Store Anyway');
      if (choice === 'Open It') await this.open(r.duplicateOf);
      if (choice !== 'Store Anyway') return r.duplicateOf;
      const forced = await service.store({ text, force: true, writer: personWriter() });
      await this.keepOwn(service, forced.id);
      return forced.id;
    }
    if (r.status === 'stored') await this.keepOwn(service, r.id);
    const where = service.defaultStoreScope === this.connection.workspaceScope ? 'this workspace' : service.defaultStoreScope;
    void vscode.window.showInformationMessage(`Memory Lane: ${r.status === 'stored' ? 'stored' : 'already stored'} in ${where} as ${r.id}.`, 'Open').then((c) => { if (c) void this.open(r.id); });
    return r.id;
  }

  /** Asks for a query, shows the matches (not counted as an agent's recall) and opens the chosen one. */
  private async recall(given?: string): Promise<RecallResult[] | undefined> {
    const query = given ?? await vscode.window.showInputBox({ title: 'Memory Lane: recall', prompt: 'What do you want to remember?' });
    if (!query?.trim()) return undefined;
    const service = await this.connection.service();
    const r = await service.recall(query, { limit: 20, count: false, caller: personWriter() });
    if (given !== undefined) return r.results; // programmatic use (tests, other extensions): no UI
    const pick = await this.pickFrom(r.results, `Memories for “${preview(query, 40)}” (${r.mode}, ${Math.round(r.ms)} ms)`);
    if (pick) await this.open(pick.id);
    return r.results;
  }

  private async pickFrom(results: RecallResult[], title: string): Promise<RecallResult | undefined> {
    if (results.length === 0) {
      void vscode.window.showInformationMessage('Memory Lane: no memory matches.');
      return undefined;
    }
    const ws = this.connection.workspaceScope;
    const choice = await vscode.window.showQuickPick(results.map((r) => ({
      label: preview(r.text, 100),
      description: `${r.category} · ${r.scope === ws ? 'workspace' : r.scope} · score ${r.score.toFixed(2)}`,
      detail: r.overview ? preview(r.overview, 160) : undefined,
      result: r,
    })), { title, matchOnDescription: true, matchOnDetail: true });
    return choice?.result;
  }

  /** Resolves the memory a command is about, asking with a search when it was run from the palette. */
  private async target(arg: MemoryArg, verb: string): Promise<{ service: MemoryService; id: string } | undefined> {
    const service = await this.connection.service();
    const id = idOf(arg);
    if (id) return { service, id };
    const query = await vscode.window.showInputBox({ title: `Memory Lane: ${verb}`, prompt: 'Find the memory (search)' });
    if (!query?.trim()) return undefined;
    const pick = await this.pickFrom((await service.recall(query, { limit: 20, count: false, caller: personWriter() })).results, `${verb}: pick a memory`);
    return pick ? { service, id: pick.id } : undefined;
  }

  private async open(arg: MemoryArg): Promise<void> {
    const t = await this.target(arg, 'Open Memory');
    if (!t) return;
    const doc = await vscode.workspace.openTextDocument(memoryUri(t.id));
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  private async edit(arg: MemoryArg): Promise<void> {
    const t = await this.target(arg, 'Edit Memory');
    if (!t) return;
    const m = await t.service.get(t.id);
    const what = await vscode.window.showQuickPick([
      { label: '$(edit) Text…', key: 'text' },
      { label: '$(symbol-folder) Category…', description: m.category, key: 'category' },
      { label: '$(arrow-up) Importance…', description: String(m.importance), key: 'importance' },
      { label: '$(folder-library) Scope…', description: m.scope, key: 'scope' },
    ], { title: `Memory Lane: edit “${preview(m.text, 50)}”` });
    if (!what) return;
    let changes: Parameters<MemoryService['update']>[1] | undefined;
    if (what.key === 'text') {
      const text = await vscode.window.showInputBox({ title: 'Memory text', value: m.text, prompt: 'The upgrader re-enriches a memory whose text changed.' });
      if (text !== undefined && text !== m.text) changes = { text };
    } else if (what.key === 'category') {
      const category = await vscode.window.showQuickPick([...CATEGORIES], { title: 'Category', placeHolder: m.category });
      if (category) changes = { category };
    } else if (what.key === 'importance') {
      const value = await vscode.window.showInputBox({ title: 'Importance (0 to 1)', value: String(m.importance), validateInput: (v) => (Number.isFinite(Number(v)) && Number(v) >= 0 && Number(v) <= 1 ? undefined : 'a number from 0 to 1') });
      if (value !== undefined) changes = { importance: Number(value) };
    } else {
      const ws = this.connection.workspaceScope;
      const scope = await vscode.window.showQuickPick([...(ws ? [{ label: ws, description: 'this workspace' }] : []), { label: 'global', description: 'every workspace' }], { title: 'Scope' });
      if (scope) changes = { scope: scope.label };
    }
    if (!changes) return;
    const updated = await t.service.update(m.id, changes, { writer: personWriter() });
    // A person who rewrote an agent's text has read it: the new text needs no review either.
    if (changes.text !== undefined) await this.keepOwn(t.service, updated.id);
    this.log.info(`updated ${updated.id} (rev ${updated.rev})`);
  }

  /** Deletes a memory after a modal confirmation (`confirmed: true` skips it, for tests and scripts). */
  private async forget(arg: MemoryArg, options: { confirmed?: boolean } = {}): Promise<boolean> {
    const t = await this.target(arg, 'Forget Memory');
    if (!t) return false;
    const m = await t.service.get(t.id);
    if (!options.confirmed) {
      const ok = await vscode.window.showWarningMessage('Forget this memory?', { modal: true, detail: `“${preview(m.text, 300)}”\n\n${m.scope} · ${m.category} · ${m.id}\n\nAgents will no longer recall it. This cannot be undone (export a backup first if unsure).` }, 'Forget');
      if (ok !== 'Forget') return false;
    }
    const r = await t.service.forget(m.id, { writer: personWriter() });
    this.log.info(`${r.deleted ? 'forgot' : 'nothing to forget for'} ${m.id}`);
    return r.deleted;
  }

  /**
   * Keep: a person marks an agent's memory reviewed (Stored recently's Keep, `@memory /review`), so
   * with `memoryLane.review.requireApproval` it reaches every agent's recall. Returns whether it was
   * kept now (false: it needed no review, was kept already, or is gone).
   */
  private async keep(arg: MemoryArg): Promise<boolean> {
    const t = await this.target(arg, 'Keep Memory');
    if (!t) return false;
    const m = await t.service.get(t.id);
    const [r] = await t.service.keep([m.id], { writer: personWriter() });
    this.log.info(`keep ${m.id}: ${r?.status}`);
    return r?.status === 'kept';
  }

  /** What a person wrote in the editor needs no review: it is kept as soon as it is stored. */
  private async keepOwn(service: MemoryService, id: string): Promise<void> {
    await service.keep([id], { writer: personWriter() });
  }
}
