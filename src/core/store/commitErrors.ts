import { errorMessage } from '../errors';

/** Lance commit conflicts that a re-read and re-plan can resolve (FACTS.md: match on substrings, errors carry cargo paths). */
export function isRetryableCommitError(err: unknown): boolean {
  return /Retryable commit conflict|preempted by concurrent|Too many concurrent writers|Commit conflict|conflicting transaction/i.test(errorMessage(err));
}
