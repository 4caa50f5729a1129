import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryService } from '../../src/core/memoryService';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { consolidate, planConsolidation, undoConsolidation, type ConsolidateResult } from '../../src/core/upgrade';
import { cli } from '../helpers/cli';
import { deferCleanup, tempDir } from '../helpers/tempStore';

// Consolidation (issue 14, part 2) on real stores with the local embedder.

const PARAPHRASE = ['Alice prefers tabs over spaces in every repository she works on.', 'In every repository she works on, Alice prefers tabs to spaces.'];
const DISTINCT = ['The staging deploy runs before production on Fridays.', 'Bob uses dark mode in the editor and a large font.', 'Alice prefers coffee over tea in the morning.'];

async function seeded(t: Parameters<typeof tempDir>[0], extra: Array<{ id: string; text: string }> = []): Promise<string> {
  const dir = tempDir(t);
  const service = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  await service.store({ id: 'para-1', text: PARAPHRASE[0]!, force: true });
  await service.store({ id: 'para-2', text: PARAPHRASE[1]!, force: true });
  for (const [i, text] of DISTINCT.entries()) await service.store({ id: `distinct-${i}`, text, force: true });
  await service.store({ id: 'exact-1', text: 'The build cache lives in .cache/build.', force: true });
  await service.store({ id: 'exact-2', text: 'The build cache lives in .cache/build', force: true });
  for (const e of extra) await service.store({ ...e, force: true });
  await service.close();
  return dir;
}

/** Every row as exported, without the commit token: equal strings mean an equal store. */
async function fingerprint(dir: string): Promise<string> {
  const r = await cli(['--db', dir, 'export', join(tempDir({ after: () => undefined }), 'fp.jsonl'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  return readFileSync(r.json.file, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l)).map(({ commit: _c, ...rest }: any) => JSON.stringify(rest)).sort().join('\n');
}

test('a paraphrased pair and an exact duplicate are merged into the most complete text; distinct memories are untouched; undo restores the store exactly', async (t) => {
  const dir = await seeded(t);
  const before = await fingerprint(dir);
  const store = await MemoryStore.open(dir, { create: false });
  deferCleanup(t, () => store.close());
  const revs = new Map((await store.rows(undefined, { columns: ['id', 'rev'] })).map((r) => [String(r.id), Number(r.rev)]));
  const plan = await planConsolidation(store);
  t.diagnostic(JSON.stringify(plan.clusters.map((c) => ({ survivor: c.survivor, members: c.members, similarity: c.similarity, exact: c.exact }))));
  assert.deepEqual(plan.clusters.map((c) => [c.survivor, ...c.members].sort()), [['exact-1', 'exact-2'], ['para-1', 'para-2']]);
  const r = await consolidate(store);
  assert.equal(r.merged.length, 2);
  assert.equal(r.removed, 2);
  assert.equal(r.exactDuplicates, 1);
  assert.deepEqual(r.skipped, []);
  const para = (await store.get('para-1'))!;
  assert.equal(para.text, PARAPHRASE[0], 'the longer text survives');
  assert.deepEqual(para.metadata.merged_from, ['para-2']);
  assert.equal(await store.get('para-2'), undefined);
  assert.equal((await store.get('exact-1'))!.metadata.merged_from !== undefined || (await store.get('exact-2'))!.metadata.merged_from !== undefined, true);
  for (let i = 0; i < DISTINCT.length; i++) assert.equal((await store.get(`distinct-${i}`))!.rev, revs.get(`distinct-${i}`), 'distinct memories are not written');
  assert.equal((await planConsolidation(store)).clusters.length, 0, 'nothing left to merge');

  const undo = await undoConsolidation(store, r.runId);
  assert.equal(undo.restored, 4, 'two members and two survivors as they were');
  await store.close();
  assert.equal(await fingerprint(dir), before, 'the export after undo equals the export before');
});

test('consolidation in one process while another edits and deletes cluster members: those clusters are skipped and reported, nothing is lost', async (t) => {
  const texts: Record<string, string> = { alpha: 'The alpha service restarts nightly at two.', beta: 'Invoices are archived to cold storage after ninety days.', gamma: 'Mira reviews every pull request touching the billing module.' };
  const pairs = Object.entries(texts).map(([w, text]) => [{ id: `${w}-a`, text }, { id: `${w}-b`, text: text.replace(/\.$/, '') }]).flat();
  const dir = await seeded(t, pairs);
  const store = await MemoryStore.open(dir, { create: false });
  deferCleanup(t, () => store.close());
  const plan = await planConsolidation(store);
  const clusterOf = (w: string) => plan.clusters.find((c) => c.survivor.startsWith(w))!;
  const [alpha, beta, gamma] = [clusterOf('alpha'), clusterOf('beta'), clusterOf('gamma')];
  assert.ok(alpha && beta && gamma, 'each pair is a cluster');

  const run = cli(['--db', dir, 'consolidate', '--json'], { env: { MEMORY_LANE_FAILPOINTS: 'consolidate.beforeWrite=pause:2500' } });
  // While the other process has planned and waits before writing: edit alpha's member, delete beta's.
  await new Promise((r) => setTimeout(r, 1200));
  const [edited] = await store.patch([{ id: alpha.members[0]!, set: { text: 'The alpha service now restarts hourly.' } }], { label: 'concurrent edit' });
  assert.equal(edited!.status, 'applied');
  const [gone] = await store.delete([beta.members[0]!]);
  assert.equal(gone!.status, 'deleted');
  const done = await run;
  assert.equal(done.code, 0, done.stderr);
  const r = done.json as ConsolidateResult;
  t.diagnostic(JSON.stringify(r.skipped));
  const skipped = new Map(r.skipped.map((s) => [s.survivor, s.reason]));
  assert.match(skipped.get(alpha.survivor) ?? '', /was changed meanwhile/);
  assert.match(skipped.get(beta.survivor) ?? '', /was deleted meanwhile/);
  assert.ok(r.merged.some((m) => m.survivor === gamma.survivor));
  assert.equal((await store.get(alpha.members[0]!))!.text, 'The alpha service now restarts hourly.', 'the concurrent edit is kept');
  assert.equal((await store.get(alpha.survivor))!.metadata.merged_from, undefined);
  assert.ok(await store.get(beta.survivor), 'the skipped cluster\'s survivor stays');
  assert.equal(await store.get(gamma.members[0]!), undefined);
  assert.deepEqual((await store.get(gamma.survivor))!.metadata.merged_from, gamma.members);
  const verify = await store.verify();
  assert.equal(verify.ok, true);
});
