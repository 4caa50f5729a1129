import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BusyError } from '../../src/core/errors';
import { isLegacy } from '../../src/core/store/schema';
import { CHECKPOINT_FILE, createUpgradeRun, upgradeMemories, upgradeStatus, type UpgradeProgress } from '../../src/core/upgrade';
import { legacyId, legacyText, openTestStore, seedLegacy, snapshot } from '../fixtures/upgrade/legacyStore';
import { deferCleanup, vec, storedMemories } from '../helpers/tempStore';

test('upgrade enriches every legacy row exactly once and leaves smart rows alone', async (t) => {
  const { store } = await openTestStore(t);
  await seedLegacy(store, 450);
  await store.insert([{ id: 'smart', text: 'Already smart.', vector: vec(1), metadata: { l0_abstract: 'given', injected_count: 2 } }]);
  const before = new Map((await store.getMany([legacyId(0), legacyId(2), 'smart'])).entries());

  const result = await upgradeMemories(store, { batchSize: 100, windowSize: 200 });
  assert.equal(result.upgraded, 450);
  assert.equal(result.skipped, 0);
  assert.deepEqual(result.failed, []);
  assert.equal(result.candidates, 450);
  assert.equal(result.scanned, 451);
  assert.equal(result.cancelled, false);
  assert.equal(result.batches, 5, '450 rows in windows of 200 and batches of 100: 100+100, 100+100, 50');

  const rows = await store.rows(undefined);
  assert.equal(rows.length, 451, 'no duplicates, nothing lost');
  const legacyLeft = (await storedMemories(store, { legacy: true })).length;
  assert.equal(legacyLeft, 0);
  const r0 = (await store.get(legacyId(0)))!;
  assert.equal(r0.rev, before.get(legacyId(0))!.rev + 1, 'one write per row');
  assert.equal(r0.metadata.l0_abstract, legacyText(0).split('. ')[0] + '.');
  assert.equal(r0.metadata.upgraded_from, 'legacy');
  assert.equal(r0.metadata.enrichment?.provider, 'local');
  assert.equal(r0.metadata.injected_count, 1, 'existing metadata kept');
  assert.equal(r0.metadata.source, 'old-version');
  assert.equal(r0.category, 'preferences', 'generic legacy category refined by rules');
  const r2 = (await store.get(legacyId(2)))!;
  assert.equal(r2.category, 'events', 'a specific legacy category (decision) is kept');
  assert.equal(r2.metadata.legacy_category, undefined);
  const smart = (await store.get('smart'))!;
  assert.deepEqual(smart, before.get('smart'), 'smart rows are not touched');
});

test('lock: one acquisition per batch, none while scanning or enriching', async (t) => {
  const { store } = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(store, 600);
  let phase = 'idle';
  const acquisitions: Array<{ phase: string; operation: string }> = [];
  const sub = store.lock.onEvent((e) => { if (e.type === 'acquired') acquisitions.push({ phase, operation: e.operation }); });
  deferCleanup(t, () => sub.dispose());
  const phases: string[] = [];
  const progress: UpgradeProgress[] = [];
  const run = createUpgradeRun(store, { batchSize: 50, windowSize: 150, onProgress: (p) => { progress.push(p); phase = p.phase; if (phases.at(-1) !== p.phase) phases.push(p.phase); } });
  const result = await run.run();
  const mid = progress.find((p) => p.phase === 'write' && p.written === 300)!;
  assert.ok(mid.rate > 0 && mid.etaMs !== undefined && mid.etaMs >= 0, JSON.stringify(mid));
  assert.deepEqual({ scanned: mid.scanned, candidates: mid.candidates, skipped: mid.skipped, failed: mid.failed, batches: mid.batches }, { scanned: 600, candidates: 600, skipped: 0, failed: 0, batches: 6 });
  const last = progress.at(-1)!;
  assert.equal(last.phase, 'done');
  assert.equal(last.written, 600);
  assert.equal(last.etaMs, undefined);
  assert.equal(result.upgraded, 600);
  assert.equal(result.batches, 12);
  assert.equal(acquisitions.length, 12, 'exactly one lock acquisition per batch');
  assert.ok(acquisitions.every((a) => a.phase === 'write' && a.operation.startsWith('upgrade: batch')), JSON.stringify(acquisitions.filter((a) => a.phase !== 'write')));
  assert.deepEqual(phases, ['scan', 'enrich', 'write', 'enrich', 'write', 'enrich', 'write', 'enrich', 'write', 'done']);
});

test('a rerun finds nothing to do; dry run writes nothing and takes no lock', async (t) => {
  const { store } = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(store, 120);
  const lockBefore = store.lock.acquisitions;
  const dry = await upgradeMemories(store, { dryRun: true, previewLimit: 5 });
  assert.equal(store.lock.acquisitions, lockBefore, 'dry run takes no lock');
  assert.equal(dry.dryRun, true);
  assert.equal(dry.upgraded, 120, 'would upgrade 120');
  assert.equal(dry.preview!.length, 5);
  assert.deepEqual((dry.preview![1] as { category: unknown }).category, { from: 'entities', to: 'entities' });
  assert.equal((await storedMemories(store, { legacy: true })).length, 120);

  const first = await upgradeMemories(store);
  assert.equal(first.upgraded, 120);
  const snap = await snapshot(store);
  const again = await upgradeMemories(store);
  assert.equal(again.candidates, 0);
  assert.equal(again.upgraded, 0);
  assert.equal(again.batches, 0);
  assert.deepEqual(await snapshot(store), snap, 'rerun changes nothing');
});

test('writes during Phase 1 survive: counters merge, edited text is re-enriched, deleted rows are not resurrected', async (t) => {
  const { store } = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(store, 30);
  const edited = legacyId(8), deleted = legacyId(4), counted = legacyId(5);
  let raced = false;
  const run = createUpgradeRun(store, {
    batchSize: 100,
    onProgress: (p: UpgradeProgress) => {
      // Between Phase 1 (rows read and enriched) and Phase 2 (written), the "plugin" in this process
      // writes: interactive writes are queued ahead of the upgrader's background batch.
      if (p.phase === 'write' && !raced) {
        raced = true;
        void store.patch([{ id: counted, increment: { injected_count: 3 } }, { id: edited, set: { text: 'We decided to rename the project. Nobody objected.' } }]);
        void store.delete([deleted]);
      }
    },
  });
  const result = await run.run();
  assert.ok(raced);
  assert.equal(result.upgraded, 29, 'the edited row is upgraded after being re-queued; the deleted one skipped');
  assert.deepEqual(result.skippedReasons, { deleted: 1 });
  assert.equal(result.concurrentWrites, 1, 'the counter bump landed between Phase 1 and Phase 2 and was merged');
  assert.equal(await store.get(deleted), undefined, 'deleted row not resurrected');
  const e = (await store.get(edited))!;
  assert.equal(e.text, 'We decided to rename the project. Nobody objected.');
  assert.equal(e.metadata.l0_abstract, 'We decided to rename the project.', 'abstract of the new text, not the old');
  assert.equal(e.category, 'events');
  const c = (await store.get(counted))!;
  assert.equal(c.metadata.injected_count, 4, 'seeded 1 + 3 during the upgrade');
  assert.equal(typeof c.metadata.l0_abstract, 'string');
  assert.equal(await store.count(), 29);
});

test('only one upgrade runs per store; the second is told who runs it', async (t) => {
  const { store } = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(store, 50);
  const first = createUpgradeRun(store, { batchSize: 10, windowSize: 10 });
  let second: Promise<unknown> | undefined;
  const sub = first.onProgress((p) => { if (p.phase === 'write' && !second) second = upgradeMemories(store).then(() => assert.fail('the second upgrade ran'), (err: unknown) => err); });
  const r1 = await first.run();
  sub.dispose();
  const err = await second!;
  assert.ok(err instanceof BusyError);
  assert.equal(err.code, 'E_BUSY');
  assert.equal(err.holder?.pid, process.pid);
  assert.match(err.holder!.label, /^upgrade \(local\)/);
  assert.match(err.message, /already running.*pid \d+/);
  assert.equal(r1.upgraded, 50);
  assert.deepEqual(await upgradeStatus(store), { running: false });
});

test('cancel stops after whole batches; resuming gives the same store as an uninterrupted run', async (t) => {
  const a = await openTestStore(t, { maintenance: { auto: false } });
  const b = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(a.store, 700);
  await seedLegacy(b.store, 700);
  const uninterrupted = await upgradeMemories(a.store, { batchSize: 50, windowSize: 100 });

  const controller = new AbortController();
  const cancelled = await upgradeMemories(b.store, { batchSize: 50, windowSize: 100, signal: controller.signal, onProgress: (p) => { if (p.batches === 5) controller.abort(); } });
  assert.equal(cancelled.cancelled, true);
  assert.equal(cancelled.upgraded % 50, 0, 'only whole batches were written');
  assert.ok(cancelled.upgraded >= 250 && cancelled.upgraded < 700, String(cancelled.upgraded));
  assert.equal((await storedMemories(b.store, { legacy: true })).length, 700 - cancelled.upgraded);
  const resumed = await upgradeMemories(b.store, { batchSize: 50, windowSize: 100 });
  assert.equal(resumed.candidates, 700 - cancelled.upgraded, 'resume continues where the cancelled run stopped');
  assert.equal(cancelled.upgraded + resumed.upgraded, uninterrupted.upgraded);
  assert.deepEqual(await snapshot(b.store), await snapshot(a.store));
  assert.ok(!existsSync(join(b.dir, CHECKPOINT_FILE)), 'local runs keep no checkpoint');
  assert.ok((await b.store.rows(undefined)).every((r) => !isLegacy({ metadata: JSON.parse(String(r.metadata)) })));
});

test('a store closed under a running upgrade stops it cleanly: nothing half-written, nothing dead-lettered', async (t) => {
  const { store } = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(store, 300);
  const run = createUpgradeRun(store, { batchSize: 50, windowSize: 100, onProgress: (p) => { if (p.batches === 2) void store.close(); } });
  const result = await run.run();
  assert.match(result.aborted ?? '', /closed/);
  assert.equal(result.cancelled, false);
  assert.equal(result.batches, 2);
  assert.equal(result.upgraded, 100);
  assert.deepEqual(result.failed, []);
  assert.equal((await store.deadLetters.list()).open.length, 0);
});
