import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { runWorker, startWorker, type WorkerRun } from '../helpers/workers';
import { deferCleanup, tempDir, vec } from '../helpers/tempStore';

// Maintenance (compaction, index upkeep, pruning) beside the writers, off the store lock
// (MaintenanceOptions.offLock): these races put it against writes and an index build from other
// processes (src/core/store/memoryStore.ts, optimize).

const finalDone = (msgs: unknown[]) => msgs.find((m: any) => m.done) as any;

async function openStore(t: Parameters<typeof deferCleanup>[0], dir: string): Promise<MemoryStore> {
  const store = await MemoryStore.open(dir, { dim: 8, maintenance: { auto: false, offLock: true } });
  deferCleanup(t, () => store.close());
  return store;
}

/** One commit per row: a fragment each, for the compaction to rewrite. */
async function singleRowWrites(store: MemoryStore, ids: string[]): Promise<void> {
  for (const [i, id] of ids.entries()) await store.insert([{ id, text: `row ${id}`, vector: vec(i), metadata: { n: 0 } }]);
}

/** Starts a worker whose one write stops under the store lock, planned but not committed. */
async function writerPausedBeforeCommit(args: Record<string, unknown>): Promise<WorkerRun> {
  const worker = startWorker('store-worker', args, { MEMORY_LANE_FAILPOINTS: 'store.beforeCommit=once:pause:3000' });
  await worker.waitForStderr('[failpoint] store.beforeCommit', 20_000);
  return worker;
}

test('compaction runs while another process holds the store lock mid-write, and that patch, delete and insert land on top of it exactly once', async (t) => {
  const dir = tempDir(t);
  const store = await openStore(t, dir);
  const cases = [
    { name: 'patch', ids: ['p0', 'p1', 'p2'], args: (ids: string[]) => ({ mode: 'patch-once', ids }) },
    { name: 'delete', ids: ['d0', 'd1', 'd2'], args: (ids: string[]) => ({ mode: 'delete-once', ids }) },
    { name: 'insert', ids: ['i0', 'i1', 'i2'], args: () => ({ mode: 'write-once', prefix: 'fresh-insert' }) },
  ];
  for (const c of cases) {
    await singleRowWrites(store, [...c.ids, ...Array.from({ length: 8 }, (_, i) => `${c.name}-filler-${i}`)]);
    const before = await store.count();
    const writer = await writerPausedBeforeCommit({ dir, ...c.args(c.ids) });
    // The other process holds the store lock with its rows read and its commit planned.
    assert.equal((await store.lock.status()).held, true, `${c.name}: the writer should hold the lock`);
    const started = Date.now();
    const report = await store.optimize(`race with a paused ${c.name}`);
    const tookMs = Date.now() - started;
    assert.equal(report.underLock, false, `${c.name}: maintenance ran under the lock`);
    assert.ok(report.fragmentsRemoved > 1, `${c.name}: nothing was compacted: ${JSON.stringify(report)}`);
    assert.equal((await store.lock.status()).held, true, `${c.name}: maintenance finished only after the writer let go (${tookMs} ms)`);
    assert.equal(await store.count(), before, `${c.name}: the paused write landed before the compaction`);
    const { code } = await writer.exited;
    assert.equal(code, 0, writer.stderr());
    const result = writer.messages.find((m: any) => m.result || m.error) as any;
    assert.ok(result?.result, `${c.name}: ${JSON.stringify(result)}`);
    if (c.name === 'patch') {
      const rows = await store.getMany(c.ids);
      assert.deepEqual(c.ids.map((id) => rows.get(id)?.metadata.n), [1, 1, 1], 'each increment applied exactly once');
    } else if (c.name === 'delete') {
      assert.equal((await store.getMany(c.ids)).size, 0, 'the deleted rows came back');
      assert.equal(await store.count(), before - c.ids.length);
    } else {
      assert.ok(await store.get('fresh-insert'), 'the insert was lost');
      assert.equal(await store.count(), before + 1);
    }
    assert.equal((await store.verify()).ok, true);
  }
});

test('compaction off the lock, racing inserts, patches, deletes, an index build and readers in other processes: nothing lost, no error', async (t) => {
  const dir = tempDir(t);
  const counters = Array.from({ length: 5 }, (_, i) => `c${i}`);
  const doomed = Array.from({ length: 60 }, (_, i) => `doomed-${i}`);
  const kept = Array.from({ length: 10 }, (_, i) => `kept-${i}`);
  {
    const seed = await MemoryStore.open(dir, { dim: 8, maintenance: { auto: false } });
    await seed.insert([...counters, ...kept].map((id, i) => ({ id, text: `row ${id}`, vector: vec(i), metadata: { n: 0 } })));
    await singleRowWrites(seed, doomed);
    await seed.close();
  }
  const durationMs = 5000;
  const reader = startWorker('store-worker', { dir, mode: 'read', ids: [...counters, ...kept], durationMs });
  const indexer = startWorker('store-worker', { dir, mode: 'index-loop', durationMs });
  const optimizer = startWorker('store-worker', { dir, mode: 'optimize-loop', durationMs, offLock: true });
  const [inserter, incrementer, deleter] = await Promise.all([
    runWorker('store-worker', { dir, mode: 'insert', prefix: 'new-', count: 150, concurrency: 3 }),
    runWorker('store-worker', { dir, mode: 'increment', ids: counters, count: 150, concurrency: 3 }),
    runWorker('store-worker', { dir, mode: 'delete', ids: doomed, concurrency: 2 }),
  ]);
  await Promise.all([reader.exited, indexer.exited, optimizer.exited]);
  for (const [name, msgs] of [['inserter', inserter], ['incrementer', incrementer], ['deleter', deleter], ['reader', reader.messages], ['indexer', indexer.messages], ['optimizer', optimizer.messages]] as const) {
    const done = finalDone(msgs);
    assert.ok(done, `${name} did not finish: ${JSON.stringify(msgs.slice(-3))}`);
    assert.equal(done.errors, 0, `${name}: ${JSON.stringify(done.errorSamples)}`);
  }
  const opt = optimizer.messages.find((m: any) => m.optimizeRuns !== undefined) as any;
  const idx = indexer.messages.find((m: any) => m.builds !== undefined) as any;
  const read = reader.messages.find((m: any) => m.reads !== undefined) as any;
  assert.ok(opt.compacted > 0, `no pass compacted anything: ${JSON.stringify(opt)}`);
  assert.ok(idx.builds > 0);
  assert.equal(read.misses, 0, 'a reader saw a row missing');
  const store = await openStore(t, dir);
  assert.equal(await store.count("id LIKE 'new-%'"), 150, 'an acknowledged insert was lost');
  const rows = await store.getMany(counters);
  assert.equal([...rows.values()].reduce((s, r) => s + Number(r.metadata.n), 0), 150, 'an acknowledged increment was lost or doubled');
  assert.equal(deleter.filter((m: any) => m.deleted).length, doomed.length);
  assert.equal((await store.getMany(doomed)).size, 0, 'a deleted row came back');
  assert.equal((await store.getMany(kept)).size, kept.length);
  assert.equal((await store.verify()).ok, true);
  t.diagnostic(`optimize: ${opt.optimizeRuns} passes (${opt.compacted} compacted, ${opt.retried} retried a conflict, ${opt.underLock} under the lock); index builds ${idx.builds} (${idx.conflicts} conflicts retried, ${idx.lostEveryTry} lost every try and tried again); ${read.reads} reads`);
});
