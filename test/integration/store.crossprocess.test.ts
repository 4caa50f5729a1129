import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { runWorker, startWorker } from '../helpers/workers';
import { deferCleanup, tempDir, vec } from '../helpers/tempStore';

async function seed(dir: string, ids: string[]): Promise<void> {
  const store = await MemoryStore.open(dir, { dim: 8, maintenance: { auto: false } });
  await store.insert(ids.map((id, i) => ({ id, text: `row ${id}`, vector: vec(i), metadata: { n: 0, m: 0 } })));
  await store.close();
}

const finalDone = (msgs: any[]) => msgs.find((m) => m.done);

test('4 processes incrementing the same rows lose no update, create no duplicate, and a reader never misses a row', async (t) => {
  const dir = tempDir(t);
  const ids = Array.from({ length: 10 }, (_, i) => `row-${i}`);
  await seed(dir, ids);
  const perProcess = 150;
  const reader = startWorker('store-worker', { dir, mode: 'read', ids, durationMs: 4000 });
  const writers = await Promise.all([0, 1, 2, 3].map(() => runWorker('store-worker', { dir, mode: 'increment', ids, count: perProcess, concurrency: 8 })));
  for (const msgs of writers) assert.equal(finalDone(msgs).errors, 0, JSON.stringify(finalDone(msgs).errorSamples));
  const readerResult = await reader.waitFor((m) => m.reads !== undefined);
  await reader.exited;
  assert.ok(readerResult.reads > 0);
  assert.equal(readerResult.misses, 0, 'a reader saw a row missing while writers committed');
  const store = await MemoryStore.open(dir, { dim: 8 });
  deferCleanup(t, () => store.close());
  const rows = await store.getMany(ids);
  const total = [...rows.values()].reduce((s, r) => s + Number(r.metadata.n), 0);
  assert.equal(total, 4 * perProcess);
  const verify = await store.verify();
  assert.deepEqual(verify.duplicateIds, []);
  assert.equal(verify.ok, true);
  t.diagnostic(`lock acquisitions per process: ${writers.map((m) => finalDone(m).acquisitions).join(', ')} for ${perProcess} increments each`);
});

test('caller-side read-modify-write conditioned on rev is exact across processes', async (t) => {
  const dir = tempDir(t);
  const ids = ['c1', 'c2'];
  await seed(dir, ids);
  const runs = await Promise.all([0, 1, 2].map(() => runWorker('store-worker', { dir, mode: 'cas', ids, count: 40, concurrency: 3 })));
  for (const msgs of runs) assert.equal(finalDone(msgs).errors, 0);
  const store = await MemoryStore.open(dir, { dim: 8 });
  deferCleanup(t, () => store.close());
  const rows = await store.getMany(ids);
  assert.equal([...rows.values()].reduce((s, r) => s + Number(r.metadata.m), 0), 120);
  t.diagnostic(`stale retries: ${runs.map((m) => m.find((x: any) => x.casRetries !== undefined).casRetries).join(', ')}`);
});

test('a holder SIGKILLed before its commit leaves no partial batch, and the next writer gets the lock at once', async (t) => {
  const dir = tempDir(t);
  await seed(dir, ['a']);
  const doomed = startWorker('store-worker', { dir, mode: 'insert-batch', prefix: 'doomed-', count: 50 }, { MEMORY_LANE_FAILPOINTS: 'store.beforeCommit=kill' });
  const { signal } = await doomed.exited;
  assert.equal(signal, 'SIGKILL');
  const started = Date.now();
  const msgs = await runWorker('store-worker', { dir, mode: 'insert', prefix: 'next-', count: 5, concurrency: 1, deadlineMs: 8000 });
  const elapsed = Date.now() - started;
  assert.equal(finalDone(msgs).errors, 0);
  assert.ok(elapsed < 8000, `next writer took ${elapsed} ms (the stale time is 10 s; a dead pid must be recognised at once)`);
  const store = await MemoryStore.open(dir, { dim: 8 });
  deferCleanup(t, () => store.close());
  assert.equal(await store.count("id LIKE 'doomed-%'"), 0);
  assert.equal(await store.count("id LIKE 'next-%'"), 5);
  assert.equal((await store.verify()).ok, true);
  t.diagnostic(`next writer process finished in ${elapsed} ms (including process start)`);
});

test('a holder SIGKILLed after its commit but before release: the batch is whole, and the lock is recovered', async (t) => {
  const dir = tempDir(t);
  await seed(dir, ['a']);
  const doomed = startWorker('store-worker', { dir, mode: 'insert-batch', prefix: 'landed-', count: 40 }, { MEMORY_LANE_FAILPOINTS: 'store.afterCommit=kill' });
  const { signal } = await doomed.exited;
  assert.equal(signal, 'SIGKILL');
  const started = Date.now();
  const msgs = await runWorker('store-worker', { dir, mode: 'insert', prefix: 'after-', count: 3, concurrency: 1, deadlineMs: 8000 });
  const elapsed = Date.now() - started;
  assert.equal(finalDone(msgs).errors, 0);
  assert.ok(elapsed < 8000, `next writer took ${elapsed} ms`);
  const store = await MemoryStore.open(dir, { dim: 8 });
  deferCleanup(t, () => store.close());
  // The commit happened before the kill: the whole batch is there, not part of it.
  assert.equal(await store.count("id LIKE 'landed-%'"), 40);
  assert.equal(await store.count("id LIKE 'after-%'"), 3);
  assert.equal((await store.verify()).ok, true);
});

test('a holder frozen past the stale time loses the lock without crashing, and no update is lost', async (t) => {
  const dir = tempDir(t);
  const ids = ['f1', 'f2', 'f3'];
  await seed(dir, ids);
  // The frozen process plans its patch (reading n), then blocks its event loop for 3.5 s with the lock held.
  const frozen = startWorker('store-worker', { dir, mode: 'patch-once', ids, lockStaleMs: 2000 }, { MEMORY_LANE_FAILPOINTS: 'store.beforeCommit=block:3500' });
  await frozen.waitForStderr('[failpoint] store.beforeCommit');
  // Meanwhile another process takes the stale lock over and increments the same rows.
  const other = await runWorker('store-worker', { dir, mode: 'increment', ids, count: 30, concurrency: 3, lockStaleMs: 2000, deadlineMs: 20_000 });
  assert.equal(finalDone(other).errors, 0);
  const frozenExit = await frozen.exited;
  assert.equal(frozenExit.code, 0, `frozen process crashed: ${frozen.stderr().slice(-1500)}`);
  const result = (frozen.messages.find((m: any) => m.result) as any)?.result;
  assert.deepEqual(result.map((r: any) => r.status), ['applied', 'applied', 'applied']);
  const store = await MemoryStore.open(dir, { dim: 8 });
  deferCleanup(t, () => store.close());
  const all = await store.rows(undefined, { columns: ['id', 'rev', 'metadata'] });
  const detail = JSON.stringify(all.map((r) => [r.id, Number(r.rev), r.metadata]));
  assert.equal((await store.verify()).ok, true, detail);
  const rows = await store.getMany(ids);
  assert.equal([...rows.values()].reduce((s, r) => s + Number(r.metadata.n), 0), 30 + 3, `${detail}\nfrozen stderr: ${frozen.stderr().slice(-1500)}`);
});

test('a writer behind a holder that never releases fails within its deadline naming the holder; replay applies it exactly once', async (t) => {
  const dir = tempDir(t);
  await seed(dir, ['x']);
  const holder = startWorker('store-worker', { dir, mode: 'insert', prefix: 'holder-', count: 1, concurrency: 1 }, { MEMORY_LANE_FAILPOINTS: 'lock.afterAcquire=hang' });
  await holder.waitForStderr('[failpoint] lock.afterAcquire');
  const started = Date.now();
  const msgs = await runWorker('store-worker', { dir, mode: 'write-once', prefix: 'late-write', deadlineMs: 1500 });
  const elapsed = Date.now() - started;
  const errorMessage = msgs.find((m) => m.error);
  assert.ok(errorMessage, `expected the late write to fail; got ${JSON.stringify(msgs)}`);
  const { error } = errorMessage;
  assert.equal(error.code, 'E_LOCK_TIMEOUT');
  assert.equal(error.holder.pid, holder.child.pid);
  assert.match(error.message, new RegExp(`pid ${holder.child.pid}`));
  assert.match(error.message, /insert 1 memory/);
  assert.ok(error.deadLetterId, 'the failed write must be kept in the dead-letter queue');
  assert.ok(elapsed < 10_000, `deadline 1.5 s but the writer process took ${elapsed} ms`);
  holder.child.kill('SIGKILL');
  await holder.exited;
  const first = await runWorker('store-worker', { dir, mode: 'replay' });
  assert.deepEqual(first.find((m) => m.replay).replay.replayed, [error.deadLetterId]);
  const second = await runWorker('store-worker', { dir, mode: 'replay' });
  assert.deepEqual(second.find((m) => m.replay).replay.replayed, []);
  const store = await MemoryStore.open(dir, { dim: 8 });
  deferCleanup(t, () => store.close());
  assert.equal(await store.count("id = 'late-write'"), 1);
  assert.equal((await store.deadLetters.list()).open.length, 0);
  assert.equal((await store.verify()).ok, true);
});

test('optimize() racing writers in other processes surfaces no error to writers and loses nothing', async (t) => {
  const dir = tempDir(t);
  const ids = Array.from({ length: 5 }, (_, i) => `o${i}`);
  await seed(dir, ids);
  const optimizer = startWorker('store-worker', { dir, mode: 'optimize-loop', durationMs: 5000 });
  const [inserter, incrementer] = await Promise.all([
    runWorker('store-worker', { dir, mode: 'insert', prefix: 'opt-', count: 200, concurrency: 4 }),
    runWorker('store-worker', { dir, mode: 'increment', ids, count: 200, concurrency: 4 }),
  ]);
  await optimizer.exited;
  const opt = optimizer.messages.find((m: any) => m.optimizeRuns !== undefined) as any;
  assert.equal(finalDone(inserter).errors, 0, JSON.stringify(finalDone(inserter).errorSamples));
  assert.equal(finalDone(incrementer).errors, 0, JSON.stringify(finalDone(incrementer).errorSamples));
  assert.equal((finalDone(optimizer.messages) as any).errors, 0);
  assert.ok(opt.optimizeRuns > 0);
  const store = await MemoryStore.open(dir, { dim: 8 });
  deferCleanup(t, () => store.close());
  assert.equal(await store.count("id LIKE 'opt-%'"), 200);
  const rows = await store.getMany(ids);
  assert.equal([...rows.values()].reduce((s, r) => s + Number(r.metadata.n), 0), 200);
  assert.equal((await store.verify()).ok, true);
  t.diagnostic(`optimize ran ${opt.optimizeRuns} times during the writes (${opt.compacted} compacted, ${opt.retried} retried a conflict, ${opt.underLock} under the lock)`);
});
