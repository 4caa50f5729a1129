import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHECKPOINT_FILE, OpenAiCompatibleEnricher, upgradeMemories, type OpenAiCompatibleEnricherOptions } from '../../src/core/upgrade';
import { startStubLlm } from '../fixtures/upgrade/stubLlm';
import { deferCleanup, vec } from '../helpers/tempStore';
import { openTestStore } from '../fixtures/upgrade/legacyStore';

const KEY = 'sk-test-secret-0123456789';
const MARKERS = ['TIMEOUT', 'ERR500', 'BADJSON', 'HUGE', 'SCHEMA', 'FLAKY'];

function llm(url: string, extra: Partial<OpenAiCompatibleEnricherOptions> = {}) {
  return new OpenAiCompatibleEnricher({ baseUrl: url, model: 'stub-model', apiKey: KEY, timeoutMs: 400, retries: 1, concurrency: 4, breakAfterFailures: 50, maxReplyBytes: 256 * 1024, ...extra });
}

async function seedMixed(store: Awaited<ReturnType<typeof openTestStore>>['store'], normal = 10) {
  const rows = [
    ...Array.from({ length: normal }, (_, i) => ({ id: `ok-${String(i).padStart(2, '0')}`, text: `User prefers option ${i}. It is faster.`, vector: vec(i) })),
    ...MARKERS.map((m, i) => ({ id: `bad-${m.toLowerCase()}`, text: `Entry with ${m} marker. Second sentence.`, vector: vec(100 + i) })),
  ];
  await store.insert(rows);
  return rows;
}

test('LLM enrichment: each failing entry falls back to local with its reason; the run completes', async (t) => {
  const stub = await startStubLlm();
  deferCleanup(t, () => stub.close());
  const { store } = await openTestStore(t);
  await seedMixed(store);
  const result = await upgradeMemories(store, { enricher: llm(stub.url), batchSize: 8 });
  assert.equal(result.upgraded, 16);
  assert.deepEqual(result.failed, []);
  assert.equal(result.fallbacks, 5, 'TIMEOUT, ERR500, BADJSON, HUGE, SCHEMA; FLAKY succeeds on retry');

  const reasons: Record<string, RegExp> = {
    timeout: /timed out after 400 ms \(after 2 attempts\)/,
    err500: /HTTP 500: upstream exploded \(after 2 attempts\)/,
    badjson: /invalid JSON in reply/,
    huge: /reply too large \(more than 262144 bytes\)/,
    schema: /does not match the schema/,
  };
  for (const [marker, re] of Object.entries(reasons)) {
    const row = (await store.get(`bad-${marker}`))!;
    assert.equal(row.metadata.enrichment?.provider, 'local', marker);
    assert.match(row.metadata.enrichment!.fallbackReason!, re, marker);
    assert.match(row.metadata.enrichment!.fallbackReason!, /^openai-compatible \(stub-model\): /);
    assert.equal(row.metadata.l0_abstract, `Entry with ${marker.toUpperCase()} marker.`);
  }
  const flaky = (await store.get('bad-flaky'))!;
  assert.equal(flaky.metadata.enrichment?.provider, 'openai-compatible');
  const ok = (await store.get('ok-03'))!;
  assert.equal(ok.metadata.l0_abstract, 'LLM: User prefers option 3.');
  assert.equal(ok.metadata.l1_overview, '- first point\n- second point');
  assert.equal(ok.category, 'preferences');
  assert.deepEqual({ provider: ok.metadata.enrichment?.provider, model: ok.metadata.enrichment?.model }, { provider: 'openai-compatible', model: 'stub-model' });

  const sent = stub.requests.find((r) => r.text.includes('option 3'))!;
  assert.equal(sent.authorization, `Bearer ${KEY}`);
  const format = sent.body.response_format as { type: string; json_schema: { strict: boolean; schema: { required: string[] } } };
  assert.equal(format.type, 'json_schema');
  assert.equal(format.json_schema.strict, true);
  assert.ok(format.json_schema.schema.required.includes('l0_abstract'));
  const everything = JSON.stringify({ result, rows: await store.rows(undefined, { columns: ['metadata'] }), dlq: await store.deadLetters.list() });
  assert.ok(!everything.includes(KEY), 'the API key appears in no result, row or dead letter');
  assert.ok(!existsSync(join(store.dir, CHECKPOINT_FILE)), 'a completed run removes its checkpoint');
});

test('with fallback "none" failing entries are reported with reasons, kept in the DLQ and left legacy', async (t) => {
  const stub = await startStubLlm();
  deferCleanup(t, () => stub.close());
  const { store } = await openTestStore(t);
  await seedMixed(store, 4);
  const result = await upgradeMemories(store, { enricher: llm(stub.url), fallback: 'none' });
  assert.equal(result.upgraded, 5, '4 normal + FLAKY');
  assert.deepEqual(result.failed.map((f) => f.id).sort(), ['bad-badjson', 'bad-err500', 'bad-huge', 'bad-schema', 'bad-timeout']);
  assert.ok(result.failed.every((f) => f.deadLetterId && f.reason.length > 10));
  const dlq = await store.deadLetters.list();
  assert.equal(dlq.open.length, 1);
  assert.equal((dlq.open[0]!.intent as { entries: unknown[] }).entries.length, 5);
  assert.equal((await store.get('bad-huge'))!.metadata.l0_abstract, undefined, 'still legacy: the next run retries it');
  const rerun = await upgradeMemories(store, { enricher: llm(stub.url), fallback: 'none' });
  assert.equal(rerun.candidates, 5);
});

test('force re-enriches local-enriched rows with the LLM; a dead endpoint is skipped after a few failures', async (t) => {
  const stub = await startStubLlm();
  deferCleanup(t, () => stub.close());
  const { store } = await openTestStore(t);
  await store.insert(Array.from({ length: 30 }, (_, i) => ({ id: `r${String(i).padStart(2, '0')}`, text: `Fact number ${i}. Details follow.`, vector: vec(i) })));

  // An endpoint nobody listens on: after 3 entries fail, the rest fall back at once.
  const down = new OpenAiCompatibleEnricher({ baseUrl: 'http://127.0.0.1:9/v1', model: 'gone', timeoutMs: 300, retries: 1, concurrency: 1, breakAfterFailures: 3 });
  const t0 = Date.now();
  const first = await upgradeMemories(store, { enricher: down });
  t.diagnostic(`30 entries against a dead endpoint: ${Date.now() - t0} ms, ${down.requests} requests`);
  assert.equal(first.upgraded, 30);
  assert.equal(first.fallbacks, 30);
  assert.equal(down.requests, 6, '3 entries x 2 attempts, then skipped');
  assert.match((await store.get('r29'))!.metadata.enrichment!.fallbackReason!, /endpoint skipped after 3 failures in a row \(last: cannot reach the endpoint/);

  const without = await upgradeMemories(store, { enricher: llm(stub.url) });
  assert.equal(without.candidates, 0, 'without force, local-enriched rows are not redone');
  const forced = await upgradeMemories(store, { enricher: llm(stub.url), force: true });
  assert.equal(forced.upgraded, 30);
  const r5 = (await store.get('r05'))!;
  assert.equal(r5.metadata.l0_abstract, 'LLM: Fact number 5.');
  assert.equal(r5.metadata.enrichment?.provider, 'openai-compatible');
  assert.equal((r5.metadata.enrichment as Record<string, unknown> | undefined)?.previous, 'local');
  assert.equal(r5.metadata.enrichment?.fallbackReason, undefined);
  assert.equal(r5.metadata.upgraded_from, 'legacy', 'the original upgrade marker stays');
  const again = await upgradeMemories(store, { enricher: llm(stub.url), force: true });
  assert.equal(again.candidates, 0, 'LLM-enriched rows are not redone even with force');
});

test('cancel during LLM enrichment keeps finished answers in the checkpoint; the resumed run does not ask again', async (t) => {
  const stub = await startStubLlm({ delayMs: 40 });
  deferCleanup(t, () => stub.close());
  const { store } = await openTestStore(t);
  await store.insert(Array.from({ length: 60 }, (_, i) => ({ id: `c${String(i).padStart(2, '0')}`, text: `Cached answer ${i}. More text.`, vector: vec(i) })));
  const controller = new AbortController();
  const first = await upgradeMemories(store, {
    enricher: llm(stub.url, { concurrency: 4 }),
    batchSize: 20,
    windowSize: 60,
    signal: controller.signal,
    onProgress: (p) => { if (p.enriched >= 25) controller.abort(); },
  });
  assert.equal(first.cancelled, true);
  assert.equal(first.upgraded, 0, 'cancelled in Phase 1: nothing written');
  assert.ok(existsSync(join(store.dir, CHECKPOINT_FILE)));
  const askedBefore = new Set(stub.requests.map((r) => r.text));
  const requestsBefore = stub.requests.length;

  const resumed = await upgradeMemories(store, { enricher: llm(stub.url), batchSize: 20, windowSize: 60 });
  assert.equal(resumed.upgraded, 60);
  assert.ok(resumed.fromCheckpoint >= 25, `reused ${resumed.fromCheckpoint}`);
  assert.equal(stub.requests.length - requestsBefore, 60 - resumed.fromCheckpoint, 'only entries without a saved answer are sent');
  t.diagnostic(`first run asked ${askedBefore.size}, saved ${resumed.fromCheckpoint}; resume asked ${stub.requests.length - requestsBefore}`);
  assert.ok((await store.rows(undefined, { columns: ['metadata'] })).every((r) => String(r.metadata).includes('"provider":"openai-compatible"')));
  assert.ok(!existsSync(join(store.dir, CHECKPOINT_FILE)));
});
