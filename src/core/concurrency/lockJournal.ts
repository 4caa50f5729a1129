import { Emitter } from '../events';
import type { Disposable } from '../lifecycle';
import type { LockHolderInfo } from '../errors';
import type { LockEvent } from './lockEvents';

/** One lock cycle of this process, as the lock monitor lists it. */
export interface LockWaitEntry {
  operation: string;
  startedAt: number;
  waitedMs: number;
  heldMs?: number;
  outcome: 'held' | 'released' | 'timeout' | 'compromised';
  /** Who held the lock when this wait began (another process, usually). */
  blockedBy?: LockHolderInfo;
}

export interface ContentionStats {
  windowMs: number;
  count: number;
  waitP50: number;
  waitP95: number;
  waitMax: number;
  holdP50: number;
  holdMax: number;
  timeouts: number;
}

export interface LockJournalState {
  /** What this process is waiting for right now, if anything. */
  waiting?: { operation: string; since: number; holder?: LockHolderInfo };
  /** What this process holds right now, if anything. */
  holding?: { operation: string; since: number };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * A bounded, in-memory record of this process's recent lock waits, fed by lock events (views read
 * it; nothing polls the store). Fires `onDidChange` on every event; views throttle their refreshes.
 */
export class LockJournal implements Disposable {
  private readonly entries: LockWaitEntry[] = [];
  private open: LockWaitEntry | undefined;
  private waitStart: { operation: string; since: number; holder?: LockHolderInfo } | undefined;
  private readonly subscription: Disposable;
  private readonly _onDidChange = new Emitter<LockEvent>();
  readonly onDidChange = this._onDidChange.event;
  private _state: LockJournalState = {};

  constructor(onLockEvent: (listener: (e: LockEvent) => void) => Disposable, private readonly capacity = 200) {
    this.subscription = onLockEvent((e) => this.record(e));
  }

  get state(): LockJournalState {
    return this._state;
  }

  /** Most recent first. */
  recent(limit = 20): LockWaitEntry[] {
    return this.entries.slice(-limit).reverse();
  }

  stats(windowMs = 5 * 60_000, now = Date.now()): ContentionStats {
    const inWindow = this.entries.filter((e) => e.startedAt >= now - windowMs);
    const waits = inWindow.map((e) => e.waitedMs).sort((a, b) => a - b);
    const holds = inWindow.filter((e) => e.heldMs !== undefined).map((e) => e.heldMs!).sort((a, b) => a - b);
    return {
      windowMs,
      count: inWindow.length,
      waitP50: percentile(waits, 50),
      waitP95: percentile(waits, 95),
      waitMax: waits.at(-1) ?? 0,
      holdP50: percentile(holds, 50),
      holdMax: holds.at(-1) ?? 0,
      timeouts: inWindow.filter((e) => e.outcome === 'timeout').length,
    };
  }

  private record(e: LockEvent): void {
    switch (e.type) {
      case 'waitStarted':
        this.waitStart = { operation: e.operation, since: e.at, holder: e.holder };
        this._state = { ...this._state, waiting: this.waitStart };
        break;
      case 'acquired': {
        const blockedBy = this.waitStart?.operation === e.operation ? this.waitStart.holder : undefined;
        this.open = { operation: e.operation, startedAt: e.at - e.waitedMs, waitedMs: e.waitedMs, outcome: 'held', ...(blockedBy ? { blockedBy } : {}) };
        this.push(this.open);
        this.waitStart = undefined;
        this._state = { holding: { operation: e.operation, since: e.at } };
        break;
      }
      case 'released':
        if (this.open) {
          this.open.heldMs = e.heldMs;
          if (this.open.outcome === 'held') this.open.outcome = 'released';
          this.open = undefined;
        }
        this._state = {};
        break;
      case 'timeout':
        this.push({ operation: e.operation, startedAt: e.at - e.waitedMs, waitedMs: e.waitedMs, outcome: 'timeout', ...(e.holder ? { blockedBy: e.holder } : {}) });
        this.waitStart = undefined;
        this._state = {};
        break;
      case 'compromised':
        if (this.open) this.open.outcome = 'compromised';
        break;
      case 'staleRecovered':
        break;
    }
    this._onDidChange.fire(e);
  }

  private push(entry: LockWaitEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  dispose(): void {
    this.subscription.dispose();
    this._onDidChange.dispose();
  }
}
