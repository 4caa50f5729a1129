import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter } from '../../src/core/events';
import { LockJournal } from '../../src/core/concurrency/lockJournal';
import type { LockEvent } from '../../src/core/concurrency/lockEvents';

test('the journal pairs waits with holds, keeps the holder that blocked a wait, and tracks live state', () => {
  const events = new Emitter<LockEvent>();
  const journal = new LockJournal(events.event, 3);
  const holder = { pid: 7, host: 'h', label: 'upgrade batch', since: 0 };
  events.fire({ type: 'waitStarted', at: 1000, operation: 'insert 1 memory', holder });
  assert.equal(journal.state.waiting?.operation, 'insert 1 memory');
  events.fire({ type: 'acquired', at: 1040, operation: 'insert 1 memory', waitedMs: 40 });
  assert.equal(journal.state.holding?.operation, 'insert 1 memory');
  events.fire({ type: 'released', at: 1045, operation: 'insert 1 memory', heldMs: 5 });
  assert.deepEqual(journal.state, {});
  assert.deepEqual(journal.recent(1)[0], { operation: 'insert 1 memory', startedAt: 1000, waitedMs: 40, heldMs: 5, outcome: 'released', blockedBy: holder });
});

test('the journal is bounded and computes contention percentiles over a window', () => {
  const events = new Emitter<LockEvent>();
  const journal = new LockJournal(events.event, 5);
  const now = 100_000;
  [1, 2, 3, 4, 50, 6, 7].forEach((w, i) => {
    events.fire({ type: 'acquired', at: now - 1000 + i, operation: `op${i}`, waitedMs: w });
    events.fire({ type: 'released', at: now - 999 + i, operation: `op${i}`, heldMs: 2 });
  });
  events.fire({ type: 'timeout', at: now, operation: 'late', waitedMs: 5000 });
  assert.equal(journal.recent(100).length, 5);
  const s = journal.stats(60_000, now);
  assert.equal(s.count, 5);
  assert.equal(s.waitMax, 5000);
  assert.equal(s.timeouts, 1);
  assert.equal(s.holdMax, 2);
  assert.equal(journal.recent(1)[0]!.outcome, 'timeout');
});
