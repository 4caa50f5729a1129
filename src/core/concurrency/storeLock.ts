import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Emitter } from '../events';
import { LockTimeoutError, type LockHolderInfo } from '../errors';
import { failpoint } from '../failpoints';
import type { Disposable } from '../lifecycle';
import { nullLogger, type Logger } from '../log';
import { LOCK_DEFAULTS } from '../defaults';
import { FileLock, type FileLockHolding, type FileLockStatus } from './fileLock';
import type { LockEvent } from './lockEvents';
import { HOST } from './ownerRecord';

export interface StoreLockOptions {
  /** A lock whose holder has not refreshed it for this long is taken over (proper-lockfile `stale`, min 2000). */
  staleMs?: number;
  /**
   * Longest pause between two attempts of a waiter when no change of the lock folder is seen
   * (default MAX_POLL_MS). Waiters normally wake at once on a release; this is the fallback.
   */
  pollMs?: number;
  logger?: Logger;
}

export interface LockLease {
  readonly operation: string;
  readonly acquiredAt: number;
  /** Set when another process took the lock over (we were frozen past the stale time). Writes must then rely on revisions. */
  readonly compromised: boolean;
  release(): Promise<void>;
}

/** The store lock's name in the store folder; its files are `store.lock.lock` and `store.lock.owner.json`. */
export const STORE_LOCK_NAME = 'store.lock';
/** The lock's files, for tests and tools that fabricate or inspect a holder; the product itself uses `watch()`/`status()`. */
export const LOCK_DIR = `${STORE_LOCK_NAME}.lock`;
export const LOCK_OWNER = `${STORE_LOCK_NAME}.owner.json`;
/** Processes waiting for the lock leave a marker here, so a holder knows to step aside after release. */
const LOCK_WAITERS = 'store.lock.waiters';
/**
 * Longest sleep between two polls of a waiter; a courtesy pause must outlast it. A waiter normally
 * wakes sooner, when the watch on the lock's folder reports the release; the poll is the fallback
 * for folders where watching does not work (or misses an event).
 */
const MAX_POLL_MS = 8;
/** A waiter marker not refreshed for this long belongs to a process that died while waiting. */
const WAITER_MARKER_TTL_MS = 15_000;
/**
 * A waiter watches the lock folder only while at most this many other processes wait: each release
 * wakes every watcher at once, and 7 of them racing the new holder for 2 cores cost more than the
 * wake saved (bench/lockHandoff.ts: 4 processes gap p50 ~4 -> ~2 ms, 8 processes ~3 -> ~5 ms).
 */
const MAX_WAITERS_TO_WATCH = 3;
/** Reading the owner record on every few-ms poll would cost more than the wait; every 8th poll is enough. */
const POLLS_PER_OWNER_CHECK = 8;

/**
 * The cross-process lock of one store folder, on the shared `FileLock`. Not re-entrant, by design:
 * only the write queue's head calls `acquire`, and code running under a lease calls the unlocked
 * internals (docs/lessons.md#nested-locks).
 *
 * A waiter watches the lock folder and tries again the moment it changes, with short jittered
 * polls as the fallback, instead of proper-lockfile's exponential retries: a back-off that grows to
 * seconds made p99 waits of 7–91 s (docs/lancedb.md#short-polling-not-back-off). Every wait has a deadline.
 */
export class StoreLock implements Disposable {
  private readonly file: FileLock;
  private readonly waitersDir: string;
  private readonly waiterMarker: string;
  private readonly log: Logger;
  private readonly _onEvent = new Emitter<LockEvent>();
  readonly onEvent = this._onEvent.event;
  private held = false;
  private readonly pollMs: number;
  /** Bumped on every change the watch reports to the lock's files; a waiter sleeps until it moves. */
  private lockChanges = 0;
  private wakeWaiter: (() => void) | undefined;
  /** Counts successful acquisitions in this process; tests and benchmarks read it. */
  acquisitions = 0;

  constructor(readonly dir: string, options: StoreLockOptions = {}) {
    this.log = options.logger ?? nullLogger;
    this.pollMs = Math.max(2, options.pollMs ?? MAX_POLL_MS);
    this.file = new FileLock(dir, STORE_LOCK_NAME, { staleMs: options.staleMs ?? LOCK_DEFAULTS.staleMs, logger: this.log });
    this.file.onTakeOver = (deadHolder) => this._onEvent.fire({ type: 'staleRecovered', at: Date.now(), deadHolder });
    this.waitersDir = join(dir, LOCK_WAITERS);
    this.waiterMarker = join(this.waitersDir, `${HOST}-${process.pid}`);
  }

  get isHeldHere(): boolean {
    return this.held;
  }

  get staleMs(): number {
    return this.file.staleMs;
  }

  async acquire(operation: string, deadlineMs: number): Promise<LockLease> {
    if (this.held) throw new Error(`StoreLock is not re-entrant: "${operation}" tried to lock while this process holds it`);
    const started = Date.now();
    let waiting = false;
    let holder: LockHolderInfo | undefined;
    let watching: Disposable | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        const changesBefore = this.lockChanges;
        const holding = await this.attempt(operation, attempt, waiting);
        if (holding) return await this.leaseFor(operation, holding, started, waiting);
        if (attempt % POLLS_PER_OWNER_CHECK === 0) holder = (await this.file.holder()) ?? holder;
        if (!waiting) {
          waiting = true;
          await this.markWaiting(true);
          if ((await this.otherWaiterCount()) <= MAX_WAITERS_TO_WATCH) watching = this.file.watchRelease(() => this.lockChanged());
          this._onEvent.fire({ type: 'waitStarted', at: Date.now(), operation, holder });
        } else if (attempt % 256 === 0) {
          await this.markWaiting(true); // refresh, so a long wait is not mistaken for a dead waiter
        }
        const waited = Date.now() - started;
        if (waited >= deadlineMs) {
          await this.markWaiting(false);
          holder = (await this.file.holder()) ?? holder;
          this._onEvent.fire({ type: 'timeout', at: Date.now(), operation, waitedMs: waited, holder });
          throw new LockTimeoutError(waited, holder, operation);
        }
        // Try again at once when the watch sees the release (BENCHMARKS.md, "Lock handoff"); else
        // poll every few ms, jittered, as the fallback (never a back-off to seconds: a batch holds
        // the lock for milliseconds).
        await this.untilLockChanges(changesBefore, this.pollMs * (0.5 + Math.random() / 2));
      }
    } finally {
      watching?.dispose();
    }
  }

  private lockChanged(): void {
    this.lockChanges++;
    this.wakeWaiter?.();
  }

  /** Resolves when the lock's files changed since `changesBefore` was read, or after `fallbackMs`. */
  private untilLockChanges(changesBefore: number, fallbackMs: number): Promise<void> {
    if (this.lockChanges !== changesBefore) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeWaiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, fallbackMs);
      this.wakeWaiter = done;
    });
  }

  private async attempt(operation: string, attempt: number, waiting: boolean) {
    try {
      return await this.file.tryLock(operation, {
        takeOverDead: attempt % POLLS_PER_OWNER_CHECK === 0,
        onCompromised: (reason) => this._onEvent.fire({ type: 'compromised', at: Date.now(), operation, reason }),
      });
    } catch (err) {
      if (waiting) await this.markWaiting(false);
      throw err;
    }
  }

  private async leaseFor(operation: string, holding: FileLockHolding, started: number, waiting: boolean): Promise<LockLease> {
    this.held = true;
    this.acquisitions++;
    if (waiting) await this.markWaiting(false);
    const acquiredAt = Date.now();
    const waitedMs = acquiredAt - started;
    this._onEvent.fire({ type: 'acquired', at: acquiredAt, operation, waitedMs });
    if (waitedMs > 1000) this.log.info(`acquired after ${waitedMs} ms for "${operation}"`);
    await failpoint('lock.afterAcquire');
    let released = false;
    return {
      operation,
      acquiredAt,
      get compromised() { return holding.compromised; },
      release: async () => {
        if (released) return;
        released = true;
        await failpoint('lock.beforeRelease');
        this.held = false;
        await holding.release();
        this._onEvent.fire({ type: 'released', at: Date.now(), operation, heldMs: Date.now() - acquiredAt });
      },
    };
  }

  /**
   * True when another live process is waiting for the lock. The holder's queue then pauses for one
   * poll interval after releasing before it locks again: without that, a busy process re-takes the
   * lock the instant it lets go and starves the others (docs/lancedb.md#the-lock-is-unfair).
   */
  async othersWaiting(): Promise<boolean> {
    return (await this.otherWaiterCount(1)) > 0;
  }

  /** How many other live processes wait for the lock (counting stops at `upTo`). */
  private async otherWaiterCount(upTo = Infinity): Promise<number> {
    let names: string[];
    try {
      names = await fs.readdir(this.waitersDir);
    } catch {
      return 0;
    }
    const mine = `${HOST}-${process.pid}`;
    let count = 0;
    for (const name of names) {
      if (name === mine) continue;
      const st = await fs.stat(join(this.waitersDir, name)).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs < WAITER_MARKER_TTL_MS && ++count >= upTo) break;
    }
    return count;
  }

  /** How long a polite holder steps aside when others wait: longer than a waiter's poll interval. */
  get courtesyMs(): number {
    return this.pollMs + 4;
  }

  private async markWaiting(on: boolean): Promise<void> {
    try {
      if (on) {
        await fs.mkdir(this.waitersDir, { recursive: true });
        await fs.writeFile(this.waiterMarker, String(Date.now()));
      } else {
        await fs.rm(this.waiterMarker, { force: true });
      }
    } catch {
      // Markers are a courtesy: a read-only or odd folder must not break waiting itself.
    }
  }

  /** Who holds the lock right now (for `lock-status` and the lock monitor); no lock is taken, no secret shown. */
  status(): Promise<FileLockStatus> {
    return this.file.status();
  }

  /** The holder named by the owner record (present or left behind), without its token. */
  holder(): Promise<LockHolderInfo | undefined> {
    return this.file.holder();
  }

  /** For `verify --repair`: see `FileLock.clearDeadHolder`. */
  clearDeadHolder(): Promise<string[]> {
    return this.file.clearDeadHolder();
  }

  /** Calls `onChange` when the lock may have changed hands in any process (no polling). */
  watch(onChange: () => void): Disposable {
    return this.file.watch(onChange);
  }

  dispose(): void {
    this._onEvent.dispose();
  }
}
