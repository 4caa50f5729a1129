import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import * as lockfile from 'proper-lockfile';
import { BusyError, describeHolder, type LockHolderInfo } from '../errors';
import { nullLogger, type Logger } from '../log';
import { HOST, isPidAlive, OwnerRecordFile, publicHolder, takeOverFromDeadHolder, type OwnerRecord } from './ownerRecord';

/** What the runner of a job writes beside its lock, so a second runner can be told who runs it. */
export type JobOwnerRecord = OwnerRecord;

export interface JobLease {
  readonly job: string;
  readonly label: string;
  readonly since: number;
  /** True once another process took the job over (we were frozen past the stale time). */
  readonly compromised: boolean;
  release(): Promise<void>;
}

export interface ExclusiveJobLockOptions {
  /** A holder that has not refreshed the lock for this long is presumed gone (proper-lockfile `stale`, min 2000). */
  staleMs?: number;
  logger?: Logger;
  /** Called when the lease is lost to another process; the job should stop after its current step. */
  onCompromised?: (reason: string) => void;
}

/**
 * "At most one of this job per store, across processes" (one upgrade at a time). Deliberately a
 * lock file separate from the store lock: a job runs for minutes and must never block writes, and
 * the store lock is not re-entrant (LESSONS.md §1). Never waits: a second runner gets a BusyError
 * naming the holder (pid, host, label, since). A holder on this host whose pid is gone (kill -9)
 * is taken over at once instead of after the stale time.
 */
export class ExclusiveJobLock {
  private readonly target: string;
  private readonly lockDir: string;
  private readonly owner: OwnerRecordFile;
  private readonly staleMs: number;
  private readonly log: Logger;

  constructor(readonly dir: string, readonly job: string, private readonly options: ExclusiveJobLockOptions = {}) {
    if (!/^[a-z][a-z0-9-]*$/.test(job)) throw new Error(`job name ${JSON.stringify(job)} must be lowercase letters, digits and dashes`);
    this.target = join(dir, `${job}.job`);
    this.lockDir = join(dir, `${job}.job.lock`);
    this.owner = new OwnerRecordFile(join(dir, `${job}.job.owner.json`));
    this.staleMs = Math.max(options.staleMs ?? 15_000, 2000);
    this.log = options.logger ?? nullLogger;
  }

  /** Takes the job or throws BusyError (code E_BUSY) with the current holder. */
  async tryAcquire(label: string): Promise<JobLease> {
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
            // The default handler throws an uncaught error that kills the process (FACTS.md).
            state.compromised = true;
            this.log.warn(`${this.job} job lock compromised: ${err.message}`);
            this.options.onCompromised?.(err.message);
          },
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
        const holder = await this.owner.read();
        if (attempt === 0 && holder && (await this.recoverIfHolderDead(holder))) continue;
        throw new BusyError(`An ${this.job} is already running on this store: ${describeHolder(holder)}`, holder && publicHolder(holder));
      }
      const token = randomUUID();
      const since = Date.now();
      try {
        await this.owner.write({ pid: process.pid, host: HOST, label, since, job: this.job, token });
      } catch (err) {
        await release().catch(() => {});
        throw err;
      }
      let released = false;
      return {
        job: this.job,
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
            this.log.debug(`release of ${this.job} job lock: ${(err as Error).message}`);
          }
        },
      };
    }
  }

  /** Who runs the job now, if anyone; takes nothing. `stale` is set when the holder is a dead pid on this host. */
  async status(): Promise<{ running: boolean; holder?: LockHolderInfo; stale?: boolean }> {
    let held = false;
    try {
      held = await lockfile.check(this.target, { realpath: false, lockfilePath: this.lockDir, stale: this.staleMs });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (!held) return { running: false };
    const owner = await this.owner.read();
    const stale = owner ? owner.host === HOST && !isPidAlive(owner.pid) : undefined;
    return { running: true, ...(owner ? { holder: publicHolder(owner) } : {}), ...(stale !== undefined ? { stale } : {}) };
  }

  get ownerRecordPath(): string {
    return this.owner.path;
  }

  /** Same recovery as the store lock (ownerRecord.ts): a crashed holder on this host is taken over at once. */
  private async recoverIfHolderDead(holder: JobOwnerRecord): Promise<boolean> {
    if (!(await takeOverFromDeadHolder(this.lockDir, this.owner, holder))) return false;
    this.log.warn(`took over the ${this.job} job of crashed pid ${holder.pid} ("${holder.label}")`);
    return true;
  }
}
