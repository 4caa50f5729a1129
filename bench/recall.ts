// Benchmark 3 — recall: latency p50/p95 of MemoryService.recall at 1k, 10k and 100k memories
// (local embedder), vector-only / FTS-only / hybrid, without and with the ANN vector index, and
// recall@5 on the labelled quality set hidden among the distractors at each size.
import { join } from 'node:path';
import { MemoryService } from '../src/core/memoryService';
import type { RecallMode } from '../src/core/retrieval/hybridSearch';
import { labelledSet, meanRecall, scoreRecall, type RecallScore } from '../test/helpers/recallQuality';
import { BENCH_SCOPE, buildCorpusStore } from './lib/corpus';
import { copyStore, fixtureStore, log, numberListArg, QUICK, round3, runBenchmark, summarize, type Summary, type TargetCheck } from './lib/env';

const MODES: RecallMode[] = ['vector', 'fts', 'hybrid'];
const K = 5;

export interface ModeFigures {
  latency: Summary;
  /** Mean recall@5 over the labelled queries. */
  recallAt5: number;
  byKind: Record<string, number>;
  /** Recalls that ran in another mode than asked (e.g. hybrid without an FTS index). */
  degraded: number;
}

export interface SizeFigures {
  rows: number;
  fixture: { built: boolean; buildMs: number };
  flat: Record<string, ModeFigures>;
  annBuild: { kind: string; ms?: number; detail?: string };
  ann: Record<string, ModeFigures>;
  /** What the product runs at this size by default: ANN index from 20k rows (VectorIndexOptions.threshold). */
  productDefault: 'flat' | 'ann';
}

function figures(scores: RecallScore[]): Record<string, ModeFigures> {
  return Object.fromEntries(MODES.map((mode) => {
    const mine = scores.filter((s) => s.mode === mode);
    return [mode, {
      latency: summarize(mine.map((s) => s.ms)),
      recallAt5: round3(meanRecall(scores, mode)),
      byKind: Object.fromEntries((['keyword', 'stem', 'paraphrase'] as const).map((k) => [k, round3(meanRecall(scores, mode, k))])),
      degraded: mine.filter((s) => s.ran !== s.mode).length,
    }];
  }));
}

async function measure(memory: MemoryService, rounds: number): Promise<RecallScore[]> {
  for (const q of labelledSet.queries.slice(0, 5)) await memory.recall(q.q, { count: false }); // warm caches
  const all: RecallScore[] = [];
  for (let r = 0; r < rounds; r++) all.push(...await scoreRecall(memory, { k: K, modes: MODES }));
  return all;
}

void runBenchmark('recall', 'Recall latency and recall@5 at 1k, 10k and 100k memories', async ({ scratch, parameters, notes }) => {
  const sizes = numberListArg('sizes', QUICK ? [1000, 5000] : [1000, 10_000, 100_000]);
  const roundsFor = (n: number) => (n >= 100_000 ? 1 : 3);
  Object.assign(parameters, {
    sizes,
    rounds: Object.fromEntries(sizes.map((n) => [n, roundsFor(n)])),
    queries: labelledSet.queries.length,
    k: K,
    corpus: `the ${labelledSet.memories.length} labelled memories + filler memories made of their vocabulary (test/helpers/recallQuality fillerTexts); 10% in another scope; 384-dim local embedder; compacted with id/FTS/scope indexes`,
    recall: `MemoryService.recall(q, { limit: ${K}, mode, count: false }) in scopes [${BENCH_SCOPE}, global]: query embedding + search + fusion, end to end`,
    annIndex: 'MemoryService.buildVectorIndex({ force: true }) — IVF_HNSW_SQ (cosine), as the background builder makes it',
  });
  const sizesOut: SizeFigures[] = [];
  for (const rows of sizes) {
    const fixture = await fixtureStore(`corpus-${rows}`, scratch, (dir) => buildCorpusStore(dir, rows));
    log(`recall: ${rows} rows: fixture ${fixture.built ? `built in ${fixture.buildMs} ms` : 'reused'}`);
    const dir = join(scratch.dir(`recall-${rows}`), 'store');
    copyStore(fixture.template, dir);
    const memory = await MemoryService.open({ dir, defaultScopes: [BENCH_SCOPE, 'global'], vectorIndex: { auto: false }, storeOptions: { maintenance: { auto: false } } });
    try {
      const flat = figures(await measure(memory, roundsFor(rows)));
      log(`recall: ${rows} rows, no ANN index: p50 vector ${flat.vector!.latency.p50} / fts ${flat.fts!.latency.p50} / hybrid ${flat.hybrid!.latency.p50} ms`);
      const built = await memory.buildVectorIndex({ force: true });
      const annBuild = built.kind === 'built' ? { kind: built.kind, ms: built.ms } : { kind: built.kind, detail: 'reason' in built ? built.reason : '' };
      log(`recall: ${rows} rows: ANN index ${built.kind}${built.kind === 'built' ? ` in ${built.ms} ms` : ''}`);
      const ann = figures(await measure(memory, roundsFor(rows)));
      log(`recall: ${rows} rows, ANN index: p50 vector ${ann.vector!.latency.p50} / fts ${ann.fts!.latency.p50} / hybrid ${ann.hybrid!.latency.p50} ms`);
      sizesOut.push({ rows, fixture: { built: fixture.built, buildMs: fixture.buildMs }, flat, annBuild, ann, productDefault: rows >= 20_000 ? 'ann' : 'flat' });
    } finally {
      await memory.close();
    }
  }

  const targets: TargetCheck[] = [];
  for (const [rows, limit] of [[10_000, 20], [100_000, 60]] as const) {
    const s = sizesOut.find((x) => x.rows === rows);
    if (!s) continue;
    const state = s.productDefault === 'ann' ? s.ann : s.flat;
    const other = s.productDefault === 'ann' ? s.flat : s.ann;
    // Latency is the target, but a fast index that finds the wrong memories is no win: say so.
    const lostQuality = s.ann.vector!.recallAt5 < s.flat.vector!.recallAt5 - 0.1;
    targets.push({
      target: `Recall p50 under ${limit} ms at ${rows / 1000}k memories`,
      measured: `hybrid p50 ${state.hybrid!.latency.p50} ms ${s.productDefault === 'ann' ? 'with' : 'without'} the ANN index (the product's state at this size); ${other.hybrid!.latency.p50} ms ${s.productDefault === 'ann' ? 'without' : 'with'} it`,
      met: state.hybrid!.latency.p50 < limit,
      ...(lostQuality ? { cause: `latency only: with the ANN index, vector recall@5 on the labelled set falls from ${s.flat.vector!.recallAt5} to ${s.ann.vector!.recallAt5} and hybrid from ${s.flat.hybrid!.recallAt5} to ${s.ann.hybrid!.recallAt5} (see "What the figures say")` } : {}),
    });
  }
  notes.push('Latency = one MemoryService.recall call end to end (query embedding, vector and/or BM25 search with the scope prefilter, fusion, ranking); nearest-rank percentiles over every labelled query in every round.');
  notes.push('recall@5 = share of a query\'s expected memories in the top 5, averaged over the labelled queries (test/helpers/recallQuality.ts, the quality test\'s measure), here among N−60 distractors.');
  notes.push('The product builds the ANN index in the background from 20k rows (VectorIndexOptions.threshold), so 1k and 10k normally run flat and 100k with the index.');
  return { figures: { sizes: sizesOut }, targets };
});
