import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import * as lockfile from 'proper-lockfile';
import { StoreUnavailableError, errorMessage, type LockHolderInfo } from '../errors';
import { failpoint } from '../failpoints';
import { watchFolder } from '../folderWatch';
import type { Disposable } from '../lifecycle';
import { nullLogger, type Logger } from '../log';
import { HOST, isPidAlive, isProvablyDead, OwnerRecordFile, publicHolder, takeOverFromDeadHolder } from './ownerRecord';

/**
 * Windows: while a released lock folder is being removed and another process still has it open
 * (its stat of the lock, the holder's last refresh), the delete is pending and a new mkdir of it
 * fails with EPERM (or EACCES). That is a lock about to be free, not a read-only folder: a probe
 * file written beside it tells the two apart, and the caller tries again as for a held lock
 * (docs/platforms.md#lock-folders-on-windows). Elsewhere these codes always mean "not writable".
 */
export async function isPendingDeleteOnWindows(code: string | undefined, dir: string, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  if (platform !== 'win32' || (code !== 'EPERM' && code !== 'EACCES')) return false;
  const probe = join(dir, `.write-probe-${process.pid}-${randomUUID().slice(0, 8)}`);
  try {
    await fs.writeFile(probe, '');
    await fs.rm(probe, { force: true });
    return true;
  } catch {
    return false;
  }
}

/** proper-lockfile refuses a stale time below 2 s; a smaller setting would be silently raised anyway. */
export const MIN_STALE_MS = 2000;

export interface FileLockOptions {
  /** A holder that has not refreshed the lock for this long is presumed gone (proper-lockfile `stale`). */
  staleMs: number;
  logger?: Logger;
}

/** One holding of a file lock. */
export interface FileLockHolding {
  readonly label: string;
  readonly since: number;
  /** Set once another process took the lock over (we were frozen past the stale time). */
  readonly compromised: boolean;
  release(): Promise<void>;
}

export interface FileLockStatus {
  held: boolean;
  /** Who holds it, as others may see it: never the holding's private token. */
  holder?: LockHolderInfo;
  /** Known only on the holder's own host: true when its pid is gone, so the next taker takes it over. */
  stale?: boolean;
}

/**
 * The one cross-process lock primitive: a proper-lockfile lock folder plus an owner record beside
 * it. The store lock, the one-upgrade-per-store job lock and the vector-index build claim are all
 * this, so acquisition, the owner record, compromise handling, dead-holder takeover, status and
 * watching exist once.
 *
 * `tryLock` makes one attempt and never waits: how to wait (the store lock polls against a
 * deadline, a job lock refuses at once) is the caller's policy.
 *
 * Files, for a lock named `N` in folder `dir`: `N.lock` (the lock folder proper-lockfile refreshes)
 * and `N.owner.json` (the owner record, written atomically through a temporary `N.owner.json.*`).
 */
export class FileLock {
  readonly lockDir: string;
  private readonly target: string;
  private readonly owner: OwnerRecordFile;
  readonly staleMs: number;
  private readonly log: Logger;

  constructor(readonly dir: string, readonly name: string, options: FileLockOptions) {
    this.target = join(dir, name);
    this.lockDir = join(dir, `${name}.lock`);
    this.owner = new OwnerRecordFile(join(dir, `${name}.owner.json`));
    this.staleMs = Math.max(options.staleMs, MIN_STALE_MS);
    this.log = options.logger ?? nullLogger;
  }

  /**
   * One attempt to take the lock. Resolves with the holding, or with `undefined` when a live process
   * holds it. With `takeOverDead` (the default), a holder on this host whose pid is gone is taken
   * over at once instead of after the stale time.
   *
   * If the owner record cannot be written (disk full, a failing folder), the lock is released again
   * before the error is raised: a lock kept without a record would be refreshed by proper-lockfile
   * for as long as this process lives, locking every other process out.
   */
  async tryLock(label: string, options: { takeOverDead?: boolean; onCompromised?: (reason: string) => void; record?: Record<string, unknown> } = {}): Promise<FileLockHolding | undefined> {
    for (let attempt = 0; ; attempt++) {
      const state = { compromised: false };
      let release: () => Promise<void>;
      try {
        release = await lockfile.lock(this.target, {
          realpath: false,
          lockfilePath: this.lockDir,
          stale: this.staleMs,
          retries: 0,
          onCompromised: (err) => {
            // proper-lockfile's default handler throws an uncaught error that kills the process.
            // The holding is marked instead; callers rely on revisions or stop after their step.
            state.compromised = true;
            this.log.warn(`${this.name} lock for "${label}" was compromised: ${err.message}`);
            options.onCompromised?.(err.message);
          },
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
          if (await isPendingDeleteOnWindows(code, this.dir)) return undefined;
          throw new StoreUnavailableError(`The folder ${this.dir} is not writable (${code}); memories can be read but not written`, { cause: err });
        }
        if (code !== 'ELOCKED') throw err;
        if (attempt === 0 && options.takeOverDead !== false && (await this.takeOverIfHolderDead())) continue;
        return undefined;
      }
      const token = randomUUID();
      const since = Date.now();
      try {
        await failpoint('lock.writeOwner');
        await this.owner.write({ pid: process.pid, host: HOST, label, since, token, ...options.record });
      } catch (err) {
        await release().catch(() => undefined);
        throw err;
      }
      let released = false;
      return {
        label,
        since,
        get compromised() { return state.compromised; },
        release: async () => {
          if (released) return;
          released = true;
          await this.owner.removeIfToken(token);
          try {
            await release();
          } catch (err) {
            // ERELEASED / ENOTACQUIRED after a compromise: the lock is someone else's now; nothing to undo.
            this.log.debug(`release of the ${this.name} lock ("${label}"): ${errorMessage(err)}`);
          }
        },
      };
    }
  }

  /** Who holds the lock right now; takes nothing. The owner record's token is never part of it. */
  async status(): Promise<FileLockStatus> {
    let held = false;
    try {
      held = await lockfile.check(this.target, { realpath: false, lockfilePath: this.lockDir, stale: this.staleMs });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (!held) return { held: false };
    const owner = await this.owner.read();
    if (!owner) return { held: true };
    // Only a holder on this host can be proven dead; for another host, staleness is unknown.
    return { held: true, holder: publicHolder(owner), ...(owner.host === HOST ? { stale: !isPidAlive(owner.pid) } : {}) };
  }

  /** The holder named by the owner record, without its token (the record may outlive a dead holder). */
  async holder(): Promise<LockHolderInfo | undefined> {
    const owner = await this.owner.read();
    return owner && publicHolder(owner);
  }

  /**
   * Takes over the lock of a holder on this host whose pid is gone (it crashed with the lock held).
   * Returns true when it did, so the caller can try again at once.
   */
  async takeOverIfHolderDead(): Promise<boolean> {
    const holder = await this.owner.read();
    if (!holder || !(await takeOverFromDeadHolder(this.lockDir, this.owner, holder))) return false;
    this.log.warn(`took over the ${this.name} lock of crashed pid ${holder.pid} ("${holder.label}")`);
    this.onTakeOver?.(publicHolder(holder));
    return true;
  }

  /** Told of every dead holder taken over (the store lock turns it into a lock event). */
  onTakeOver: ((deadHolder: LockHolderInfo) => void) | undefined;

  /**
   * For `verify --repair`: removes a lock and owner record left by a process that is provably dead
   * (same host, pid gone), and an owner record with no lock behind it. Never touches a live holder
   * or one on another host. Returns what it did.
   */
  async clearDeadHolder(): Promise<string[]> {
    const owner = await this.owner.read();
    if (!owner || !isProvablyDead(owner)) return [];
    if (await exists(this.lockDir)) {
      return (await this.takeOverIfHolderDead()) ? [`removed the lock left by dead pid ${owner.pid} ("${owner.label}", ${this.name})`] : [];
    }
    // Without a lock folder the record describes nobody, and its writer is gone: nothing can race us.
    const again = await this.owner.read();
    if (again?.token === owner.token && !(await exists(this.lockDir))) {
      await this.owner.remove();
      return [`removed an orphaned owner record of pid ${owner.pid} on ${owner.host} (${this.name})`];
    }
    return [];
  }

  /** True when `fileName` (an entry of the lock's folder) is one of this lock's files. */
  ownsFile(fileName: string): boolean {
    return fileName === `${this.name}.lock` || fileName === `${this.name}.owner.json` || fileName.startsWith(`${this.name}.owner.json.`);
  }

  /**
   * Calls `onChange` when this lock may have changed hands in any process (its files came or went),
   * without polling: the lock monitor reads `status()` then. Until the folder exists, its parent is
   * watched for it to appear. Events come in bursts; callers coalesce them.
   */
  watch(onChange: () => void, log: Logger = this.log): Disposable {
    return watchFolder(this.dir, (name) => { if (name === null || this.ownsFile(name)) onChange(); }, log);
  }

  /**
   * Calls `onRelease` when the lock folder is seen gone (its holder released it): what a waiter
   * needs to try again at once. Its being taken or refreshed, and the owner record's writes, would
   * only wake every waiter for nothing (with 8 processes that herd cost more than it saved).
   */
  watchRelease(onRelease: () => void, log: Logger = this.log): Disposable {
    return watchFolder(this.dir, (name) => {
      if ((name === null || name === `${this.name}.lock`) && !existsSync(this.lockDir)) onRelease();
    }, log);
  }
}

async function exists(path: string): Promise<boolean> {
  return fs.stat(path).then(() => true, () => false);
}
