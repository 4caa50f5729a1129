import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalEmbedder } from '../../src/core/embedding/localEmbedder';
import { MemoryService, type RecallResponse } from '../../src/core/memoryService';
import type { RecallTimings } from '../../src/core/retrieval/recallTimings';
import { annIndex, type LadderRung, type VectorIndexOptions } from '../../src/core/retrieval/vectorIndex';
import { retryCommit } from '../../src/core/store/commitRetry';
import { cli } from '../helpers/cli';
import { callTool, connectMcp } from '../helpers/mcp';
import { deferCleanup, tempDir } from '../helpers/tempStore';

const SCOPES = ['project:a', 'project:b', 'project:c'];
const WORDS = 'deploy webhook retry cache index schema migration token queue lock backup restore review budget latency parser tokenizer embedding cluster shard replica failover alert metric trace span'.split(' ');

/** Varied short texts over three scopes (deterministic), so neighbours are not ties. */
function texts(n: number): Array<{ id: string; text: string; scope: string }> {
  let seed = 7;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % WORDS.length;
  return Array.from({ length: n }, (_, i) => ({ id: `m${i}`, scope: SCOPES[i % SCOPES.length]!, text: `note ${i}: ${WORDS[next()]} ${WORDS[next()]} then ${WORDS[next()]} for ${WORDS[next()]} ${WORDS[next()]} (${i % 97})` }));
}

async function filled(t: Parameters<typeof tempDir>[0], rows: number, ladder: LadderRung[], dir = tempDir(t), vectorIndex: VectorIndexOptions = {}) {
  const memory = await MemoryService.open({ dir, defaultScopes: SCOPES, vectorIndex: { auto: false, threshold: 1000, ladder, selfCheckSample: 60, ...vectorIndex } });
  deferCleanup(t, () => memory.close());
  const rowsIn = texts(rows);
  const vectors = await new LocalEmbedder().embed(rowsIn.map((r) => r.text));
  await memory.memoryStore.insert(rowsIn.map((r, i) => ({ ...r, vector: vectors[i]! })), { priority: 'background' });
  return { dir, memory };
}

/** IVF_PQ with one 384-dim sub-vector, many partitions and one probed: it cannot find real neighbours. */
const DEGENERATE: LadderRung = { name: 'degenerate', index: () => ({ type: 'IVF_PQ', numPartitions: 64, numSubVectors: 1 }), queries: () => [{ nprobes: 1 }] };
/** IVF_FLAT probing every partition: exact. */
const EXACT_FLAT: LadderRung = { name: 'flat-all', index: () => ({ type: 'IVF_FLAT', numPartitions: 4 }), queries: () => [{ nprobes: 4 }] };

const QUERIES = ['webhook retry budget', 'schema migration backup', 'cluster failover alert', 'tokenizer embedding latency'];

async function vectorRecalls(memory: MemoryService): Promise<string[][]> {
  const out: string[][] = [];
  for (const q of QUERIES) for (const scope of SCOPES) out.push((await memory.recall(q, { limit: 10, scopes: [scope], mode: 'vector', count: false })).results.map((r) => r.id));
  return out;
}

test('the ANN self-check catches a degenerate index and drops it: recall stays exact', async (t) => {
  const { dir, memory } = await filled(t, 2000, [DEGENERATE]);
  const exact = await vectorRecalls(memory);
  const built = await memory.buildVectorIndex({ force: true });
  assert.equal(built.kind, 'dropped', JSON.stringify(built));
  const check = (built as Extract<typeof built, { kind: 'dropped' }>).selfCheck;
  assert.ok(check.recallAt10 < 0.95, `degenerate index scored ${check.recallAt10}`);
  assert.ok(check.sample >= 50 && check.sample <= 60, `sample ${check.sample}`); // half own rows, half midpoints of same-scope pairs
  assert.equal(check.dropped, true);
  const stats = await memory.stats();
  assert.equal(stats.vectorIndex.present, false);
  assert.equal(stats.vectorIndex.selfCheck?.recallAt10, check.recallAt10);
  assert.ok(existsSync(join(dir, 'vector-index.json')));
  assert.deepEqual(await vectorRecalls(memory), exact, 'recall after the drop = brute force');
  // Not rebuilt on the next trigger until the table doubles.
  const again = await memory.buildVectorIndex();
  assert.equal(again.kind, 'skipped');
  assert.match((again as { reason: string }).reason, /brute force until the table doubles/);
});

test('below the pass mark the builder climbs the ladder, and every process recalls with the chosen query parameters', async (t) => {
  const { dir, memory } = await filled(t, 2000, [DEGENERATE, EXACT_FLAT]);
  const exact = await vectorRecalls(memory);
  const built = await memory.buildVectorIndex({ force: true });
  assert.equal(built.kind, 'built', JSON.stringify(built));
  const check = (built as Extract<typeof built, { kind: 'built' }>).selfCheck!;
  assert.ok(check.recallAt10 >= 0.95, `exact IVF_FLAT scored ${check.recallAt10}`);
  assert.deepEqual(check.params, { index: { type: 'IVF_FLAT', numPartitions: 4 }, query: { nprobes: 4 } });
  assert.equal(check.tried.length, 2);
  assert.ok(check.tried[0]!.recallAt10 < 0.95);
  const stats = await memory.stats();
  assert.equal(stats.vectorIndex.present, true);
  assert.deepEqual(stats.vectorIndex.queryParams, { nprobes: 4 });
  assert.deepEqual(await vectorRecalls(memory), exact, 'recall through the index = brute force');
  // Another process (here: another service on the same folder) reads the same parameters.
  const other = await MemoryService.open({ dir, defaultScopes: SCOPES, vectorIndex: { auto: false } });
  deferCleanup(t, () => other.close());
  assert.deepEqual((await other.stats()).vectorIndex.queryParams, { nprobes: 4 });
  assert.equal(other.vectorIndexSelfCheck?.recallAt10, check.recallAt10);
  // The CLI's stats show the same verdict.
  const cliStats = await cli(['--db', dir, 'stats', '--json']);
  assert.equal(cliStats.code, 0, cliStats.stderr);
  assert.equal(cliStats.json.vectorIndex.selfCheck.recallAt10, check.recallAt10);
});

test('an index found without a self-check record (built before it, or by hand) is checked on the next trigger and replaced when bad', async (t) => {
  const { memory } = await filled(t, 1500, [EXACT_FLAT]);
  const exact = await vectorRecalls(memory);
  // By hand, off the lock, as another tool would: retried like every index commit, since the store's
  // own maintenance (a compaction) may pre-empt it ("CreateIndex … preempted by concurrent … Rewrite").
  await retryCommit('test index', () => memory.memoryStore.table.createIndex('vector', { name: 'vector_idx', replace: true, config: annIndex({ type: 'IVF_PQ', numPartitions: 64, numSubVectors: 1 }) }));
  const event = await memory.buildVectorIndex();
  assert.equal(event.kind, 'built', JSON.stringify(event));
  assert.equal((event as Extract<typeof event, { kind: 'built' }>).selfCheck?.params.index.type, 'IVF_FLAT');
  assert.deepEqual(await vectorRecalls(memory), exact);
});

test('each maintenance pass adds an ANN index segment and a fragment; past maxSegments the builder rebuilds one segment and the fragments are merged', async (t) => {
  const { memory } = await filled(t, 1500, [EXACT_FLAT], undefined, { maxSegments: 4, rebuildDutyFactor: 0 });
  const store = memory.memoryStore;
  const vectorIndex = async () => {
    const index = (await store.table.listIndices()).find((i) => i.columns.includes('vector'));
    return { segments: index?.numSegments, fragments: (await store.table.stats()).fragmentStats.numFragments };
  };
  assert.equal((await memory.buildVectorIndex({ force: true })).kind, 'built');
  await store.optimize('test');
  const start = await vectorIndex();
  assert.equal(start.segments, 1, JSON.stringify(start));
  const more = texts(1500 + 6 * 20).slice(1500);
  const vectors = await new LocalEmbedder().embed(more.map((r) => r.text));
  for (let pass = 0; pass < 6; pass++) {
    await store.insert(more.slice(pass * 20, pass * 20 + 20).map((r, i) => ({ ...r, vector: vectors[pass * 20 + i]! })));
    await store.optimize('test');
  }
  // LanceDB's optimize() indexes each pass's new rows as a segment of their own, in a fragment compaction no longer merges.
  const split = await vectorIndex();
  assert.equal(split.segments, 7, JSON.stringify(split));
  assert.ok(split.fragments >= 7, JSON.stringify(split));
  assert.equal((await memory.stats()).vectorIndex.segments, 7);
  const exact = await vectorRecalls(memory);
  const rebuilt = await memory.buildVectorIndex();
  assert.equal(rebuilt.kind, 'built', JSON.stringify(rebuilt));
  const after = await vectorIndex();
  assert.equal(after.segments, 1, JSON.stringify(after));
  assert.equal(after.fragments, 1, JSON.stringify(after));
  assert.equal(await store.count(), 1620);
  assert.deepEqual(await vectorRecalls(memory), exact, 'recall through the rebuilt index = through the split one (exact IVF_FLAT)');
  // One segment again: the next trigger leaves it alone.
  assert.equal((await memory.buildVectorIndex()).kind, 'skipped');
});

test('rebuilds for segments are spaced by the last build\'s duration, so sustained writes cannot keep the builder busy', async (t) => {
  const { memory } = await filled(t, 1200, [EXACT_FLAT], undefined, { maxSegments: 2, rebuildDutyFactor: 1000 });
  const store = memory.memoryStore;
  assert.equal((await memory.buildVectorIndex({ force: true })).kind, 'built');
  const more = texts(1200 + 4 * 10).slice(1200);
  const vectors = await new LocalEmbedder().embed(more.map((r) => r.text));
  for (let pass = 0; pass < 4; pass++) {
    await store.insert(more.slice(pass * 10, pass * 10 + 10).map((r, i) => ({ ...r, vector: vectors[pass * 10 + i]! })));
    await store.optimize('test');
  }
  assert.ok(((await memory.stats()).vectorIndex.segments ?? 0) > 2);
  const event = await memory.buildVectorIndex();
  assert.equal(event.kind, 'skipped', JSON.stringify(event));
  assert.match((event as { reason: string }).reason, /segments, but the last build took \d+ ms: the next waits \d+ s more, so rebuilds take at most 1\/1000 of the time/);
});

function assertTimings(t: RecallTimings | undefined, where: string): void {
  assert.ok(t, `${where}: timings missing`);
  for (const stage of ['embed', 'vector', 'fts', 'fuse', 'total'] as const) {
    assert.equal(typeof t[stage], 'number', `${where}: ${stage}`);
    assert.ok(t[stage] >= 0, `${where}: ${stage} = ${t[stage]}`);
  }
  // vector and fts run in parallel: the total covers embedding, the slower search and the fusion.
  assert.ok(t.total + 0.05 >= t.embed + Math.max(t.vector, t.fts) + t.fuse, `${where}: ${JSON.stringify(t)}`);
}

test('every recall reports its stage timings: service, CLI --json and the MCP tool', async (t) => {
  const { dir, memory } = await filled(t, 200, [EXACT_FLAT]);
  const hybrid: RecallResponse = await memory.recall('webhook retry budget', { scopes: SCOPES, count: false });
  assertTimings(hybrid.timings, 'service hybrid');
  assert.ok(hybrid.timings.vector > 0 && hybrid.timings.fts > 0 && hybrid.timings.embed > 0);
  const fts = await memory.recall('webhook retry budget', { scopes: SCOPES, mode: 'fts', count: false });
  assertTimings(fts.timings, 'service fts');
  assert.equal(fts.timings.vector, 0);
  assert.equal(fts.timings.embed, 0);
  const recent = memory.recallTimings.summary();
  assert.equal(recent.count, 2);
  assert.ok(recent.stages.total.p95 >= recent.stages.total.p50);
  await memory.close();

  const run = await cli(['--db', dir, 'recall', 'cluster', 'failover', '--scope', 'project:a', '--json']);
  assert.equal(run.code, 0, run.stderr);
  assertTimings(run.json.timings, 'CLI');

  const mcp = await connectMcp(dir);
  deferCleanup(t, () => mcp.close());
  const r = await callTool(mcp.client, 'memory_recall', { query: 'schema migration backup', scope: 'project:b' });
  assertTimings(r.timings, 'MCP');
});
