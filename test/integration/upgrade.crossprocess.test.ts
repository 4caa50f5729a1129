import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BusyError } from '../../src/core/errors';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { CHECKPOINT_FILE, OpenAiCompatibleEnricher, upgradeMemories, upgradeStatus } from '../../src/core/upgrade';
import { legacyId, legacyRow, openTestStore, seedLegacy, snapshot, testDir } from '../fixtures/upgrade/legacyStore';
import { startStubLlm } from '../fixtures/upgrade/stubLlm';
import { runWorker, startWorker } from '../helpers/workers';
import { deferCleanup, storedMemories } from '../helpers/tempStore';

interface PluginReport {
  inserted: string[];
  increments: Record<string, number>;
  deleted: string[];
  ops: Array<{ kind: string; start: number; ms: number }>;
  failures: string[];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

test('upgrade of 3000 legacy rows in one process while the plugin writes in another: nothing lost, each row upgraded once, one lock per batch', async (t) => {
  const N = 3000;
  const { store, dir } = await openTestStore(t);
  await seedLegacy(store, N);
  await store.optimize('test setup');

  // Idle baseline of the plugin's write latency.
  const idle = (await runWorker('pluginWorker', { dir, legacyCount: N, ops: 60, intervalMs: 5, tag: 'idle' })).find((m) => m.type === 'done') as PluginReport;
  assert.deepEqual(idle.failures, []);

  const stopFile = join(testDir(t), 'stop');
  const plugin = startWorker('pluginWorker', { dir, legacyCount: N, stopFile, intervalMs: 5, deleteEvery: 15, tag: 'live', seed: 7 });
  await plugin.waitFor((m) => m.type === 'ready');
  // Deterministic stale-snapshot race: the upgrader pauses after Phase 1 of its first window (rows
  // read and enriched, not yet written) while this process bumps 50 of those rows; the plugin
  // process keeps writing at random throughout.
  const upgrader = startWorker('upgradeWorker', { dir, batchSize: 100, windowSize: 500 }, { MEMORY_LANE_FAILPOINTS: 'upgrade.afterPhase1=once:pause:1500' });
  await upgrader.waitForStderr('[failpoint] upgrade.afterPhase1');
  const raced = Array.from({ length: 50 }, (_, k) => legacyId(10 + k));
  const racedResults = await store.patch(raced.map((id) => ({ id, increment: { injected_count: 10 } })));
  const racedApplied = new Set(racedResults.filter((r) => r.status === 'applied').map((r) => r.id));
  const exit = await upgrader.exited;
  writeFileSync(stopFile, '');
  await plugin.exited;
  assert.equal(exit.code, 0, upgrader.stderr().slice(-2000));
  const up = upgrader.messages.find((m: any) => m.type === 'result') as any;
  const live = plugin.messages.find((m: any) => m.type === 'done') as PluginReport;
  assert.deepEqual(live.failures, [], 'every plugin write was acknowledged');

  // Every legacy row upgraded exactly once (or deleted by the plugin first), no failures.
  const result = up.result;
  const deleted = new Set(live.deleted);
  assert.deepEqual(result.failed, []);
  assert.equal(result.upgraded + (result.skippedReasons.deleted ?? 0), result.candidates, 'each candidate upgraded, or skipped because the plugin deleted it');
  assert.ok(result.candidates >= N - deleted.size && result.candidates <= N, 'rows the plugin deleted before the scan are no candidates');

  const ids = Array.from({ length: N }, (_, i) => legacyId(i));
  const rows = await store.getMany(ids);
  for (const [i, id] of ids.entries()) {
    const row = rows.get(id);
    if (deleted.has(id)) { assert.equal(row, undefined, `${id} was deleted and must not be resurrected`); continue; }
    assert.ok(row, `${id} missing`);
    const raceBump = racedApplied.has(id) ? 10 : 0;
    const bumps = (idle.increments[id] ?? 0) + (live.increments[id] ?? 0);
    assert.equal(typeof row.metadata.l0_abstract, 'string', `${id} not upgraded`);
    assert.equal(row.metadata.injected_count ?? 0, (legacyRow(i).metadata!.injected_count as number | undefined ?? 0) + bumps + raceBump, `${id}: increments lost`);
    const writes = bumps + (raceBump ? 1 : 0);
    assert.equal(row.rev, 1 + writes + 1, `${id}: rev ${row.rev} = seed + ${writes} other writes + exactly one upgrade write`);
  }
  const inserted = await store.getMany(live.inserted);
  assert.equal(inserted.size, live.inserted.length, 'every new memory survives');
  assert.equal(await store.count(), N - deleted.size + live.inserted.length + idle.inserted.length);
  const verify = await store.verify();
  assert.deepEqual(verify.duplicateIds, [], 'no duplicates');

  // Lock discipline, counted on the real lock in the upgrader's process.
  const acq = up.acquisitions as Array<{ phase: string; operation: string }>;
  const batches = acq.filter((a) => a.operation.startsWith('upgrade: batch'));
  assert.equal(batches.length, result.batches, 'one lock acquisition per batch');
  assert.ok(batches.every((a) => a.phase === 'write'));
  const outsideWrite = acq.filter((a) => a.phase !== 'write' && !a.operation.startsWith('maintenance'));
  assert.deepEqual(outsideWrite, [], 'no lock taken while scanning or enriching');

  // The plugin stays responsive: generous bound here, the precise figure belongs to the benchmark.
  const upStart = (upgrader.messages.find((m: any) => m.type === 'started') as any).at as number;
  const during = live.ops.filter((o) => o.start >= upStart && o.start <= up.at).map((o) => o.ms);
  const idleMs = idle.ops.map((o) => o.ms);
  const [idleP50, idleP95, idleMax] = [percentile(idleMs, 50), percentile(idleMs, 95), Math.max(...idleMs)];
  const [durP50, durP95, durMax] = [percentile(during, 50), percentile(during, 95), Math.max(...during)];
  t.diagnostic(`upgrade: ${result.upgraded} rows, ${result.batches} batches, ${result.ms} ms; ${result.concurrentWrites} rows changed by other processes between Phase 1 and Phase 2 were merged`);
  t.diagnostic(`plugin write latency idle p50/p95/max ${idleP50.toFixed(1)}/${idleP95.toFixed(1)}/${idleMax.toFixed(1)} ms (${idleMs.length} ops); during upgrade ${durP50.toFixed(1)}/${durP95.toFixed(1)}/${durMax.toFixed(1)} ms (${during.length} ops)`);
  assert.ok(during.length >= 20, `the plugin wrote during the upgrade (${during.length} ops)`);
  const racedSurvivors = [...racedApplied].filter((id) => !deleted.has(id));
  assert.ok(racedSurvivors.length >= 40);
  assert.ok(result.concurrentWrites >= racedSurvivors.length, `the ${racedSurvivors.length} rows bumped between Phase 1 and Phase 2 were merged, not overwritten (checked above)`);
  // Generous, because the machine is shared; what must never come back is the original bug's
  // seconds-long waits (docs/lancedb.md#lock-per-row-vs-per-batch: p95 6.2 s, max 28 s with a lock per entry).
  assert.ok(durP95 <= Math.max(10 * idleP95, idleP95 + 1000), `p95 during ${durP95.toFixed(1)} ms vs idle ${idleP95.toFixed(1)} ms`);
  assert.ok(durMax < 5000, `max during ${durMax.toFixed(1)} ms`);
});

test('kill -9 mid-run, then resume: the same store as an uninterrupted run', async (t) => {
  const N = 1200;
  const a = await openTestStore(t, { maintenance: { auto: false } });
  const b = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(a.store, N);
  await seedLegacy(b.store, N);
  const uninterrupted = await upgradeMemories(a.store, { batchSize: 100, windowSize: 300 });
  assert.equal(uninterrupted.upgraded, N);

  const killed = startWorker('upgradeWorker', { dir: b.dir, batchSize: 100, windowSize: 300 }, { MEMORY_LANE_FAILPOINTS: 'upgrade.afterBatch.4=kill' });
  const exit = await killed.exited;
  assert.equal(exit.signal, 'SIGKILL');
  assert.equal((await storedMemories(b.store, { legacy: true })).length, N - 400, 'exactly 4 whole batches were written before the kill');
  const status = await upgradeStatus(b.store);
  assert.equal(status.running, true, 'the dead runner left its job lock behind');
  assert.equal(status.stale, true, 'and it is recognisably a dead pid');

  const resumed = (await runWorker('upgradeWorker', { dir: b.dir, batchSize: 100, windowSize: 300 })).find((m) => m.type === 'result').result;
  assert.equal(resumed.candidates, N - 400);
  assert.equal(resumed.upgraded, N - 400);
  assert.deepEqual(resumed.failed, []);
  assert.deepEqual(await snapshot(b.store), await snapshot(a.store));
  assert.equal((await upgradeStatus(b.store)).running, false);
});

test('kill -9 after an LLM window was enriched: the resumed run reuses the saved answers instead of asking again', async (t) => {
  const stub = await startStubLlm();
  deferCleanup(t, () => stub.close());
  const { store, dir } = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(store, 80);
  const killed = startWorker('upgradeWorker', { dir, batchSize: 20, windowSize: 50, llm: { url: stub.url, model: 'stub-model' } }, { MEMORY_LANE_FAILPOINTS: 'upgrade.afterPhase1=kill' });
  assert.equal((await killed.exited).signal, 'SIGKILL');
  assert.equal(stub.requests.length, 50, 'the first window was enriched');
  assert.ok(existsSync(join(dir, CHECKPOINT_FILE)));
  assert.equal((await storedMemories(store, { legacy: true })).length, 80, 'killed before writing anything');

  const resumed = await upgradeMemories(store, { enricher: new OpenAiCompatibleEnricher({ baseUrl: stub.url, model: 'stub-model' }), batchSize: 20, windowSize: 50 });
  assert.equal(resumed.upgraded, 80);
  assert.equal(resumed.fromCheckpoint, 50);
  assert.equal(stub.requests.length, 80, 'only the 30 rows of the second window were sent on resume');
  assert.ok(!existsSync(join(dir, CHECKPOINT_FILE)));
});

test('a second upgrade in another process is refused and told who runs it', async (t) => {
  const { store, dir } = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(store, 60);
  const first = startWorker('upgradeWorker', { dir, batchSize: 20, windowSize: 20 }, { MEMORY_LANE_FAILPOINTS: 'upgrade.afterPhase1=once:pause:2500' });
  await first.waitForStderr('[failpoint] upgrade.afterPhase1');
  const status = await upgradeStatus(store);
  assert.equal(status.running, true);
  assert.equal(status.holder?.pid, first.child.pid);

  const other = startWorker('upgradeWorker', { dir });
  assert.equal((await other.exited).code, 3);
  const busy = other.messages.find((m: any) => m.type === 'busy') as any;
  assert.ok(busy, other.stderr());
  assert.equal(busy.holder.pid, first.child.pid);
  assert.equal(busy.holder.label, 'upgrade (local)');
  assert.match(busy.message, new RegExp(`An upgrade is already running on this store: pid ${first.child.pid} on .* \\("upgrade \\(local\\)", held for`));
  await assert.rejects(upgradeMemories(store), (err: Error) => err instanceof BusyError && err.holder?.pid === first.child.pid);

  assert.equal((await first.exited).code, 0);
  assert.equal((first.messages.find((m: any) => m.type === 'result') as any).result.upgraded, 60);
  // Reopened view of the store from the test process sees the finished upgrade.
  const reopened = await MemoryStore.open(dir, { create: false });
  try {
    assert.equal((await storedMemories(reopened, { legacy: true })).length, 0);
  } finally {
    await reopened.close();
  }
});
