import { BusyError, describeHolder, type LockHolderInfo } from '../errors';
import { JOB_LOCK_STALE_MS } from '../defaults';
import { nullLogger, type Logger } from '../log';
import { FileLock } from './fileLock';

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
 * "At most one of this job per store, across processes" (one upgrade at a time, one vector-index
 * build at a time), on the shared `FileLock`. Deliberately a lock separate from the store lock: a job
 * runs for minutes and must never block writes, and the store lock is not re-entrant
 * (docs/lessons.md#nested-locks). Never waits: a second runner gets a BusyError naming the holder.
 * Files: `<job>.job.lock` and `<job>.job.owner.json` in the store folder.
 */
export class ExclusiveJobLock {
  private readonly file: FileLock;

  constructor(readonly dir: string, readonly job: string, private readonly options: ExclusiveJobLockOptions = {}) {
    if (!/^[a-z][a-z0-9-]*$/.test(job)) throw new Error(`job name ${JSON.stringify(job)} must be lowercase letters, digits and dashes`);
    this.file = new FileLock(dir, `${job}.job`, { staleMs: options.staleMs ?? JOB_LOCK_STALE_MS, logger: options.logger ?? nullLogger });
  }

  /** Takes the job or throws BusyError (code E_BUSY) with the current holder. */
  async tryAcquire(label: string): Promise<JobLease> {
    const holding = await this.file.tryLock(label, { onCompromised: (reason) => this.options.onCompromised?.(reason), record: { job: this.job } });
    if (!holding) {
      const holder = await this.file.holder();
      throw new BusyError(`${/^[aeiou]/.test(this.job) ? 'An' : 'A'} ${this.job} is already running on this store: ${describeHolder(holder)}`, holder);
    }
    return {
      job: this.job,
      label,
      since: holding.since,
      get compromised() { return holding.compromised; },
      release: () => holding.release(),
    };
  }

  /** Who runs the job now, if anyone; takes nothing. `stale` is set when the holder is a dead pid on this host. */
  async status(): Promise<{ running: boolean; holder?: LockHolderInfo; stale?: boolean }> {
    const { held, ...rest } = await this.file.status();
    return held ? { running: true, ...rest } : { running: false };
  }

  /** Calls `onChange` when the job may have started or ended in any process (no polling). */
  watch(onChange: () => void) {
    return this.file.watch(onChange);
  }

  /** For `verify --repair`. */
  clearDeadHolder(): Promise<string[]> {
    return this.file.clearDeadHolder();
  }
}
