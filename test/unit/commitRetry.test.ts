import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMIT_RETRY, RetryableConflict, isRetryableCommitError, retryCommit } from '../../src/core/store/commitRetry';

// The one retry policy for every LanceDB commit (rows, deletes, maintenance, index builds).

test('commit conflicts are retried with growing pauses, then given up after the budget', async () => {
  const at: number[] = [];
  const conflict = new Error('lance error: Retryable commit conflict for version 12: preempted by concurrent Rewrite');
  await assert.rejects(retryCommit('test', async () => { at.push(Date.now()); throw conflict; }), (err) => err === conflict);
  assert.equal(at.length, COMMIT_RETRY.attempts);
  const pauses = at.slice(1).map((t, i) => t - at[i]!);
  assert.ok(pauses[pauses.length - 1]! >= pauses[0]!, `pauses grow: ${pauses.join(', ')}`);
});

test('a conflict that clears is retried until it succeeds; other errors are raised at once', async () => {
  let n = 0;
  const { value, attempts } = await retryCommit('test', async () => { if (++n < 3) throw new RetryableConflict('rows moved on'); return 'done'; });
  assert.deepEqual([value, attempts], ['done', 3]);
  let calls = 0;
  await assert.rejects(retryCommit('test', async () => { calls++; throw new Error('ENOSPC: no space left on device'); }), /ENOSPC/);
  assert.equal(calls, 1);
});

test('what counts as a retryable commit conflict', () => {
  for (const m of ['Retryable commit conflict for version 3', 'preempted by concurrent transaction Rewrite', 'Too many concurrent writers', 'Commit conflict for version 9']) assert.equal(isRetryableCommitError(new Error(m)), true, m);
  for (const m of ['Not found: data/x.lance', 'Invalid user input: dimension mismatch']) assert.equal(isRetryableCommitError(new Error(m)), false, m);
});
