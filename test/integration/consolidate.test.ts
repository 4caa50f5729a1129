import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cosine } from '../../src/core/embedding/embedder';
import { MemoryService } from '../../src/core/memoryService';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { CONSOLIDATION_DIR, consolidate, embedFnOf, OpenAiCompatibleMerger, planConsolidation, restoreOriginal, undoConsolidation, type ConsolidateResult, type EmbedFn, type PlannedCluster } from '../../src/core/upgrade';
import { TokenLedger } from '../../src/core/usage';
import { startStubLlm } from '../fixtures/upgrade/stubLlm';
import { hashEmbed, openTestStore } from '../fixtures/upgrade/legacyStore';
import { cli } from '../helpers/cli';
import { exportFingerprint } from '../helpers/fingerprint';
import { deferCleanup, tempDir, TEST_DIM } from '../helpers/tempStore';

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

const fingerprint = exportFingerprint;

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

  let reached!: () => void;
  const atFailpoint = new Promise<void>((resolve) => { reached = resolve; });
  const run = cli(['--db', dir, 'consolidate', '--json'], { env: { MEMORY_LANE_FAILPOINTS: 'consolidate.beforeWrite=pause:4000' }, onStderr: (text) => { if (text.includes('[failpoint] consolidate.beforeWrite')) reached(); } });
  // While the other process has planned and waits before writing: edit alpha's member, delete beta's.
  await atFailpoint;
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

/** Pairs that say the same thing in other words (not exact duplicates), one cluster each. */
const PARAPHRASE_PAIRS: Array<[string, string]> = [
  ['The nightly backup job copies the billing database to the west bucket.', 'The billing database is copied to the west bucket by the nightly backup job.'],
  ['Carol wants commit messages written in the imperative mood.', 'Carol wants every commit message written in the imperative mood.'],
  ['The integration tests need the Redis container running on port 6380.', 'Integration tests need the Redis container running on port 6380 first.'],
  ['Deployments to production are frozen during the last week of December.', 'Production deployments are frozen during the last week of December.'],
  ['The mobile app reads feature flags from the config service at startup.', 'At startup the mobile app reads its feature flags from the config service.'],
  ['Dana prefers reviewing pull requests in the morning before standup.', 'Dana prefers reviewing pull requests in the morning, before the standup.'],
];

async function seededPairs(t: Parameters<typeof tempDir>[0], pairs = PARAPHRASE_PAIRS): Promise<string> {
  const dir = tempDir(t);
  const service = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  for (const [i, [a, b]] of pairs.entries()) {
    await service.store({ id: `p${i}-a`, text: a, force: true });
    await service.store({ id: `p${i}-b`, text: b, force: true });
  }
  for (const [i, text] of DISTINCT.entries()) await service.store({ id: `distinct-${i}`, text, force: true });
  await service.close();
  return dir;
}

const llmEnv = (url: string) => ({ MEMORY_LANE_LLM_BASE_URL: url, MEMORY_LANE_LLM_MODEL: 'stub-model' });

test('an LLM merge within a token budget stops after whole clusters, with the upgrade\'s message; a rerun with --resume continues the run without asking twice; undo restores it exactly', async (t) => {
  const stub = await startStubLlm({ usage: true });
  deferCleanup(t, () => stub.close());
  const dir = await seededPairs(t);
  const before = await fingerprint(dir);
  const budget = 400;
  const dry = await cli(['--db', dir, 'consolidate', '--llm', '--dry-run', '--json'], { env: llmEnv(stub.url) });
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(stub.requests.length, 0, 'the dry run calls no model');
  assert.equal(dry.json.estimate.calls, PARAPHRASE_PAIRS.length);
  assert.equal(dry.json.estimate.method, 'estimate');
  assert.ok(dry.json.estimate.tokens.in > 0);
  const first = await cli(['--db', dir, 'consolidate', '--llm', '--token-budget', String(budget), '--price-per-1k', '0.5', '--json'], { env: llmEnv(stub.url) });
  assert.equal(first.code, 0, first.stderr);
  const r1 = first.json as ConsolidateResult;
  t.diagnostic(`first run: ${r1.merged.length} merged, ${r1.pending} left, ${r1.tokens!.in}+${r1.tokens!.out} tokens in ${r1.calls} calls; ${r1.stoppedBy?.message}`);
  assert.equal(r1.clusters.length, PARAPHRASE_PAIRS.length, 'each paraphrased pair is a cluster');
  assert.equal(r1.stoppedBy?.budget, 'tokenBudget');
  assert.equal(r1.stoppedBy?.limit, budget);
  assert.match(r1.stoppedBy!.message, /^token budget 400 reached: this run spent [\d,]+ tokens \(cost [\d.]+\) in \d+ calls; run again/);
  assert.deepEqual(r1.budget, { tokens: budget, pricePer1k: 0.5 });
  assert.ok(r1.merged.length > 0 && r1.merged.length < PARAPHRASE_PAIRS.length, `stopped part-way (${r1.merged.length})`);
  // Whole clusters: every merge paid for was written, nothing asked and left.
  assert.equal(stub.requests.length, r1.merged.length);
  assert.equal(r1.calls, r1.merged.length);
  assert.equal(r1.pending, PARAPHRASE_PAIRS.length - r1.merged.length);
  assert.ok(r1.merged.every((m) => m.proposedBy === 'openai-compatible/stub-model'));
  assert.ok(r1.tokens!.in + r1.tokens!.out <= budget * 1.5, `spend ${r1.tokens!.in + r1.tokens!.out} stays near the budget`);

  const second = await cli(['--db', dir, 'consolidate', '--llm', '--resume', r1.runId, '--json'], { env: llmEnv(stub.url) });
  assert.equal(second.code, 0, second.stderr);
  const r2 = second.json as ConsolidateResult;
  assert.equal(r2.runId, r1.runId);
  assert.equal(r2.resumed, true);
  assert.equal(r2.stoppedBy, undefined);
  assert.equal(r2.merged.length, PARAPHRASE_PAIRS.length - r1.merged.length, 'the rerun merges exactly the clusters left');
  assert.equal(stub.requests.length, PARAPHRASE_PAIRS.length, 'each cluster was asked once over both runs');
  const ledger = await new TokenLedger(dir).summary();
  assert.deepEqual(ledger.today.byModel.map((m) => [m.purpose, m.provider, m.model, m.rows, m.calls]), [['consolidate', 'openai-compatible', 'stub-model', PARAPHRASE_PAIRS.length, PARAPHRASE_PAIRS.length]]);

  const service = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  try {
    const store = service.memoryStore;
    for (const m of [...r1.merged, ...r2.merged]) {
      const survivor = (await store.get(m.survivor))!;
      assert.match(survivor.text, / \[merged 2\]$/, 'the model\'s text is the survivor\'s');
      assert.deepEqual(survivor.metadata.merged_from, m.members);
      const [expected] = await service.activeEmbedder!.embed([survivor.text]);
      assert.ok(cosine(survivor.vector, expected!) > 0.9999, 'the survivor\'s vector is its new text\'s');
      for (const member of m.members) assert.equal(await store.get(member), undefined);
    }
    for (let i = 0; i < DISTINCT.length; i++) assert.equal((await store.get(`distinct-${i}`))!.text, DISTINCT[i]);
  } finally {
    await service.close();
  }
  const undo = await cli(['--db', dir, 'consolidate', '--undo', r1.runId, '--json']);
  assert.equal(undo.code, 0, undo.stderr);
  assert.equal(undo.json.clusters, PARAPHRASE_PAIRS.length, 'one undo covers both parts of the run');
  assert.equal(await fingerprint(dir), before);
});

test('a model merger without its endpoint variables is refused naming the flag the person typed, before anything is written', async (t) => {
  const dir = await seeded(t);
  const before = await fingerprint(dir);
  for (const flags of [['--merger', 'openai'], ['--llm']]) {
    const r = await cli(['--db', dir, 'consolidate', ...flags], { env: { MEMORY_LANE_LLM_BASE_URL: '', MEMORY_LANE_LLM_MODEL: '' } });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, new RegExp(`MEMORY_LANE_LLM_BASE_URL.*must be set for ${flags.join(' ')} \\(`), r.stderr);
    assert.doesNotMatch(r.stderr, /--enricher/, 'consolidate has no --enricher flag');
  }
  assert.equal(await fingerprint(dir), before);
});

test('per-memory restore brings one merged memory back exactly and takes it out of merged_from; errors name the id; undo afterwards is still exact', async (t) => {
  const dir = await seeded(t);
  const before = await fingerprint(dir);
  const store = await MemoryStore.open(dir, { create: false });
  deferCleanup(t, () => store.close());
  const original = (await store.get('para-2'))!;
  const r = await consolidate(store);
  assert.equal(r.merged.length, 2);
  const restored = await restoreOriginal(store, 'para-2');
  assert.deepEqual(restored, { restored: 'para-2', survivor: 'para-1', runId: r.runId });
  const back = (await store.get('para-2'))!;
  const comparable = ({ commit: _c, ...m }: typeof back & { commit?: unknown }) => m;
  assert.deepEqual(comparable(back), comparable(original), 'the memory is back as it was, revision included (the commit token is the restore\'s)');
  assert.equal((await store.get('para-1'))!.metadata.merged_from, undefined, 'its survivor no longer lists it');
  await assert.rejects(restoreOriginal(store, 'para-2'), /para-2 is already restored/);
  await assert.rejects(restoreOriginal(store, 'distinct-0'), /distinct-0 was never merged by a consolidation/);
  await assert.rejects(restoreOriginal(store, 'para-1'), /para-1 is the survivor of consolidation .*restore its members \(para-2\)/);
  const exactMember = r.merged.find((m) => m.survivor.startsWith('exact'))!.members[0]!;
  await store.close();
  const viaCli = await cli(['--db', dir, 'consolidate', '--restore', exactMember, '--json']);
  assert.equal(viaCli.code, 0, viaCli.stderr);
  assert.equal(viaCli.json.restored, exactMember);
  const again = await cli(['--db', dir, 'consolidate', '--restore', exactMember, '--json']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr + again.stdout, new RegExp(`${exactMember} is already restored`));
  const undo = await cli(['--db', dir, 'consolidate', '--undo', r.runId, '--json']);
  assert.equal(undo.code, 0, undo.stderr);
  assert.equal(await fingerprint(dir), before, 'restore then undo: the store is exactly as before the run');
});

test('a reviewed plan: only the accepted clusters are merged, the others reported rejected; a plan that was tampered with is refused before any write', async (t) => {
  const dir = await seeded(t);
  const store = await MemoryStore.open(dir, { create: false });
  deferCleanup(t, () => store.close());
  const plan = await planConsolidation(store);
  const again = await planConsolidation(store);
  assert.deepEqual(again.clusters.map((c) => c.id), plan.clusters.map((c) => c.id), 'cluster ids are stable across plans');
  const para = plan.clusters.find((c) => c.survivor === 'para-1')!;
  const exact = plan.clusters.find((c) => c.exact)!;
  assert.equal(para.proposedText, PARAPHRASE[0]);
  assert.equal(para.proposedBy, 'local');
  const reviewed = JSON.parse(JSON.stringify(plan.clusters)) as PlannedCluster[];
  const revBefore = (await store.get(exact.survivor))!.rev;
  await assert.rejects(consolidate(store, { plan: reviewed, onlyClusters: ['nope'] }), /onlyClusters: nope is not a cluster of the plan/);
  const tampered = reviewed.map((c) => (c.id === para.id ? { ...c, survivor: 'distinct-0' } : c));
  await assert.rejects(consolidate(store, { plan: tampered }), /plan\[\d\]\.id: .* is not the id of this cluster/);
  assert.ok(await store.get('para-2'), 'nothing was written');
  const r = await consolidate(store, { plan: reviewed, onlyClusters: [para.id] });
  assert.deepEqual(r.rejected, [exact.id]);
  assert.deepEqual(r.merged.map((m) => m.id), [para.id]);
  assert.equal(await store.get('para-2'), undefined);
  assert.equal((await store.get(exact.survivor))!.rev, revBefore, 'the rejected cluster is untouched');
  assert.ok(await store.get(exact.members[0]!));
});

test('cancel stops after whole steps and --resume continues the same run; a run killed between its delete and its survivor write is put back by the next run, and nothing is lost', async (t) => {
  const dir = await seededPairs(t, PARAPHRASE_PAIRS.slice(0, 4));
  const before = await fingerprint(dir);
  const store = await MemoryStore.open(dir, { create: false });
  deferCleanup(t, () => store.close());
  const abort = new AbortController();
  const phases: string[] = [];
  const first = await consolidate(store, { batchClusters: 1, signal: abort.signal, onProgress: (p) => { phases.push(p.phase); if (p.merged >= 1) abort.abort(); } });
  assert.equal(first.cancelled, true);
  assert.equal(first.merged.length, 1, 'the step in flight is finished, no further one started');
  assert.equal(first.pending, 3);
  assert.ok(phases.includes('planning') && phases.at(-1) === 'done');
  const second = await consolidate(store, { resume: first.runId, batchClusters: 1 });
  assert.equal(second.runId, first.runId);
  assert.equal(second.merged.length, 3);
  assert.equal(second.cancelled, false);
  await assert.rejects(consolidate(store, { resume: '00000000-0000-0000-0000-000000000000' }), /no consolidation 00000000-0000-0000-0000-000000000000 was run on this store/);
  assert.equal((await undoConsolidation(store, first.runId)).clusters, 4);
  await assert.rejects(consolidate(store, { resume: first.runId }), /was undone/);
  await store.close();
  assert.equal(await fingerprint(dir), before);

  // Killed after the members' delete committed, before the survivor's patch.
  const killed = await cli(['--db', dir, 'consolidate', '--batch-size', '1', '--json'], { env: { MEMORY_LANE_FAILPOINTS: 'consolidate.afterDelete=kill' } });
  assert.equal(killed.code, null, 'the process died at the failpoint');
  const reopened = await MemoryStore.open(dir, { create: false });
  deferCleanup(t, () => reopened.close());
  assert.equal(await reopened.count(), 4 * 2 + DISTINCT.length - 1, 'one member is gone, only in the journal now');
  const killedRun = readdirSync(join(dir, CONSOLIDATION_DIR)).filter((f) => f !== `${first.runId}.jsonl`);
  assert.equal(killedRun.length, 1);
  const rerun = await consolidate(reopened);
  assert.equal(rerun.merged.length, 4, 'the put-back cluster is merged by the next run with the others');
  assert.equal(await reopened.count(), 4 + DISTINCT.length);
  await undoConsolidation(reopened, rerun.runId);
  await reopened.close();
  assert.equal(await fingerprint(dir), before, 'nothing was lost by the kill');
});

test('the preview path: a plan with a model merger proposes texts within the budget (the rest keep the local rule), a failed merge falls back with its reason, and applying the reviewed plan asks nothing again', async (t) => {
  const stub = await startStubLlm({ usage: true });
  deferCleanup(t, () => stub.close());
  const pairs: Array<[string, string]> = [...PARAPHRASE_PAIRS.slice(0, 3), ['ERR500 The cache warmer runs every ten minutes on staging servers.', 'ERR500 Every ten minutes the cache warmer runs on the staging servers.']];
  const dir = await seededPairs(t, pairs);
  const service = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  deferCleanup(t, () => service.close());
  const store = service.memoryStore;
  const merger = new OpenAiCompatibleMerger({ baseUrl: stub.url, model: 'stub-model', retries: 0, timeoutMs: 5000 });
  const progress: string[] = [];
  const limited = await planConsolidation(store, { merger, budget: { calls: 2 }, onProgress: (p) => progress.push(p.phase) });
  assert.equal(limited.clusters.length, 4);
  assert.equal(limited.stoppedBy?.budget, 'maxCalls');
  assert.match(limited.stoppedBy!.message, /^call limit 2 reached: this run sent 2 requests/);
  assert.equal(stub.requests.length, 2);
  assert.equal(limited.clusters.filter((c) => c.proposedBy === 'openai-compatible/stub-model').length, 2, 'two clusters proposed by the model');
  assert.ok(limited.clusters.filter((c) => c.proposedBy === 'local').every((c) => c.proposedText === c.texts[c.survivor]), 'the rest keep the survivor\'s text');
  assert.ok(progress.includes('planning'));

  const full = await planConsolidation(store, { merger });
  const failed = full.clusters.find((c) => c.survivor.startsWith('p3'))!;
  assert.equal(failed.proposedBy, 'local');
  assert.match(failed.fallbackReason ?? '', /HTTP 500/);
  assert.equal(full.calls, 4);

  const asked = stub.requests.length;
  const applied = await consolidate(store, { plan: limited.clusters, embed: embedFnOf(service.activeEmbedder!) });
  assert.equal(stub.requests.length, asked, 'a reviewed plan is written as it is: no model is asked again');
  assert.equal(applied.merged.length, 4);
  for (const c of limited.clusters) assert.equal((await store.get(c.survivor))!.text, c.proposedText);
});

test('merges cancelled in flight still count as calls sent, in the result and the token ledger, as the upgrade counts a cancelled request', async (t) => {
  const stub = await startStubLlm({ usage: true, delayMs: 3000 });
  deferCleanup(t, () => stub.close());
  const dir = await seededPairs(t);
  const store = await MemoryStore.open(dir, { create: false });
  deferCleanup(t, () => store.close());
  const abort = new AbortController();
  const merger = new OpenAiCompatibleMerger({ baseUrl: stub.url, model: 'stub-model', retries: 0, timeoutMs: 10_000 });
  const sent = new Promise<void>((resolve) => { const poll = setInterval(() => { if (stub.requests.length >= 4) { clearInterval(poll); resolve(); } }, 10); });
  const planning = planConsolidation(store, { merger, signal: abort.signal });
  await sent;
  abort.abort();
  const plan = await planning;
  assert.equal(stub.requests.length, 4, 'one round of four merges was in flight');
  assert.ok(plan.clusters.every((c) => c.proposedBy === 'local' && !c.fallbackReason), 'a cancelled merge is no failure: the local rule keeps the text');
  assert.equal(plan.calls, 4, 'the four requests sent are counted');
  const ledger = await new TokenLedger(dir).summary();
  assert.deepEqual(ledger.today.byModel.map((m) => [m.purpose, m.rows, m.calls]), [['consolidate', 0, 4]]);
});

test('an embedding endpoint that fails while a merged text is re-embedded: the run fails with its error, nothing of that step is written, and the calls it sent reach the token ledger', async (t) => {
  const stub = await startStubLlm({ usage: true });
  deferCleanup(t, () => stub.close());
  const dir = await seededPairs(t, PARAPHRASE_PAIRS.slice(0, 2));
  const before = await fingerprint(dir);
  const store = await MemoryStore.open(dir, { create: false });
  const merger = new OpenAiCompatibleMerger({ baseUrl: stub.url, model: 'stub-model', retries: 0 });
  // As the OpenAI-compatible embedder does: a failed request reports its attempts to the sink, then throws.
  const failingEmbed: EmbedFn = async (_texts, _signal, usage) => {
    usage?.({ purpose: 'embed', provider: 'openai-compatible', model: 'stub-embed', in: 0, out: 0, calls: 3, source: 'usage', rows: 0 });
    throw new Error('embedding endpoint returned HTTP 503');
  };
  await assert.rejects(consolidate(store, { merger, embed: failingEmbed }), /HTTP 503/);
  await store.close();
  assert.equal(await fingerprint(dir), before, 'nothing of the failed step is written');
  const ledger = await new TokenLedger(dir).summary();
  const calls = Object.fromEntries(ledger.today.byModel.map((m) => [m.purpose, m.calls]));
  assert.deepEqual(calls, { consolidate: 2, embed: 3 }, 'the merges and the failed embedding requests are both in the ledger');
});

test('near misses that state another fact are not merged: different numbers, or only one of them negated (the fact guard)', async (t) => {
  const dir = tempDir(t);
  const service = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  deferCleanup(t, () => service.close());
  const texts = {
    portA: 'The integration tests need the Redis container running on port 6380.',
    portB: 'The integration tests need the Redis container running on port 5433.',
    delA: 'Feature branches are deleted automatically after they are merged.',
    delB: 'Feature branches are never deleted automatically after they are merged.',
  };
  for (const [id, text] of Object.entries(texts)) await service.store({ id, text, force: true });
  const guarded = await planConsolidation(service.memoryStore);
  assert.deepEqual(guarded.clusters, [], 'neither pair is merged');
  const unguarded = await planConsolidation(service.memoryStore, { factGuard: false });
  assert.deepEqual(unguarded.clusters.map((c) => [c.survivor, ...c.members].sort()).sort(), [['delA', 'delB'], ['portA', 'portB']], 'without the guard both pairs look the same to vectors and words');
});

test('consolidation beside an upgrade in another process: every write of both is kept, every merge is whole, and undo brings every memory back', async (t) => {
  const { store, dir } = await openTestStore(t);
  const embed = hashEmbed(TEST_DIM);
  const texts = Array.from({ length: 60 }, (_, i) => `Legacy note ${i}: the ${['deploy', 'backup', 'review', 'release'][i % 4]} step ${i} needs the ${['alpha', 'beta', 'gamma'][i % 3]} cluster.`);
  const vectors = await embed(texts);
  // Each text twice under two ids: 60 exact-duplicate clusters of legacy (unenriched) memories.
  await store.insert(texts.flatMap((text, i) => [{ id: `n${String(i).padStart(2, '0')}-a`, text, vector: vectors[i]! }, { id: `n${String(i).padStart(2, '0')}-b`, text: `${text} `, vector: vectors[i]! }]));
  const initial = await store.count();
  const upgrade = cli(['--db', dir, 'upgrade', '--batch-size', '10', '--json'], { env: { MEMORY_LANE_FAILPOINTS: 'upgrade.afterBatch=pause:40' } });
  const r = await consolidate(store, { batchClusters: 5 });
  const u = await upgrade;
  assert.equal(u.code, 0, u.stderr);
  t.diagnostic(`consolidation: ${r.merged.length} merged, ${r.skipped.length} skipped; upgrade: ${u.json.upgraded} upgraded, ${u.json.skipped} skipped (${JSON.stringify(u.json.skippedReasons)})`);
  assert.equal(r.merged.length + r.skipped.length, 60);
  assert.deepEqual(u.json.failed, []);
  assert.equal(u.json.upgraded + u.json.skipped, u.json.candidates, 'every candidate of the upgrade is accounted for');
  assert.equal(await store.count(), initial - r.removed);
  for (const m of r.merged) {
    assert.deepEqual((await store.get(m.survivor))!.metadata.merged_from, m.members);
    for (const id of m.members) assert.equal(await store.get(id), undefined);
  }
  for (const s of r.skipped) for (const id of [s.survivor, ...s.members]) assert.ok(await store.get(id), `${id} of a skipped cluster is kept`);
  // An upgrade's write is never undone by a put-back: an enriched memory stays enriched.
  const enriched = (await store.rows(undefined, { columns: ['id', 'metadata'] })).filter((row) => String(row.metadata).includes('l0_abstract')).length;
  assert.equal(enriched, u.json.upgraded, 'every memory the upgrade enriched is still there, enriched (a merge deletes only memories at their planned revision)');
  assert.equal((await store.verify()).ok, true);
  await undoConsolidation(store, r.runId);
  assert.equal(await store.count(), initial, 'undo brings every merged memory back');
});
