import { errorMessage } from '../errors';
import type { Logger } from '../log';

/**
 * Lance commit conflicts that a re-read and re-plan can resolve. Matched on substrings because the
 * errors carry no code and their text includes Rust source paths (docs/lancedb.md#commit-conflicts).
 */
export function isRetryableCommitError(err: unknown): boolean {
  return err instanceof RetryableConflict || /Retryable commit conflict|preempted by concurrent|Too many concurrent writers|Commit conflict|conflicting transaction/i.test(errorMessage(err)) || isManifestRace(err);
}

/**
 * A manifest that another writer is finalizing at this moment (a DynamoDB-coordinated commit copies
 * its staged manifest into `_versions/`: docs/team-store.md#commits-from-several-machines). Reading
 * again finds it; every commit attempt re-reads, so retrying is safe.
 */
function isManifestRace(err: unknown): boolean {
  return /_versions\/\d+\.manifest was not found/.test(errorMessage(err));
}

/** Thrown by a commit attempt that found its own reason to try again (rows whose revision moved on). */
export class RetryableConflict extends Error {}

/**
 * The one budget for commit conflicts, for every LanceDB commit the product makes: row commits,
 * maintenance and index builds. Conflicts come from other processes' commits, which take milliseconds
 * (or, for a compaction, a second or two), so a few short, growing, jittered pauses outlast them;
 * more tries would only hide a real fault.
 */
export const COMMIT_RETRY = { attempts: 6, firstDelayMs: 10, maxDelayMs: 1000 } as const;

export interface CommitRetryBudget {
  readonly attempts: number;
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * The budget on a remote store. The per-machine lock cannot keep other machines' commits out, so
 * conflicts there are the normal case under contention (every machine's commit on the same rows
 * moves their revision): more tries, longer jittered pauses that let the machines fall out of step.
 * 4 machines × 100 concurrent writes on 5 shared rows needed up to ~10 tries (test/integration/remote.machines.test.ts).
 */
export const REMOTE_COMMIT_RETRY: CommitRetryBudget = { attempts: 24, firstDelayMs: 20, maxDelayMs: 2000 };

let conflictsRetried = 0;

/**
 * Commit conflicts this process retried since it started. Under the per-machine lock a conflict
 * means another machine (or a foreign writer) committed first: the remote store's views show it.
 */
export function commitConflictsRetried(): number {
  return conflictsRetried;
}

export function commitRetryDelayMs(attempt: number, budget: CommitRetryBudget = COMMIT_RETRY): number {
  const base = Math.min(budget.maxDelayMs, budget.firstDelayMs * 2 ** (attempt - 1));
  return base / 2 + Math.random() * (base / 2);
}

/**
 * Runs `attempt` until it succeeds, retrying retryable commit conflicts within COMMIT_RETRY (with
 * back-off between tries). Any other error, or a conflict on the last try, is raised unchanged. The
 * attempt number (from 1) lets the body re-read what changed before it plans again.
 */
export async function retryCommit<T>(what: string, attempt: (n: number) => Promise<T>, log?: Logger, signal?: { readonly aborted: boolean }, budget: CommitRetryBudget = COMMIT_RETRY): Promise<{ value: T; attempts: number }> {
  for (let n = 1; ; n++) {
    try {
      return { value: await attempt(n), attempts: n };
    } catch (err) {
      if (!isRetryableCommitError(err) || n >= budget.attempts || signal?.aborted) throw err;
      conflictsRetried++;
      log?.debug(`${what}: commit conflict on attempt ${n} (${errorMessage(err)}); retrying`);
      await new Promise((r) => setTimeout(r, commitRetryDelayMs(n, budget)));
    }
  }
}
