import { hostname } from 'node:os';
import * as vscode from 'vscode';
import type { RemoteStoreStatus } from '../../core/store/health';
import { describeRemoteStore } from './remoteStoreText';
import type { LockWaitEntry } from '../../core/concurrency/lockJournal';
import type { LockHolderInfo } from '../../core/errors';
import type { MemoryService } from '../../core/memoryService';
import { TIMING_STAGES } from '../../core/retrieval/recallTimings';
import { describeIndex, describeQuery } from '../../core/retrieval/vectorIndex';
import type { UpgradeProgress } from '../../core/upgrade';
import type { Configuration } from '../configuration';
import { Disposable } from '../disposable';
import { Commands, Views } from '../ids';
import type { StoreConnection } from '../storeConnection';
import { Throttle, Ticker } from '../throttle';
import type { UpgradeController, UpgradeRecord } from '../upgrade/upgradeController';
import type { ConsolidationController } from '../upgrade/consolidationController';
import { consolidationNodes } from './consolidationNodes';
import { formatDuration, percentDone, progressBar } from './progressText';
import { tokensNode } from './tokensNode';

/**
 * One row of the Locks & Upgrades view as plain data: the tree renders it, and tests read the same
 * data through the extension's API (`locksSnapshot()`), so what is asserted is what is shown.
 */
export interface LockNode {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  /** A codicon id, optionally with a theme colour: `warning`, `error`, `lock`… */
  icon?: string;
  iconColor?: string;
  /** Marks rows worth attention (slow waits, timeouts, failures). */
  severity?: 'warning' | 'error';
  command?: { command: string; title: string; arguments?: unknown[] };
  children?: LockNode[];
  expanded?: boolean;
}

const HOST = hostname();
const CONTENTION_WINDOW_MS = 5 * 60_000;
const RECENT_WAITS = 15;

const ms = (n: number) => formatDuration(n);

export function describeHolderShort(h: LockHolderInfo): string {
  return `pid ${h.pid}${h.host !== HOST ? ` on ${h.host}` : ''}`;
}

const isThisProcess = (h: LockHolderInfo | undefined) => !!h && h.pid === process.pid && h.host === HOST;

/**
 * The "Locks & Upgrades" view: who holds the store lock (this window or another process), this
 * window's write queue, its recent lock waits (slow ones flagged), contention percentiles, the
 * upgrade in progress and the last ones. Rebuilt from core events — lock events, queue depth,
 * upgrade progress, and the StoreWatcher for other processes — at most four times a second.
 * Nothing here reads the store on a timer; a one-second clock only advances "held for" texts while
 * something is live and the view is visible.
 */
export class LocksTree extends Disposable implements vscode.TreeDataProvider<LockNode> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<LockNode | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  private readonly refresh = this._register(new Throttle(() => this.fire(), 250));
  private readonly clock = this._register(new Ticker(() => this.refresh.schedule(), 1000));
  readonly view: vscode.TreeView<LockNode>;
  /** How often the tree was actually refreshed (tests check the throttle). */
  refreshes = 0;

  constructor(
    private readonly connection: StoreConnection,
    private readonly upgrades: UpgradeController,
    private readonly config: Configuration,
    private readonly consolidations?: ConsolidationController,
  ) {
    super();
    this.view = this._register(vscode.window.createTreeView(Views.locks, { treeDataProvider: this, showCollapseAll: true }));
    const schedule = () => this.refresh.schedule();
    this._register(connection.journal.onDidChange(schedule));
    this._register(connection.onDidChangeQueue(schedule));
    this._register(connection.watcher.onDidChangeLock(schedule));
    this._register(connection.onDidOpen(schedule));
    this._register(connection.onDidClose(schedule));
    this._register(connection.onDidChangeLocation(schedule));
    this._register(upgrades.onDidChange(schedule));
    if (consolidations) this._register(consolidations.onDidChange(schedule));
    this._register(this.view.onDidChangeVisibility(schedule));
    this._register(config.onDidChange((e) => { if (config.changed(e, 'statusBar')) schedule(); }));
    // Recalls and index builds of the open service refresh the timing and self-check rows.
    const watch = (service: MemoryService) => {
      this.serviceEvents.forEach((d) => d.dispose());
      this.serviceEvents = [service.recallTimings.onDidRecord(schedule), service.onVectorIndex(schedule)];
    };
    this._register(connection.onDidOpen(watch));
    if (connection.current) watch(connection.current);
    this._register({ dispose: () => this.serviceEvents.forEach((d) => d.dispose()) });
  }

  private serviceEvents: Array<{ dispose(): void }> = [];

  private fire(): void {
    this.refreshes++;
    this.clock.running = this.view.visible && this.isLive();
    this._onDidChangeTreeData.fire(undefined);
  }

  private isLive(): boolean {
    const { waiting, holding } = this.connection.journal.state;
    return !!waiting || !!holding || this.connection.watcher.state.held || !!this.upgrades.current || !!this.consolidations?.current;
  }

  getTreeItem(node: LockNode): vscode.TreeItem {
    const state = node.children?.length ? (node.expanded ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed) : vscode.TreeItemCollapsibleState.None;
    const item = new vscode.TreeItem(node.severity ? { label: node.label, highlights: [[0, node.label.length]] } : node.label, state);
    item.id = node.id;
    item.description = node.description;
    if (node.tooltip) item.tooltip = new vscode.MarkdownString(node.tooltip);
    if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon, node.iconColor ? new vscode.ThemeColor(node.iconColor) : undefined);
    if (node.command) item.command = node.command;
    item.contextValue = node.id.split(':')[0];
    return item;
  }

  getChildren(node?: LockNode): LockNode[] {
    return node ? node.children ?? [] : this.snapshot();
  }

  /** The whole tree as data, built from the current state. */
  snapshot(): LockNode[] {
    const nodes: LockNode[] = [];
    const open = !!this.connection.current;
    const holder = this.holderNode();
    if (holder) nodes.push(holder);
    const waiting = this.waitingNode();
    if (waiting) nodes.push(waiting);
    const upgrade = this.upgradeNode();
    if (upgrade) nodes.push(upgrade);
    const history = this.historyNode();
    if (history) nodes.push(history);
    if (this.consolidations) nodes.push(...consolidationNodes(this.consolidations, this.connection.watcher.state));
    const waits = this.connection.journal.recent(RECENT_WAITS);
    // Opening the store is not lock activity: until this window writes, the view keeps its welcome text.
    if (open && (waits.length > 0 || this.queueBusy())) nodes.push(this.queueNode());
    if (waits.length) {
      nodes.push(this.contentionNode());
      nodes.push(this.waitsNode(waits));
    }
    if (nodes.length && !nodes.some((n) => n.id === 'holder:')) {
      nodes.unshift({ id: 'holder:', label: 'Lock: free', description: 'no writer holds the store lock', icon: 'unlock', tooltip: `Store: \`${this.connection.dir}\`` });
    }
    const remote = this.connection.remoteStatus;
    if (remote) nodes.unshift(remoteNode(remote, this.connection.dir));
    // Read-side rows, after the lock rows: a recall alone is not lock activity.
    const service = this.connection.current;
    if (service) nodes.push(...recallNodes(service));
    return nodes;
  }

  private holderNode(): LockNode | undefined {
    const { holding } = this.connection.journal.state;
    const seen = this.connection.watcher.state;
    const store = `Store: \`${this.connection.dir}\``;
    if (holding) {
      return { id: 'holder:', label: 'Lock: held by this window', description: `${holding.operation} · ${ms(Date.now() - holding.since)}`, icon: 'lock', tooltip: `This window (pid ${process.pid}) holds the store lock for **${holding.operation}** since ${ms(Date.now() - holding.since)}.\n\n${store}` };
    }
    if (seen.held && seen.holder && !isThisProcess(seen.holder)) {
      const h = seen.holder;
      const heldFor = Date.now() - h.since;
      const stale = seen.stale ? ' — the holder is gone; the next writer takes the lock over' : '';
      const slow = heldFor >= this.config.get('statusBar.waitWarningMs');
      return {
        id: 'holder:',
        label: `Lock: held by ${describeHolderShort(h)}`,
        description: `${h.label} · held ${ms(heldFor)}${stale}`,
        icon: 'lock',
        ...(slow ? { iconColor: 'list.warningForeground' } : {}),
        tooltip: `Another process holds the store lock: **pid ${h.pid}** on ${h.host}, for **${h.label}**, since ${new Date(h.since).toLocaleTimeString()} (${ms(heldFor)}).${stale}\n\n${store}`,
      };
    }
    return undefined;
  }

  private waitingNode(): LockNode | undefined {
    const { waiting } = this.connection.journal.state;
    if (!waiting) return undefined;
    const waited = Date.now() - waiting.since;
    const slow = waited >= this.config.get('statusBar.waitWarningMs');
    const by = waiting.holder ? ` · blocked by ${describeHolderShort(waiting.holder)} (${waiting.holder.label})` : '';
    return { id: 'waiting:', label: 'This window is waiting for the lock', description: `${waiting.operation} · ${ms(waited)}${by}`, icon: 'watch', ...(slow ? { severity: 'warning' as const, iconColor: 'list.warningForeground' } : {}) };
  }

  private queueBusy(): boolean {
    const d = this.connection.current?.memoryStore.queueDepth;
    return !!d && (d.interactive + d.background > 0 || d.inFlight);
  }

  private queueNode(): LockNode {
    const d = this.connection.current?.memoryStore.queueDepth ?? { interactive: 0, background: 0, inFlight: false };
    const busy = d.interactive + d.background > 0 || d.inFlight;
    return {
      id: 'queue:',
      label: 'Write queue',
      description: busy ? `${d.inFlight ? '1 at the head · ' : ''}${d.interactive} interactive · ${d.background} background waiting` : 'empty',
      icon: busy ? 'list-ordered' : 'check',
      tooltip: 'Writes of this window wait in one in-process queue; only its head takes the cross-process lock. Agents (interactive) go before the upgrader (background).',
    };
  }

  private waitsNode(waits: LockWaitEntry[]): LockNode {
    const threshold = this.config.get('statusBar.waitWarningMs');
    const slow = waits.filter((w) => w.waitedMs >= threshold || w.outcome === 'timeout').length;
    return {
      id: 'waits:',
      label: `Recent lock waits (${waits.length})`,
      description: slow ? `${slow} slow (≥ ${ms(threshold)})` : `none ≥ ${ms(threshold)}`,
      icon: 'history',
      expanded: true,
      ...(slow ? { iconColor: 'list.warningForeground' } : {}),
      children: waits.map((w, i) => this.waitNode(w, i, threshold)),
    };
  }

  private waitNode(w: LockWaitEntry, i: number, threshold: number): LockNode {
    const timeout = w.outcome === 'timeout';
    const slow = !timeout && w.waitedMs >= threshold;
    const by = w.blockedBy ? ` · blocked by ${describeHolderShort(w.blockedBy)} (${w.blockedBy.label})` : '';
    const held = w.heldMs !== undefined ? ` · held ${ms(w.heldMs)}` : w.outcome === 'held' ? ' · holding' : '';
    return {
      id: `wait:${w.startedAt}:${i}`,
      label: w.operation,
      description: `${timeout ? 'TIMED OUT after' : 'waited'} ${ms(w.waitedMs)}${held}${by}`,
      icon: timeout ? 'error' : slow ? 'warning' : w.outcome === 'compromised' ? 'alert' : 'pass',
      ...(timeout ? { severity: 'error' as const, iconColor: 'list.errorForeground' } : slow ? { severity: 'warning' as const, iconColor: 'list.warningForeground' } : {}),
      tooltip: [
        `**${w.operation}** at ${new Date(w.startedAt).toLocaleTimeString()}`,
        `- waited ${ms(w.waitedMs)}${w.heldMs !== undefined ? `, held ${ms(w.heldMs)}` : ''}, outcome **${w.outcome}**`,
        w.blockedBy ? `- blocked by pid ${w.blockedBy.pid} on ${w.blockedBy.host} (${w.blockedBy.label})` : '',
      ].filter(Boolean).join('\n'),
    };
  }

  private contentionNode(): LockNode {
    const s = this.connection.journal.stats(CONTENTION_WINDOW_MS);
    return {
      id: 'contention:',
      label: 'Contention (last 5 min)',
      description: `waits p50 ${ms(s.waitP50)} · p95 ${ms(s.waitP95)} · max ${ms(s.waitMax)}`,
      icon: 'graph',
      ...(s.timeouts ? { severity: 'error' as const, iconColor: 'list.errorForeground' } : {}),
      children: [
        { id: 'contention:count', label: 'Lock cycles', description: String(s.count), icon: 'symbol-number' },
        { id: 'contention:waits', label: 'Waits', description: `p50 ${ms(s.waitP50)} · p95 ${ms(s.waitP95)} · max ${ms(s.waitMax)}`, icon: 'watch' },
        { id: 'contention:holds', label: 'Holds', description: `p50 ${ms(s.holdP50)} · max ${ms(s.holdMax)}`, icon: 'lock' },
        { id: 'contention:timeouts', label: 'Timeouts', description: String(s.timeouts), icon: s.timeouts ? 'error' : 'pass' },
      ],
    };
  }

  private upgradeNode(): LockNode | undefined {
    const current = this.upgrades.current;
    if (current) {
      const p = current.progress;
      if (!p) return { id: `upgrade:${current.runId}`, label: 'Upgrade: starting', description: current.enricher, icon: 'sync~spin' };
      const pct = percentDone(p);
      return {
        id: `upgrade:${current.runId}`,
        label: `Upgrade: ${p.phase}`,
        description: `${progressBar(pct)} · ${p.written + p.skipped + p.failed}/${p.candidates}${p.rate ? ` · ${Math.round(p.rate)} rows/s` : ''}${p.etaMs !== undefined ? ` · ETA ${ms(p.etaMs)}` : ''}${p.calls ? ` · ${((p.tokens?.in ?? 0) + (p.tokens?.out ?? 0)).toLocaleString('en-US')}${p.budget?.tokens ? `/${p.budget.tokens.toLocaleString('en-US')}` : ''} tokens` : ''}`,
        icon: 'sync~spin',
        expanded: true,
        tooltip: `Upgrading with **${current.enricher}** since ${new Date(current.startedAt).toLocaleTimeString()}. Enrichment runs with no lock; each batch is written under one short lock. Cancel with **Memory Lane: Cancel Upgrade**.`,
        command: { command: Commands.cancelUpgrade, title: 'Cancel Upgrade' },
        children: progressChildren(current.runId, p),
      };
    }
    const other = this.connection.watcher.state.upgrade;
    if (other.running && other.holder && !isThisProcess(other.holder)) {
      return { id: 'upgrade:other', label: `Upgrade running in ${describeHolderShort(other.holder)}`, description: `${other.holder.label} · ${ms(Date.now() - other.holder.since)}`, icon: 'sync~spin', tooltip: 'Another process (a window, the CLI) upgrades this store; only one upgrade runs at a time.' };
    }
    return undefined;
  }

  private historyNode(): LockNode | undefined {
    const runs = this.upgrades.history;
    if (runs.length === 0) return undefined;
    return {
      id: 'history:',
      label: `Last upgrades (${runs.length})`,
      icon: 'checklist',
      expanded: true,
      children: runs.map((r) => finishedNode(r)),
    };
  }
}

/** This window's recent recall timings (p50/p95 per stage) and the ANN index's last self-check. */
function recallNodes(service: MemoryService): LockNode[] {
  const out: LockNode[] = [];
  const t = service.recallTimings.summary();
  const f = (x: number) => (x < 10 ? `${x.toFixed(1)} ms` : ms(x));
  if (t.count) {
    out.push({
      id: 'recall:',
      label: `Recall timings (last ${t.count})`,
      description: `total p50 ${f(t.stages.total.p50)} · p95 ${f(t.stages.total.p95)}`,
      icon: 'dashboard',
      tooltip: 'Where recall time goes in this window: query embedding, vector and full-text search (in parallel), fusion. Nearest-rank percentiles.',
      children: TIMING_STAGES.map((s) => ({ id: `recall:${s}`, label: s, description: `p50 ${f(t.stages[s].p50)} · p95 ${f(t.stages[s].p95)}`, icon: 'watch' })),
    });
  }
  const c = service.vectorIndexSelfCheck;
  if (c) {
    const bad = c.dropped || !c.passed;
    out.push({
      id: 'ann:',
      label: c.dropped ? 'Vector index: dropped (brute force)' : 'Vector index self-check',
      description: `recall@10 ${c.recallAt10.toFixed(3)} over ${c.sample} rows · ${describeIndex(c.params.index)} · ${describeQuery(c.params.query)}`,
      icon: bad ? 'warning' : 'pass',
      ...(bad ? { severity: 'warning' as const, iconColor: 'list.warningForeground' } : {}),
      tooltip: `ANN results against brute force on ${c.sample} of the store's own rows with their scope's prefilter, at ${new Date(c.at).toLocaleTimeString()} over ${c.rows} rows (ANN ${c.annMs} ms, brute force ${c.bruteMs} ms per query).${c.dropped ? ' No index reached 0.95, so recall searches exactly.' : ''}`,
    });
  }
  return out;
}

function progressChildren(runId: string, p: UpgradeProgress): LockNode[] {
  return [
    { id: `upgrade:${runId}:enriched`, label: 'Enriched (no lock)', description: `${p.enriched} / ${p.candidates}`, icon: 'sparkle' },
    { id: `upgrade:${runId}:written`, label: 'Written', description: `${p.written} in ${p.batches} batches (one lock each)`, icon: 'save' },
    { id: `upgrade:${runId}:skipped`, label: 'Skipped', description: String(p.skipped), icon: 'debug-step-over' },
    { id: `upgrade:${runId}:fallbacks`, label: 'Enriched locally after a model failure', description: String(p.fallbacks), icon: 'debug-alt' },
    { id: `upgrade:${runId}:failed`, label: 'Failed', description: String(p.failed), icon: p.failed ? 'error' : 'pass', ...(p.failed ? { severity: 'error' as const } : {}) },
    { id: `upgrade:${runId}:rate`, label: 'Rate', description: `${Math.round(p.rate)} rows/s${p.etaMs !== undefined ? ` · ETA ${ms(p.etaMs)}` : ''}`, icon: 'dashboard' },
    ...(p.calls || p.budget ? [tokensNode(`upgrade:${runId}:tokens`, p.tokens ?? { in: 0, out: 0 }, p.calls ?? 0, p.budget, p.cost, p.tokenRate)] : []),
  ];
}

function finishedNode(r: UpgradeRecord): LockNode {
  const when = new Date(r.startedAt).toLocaleTimeString();
  const took = r.finishedAt ? ms(r.finishedAt - r.startedAt) : '';
  if (!r.result) {
    return { id: `run:${r.runId}`, label: `${when} not run`, description: `${r.error?.code ?? ''} ${r.error?.message ?? ''}`.trim(), icon: 'error', severity: 'error', command: { command: Commands.showUpgradeFailure, title: 'Show Failures', arguments: [r.runId] } };
  }
  const x = r.result;
  const status = x.cancelled ? 'cancelled' : x.aborted ? 'stopped' : x.stoppedBy ? 'budget reached' : 'done';
  const failed = x.failed.map((f) => ({
    id: `run:${r.runId}:failed:${f.id}`,
    label: f.id,
    description: f.reason,
    icon: 'error',
    severity: 'error' as const,
    tooltip: `**${f.id}** could not be upgraded:\n\n${f.reason}`,
    command: { command: Commands.showUpgradeFailure, title: 'Show Failure', arguments: [r.runId, f.id] },
  }));
  return {
    id: `run:${r.runId}`,
    label: `${when} upgraded ${x.upgraded} of ${x.candidates}`,
    description: `${status} · ${took} · ${x.failed.length} failed · ${r.enricher}`,
    icon: x.failed.length || x.aborted ? 'warning' : x.cancelled ? 'circle-slash' : 'pass',
    ...(x.failed.length ? { severity: 'warning' as const } : {}),
    tooltip: `Run \`${r.runId}\`: scanned ${x.scanned}, upgraded ${x.upgraded}, skipped ${x.skipped}, failed ${x.failed.length}, fell back to local ${x.fallbacks}, merged with concurrent edits ${x.concurrentWrites}, ${x.batches} batches, ${ms(x.ms)}.${x.aborted ? `\n\nStopped: ${x.aborted}` : ''}`,
    ...(failed.length || x.calls || x.budget ? { children: [
      ...(x.calls || x.budget ? [tokensNode(`run:${r.runId}:tokens`, x.tokens, x.calls, x.budget, x.cost, undefined, x.stoppedBy)] : []),
      ...(failed.length ? [{ id: `run:${r.runId}:failed`, label: `Failed (${failed.length})`, icon: 'error', severity: 'error' as const, expanded: true, children: failed }] : []),
    ] } : {}),
  };
}

/** A team store: endpoint, commit coordination and conflicts retried against other machines (docs/team-store.md). */
function remoteNode(remote: RemoteStoreStatus, uri: string): LockNode {
  const { label, detail } = describeRemoteStore(remote);
  return {
    id: 'remote:',
    label: `Remote store: ${remote.endpoint}`,
    description: `${remote.coordination === 'dynamodb' ? `DynamoDB ${remote.table}` : 'conditional PUT'} · ${remote.conflictsRetried} conflicts retried`,
    icon: 'cloud',
    tooltip: `\`${uri}\`: ${label}; ${detail}.\n\nThis machine's lock, dead letters and pins: \`${remote.stateDir}\``,
  };
}
