import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { upgradeMemories } from '../../src/core/upgrade';
import { openTestStore, seedLegacy, testDir } from '../fixtures/upgrade/legacyStore';
import { runWorker, startWorker } from '../helpers/workers';
import { deferCleanup, storedMemories } from '../helpers/tempStore';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

test('10k legacy rows upgrade with local enrichment in under 30 s while another process keeps writing', async (t) => {
  const N = 10_000;
  const { store, dir } = await openTestStore(t);
  const seedStart = Date.now();
  await seedLegacy(store, N);
  await store.optimize('test setup');
  const seedMs = Date.now() - seedStart;

  const idle = (await runWorker('pluginWorker', { dir, legacyCount: N, ops: 40, intervalMs: 20, tag: 'idle' })).find((m) => m.type === 'done') as { ops: Array<{ ms: number }> };
  const idleMs = idle.ops.map((o) => o.ms);
  const stopFile = join(testDir(t), 'stop');
  const plugin = startWorker('pluginWorker', { dir, legacyCount: N, stopFile, intervalMs: 20, tag: 'perf' });
  await plugin.waitFor((m) => m.type === 'ready');
  const maintenance: number[] = [];
  const sub = store.lock.onEvent((e) => { if (e.type === 'released' && e.operation === 'maintenance (after upgrade)') maintenance.push(e.heldMs); });
  deferCleanup(t, () => sub.dispose());
  const started = Date.now();
  const result = await upgradeMemories(store);
  const ms = Date.now() - started;
  writeFileSync(stopFile, '');
  await plugin.exited;
  const live = plugin.messages.find((m: any) => m.type === 'done') as { ops: Array<{ start: number; ms: number }>; failures: string[]; lock: Array<{ at: number; waitedMs: number; heldMs?: number }> };
  const lockDuring = live.lock.filter((l) => l.at >= started && l.at <= started + ms);

  const during = live.ops.filter((o) => o.start >= started && o.start <= started + ms).map((o) => o.ms);
  t.diagnostic(`seeded ${N} legacy rows in ${seedMs} ms`);
  t.diagnostic(`upgraded ${result.upgraded} rows in ${ms} ms (${Math.round(result.upgraded / (ms / 1000))} rows/s), ${result.batches} batches of ≤200`);
  t.diagnostic(`writer idle: p50/p95/max ${percentile(idleMs, 50).toFixed(1)}/${percentile(idleMs, 95).toFixed(1)}/${Math.max(...idleMs).toFixed(1)} ms`);
  t.diagnostic(`concurrent writer: ${during.length} writes during the upgrade, p50/p95/max ${percentile(during, 50).toFixed(1)}/${percentile(during, 95).toFixed(1)}/${Math.max(...during).toFixed(1)} ms, ${live.failures.length} failures`);
  t.diagnostic(`  of which lock wait p50/p95 ${percentile(lockDuring.map((l) => l.waitedMs), 50)}/${percentile(lockDuring.map((l) => l.waitedMs), 95)} ms, lock hold p50/p95 ${percentile(lockDuring.map((l) => l.heldMs ?? 0), 50)}/${percentile(lockDuring.map((l) => l.heldMs ?? 0), 95)} ms`);
  assert.equal(result.upgraded, N);
  assert.deepEqual(result.failed, []);
  assert.ok(ms < 30_000, `upgrade took ${ms} ms`);
  assert.deepEqual(live.failures, []);
  assert.ok(during.length > 0 && Math.max(...during) < 5_000, 'the writer was never stalled for seconds');
  assert.equal((await storedMemories(store, { legacy: true })).length, 0);
  assert.equal(maintenance.length, 1, 'the rewritten rows were compacted and re-indexed once at the end');
  t.diagnostic(`maintenance after the upgrade held the lock ${maintenance[0]} ms`);
});
