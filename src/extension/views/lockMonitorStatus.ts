import { hostname } from 'node:os';
import * as vscode from 'vscode';
import type { LockHolderInfo } from '../../core/errors';
import type { RemoteStoreStatus } from '../../core/store/health';
import { describeRemoteStore } from './remoteStoreText';
import type { Configuration } from '../configuration';
import { Disposable } from '../disposable';
import { Commands, focusViewCommand, Views } from '../ids';
import type { StoreConnection } from '../storeConnection';
import { Throttle, Ticker } from '../throttle';
import type { UpgradeController } from '../upgrade/upgradeController';
import { formatDuration, percentDone } from './progressText';
import { describeHolderShort } from './locksTree';

export type LockMonitorState = 'idle' | 'held-here' | 'held-elsewhere' | 'waiting' | 'timeout';

/** What the status item shows, as data (tests read it through the extension's API). */
export interface LockMonitorFace {
  state: LockMonitorState;
  text: string;
  tooltip: string;
  accessibilityLabel: string;
  /** `statusBarItem.warningBackground`, `statusBarItem.errorBackground` or none. */
  background?: string;
  /** Agents' memories no person has kept yet (counted when the store is open; undefined before). */
  unreviewed?: number;
  /** A team store: its endpoint, commit coordination and conflicts retried against other machines. */
  remote?: RemoteStoreStatus;
}


const HOST = hostname();
/** How long the error face stays after a timeout unless a later write of this window gets the lock. */
const TIMEOUT_FACE_MS = 60_000;

/**
 * The status-bar lock monitor: always shows the store lock's state with a codicon — idle, held by
 * this window, held by another process (who), or this window waiting (live seconds) — with a
 * warning background once a wait passes `memoryLane.statusBar.waitWarningMs` and an error
 * background after a lock timeout. The tooltip lists the last waits; a click opens the Locks &
 * Upgrades view. Driven by lock events and the StoreWatcher, throttled; the only timer is the
 * one-second clock of a live "waiting 3 s", which reads nothing from the store.
 */
export class LockMonitorStatus extends Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly update = this._register(new Throttle(() => this.render(), 250));
  private readonly clock = this._register(new Ticker(() => this.render(), 1000));
  private lastTimeout: { at: number; operation: string; waitedMs: number; holder?: LockHolderInfo } | undefined;
  private _face: LockMonitorFace | undefined;
  private unreviewed: number | undefined;
  /** Counting reads the metadata column of every row: at most once every two seconds, after a change. */
  private readonly recount = this._register(new Throttle(() => void this.countUnreviewed(), 2000));

  constructor(
    private readonly connection: StoreConnection,
    private readonly upgrades: UpgradeController,
    private readonly config: Configuration,
  ) {
    super();
    this.item = this._register(vscode.window.createStatusBarItem('memoryLane.lockMonitor', vscode.StatusBarAlignment.Left, 50));
    this.item.name = 'Memory Lane Lock Monitor';
    this.item.command = Commands.showLockMonitor;
    const schedule = () => this.update.schedule();
    this._register(connection.journal.onDidChange((e) => {
      if (e.type === 'timeout') this.lastTimeout = { at: e.at, operation: e.operation, waitedMs: e.waitedMs, ...(e.holder ? { holder: e.holder } : {}) };
      else if (e.type === 'acquired') this.lastTimeout = undefined;
      // A wait starting must show at once (the throttle would delay it by up to 250 ms).
      if (e.type === 'waitStarted' || e.type === 'timeout') this.render();
      else schedule();
    }));
    this._register(connection.watcher.onDidChangeLock(schedule));
    this._register(connection.onDidChangeLocation(schedule));
    this._register(upgrades.onDidChange(schedule));
    this._register(config.onDidChange((e) => { if (config.changed(e, 'statusBar')) schedule(); }));
    // The count of memories awaiting review: on open, after this window's writes and other processes' commits.
    this._register(connection.onDidOpen(() => void this.countUnreviewed()));
    this._register(connection.onDidChangeMemories(() => this.recount.schedule()));
    this._register(connection.onDidClose(() => { this.unreviewed = undefined; schedule(); }));
    this._register(connection.onDidChangeLocation(() => { this.unreviewed = undefined; }));
    this.render();
    this.item.show();
  }

  /** The current face (text, tooltip, background) of the status item. */
  get face(): LockMonitorFace {
    return this._face ?? this.compute();
  }

  private render(): void {
    const face = this.compute();
    this._face = face;
    this.item.text = face.text;
    const tooltip = new vscode.MarkdownString(face.tooltip, true);
    tooltip.isTrusted = { enabledCommands: [Commands.showLockMonitor, Commands.showLogs, focusViewCommand(Views.memories)] };
    this.item.tooltip = tooltip;
    this.item.backgroundColor = face.background ? new vscode.ThemeColor(face.background) : undefined;
    this.item.accessibilityInformation = { label: face.accessibilityLabel, role: 'button' };
    this.clock.running = face.state === 'waiting' || (face.state === 'timeout');
  }

  private compute(): LockMonitorFace {
    const journal = this.connection.journal;
    const { waiting, holding } = journal.state;
    const seen = this.connection.watcher.state;
    const threshold = this.config.get('statusBar.waitWarningMs');
    const upgrade = this.upgrades.current?.progress;
    const suffix = upgrade ? ` · upgrade ${percentDone(upgrade)}%` : this.upgrades.current ? ' · upgrade' : '';
    const now = Date.now();
    let face: Omit<LockMonitorFace, 'tooltip'> & { detail: string };

    if (waiting) {
      const waited = now - waiting.since;
      const holder = waiting.holder ?? (seen.held && seen.holder && !isHere(seen.holder) ? seen.holder : undefined);
      const who = holder ? `${describeHolderShort(holder)} (${holder.label})` : 'another process';
      face = {
        state: 'waiting',
        text: `$(watch) Memory Lane: waiting ${Math.floor(waited / 1000)}s${suffix}`,
        accessibilityLabel: `Memory Lane lock monitor: this window has waited ${Math.round(waited / 1000)} seconds for the store lock, held by ${who}`,
        ...(waited >= threshold ? { background: 'statusBarItem.warningBackground' } : {}),
        detail: `$(watch) This window has waited **${formatDuration(waited)}** for the store lock to *${waiting.operation}*. It is held by **${who}**.`,
      };
    } else if (this.lastTimeout && now - this.lastTimeout.at < TIMEOUT_FACE_MS) {
      const t = this.lastTimeout;
      const who = t.holder ? `${describeHolderShort(t.holder)} (${t.holder.label})` : 'an unknown holder';
      face = {
        state: 'timeout',
        text: `$(error) Memory Lane: lock timeout${suffix}`,
        accessibilityLabel: `Memory Lane lock monitor: a write of this window timed out after ${Math.round(t.waitedMs / 1000)} seconds waiting for the store lock held by ${who}`,
        background: 'statusBarItem.errorBackground',
        detail: `$(error) *${t.operation}* timed out after **${formatDuration(t.waitedMs)}** waiting for the lock held by **${who}**; the write was kept in the dead-letter queue.`,
      };
    } else if (holding) {
      face = {
        state: 'held-here',
        text: `$(lock) Memory Lane: writing${suffix}`,
        accessibilityLabel: `Memory Lane lock monitor: this window holds the store lock for ${holding.operation}`,
        detail: `$(lock) This window holds the store lock for *${holding.operation}*.`,
      };
    } else if (seen.held && seen.holder && !isHere(seen.holder)) {
      const h = seen.holder;
      face = {
        state: 'held-elsewhere',
        text: `$(lock) Memory Lane: held by ${describeHolderShort(h)}${suffix}`,
        accessibilityLabel: `Memory Lane lock monitor: the store lock is held by process ${h.pid} on ${h.host} for ${h.label}`,
        detail: `$(lock) The store lock is held by **pid ${h.pid}** on ${h.host} for *${h.label}* since ${new Date(h.since).toLocaleTimeString()} (${formatDuration(now - h.since)}).${seen.stale ? ' The holder is gone; the next writer takes the lock over.' : ''}`,
      };
    } else {
      face = {
        state: 'idle',
        text: `$(database) Memory Lane: idle${suffix}`,
        accessibilityLabel: `Memory Lane lock monitor: idle, no writer holds the store lock${suffix ? ', an upgrade is running' : ''}`,
        detail: '$(database) No writer holds the store lock.',
      };
    }
    const remote = this.connection.remoteStatus;
    if (remote) {
      // The lock shown is this machine's; other machines' writers are invisible to it.
      face = { ...face, text: face.text.replace('Memory Lane:', 'Memory Lane (remote store):'), accessibilityLabel: `${face.accessibilityLabel}; remote store at ${remote.endpoint}` };
    }
    return { ...face, tooltip: this.tooltip(face.detail, remote), ...(this.unreviewed !== undefined ? { unreviewed: this.unreviewed } : {}), ...(remote ? { remote } : {}) };
  }

  /** Never opens the store: until something needs it, there is nothing to count. */
  private async countUnreviewed(): Promise<void> {
    const service = this.connection.current;
    if (!service) return;
    try {
      const n = await service.unreviewedCount();
      if (n === this.unreviewed) return;
      this.unreviewed = n;
      this.update.schedule();
    } catch {
      // A store closed or moved while counting: the next open counts again.
      if (this.connection.current === service) this.unreviewed = undefined;
    }
  }

  private tooltip(detail: string, remote?: RemoteStoreStatus): string {
    const journal = this.connection.journal;
    const lines = [`**Memory Lane** — store lock`, '', detail, ''];
    if (remote) {
      const r = describeRemoteStore(remote);
      lines.push(`$(cloud) **Remote store** \`${this.connection.dir}\` at ${remote.endpoint}: ${r.detail}.`, '');
    }
    const upgrade = this.upgrades.current;
    if (upgrade?.progress) lines.push(`$(sync~spin) Upgrade: ${upgrade.progress.phase}, ${percentDone(upgrade.progress)}% (${upgrade.progress.written} written)`, '');
    const recent = journal.recent(5);
    if (recent.length) {
      lines.push('| last waits | waited | held | outcome |', '|---|--:|--:|---|');
      for (const w of recent) lines.push(`| ${w.operation.replace(/\|/g, '/')} | ${formatDuration(w.waitedMs)} | ${w.heldMs !== undefined ? formatDuration(w.heldMs) : '–'} | ${w.outcome} |`);
      const s = journal.stats(5 * 60_000);
      lines.push('', `Waits over 5 min: p50 ${formatDuration(s.waitP50)} · p95 ${formatDuration(s.waitP95)} · max ${formatDuration(s.waitMax)}`);
    } else {
      lines.push('_No lock waits in this window yet._');
    }
    if (this.unreviewed) {
      lines.push('', `$(inbox) **${this.unreviewed}** ${this.unreviewed === 1 ? 'memory' : 'memories'} stored by agents ${this.unreviewed === 1 ? 'awaits' : 'await'} review: [Stored recently](command:${focusViewCommand(Views.memories)}) in the Memories view.`);
    }
    lines.push('', `[Open the lock monitor](command:${Commands.showLockMonitor}) · [Show logs](command:${Commands.showLogs})`);
    return lines.join('\n');
  }
}

const isHere = (h: LockHolderInfo) => h.pid === process.pid && h.host === HOST;
