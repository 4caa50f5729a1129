import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Emitter } from '../events';
import { LockTimeoutError, type LockHolderInfo } from '../errors';
import { failpoint } from '../failpoints';
import type { Disposable } from '../lifecycle';
import { nullLogger, type Logger } from '../log';
import { LOCK_DEFAULTS } from '../defaults';
import { FileLock, type FileLockStatus } from './fileLock';
import type { LockEvent } from './lockEvents';
import { HOST } from './ownerRecord';

export interface StoreLockOptions {
  /** A lock whose holder has not refreshed it for this long is taken over (proper-lockfile `stale`, min 2000). */
  staleMs?: number;
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
/** Longest sleep between two polls of a waiter; a courtesy pause must outlast it. */
const MAX_POLL_MS = 8;
/** A waiter marker not refreshed for this long belongs to a process that died while waiting. */
const WAITER_MARKER_TTL_MS = 15_000;
/** Reading the owner record on every few-ms poll would cost more than the wait; every 8th poll is enough. */
const POLLS_PER_OWNER_CHECK = 8;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The cross-process lock of one store folder, on the shared `FileLock`. Not re-entrant, by design:
 * only the write queue's head calls `acquire`, and code running under a lease calls the unlocked
 * internals (docs/lessons.md#nested-locks).
 *
 * Waiting polls with short jittered sleeps instead of proper-lockfile's exponential retries: a
 * back-off that grows to seconds made p99 waits of 7–91 s (docs/lancedb.md#short-polling-not-back-off). Every wait
 * has a deadline.
 */
export class StoreLock implements Disposable {
  private readonly file: FileLock;
  private readonly waitersDir: string;
  private readonly waiterMarker: string;
  private readonly log: Logger;
  private readonly _onEvent = new Emitter<LockEvent>();
  readonly onEvent = this._onEvent.event;
  private held = false;
  /** Counts successful acquisitions in this process; tests and benchmarks read it. */
  acquisitions = 0;

  constructor(readonly dir: string, options: StoreLockOptions = {}) {
    this.log = options.logger ?? nullLogger;
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
    for (let attempt = 0; ; attempt++) {
      let holding;
      try {
        holding = await this.file.tryLock(operation, {
          takeOverDead: attempt % POLLS_PER_OWNER_CHECK === 0,
          onCompromised: (reason) => this._onEvent.fire({ type: 'compromised', at: Date.now(), operation, reason }),
        });
      } catch (err) {
        if (waiting) await this.markWaiting(false);
        throw err;
      }
      if (holding) {
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
      if (attempt % POLLS_PER_OWNER_CHECK === 0) holder = (await this.file.holder()) ?? holder;
      if (!waiting) {
        waiting = true;
        await this.markWaiting(true);
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
      // A batch holds the lock for milliseconds: poll every few ms (never a back-off to seconds).
      await sleep(1 + Math.random() * (MAX_POLL_MS - 1));
    }
  }

  /**
   * True when another live process is waiting for the lock. The holder's queue then pauses for one
   * poll interval after releasing before it locks again: without that, a busy process re-takes the
   * lock the instant it lets go and starves the others (docs/lancedb.md#the-lock-is-unfair).
   */
  async othersWaiting(): Promise<boolean> {
    let names: string[];
    try {
      names = await fs.readdir(this.waitersDir);
    } catch {
      return false;
    }
    const mine = `${HOST}-${process.pid}`;
    for (const name of names) {
      if (name === mine) continue;
      const st = await fs.stat(join(this.waitersDir, name)).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs < WAITER_MARKER_TTL_MS) return true;
    }
    return false;
  }

  /** How long a polite holder steps aside when others wait: longer than a waiter's poll interval. */
  get courtesyMs(): number {
    return MAX_POLL_MS + 4;
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
