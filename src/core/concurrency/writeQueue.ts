import PQueue from 'p-queue';
import { errorCode } from '../errors';
import { Emitter } from '../events';
import type { LockLease, StoreLock } from './storeLock';
import { LOCK_DEFAULTS } from '../defaults';

export type WritePriority = 'interactive' | 'background';

export interface SubmitOptions {
  priority: WritePriority;
  /** What the write is, in the product's words; shown as the lock holder's label. */
  label: string;
  /** Rows this intent writes; a group commit stays under `maxGroupRows`. */
  weight?: number;
  /** Only intents with the same key share a commit (e.g. upserts vs deletes). */
  groupKey?: string;
  /** How long this intent may wait for the lock; defaults by priority. */
  deadlineMs?: number;
}

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** Runs under the lock: commits the whole group (one LanceDB commit per group) and settles each intent. */
export type GroupCommitter<I, R> = (intents: readonly I[], lease: LockLease) => Promise<Settled<R>[]>;

export interface WriteQueueOptions {
  interactiveDeadlineMs?: number;
  backgroundDeadlineMs?: number;
  maxGroupRows?: number;
  /** Pause after each background commit so other processes' writers get the lock (the lock is unfair). */
  backgroundYieldMs?: number;
  /**
   * A background intent that has waited this long goes next even while interactive writes keep
   * coming (at most one such group per this interval). Without it a process that writes steadily
   * never ran its own maintenance: fragments piled up and its writes slowed from 48 to 230 ms
   * within 40 s (bench/ contention benchmark).
   */
  backgroundMaxWaitMs?: number;
}

export interface QueueDepth {
  interactive: number;
  background: number;
  inFlight: boolean;
}

interface Pending<I, R> {
  intent: I;
  options: Required<Omit<SubmitOptions, 'deadlineMs'>> & { deadlineAt: number };
  seq: number;
  submittedAt: number;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

const PRIORITY_RANK: Record<WritePriority, number> = { interactive: 10, background: 0 };

/**
 * The store's single in-process write path (docs/architecture.md#the-write-queue). Concurrency 1:
 * only the head touches the cross-process lock, so a process is one waiter, not hundreds. Pending
 * interactive intents that arrive while the head waits join its commit once it has the lock
 * (group commit), and interactive work outranks background batches, so an agent never
 * waits behind more than the one batch in flight. A background intent overdue by
 * `backgroundMaxWaitMs` still gets one group through, so steady interactive load cannot starve it.
 */
export class WriteQueue<I, R> {
  private readonly queue = new PQueue({ concurrency: 1 });
  private readonly pending: Pending<I, R>[] = [];
  private seq = 0;
  private inFlight = false;
  private backgroundNotBefore = 0;
  private lastOverdueBackgroundAt = 0;
  private stepAsideBeforeNextLock = false;
  private backgroundTimer: NodeJS.Timeout | undefined;
  private readonly options: Required<WriteQueueOptions>;
  private readonly _onDepth = new Emitter<QueueDepth>();
  readonly onDepth = this._onDepth.event;
  private readonly _onGroupCommitted = new Emitter<{ label: string; intents: number; rows: number; ms: number; priority: WritePriority }>();
  readonly onGroupCommitted = this._onGroupCommitted.event;

  constructor(private readonly lock: StoreLock, private readonly commit: GroupCommitter<I, R>, options: WriteQueueOptions = {}) {
    this.options = {
      interactiveDeadlineMs: options.interactiveDeadlineMs ?? LOCK_DEFAULTS.writeTimeoutMs,
      backgroundDeadlineMs: options.backgroundDeadlineMs ?? LOCK_DEFAULTS.backgroundTimeoutMs,
      maxGroupRows: options.maxGroupRows ?? 512,
      backgroundYieldMs: options.backgroundYieldMs ?? 20,
      backgroundMaxWaitMs: options.backgroundMaxWaitMs ?? 2_000,
    };
  }

  submit(intent: I, options: SubmitOptions): Promise<R> {
    const deadlineMs = options.deadlineMs ?? (options.priority === 'interactive' ? this.options.interactiveDeadlineMs : this.options.backgroundDeadlineMs);
    return new Promise<R>((resolve, reject) => {
      this.pending.push({
        intent,
        options: { priority: options.priority, label: options.label, weight: Math.max(1, options.weight ?? 1), groupKey: options.groupKey ?? 'default', deadlineAt: Date.now() + deadlineMs },
        seq: this.seq++,
        submittedAt: Date.now(),
        resolve,
        reject,
      });
      this.fireDepth();
      void this.queue.add(() => this.drainOnce(), { priority: PRIORITY_RANK[options.priority] });
    });
  }

  get depth(): QueueDepth {
    let interactive = 0;
    let background = 0;
    for (const p of this.pending) (p.options.priority === 'interactive' ? interactive++ : background++);
    return { interactive, background, inFlight: this.inFlight };
  }

  /** Resolves once everything submitted so far is settled (used on shutdown to flush bookkeeping). */
  async whenIdle(): Promise<void> {
    while (this.pending.length > 0 || this.inFlight || this.queue.size > 0 || this.queue.pending > 0) {
      if (this.pending.length > 0 && this.queue.size === 0 && this.queue.pending === 0) void this.queue.add(() => this.drainOnce());
      await this.queue.onIdle();
      if (this.pending.length > 0) await new Promise((r) => setTimeout(r, Math.max(1, this.backgroundNotBefore - Date.now())));
    }
  }

  private takeGroup(): Pending<I, R>[] | undefined {
    if (this.pending.length === 0) return undefined;
    const ordered = [...this.pending].sort((a, b) => PRIORITY_RANK[b.options.priority] - PRIORITY_RANK[a.options.priority] || a.seq - b.seq);
    const now = Date.now();
    let head = ordered[0]!;
    if (head.options.priority === 'interactive' && now >= this.backgroundNotBefore && now - this.lastOverdueBackgroundAt >= this.options.backgroundMaxWaitMs) {
      const overdue = ordered.find((p) => p.options.priority === 'background' && now - p.submittedAt >= this.options.backgroundMaxWaitMs);
      if (overdue) {
        head = overdue;
        this.lastOverdueBackgroundAt = now;
      }
    }
    if (head.options.priority === 'background' && now < this.backgroundNotBefore) {
      this.scheduleBackgroundDrain();
      return undefined;
    }
    const group = [head];
    let rows = head.options.weight;
    for (const p of ordered) {
      if (p === head) continue;
      if (p.options.priority !== head.options.priority || p.options.groupKey !== head.options.groupKey) continue;
      if (rows + p.options.weight > this.options.maxGroupRows) break;
      group.push(p);
      rows += p.options.weight;
    }
    for (const p of group) this.pending.splice(this.pending.indexOf(p), 1);
    return group;
  }

  /** Adds pending intents of the head's priority and group key, within `maxGroupRows`, in submission order. */
  private extendGroup(group: Pending<I, R>[]): void {
    const head = group[0]!;
    let rows = group.reduce((n, p) => n + p.options.weight, 0);
    const now = Date.now();
    // One past its own deadline does not join: it fails on its deadline, as it would have alone.
    const joining = this.pending
      .filter((p) => p.options.priority === head.options.priority && p.options.groupKey === head.options.groupKey && p.options.deadlineAt > now)
      .sort((a, b) => a.seq - b.seq);
    for (const p of joining) {
      if (rows + p.options.weight > this.options.maxGroupRows) break;
      group.push(p);
      rows += p.options.weight;
      this.pending.splice(this.pending.indexOf(p), 1);
    }
    if (joining.length) this.fireDepth();
  }

  private scheduleBackgroundDrain(): void {
    if (this.backgroundTimer) return;
    this.backgroundTimer = setTimeout(() => {
      this.backgroundTimer = undefined;
      void this.queue.add(() => this.drainOnce(), { priority: PRIORITY_RANK.background });
    }, Math.max(1, this.backgroundNotBefore - Date.now()));
  }

  private async drainOnce(): Promise<void> {
    // Interactive intents wait one macrotask first, so those submitted in the same tick (a burst of
    // stores, an agent saving several memories) share one lock cycle: 8 processes × 50 stores took
    // 16 lock cycles instead of 8, store p99 907 → 651 ms on a loaded 2-core machine (bench/
    // crossProcess). Background work is taken at once, as before, so it still slips in between
    // one-at-a-time interactive writes.
    if (this.pending.length > 0 && this.pending.every((p) => p.options.priority === 'interactive')) await new Promise((r) => setImmediate(r));
    const group = this.takeGroup();
    if (!group) return;
    const head = group[0]!;
    const label = group.length > 1 ? `${head.options.label} (+${group.length - 1} more)` : head.options.label;
    let deadlineMs = Math.max(0, Math.min(...group.map((p) => p.options.deadlineAt)) - Date.now());
    // An overdue background group that went ahead of interactive intents may not make them wait past
    // their own deadlines: it waits for the lock only that long, and if it does not get it, it goes
    // back in line (its own deadline untouched) and the interactive intents take their turn.
    const waitingInteractive = this.pending.filter((p) => p.options.priority === 'interactive');
    const aheadOfInteractive = head.options.priority === 'background' && waitingInteractive.length > 0;
    if (aheadOfInteractive) deadlineMs = Math.min(deadlineMs, Math.max(0, Math.min(...waitingInteractive.map((p) => p.options.deadlineAt)) - Date.now()));
    this.inFlight = true;
    this.fireDepth();
    try {
      if (this.stepAsideBeforeNextLock) {
        this.stepAsideBeforeNextLock = false;
        await new Promise((r) => setTimeout(r, this.lock.courtesyMs));
      }
      let lease: LockLease;
      try {
        lease = await this.lock.acquire(label, deadlineMs);
      } catch (err) {
        if (aheadOfInteractive && errorCode(err) === 'E_LOCK_TIMEOUT' && group.every((p) => p.options.deadlineAt > Date.now())) {
          this.pending.push(...group);
          this.lastOverdueBackgroundAt = Date.now();
          return;
        }
        for (const p of group) p.reject(err);
        return;
      }
      // Intents like the head's that arrived while it waited for the lock join this cycle instead of
      // waiting for the whole next one (bench/ contention: most of an agent's write latency behind a
      // running upgrade was this second cycle).
      this.extendGroup(group);
      const started = Date.now();
      let results: Settled<R>[];
      try {
        results = await this.commit(group.map((p) => p.intent), lease);
      } catch (err) {
        results = group.map(() => ({ ok: false, error: err }));
      } finally {
        await lease.release();
      }
      // Others are waiting: let one of them in before this process locks again (fairness across processes).
      this.stepAsideBeforeNextLock = await this.lock.othersWaiting();
      group.forEach((p, i) => {
        const r = results[i] ?? { ok: false, error: new Error('commit returned no result for this intent') };
        if (r.ok) p.resolve(r.value);
        else p.reject(r.error);
      });
      const rows = group.reduce((n, p) => n + p.options.weight, 0);
      this._onGroupCommitted.fire({ label, intents: group.length, rows, ms: Date.now() - started, priority: head.options.priority });
      if (head.options.priority === 'background') this.backgroundNotBefore = Date.now() + this.options.backgroundYieldMs;
    } finally {
      this.inFlight = false;
      this.fireDepth();
      // One timer-driven drain can stand for several background submits made during the yield
      // pause; if intents are still pending and no drain is queued, queue one, or they would wait
      // for the next unrelated submit (forever, in a process that writes nothing else).
      if (this.pending.length > 0 && this.queue.size === 0) {
        void this.queue.add(() => this.drainOnce(), { priority: this.pending.some((p) => p.options.priority === 'interactive') ? PRIORITY_RANK.interactive : PRIORITY_RANK.background });
      }
    }
  }

  private fireDepth(): void {
    if (this._onDepth.hasListeners) this._onDepth.fire(this.depth);
  }

  dispose(): void {
    if (this.backgroundTimer) clearTimeout(this.backgroundTimer);
    this._onDepth.dispose();
    this._onGroupCommitted.dispose();
  }
}
