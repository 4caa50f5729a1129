import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { oldestPinnedVersion, pruneCutoff } from '../../src/core/store/readPins';
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
});

test('a pin of a dead process does not hold pruning back, and is removed', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'readers'));
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
  writeFileSync(join(dir, 'readers', 'dead.json'), JSON.stringify({ pid: dead, host: hostname(), version: 1, label: 'crashed export', since: 1 }));
  writeFileSync(join(dir, 'readers', 'alive.json'), JSON.stringify({ pid: process.pid, host: hostname(), version: 7, label: 'this test', since: 1 }));
  assert.equal(await oldestPinnedVersion(dir), 7);
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
