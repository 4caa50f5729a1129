import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import * as lockfile from 'proper-lockfile';
import { Emitter } from '../events';
import { LockTimeoutError, StoreUnavailableError, type LockHolderInfo } from '../errors';
import { failpoint } from '../failpoints';
import { nullLogger, type Logger } from '../log';
import type { LockEvent } from './lockEvents';
import { HOST, isPidAlive, isProvablyDead, OwnerRecordFile, takeOverFromDeadHolder, type OwnerRecord } from './ownerRecord';

/** What the holder writes beside the lock so others can name it and tell a crashed holder from a slow one. */
export type LockOwnerRecord = OwnerRecord;

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

export const LOCK_TARGET = 'store.lock';
export const LOCK_DIR = 'store.lock.lock';
export const LOCK_OWNER = 'store.lock.owner.json';
/** Processes waiting for the lock leave a marker here, so a holder knows to step aside after release. */
export const LOCK_WAITERS = 'store.lock.waiters';
/** Longest sleep between two polls of a waiter; a courtesy pause must outlast it. */
const MAX_POLL_MS = 8;
/** A waiter marker not refreshed for this long belongs to a process that died while waiting. */
const WAITER_MARKER_TTL_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The cross-process lock of one store folder (proper-lockfile on a sidecar). Not re-entrant, by
 * design: only the write queue's head calls `acquire`, and code running under a lease calls the
 * unlocked internals (LESSONS.md §1, "nested lock").
 *
 * Waiting polls with short jittered sleeps instead of proper-lockfile's exponential retries: a
 * back-off that grows to seconds is what made p99 7–91 s in FACTS.md. Every wait has a deadline.
 */
export class StoreLock {
  private readonly target: string;
  private readonly lockDir: string;
  private readonly owner: OwnerRecordFile;
  private readonly waitersDir: string;
  private readonly waiterMarker: string;
  private readonly staleMs: number;
  private readonly log: Logger;
  private readonly _onEvent = new Emitter<LockEvent>();
  readonly onEvent = this._onEvent.event;
  private held = false;
  /** Counts successful acquisitions in this process; tests and benchmarks read it. */
  acquisitions = 0;

  constructor(readonly dir: string, options: StoreLockOptions = {}) {
    this.target = join(dir, LOCK_TARGET);
    this.lockDir = join(dir, LOCK_DIR);
    this.owner = new OwnerRecordFile(join(dir, LOCK_OWNER));
    this.waitersDir = join(dir, LOCK_WAITERS);
    this.waiterMarker = join(this.waitersDir, `${HOST}-${process.pid}`);
    this.staleMs = Math.max(options.staleMs ?? 10_000, 2000);
    this.log = options.logger ?? nullLogger;
  }

  get isHeldHere(): boolean {
    return this.held;
  }

  async acquire(operation: string, deadlineMs: number): Promise<LockLease> {
    if (this.held) throw new Error(`StoreLock is not re-entrant: "${operation}" tried to lock while this process holds it`);
    const started = Date.now();
    let waiting = false;
    let holder: LockOwnerRecord | undefined;
    let attempt = 0;
    const state = { compromised: false };
    for (;;) {
      try {
        const release = await lockfile.lock(this.target, {
          realpath: false,
          lockfilePath: this.lockDir,
          stale: this.staleMs,
          retries: 0,
          onCompromised: (err) => {
            // The default handler throws an uncaught error that kills the host (FACTS.md). Instead
            // mark the lease: the revision check makes any write done under it safe.
            state.compromised = true;
            this.log.warn(`lock for "${operation}" was compromised: ${err.message}`);
            this._onEvent.fire({ type: 'compromised', at: Date.now(), operation, reason: err.message });
          },
        });
        this.held = true;
        this.acquisitions++;
        if (waiting) await this.markWaiting(false);
        const acquiredAt = Date.now();
        const token = randomUUID();
        await this.owner.write({ pid: process.pid, host: HOST, label: operation, since: acquiredAt, token });
        const waitedMs = acquiredAt - started;
        this._onEvent.fire({ type: 'acquired', at: acquiredAt, operation, waitedMs });
        if (waitedMs > 1000) this.log.info(`acquired after ${waitedMs} ms for "${operation}"`);
        await failpoint('lock.afterAcquire');
        let released = false;
        return {
          operation,
          acquiredAt,
          get compromised() { return state.compromised; },
          release: async () => {
            if (released) return;
            released = true;
            await failpoint('lock.beforeRelease');
            await this.owner.removeIfToken(token);
            this.held = false;
            try {
              await release();
            } catch (err) {
              // ERELEASED / ENOTACQUIRED after a compromise: the lock is someone else's now; nothing to undo.
              this.log.debug(`release of "${operation}": ${(err as Error).message}`);
            }
            this._onEvent.fire({ type: 'released', at: Date.now(), operation, heldMs: Date.now() - acquiredAt });
          },
        };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
          throw new StoreUnavailableError(`The store folder ${this.dir} is not writable (${code}); memories can be read but not written`, { cause: err });
        }
        if (code !== 'ELOCKED') throw err;
      }
      if (attempt % 8 === 0) {
        holder = await this.readOwner();
        if (holder && (await this.recoverIfHolderDead(holder))) continue;
      }
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
        holder = (await this.readOwner()) ?? holder;
        this._onEvent.fire({ type: 'timeout', at: Date.now(), operation, waitedMs: waited, holder });
        throw new LockTimeoutError(waited, holder, operation);
      }
      attempt++;
      // A batch holds the lock for milliseconds: poll every few ms (never a back-off to seconds).
      await sleep(1 + Math.random() * (MAX_POLL_MS - 1));
    }
  }

  /**
   * True when another live process is waiting for the lock. The holder's queue then pauses for one
   * poll interval after releasing before it locks again: without that, a busy process re-takes the
   * lock the instant it lets go and starves the others (FACTS.md: "the lock is unfair").
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

  /** Who holds the lock right now (for `lock-status` and the lock monitor); no lock is taken. */
  async status(): Promise<{ held: boolean; holder?: LockHolderInfo; stale?: boolean }> {
    let held = false;
    try {
      held = await lockfile.check(this.target, { realpath: false, lockfilePath: this.lockDir, stale: this.staleMs });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const owner = await this.readOwner();
    if (!held) return { held: false };
    // Only a holder on this host can be proven dead; for another host, staleness is unknown.
    const stale = owner && owner.host === HOST ? !isPidAlive(owner.pid) : undefined;
    return { held: true, holder: owner, ...(stale !== undefined ? { stale } : {}) };
  }

  /**
   * For `verify --repair`: removes a lock and owner record left by a process that is provably dead
   * (same host, pid gone), and an owner record with no lock behind it. Never touches a live holder
   * or one on another host. Returns what it did.
   */
  async clearDeadHolder(): Promise<string[]> {
    const owner = await this.readOwner();
    if (!owner) return [];
    const provablyDead = isProvablyDead(owner);
    const lockExists = await fs.stat(this.lockDir).then(() => true, () => false);
    if (lockExists) {
      return provablyDead && (await this.recoverIfHolderDead(owner)) ? [`removed the lock left by dead pid ${owner.pid} ("${owner.label}")`] : [];
    }
    if (provablyDead) {
      // Without a lock folder the record describes nobody, and its writer is gone: nothing can race us.
      const again = await this.readOwner();
      if (again?.token === owner.token && !(await fs.stat(this.lockDir).then(() => true, () => false))) {
        await this.owner.remove();
        return [`removed an orphaned owner record of pid ${owner.pid} on ${owner.host}`];
      }
    }
    return [];
  }

  async readOwner(): Promise<LockOwnerRecord | undefined> {
    return this.owner.read();
  }

  /** Path of the owner record, for watchers (the lock monitor notices other processes through it). */
  get ownerRecordPath(): string {
    return this.owner.path;
  }

  /**
   * A holder on this host whose pid is gone crashed with the lock held: take the lock over at once
   * instead of waiting out the stale time.
   */
  private async recoverIfHolderDead(holder: LockOwnerRecord): Promise<boolean> {
    if (!(await takeOverFromDeadHolder(this.lockDir, this.owner, holder))) return false;
    this.log.warn(`took over the lock of crashed pid ${holder.pid} ("${holder.label}")`);
    this._onEvent.fire({ type: 'staleRecovered', at: Date.now(), deadHolder: holder });
    return true;
  }

  dispose(): void {
    this._onEvent.dispose();
  }
}
