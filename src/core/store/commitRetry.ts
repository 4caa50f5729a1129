import { errorMessage } from '../errors';
import type { Logger } from '../log';

/**
 * Lance commit conflicts that a re-read and re-plan can resolve. Matched on substrings because the
 * errors carry no code and their text includes Rust source paths (docs/lancedb.md#commit-conflicts).
 */
export function isRetryableCommitError(err: unknown): boolean {
  return err instanceof RetryableConflict || /Retryable commit conflict|preempted by concurrent|Too many concurrent writers|Commit conflict|conflicting transaction/i.test(errorMessage(err));
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

export function commitRetryDelayMs(attempt: number): number {
  const base = Math.min(COMMIT_RETRY.maxDelayMs, COMMIT_RETRY.firstDelayMs * 2 ** (attempt - 1));
  return base / 2 + Math.random() * (base / 2);
}

/**
 * Runs `attempt` until it succeeds, retrying retryable commit conflicts within COMMIT_RETRY (with
 * back-off between tries). Any other error, or a conflict on the last try, is raised unchanged. The
 * attempt number (from 1) lets the body re-read what changed before it plans again.
 */
export async function retryCommit<T>(what: string, attempt: (n: number) => Promise<T>, log?: Logger, signal?: { readonly aborted: boolean }): Promise<{ value: T; attempts: number }> {
  for (let n = 1; ; n++) {
    try {
      return { value: await attempt(n), attempts: n };
    } catch (err) {
      if (!isRetryableCommitError(err) || n >= COMMIT_RETRY.attempts || signal?.aborted) throw err;
      log?.debug(`${what}: commit conflict on attempt ${n} (${errorMessage(err)}); retrying`);
      await new Promise((r) => setTimeout(r, commitRetryDelayMs(n)));
    }
  }
}
