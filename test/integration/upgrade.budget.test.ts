import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryService } from '../../src/core/memoryService';
import { OpenAICompatibleEmbedder } from '../../src/core/embedding/openaiEmbedder';
import { embedFnOf, OpenAiCompatibleEnricher, reembedMemories, upgradeMemories, type UpgradeResult } from '../../src/core/upgrade';
import { TOKEN_LEDGER_FILE, TokenLedger } from '../../src/core/usage';
import { startStubLlm, stubTokens } from '../fixtures/upgrade/stubLlm';
import { openTestStore, testDir } from '../fixtures/upgrade/legacyStore';
import { cli } from '../helpers/cli';
import { deferCleanup, vec } from '../helpers/tempStore';
import { runWorker, startWorker } from '../helpers/workers';

// Budgets and token accounting against a stub endpoint that reports `usage` (its own tokenizer,
// not the characters/4 estimate rule), docs/architecture.md#budgets.

const WORDS = ['the', 'deploy', 'script', 'uses', 'staging', 'before', 'production', 'and', 'Alice', 'prefers', 'tabs', 'over', 'spaces', 'in', 'every', 'repository', 'because', 'reviews', 'read', 'better'];

/** Memories of varied length (80–380 characters), deterministic. */
function memoryText(i: number): string {
  const target = 80 + ((i * 37) % 300);
  const words: string[] = [];
  for (let k = 0; words.join(' ').length < target; k++) words.push(WORDS[(i * 7 + k * 3) % WORDS.length]!);
  return `Memory ${i}: ${words.join(' ')}. It matters.`;
}

function seed(n: number) {
  return Array.from({ length: n }, (_, i) => ({ id: `m${String(i).padStart(3, '0')}`, text: memoryText(i), vector: vec(i) }));
}

function llm(url: string) {
  return new OpenAiCompatibleEnricher({ baseUrl: url, model: 'stub-model', timeoutMs: 2000, retries: 0, concurrency: 4 });
}

const spent = (r: Pick<UpgradeResult, 'tokens'>) => r.tokens.in + r.tokens.out;

test('a token budget stops the run after whole batches, with a message naming it and the spend; a rerun resumes without asking again', async (t) => {
  const stub = await startStubLlm({ usage: true });
  deferCleanup(t, () => stub.close());
  const { store } = await openTestStore(t);
  await store.insert(seed(60));
  const budget = 6000;
  const first = await upgradeMemories(store, { enricher: llm(stub.url), batchSize: 10, budget: { tokens: budget, pricePer1k: 0.5 } });
  t.diagnostic(`first run: ${first.upgraded} upgraded, ${spent(first)} tokens in ${first.calls} calls, ${first.batches} batches; ${first.stoppedBy?.message}`);
  assert.equal(first.stoppedBy?.budget, 'tokenBudget');
  assert.equal(first.stoppedBy?.limit, budget);
  assert.equal(first.stoppedBy?.spent, spent(first));
  assert.match(first.stoppedBy!.message, /^token budget 6,000 reached: this run spent [\d,]+ tokens \(cost [\d.]+\) in \d+ calls; run again/);
  assert.equal(first.cancelled, false);
  assert.equal(first.aborted, undefined);
  assert.ok(first.upgraded > 0 && first.upgraded < 60, `stopped part-way (${first.upgraded})`);
  // Whole batches: every answer paid for was written; nothing was asked and left unwritten.
  assert.equal(stub.requests.length, first.upgraded);
  assert.equal(first.calls, first.upgraded);
  assert.ok(spent(first) <= budget * 1.1, `spend ${spent(first)} stays within 10% of the budget (the projection's error)`);
  assert.equal(first.cost, Math.round((spent(first) / 1000) * 0.5 * 10_000) / 10_000);
  const fromStub = stub.requests.reduce((n, r) => n + ((r.body.messages as Array<{ content: string }>).reduce((m, x) => m + stubTokens(x.content), 0)) + stubTokens(JSON.stringify(r.body.response_format)), 0);
  assert.equal(first.tokens.in, fromStub, 'prompt tokens are the endpoint\'s usage, not an estimate');
  assert.equal(first.tokens.estimated, undefined);

  const ledger = new TokenLedger(store.dir);
  assert.equal(await ledger.backgroundTokensOn(), spent(first), 'the ledger holds the run\'s spend');

  const rerun = await upgradeMemories(store, { enricher: llm(stub.url), batchSize: 10 });
  assert.equal(rerun.stoppedBy, undefined);
  assert.equal(rerun.candidates, 60 - first.upgraded);
  assert.equal(rerun.upgraded, 60 - first.upgraded);
  assert.equal(stub.requests.length, 60, 'each memory was asked once over both runs');
  assert.equal(new Set(stub.requests.map((r) => r.text)).size, 60);
  assert.equal(await ledger.backgroundTokensOn(), spent(first) + spent(rerun));
  const summary = await ledger.summary();
  assert.equal(summary.today.calls, 60);
  assert.deepEqual(summary.today.byModel.map((m) => [m.purpose, m.provider, m.model, m.rows]), [['enrich', 'openai-compatible', 'stub-model', 60]]);
});

test('the daily cap holds across processes: a run reads the day\'s total before each batch, and the next process spends nothing', async (t) => {
  const stub = await startStubLlm({ usage: true, delayMs: 5 });
  deferCleanup(t, () => stub.close());
  const { store, dir } = await openTestStore(t);
  await store.insert(seed(60));
  const daily = 12_000;
  const other = 3000;
  const args = { dir, batchSize: 10, windowSize: 10, llm: { url: stub.url, model: 'stub-model' }, budget: { dailyTokens: daily } };
  // Process A pauses after its first batch; meanwhile process B (another background run) spends `other` tokens.
  const a = startWorker('upgradeWorker', args, { MEMORY_LANE_FAILPOINTS: 'upgrade.afterBatch.1=pause:1500' });
  await a.waitForStderr('[failpoint] upgrade.afterBatch.1 pause');
  await runWorker('ledgerWorker', { dir, tokens: other });
  const resultA = (await a.waitFor((m) => m.type === 'result')).result as UpgradeResult;
  await a.exited;
  const ledger = new TokenLedger(dir);
  const today = await ledger.backgroundTokensOn();
  t.diagnostic(`A: ${resultA.upgraded} upgraded, ${spent(resultA)} tokens; B: ${other}; today ${today} of ${daily}; ${resultA.stoppedBy?.message}`);
  assert.equal(resultA.stoppedBy?.budget, 'dailyTokenBudget');
  assert.equal(today, spent(resultA) + other);
  assert.ok(today <= daily * 1.05, `today's total ${today} stays within 5% of the daily cap ${daily}`);
  assert.ok(spent(resultA) < daily - other * 0.8, 'A saw B\'s spend and stopped earlier than it would have alone');
  assert.match(resultA.stoppedBy!.message, /^daily token budget 12,000 reached: background runs spent [\d,]+ tokens today/);

  // Process C, later the same day: the cap is spent, so it stops before its first call.
  const requestsBefore = stub.requests.length;
  const [resultC] = (await runWorker('upgradeWorker', args)).filter((m) => m.type === 'result').map((m) => m.result as UpgradeResult);
  assert.equal(resultC!.stoppedBy?.budget, 'dailyTokenBudget');
  assert.equal(resultC!.calls, 0);
  assert.equal(resultC!.upgraded, 0);
  assert.equal(resultC!.stoppedBy?.spent, today);
  assert.equal(stub.requests.length, requestsBefore);
  assert.equal(resultC!.candidates, 60 - resultA.upgraded, 'the rest stays legacy for tomorrow');
});

test('the dry run forecasts the spend before anything is spent: by the estimate rule first, then from measured tokens per row', async (t) => {
  const stub = await startStubLlm({ usage: true });
  deferCleanup(t, () => stub.close());
  const { store } = await openTestStore(t);
  await store.insert(seed(90));
  const before = await upgradeMemories(store, { enricher: llm(stub.url), dryRun: true, budget: { tokens: 5000 } });
  assert.equal(stub.requests.length, 0, 'the dry run calls no model');
  assert.equal(before.estimate?.method, 'estimate');
  assert.equal(before.estimate?.rows, 90);
  assert.equal(before.estimate?.budgetAllows?.budget, 'tokenBudget');

  const part = await upgradeMemories(store, { enricher: llm(stub.url), batchSize: 10, budget: { tokens: 9000 } });
  assert.equal(part.stoppedBy?.budget, 'tokenBudget');
  const forecast = await upgradeMemories(store, { enricher: llm(stub.url), dryRun: true });
  assert.equal(forecast.estimate?.method, 'measured');
  assert.equal(forecast.estimate?.rows, 90 - part.upgraded);
  const rest = await upgradeMemories(store, { enricher: llm(stub.url), batchSize: 10 });
  const total = spent(part) + spent(rest);
  const errMeasured = Math.abs(forecast.estimate!.tokens.in + forecast.estimate!.tokens.out - spent(rest)) / spent(rest);
  const errRule = Math.abs(before.estimate!.tokens.in + before.estimate!.tokens.out - total) / total;
  t.diagnostic(`rule: ${before.estimate!.tokens.in + before.estimate!.tokens.out} forecast vs ${total} spent (${(errRule * 100).toFixed(1)}%); measured: ${forecast.estimate!.tokens.in + forecast.estimate!.tokens.out} vs ${spent(rest)} (${(errMeasured * 100).toFixed(1)}%)`);
  // The stated errors (README, "Budgets"): measured tokens per row within 15%, the characters/4 rule within 50%.
  assert.ok(errMeasured <= 0.15, `measured forecast within 15% (${(errMeasured * 100).toFixed(1)}%)`);
  assert.ok(errRule <= 0.5, `estimate rule within 50% (${(errRule * 100).toFixed(1)}%)`);
});

test('an endpoint without usage is estimated and says so; embedding calls are counted too', async (t) => {
  const plain = await startStubLlm();
  deferCleanup(t, () => plain.close());
  const { store } = await openTestStore(t);
  await store.insert(seed(5));
  const r = await upgradeMemories(store, { enricher: llm(plain.url) });
  assert.equal(r.tokens.estimated, true);
  assert.ok(r.tokens.in > 0 && r.tokens.out > 0);
  const lines = readFileSync(join(store.dir, TOKEN_LEDGER_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.every((l) => l.estimated === true && l.source === 'estimate'));

  const stub = await startStubLlm({ usage: true });
  deferCleanup(t, () => stub.close());
  const dir = testDir(t);
  const service = await MemoryService.open({ dir, embedding: { kind: 'openai', baseUrl: stub.url, model: 'stub-embed', dimensions: 8 } });
  const texts = ['Alice deploys on Fridays.', 'The build cache lives in .cache/build.'];
  for (const text of texts) await service.store({ text });
  await service.close();
  const summary = await new TokenLedger(dir).summary();
  const embed = summary.today.byModel.find((m) => m.purpose === 'embed')!;
  assert.equal(embed.model, 'stub-embed');
  assert.equal(embed.in, texts.reduce((n, x) => n + stubTokens(x), 0));
  assert.equal(embed.rows, 2);
  assert.equal(await new TokenLedger(dir).backgroundTokensOn(), 0, 'agents\' embedding calls are not background spend');
});

test('CLI: upgrade --token-budget --json reports tokens, calls, budget and stoppedBy; stats adds the days up across runs and skips a torn line', async (t) => {
  const stub = await startStubLlm({ usage: true });
  deferCleanup(t, () => stub.close());
  const { store, dir } = await openTestStore(t);
  await store.insert(seed(30));
  await store.close();
  const env = { MEMORY_LANE_LLM_BASE_URL: stub.url, MEMORY_LANE_LLM_MODEL: 'stub-model', MEMORY_LANE_LLM_API_KEY: 'sk-budget-secret-0123456789' };
  const first = await cli(['--db', dir, 'upgrade', '--enricher', 'openai', '--batch-size', '10', '--token-budget', '3000', '--price-per-1k', '0.2', '--json'], { env });
  assert.equal(first.code, 0, first.stderr);
  const j = first.json;
  assert.deepEqual(Object.keys(j.tokens).sort(), ['in', 'out']);
  assert.ok(j.tokens.in > 0 && j.tokens.out > 0 && j.calls > 0);
  assert.deepEqual(j.budget, { tokens: 3000, pricePer1k: 0.2 });
  assert.equal(j.stoppedBy.budget, 'tokenBudget');
  assert.ok(!first.stdout.includes(env.MEMORY_LANE_LLM_API_KEY) && !first.stderr.includes(env.MEMORY_LANE_LLM_API_KEY));
  // A crash mid-append leaves a torn last line: skipped when read, closed by the next append.
  appendFileSync(join(dir, TOKEN_LEDGER_FILE), '{"v":1,"at":17,"da');
  const text = await cli(['--db', dir, 'upgrade', '--enricher', 'openai', '--batch-size', '10', '--token-budget', '2000'], { env });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /stopped by the budget: token budget 2,000 reached/);
  assert.match(text.stdout, /spent [\d,]+ in \+ [\d,]+ out tokens of 2,000, \d+ calls/);
  const stats = await cli(['--db', dir, 'stats', '--json']);
  assert.equal(stats.code, 0, stats.stderr);
  const second = JSON.parse(readFileSync(join(dir, TOKEN_LEDGER_FILE), 'utf8').trim().split('\n').at(-1)!);
  assert.equal(stats.json.tokens.tornLines, 1);
  assert.ok(stats.json.tokens.today.in > j.tokens.in, 'both runs add up');
  assert.equal(stats.json.tokens.last30Days.in, stats.json.tokens.today.in);
  assert.equal(second.v, 1);
  const dry = await cli(['--db', dir, 'upgrade', '--enricher', 'openai', '--dry-run', '--json'], { env });
  assert.equal(dry.json.estimate.method, 'measured');
  assert.equal(dry.json.calls, 0);
});

test('a re-embed through an endpoint that reports usage is counted and budgeted like enrichment: it stops after whole batches and a rerun resumes', async (t) => {
  const stub = await startStubLlm({ usage: true });
  deferCleanup(t, () => stub.close());
  const { store } = await openTestStore(t);
  await store.insert(seed(60));
  const embedder = new OpenAICompatibleEmbedder({ baseUrl: stub.url, model: 'stub-embed', dimensions: 8 });
  const options = { embed: embedFnOf(embedder), model: 'stub-embed', spender: { provider: 'openai-compatible', model: 'stub-embed' }, batchSize: 10, embedBatchSize: 10 };
  const perText = seed(60).reduce((n, r) => n + stubTokens(r.text), 0) / 60;
  const budget = Math.round(perText * 25);
  const first = await reembedMemories(store, { ...options, budget: { tokens: budget } });
  t.diagnostic(`first: ${first.upgraded} re-embedded, ${spent(first)} tokens in ${first.calls} calls; ${first.stoppedBy?.message}`);
  assert.equal(first.stoppedBy?.budget, 'tokenBudget');
  assert.match(first.stoppedBy!.message, /^token budget [\d,]+ reached: this run spent [\d,]+ tokens in \d+ calls; run again/);
  assert.ok(first.upgraded > 0 && first.upgraded < 60, `part-way (${first.upgraded})`);
  assert.equal(stub.requests.reduce((n, r) => n + (r.body.input as string[]).length, 0), first.upgraded, 'whole batches: every text paid for was written');
  assert.equal(first.tokens.in, seed(60).filter((r) => r.id < `m${String(first.upgraded).padStart(3, '0')}`).reduce((n, r) => n + stubTokens(r.text), 0), 'the endpoint\'s usage of exactly the texts written');
  assert.ok(spent(first) <= budget * 1.1);
  const ledger = new TokenLedger(store.dir);
  assert.equal(await ledger.backgroundTokensOn(), spent(first), 'the run\'s embedding spend is background spend in the ledger');
  const rerun = await reembedMemories(store, options);
  assert.equal(rerun.stoppedBy, undefined);
  assert.equal(rerun.upgraded, 60 - first.upgraded);
  assert.equal(stub.requests.length, first.calls + rerun.calls, 'no text embedded twice');
  assert.equal((await ledger.summary()).today.byModel.find((m) => m.purpose === 'embed')!.rows, 60);
});
