import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { LEASE_AFTER_MS, leasedRead, pruneCutoff, readersFloor } from '../../src/core/store/readPins';
import { deferCleanup, tempDir, vec } from '../helpers/tempStore';
import { startWorker } from '../helpers/workers';

const at = (s: number) => new Date(1_000_000 + s * 1000);

test('prune cutoff: a version goes only once its successor is older than the margin, and never a pinned one', () => {
  const versions = [1, 2, 3, 4, 5].map((v) => ({ version: v, timestamp: at(v * 10), metadata: {} }));
  const now = at(60).getTime();
  // Successors committed ≥ 15 s ago: v2 (t=20) … v4 (t=40); versions before v4 may go, v4 (still read by a short read that opened it at t<50) stays.
  assert.deepEqual(pruneCutoff(versions, 15_000, undefined, now), at(40));
  // A version created long ago that is still the latest is never pruned by creation time alone.
  assert.deepEqual(pruneCutoff([{ version: 1, timestamp: at(0), metadata: {} }], 15_000, undefined, now), at(0));
  assert.deepEqual(pruneCutoff(versions, 15_000, 2, now), at(20), 'the pin keeps v2 and everything newer');
  assert.equal(pruneCutoff(versions, 100_000, undefined, now), undefined, 'nothing old enough');
  // A short read leased since t=25 may be reading v2 (latest until t=30): v2 stays, v1 may go.
  assert.deepEqual(pruneCutoff(versions, 15_000, undefined, now, at(25).getTime()), at(20));
  assert.deepEqual(pruneCutoff(versions, 15_000, 1, now, at(25).getTime()), at(10), 'the older of pin and lease wins');
});

test('a read that lasts longer than a second holds a lease naming its start while it runs; a quick one writes nothing', async (t) => {
  const dir = tempDir(t);
  assert.equal(await leasedRead(dir, 'quick', async () => 42), 42);
  assert.deepEqual(await readersFloor(dir), {});
  const started = Date.now();
  let during: Awaited<ReturnType<typeof readersFloor>> = {};
  await leasedRead(dir, 'slow', async () => {
    await new Promise((r) => setTimeout(r, LEASE_AFTER_MS + 400));
    during = await readersFloor(dir);
  });
  assert.ok(during.since !== undefined && during.since >= started && during.since <= started + 50, JSON.stringify(during));
  assert.equal(during.version, undefined, 'a lease is not a pin');
  assert.deepEqual(await readersFloor(dir), {}, 'released with the read');
});

test('a read that meets a file pruning removed is run once more; other errors go to the caller', async (t) => {
  const dir = tempDir(t);
  let calls = 0;
  assert.equal(await leasedRead(dir, 'retried', async () => {
    if (++calls === 1) throw new Error('LanceError(IO): Not found: /store/memories.lance/_versions/12.manifest');
    return 'second try';
  }), 'second try');
  assert.equal(calls, 2);
  await assert.rejects(leasedRead(dir, 'failing', async () => { throw new Error('Invalid input: no such column'); }), /no such column/);
});

test('a pin of a dead process does not hold pruning back, and is removed', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'readers'));
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
  writeFileSync(join(dir, 'readers', 'dead.json'), JSON.stringify({ pid: dead, host: hostname(), version: 1, label: 'crashed export', since: 1 }));
  writeFileSync(join(dir, 'readers', 'dead-lease.json'), JSON.stringify({ pid: dead, host: hostname(), label: 'crashed recall', since: 1 }));
  writeFileSync(join(dir, 'readers', 'alive.json'), JSON.stringify({ pid: process.pid, host: hostname(), version: 7, label: 'this test', since: 1 }));
  assert.equal((await readersFloor(dir)).version, 7);
  assert.deepEqual(await readersFloor(dir), { version: 7 }, 'the dead lease does not count');
  assert.deepEqual(readdirSync(join(dir, 'readers')), ['alive.json']);
});

test('maintenance prunes right away down to what another process is exporting, and that export reads its version to the end', async (t) => {
  const dir = tempDir(t);
  const store = await MemoryStore.open(dir, { dim: 8, maintenance: { auto: false, cleanupMarginMs: 0 } });
  deferCleanup(t, () => store.close());
  await store.insert(Array.from({ length: 3000 }, (_, i) => ({ id: `m${i}`, text: `memory ${i}`, vector: vec(i) })));
  for (let i = 0; i < 10; i++) await store.insert([{ id: `early${i}`, text: `early ${i}`, vector: vec(i) }]);
  const reader = startWorker('snapshot-reader', { dir, pauseMs: 4000 });
  await reader.waitFor((m) => m.pinned, 30_000);
  const pinnedAt = await store.table.version();
  // While the export pauses: more commits, then compaction and pruning with no margin at all.
  for (let i = 0; i < 10; i++) await store.insert([{ id: `late${i}`, text: `late ${i}`, vector: vec(i) }]);
  await store.patch(Array.from({ length: 3000 }, (_, i) => ({ id: `m${i}`, increment: { n: 1 } })));
  const report = await store.optimize('prune under a live export');
  const versions = (await store.table.listVersions()).map((v) => v.version);
  t.diagnostic(`pruned ${report.versionsPruned} versions; oldest kept ${Math.min(...versions)}, export pinned ${pinnedAt}`);
  assert.ok(report.versionsPruned >= 10, `old versions were pruned (${report.versionsPruned})`);
  const done = await reader.waitFor((m) => m.done, 60_000);
  assert.equal(done.errors, undefined, `the export failed: ${done.errors}`);
  assert.ok(Math.min(...versions) <= pinnedAt, 'the exported version is kept');
  assert.equal(done.rows, 3010, 'the export read its whole version');
  // The export is over: the next maintenance prunes past it.
  await store.insert([{ id: 'after', text: 'after the export', vector: vec(1) }]);
  const after = await store.optimize('prune after the export');
  assert.ok(after.versionsPruned > 0);
  assert.ok(Math.min(...(await store.table.listVersions()).map((v) => v.version)) > pinnedAt);
});

/** Another process reads the latest version slowly while this one rewrites every row, compacts and prunes with no margin. */
async function slowReadUnderPruning(t: Parameters<typeof tempDir>[0], leased: boolean) {
  const dir = tempDir(t);
  const store = await MemoryStore.open(dir, { dim: 8, maintenance: { auto: false, cleanupMarginMs: 0 } });
  deferCleanup(t, () => store.close());
  await store.insert(Array.from({ length: 500 }, (_, i) => ({ id: `m${i}`, text: `memory ${i}`, vector: vec(i) })));
  for (let i = 0; i < 5; i++) await store.insert([{ id: `early${i}`, text: `early ${i}`, vector: vec(i) }]);
  // Older than the lease's clock slack when the read starts: these may go.
  await new Promise((r) => setTimeout(r, 1500));
  const reader = startWorker('slow-reader', { dir, pauseMs: 4000, leased });
  const { version } = await reader.waitFor((m) => m.reading, 30_000);
  await new Promise((r) => setTimeout(r, LEASE_AFTER_MS + 500)); // a lease would be on disk by now
  await store.patch(Array.from({ length: 500 }, (_, i) => ({ id: `m${i}`, increment: { n: 1 } })));
  for (let i = 0; i < 5; i++) await store.insert([{ id: `late${i}`, text: `late ${i}`, vector: vec(i) }]);
  const report = await store.optimize('prune under a slow read');
  const kept = (await store.table.listVersions()).some((v) => v.version === version);
  const done = await reader.waitFor((m) => m.done, 60_000);
  return { store, version, report, kept, done };
}

test('a slow read in another process keeps the version it reads through maintenance with no margin', async (t) => {
  const { store, version, report, kept, done } = await slowReadUnderPruning(t, true);
  assert.ok(report.versionsPruned > 0, 'something older was pruned');
  assert.ok(kept, `the leased version ${version} is kept`);
  assert.equal(done.errors, undefined, `the leased read failed: ${done.errors}`);
  assert.equal(done.rows, 505, 'it read its whole version');
  // The read is over: the next maintenance prunes past its version.
  await store.insert([{ id: 'after', text: 'after the read', vector: vec(1) }]);
  await store.optimize('prune after the read');
  assert.ok(Math.min(...(await store.table.listVersions()).map((v) => v.version)) > version);
});

test('the same slow read without its lease loses its files to that maintenance', async (t) => {
  const { kept, done } = await slowReadUnderPruning(t, false);
  assert.equal(kept, false);
  assert.match(String(done.errors), /not found/i);
});

test('short reads in another process never fail while maintenance prunes with a short margin', async (t) => {
  const dir = tempDir(t);
  const store = await MemoryStore.open(dir, { dim: 8, maintenance: { auto: false, cleanupMarginMs: 1500 } });
  deferCleanup(t, () => store.close());
  const ids = Array.from({ length: 200 }, (_, i) => `r${i}`);
  await store.insert(ids.map((id, i) => ({ id, text: `row ${i}`, vector: vec(i) })));
  const reader = startWorker('store-worker', { dir, mode: 'read', ids, durationMs: 6000 });
  await reader.waitFor((m) => m.ready, 30_000);
  const end = Date.now() + 5000;
  let optimizations = 0;
  while (Date.now() < end) {
    await store.patch(ids.slice(0, 20).map((id) => ({ id, increment: { n: 1 } })));
    await store.optimize('prune while another process reads');
    optimizations++;
  }
  const done = await reader.waitFor((m) => m.done, 60_000);
  const result = reader.messages.find((m: any) => 'reads' in m) as { reads: number; misses: number };
  t.diagnostic(`${optimizations} maintenance passes, ${result.reads} reads in the other process`);
  assert.equal(done.errors, 0, `reader errors: ${JSON.stringify(done.errorSamples)}`);
  assert.equal(result.misses, 0);
});

test('stats in one process never fail while another process prunes versions under it', async (t) => {
  const dir = tempDir(t);
  const store = await MemoryStore.open(dir, { dim: 8, maintenance: { auto: false } });
  deferCleanup(t, () => store.close());
  await store.insert([{ id: 'seed', text: 'seed row', vector: vec(0) }]);
  // Versions come and go as fast as they can: every pass prunes all but the newest (margin 0).
  const writer = startWorker('store-worker', { dir, mode: 'insert', prefix: 'w-', count: 400, concurrency: 1 });
  const pruner = startWorker('store-worker', { dir, mode: 'optimize-loop', durationMs: 4000, cleanupMarginMs: 0 });
  let calls = 0;
  const errors: string[] = [];
  const end = Date.now() + 4000;
  while (Date.now() < end) {
    try { await store.stats(); calls++; } catch (err) { errors.push((err as Error).message.split(',')[0]!); }
  }
  await Promise.all([writer.exited, pruner.exited]);
  assert.deepEqual(errors.slice(0, 3), [], `${errors.length} of ${calls + errors.length} stats calls failed`);
  assert.ok(calls > 0);
});
