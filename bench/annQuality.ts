// Benchmark: ANN index quality. Why did the automatic IVF_HNSW_SQ index cut vector recall at 100k
// rows (BENCHMARKS.md, "Also found"), and which index and query settings keep ANN recall@10 ≥ 0.95 of
// brute force with the scope prefilter recall uses? On a realistic corpus: LoCoMo turns and
// observations plus persona sentences as distractors (pairs of them beyond the file's 15k, so no text
// repeats), spread over the conversations' scopes as bench:locomo does.
//
//   npm run bench:ann -- --data LOCOMO.json --distractors PERSONAS.json [--rows 100000] [--probes 200]
//                        [--only name,name|none] [--corpus locomo|synthetic] [--product]
//
// --product also runs the product's own build (MemoryService.buildVectorIndex: the ladder and its
// self-check) and the questions through recall, flat and indexed; with --only none the results go to
// ann-<corpus>-<rows>-product.json.
//
// The data is CC BY-NC: it stays outside the repository, the benchmark takes its paths. Results go to
// bench/results/ann-<corpus>-<rows>.json; the hand-written BENCHMARKS.md section reads them.
// Probes: LoCoMo questions (embedded by the local embedder, each with its conversation's scope
// filter) and the store's own rows (their vectors, their scope's filter: what the builder's
// self-check does), recall@10 measured by src/core/retrieval/vectorIndex.ts measureAnnRecall.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCAL_DEFAULT_DIM, LocalEmbedder, localEmbedderId } from '../src/core/embedding/localEmbedder';
import { annIndex, describeIndex, describeQuery, measureAnnRecall, midpointProbes, sampleProbes, type AnnIndexParams, type AnnProbe, type VectorQueryParams } from '../src/core/retrieval/vectorIndex';
import { MemoryStore } from '../src/core/store/memoryStore';
import { sqlInList } from '../src/core/store/sql';
import { labelledSet } from '../test/helpers/recallQuality';
import { BENCH_SCOPE, buildCorpusStore } from './lib/corpus';
import { MemoryService } from '../src/core/memoryService';
import { log, round1, round3, runBenchmark, summarize } from './lib/env';
import { buildCorpus, buildLocomoStore, buildQuestions, distractorMemories, loadLocomo, scopeOf, type ProtocolMemory } from './lib/locomo';

interface Config {
  name: string;
  index: AnnIndexParams;
  queries: VectorQueryParams[];
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The configurations measured; partitions scale with the rows (sqrt(rows) / 4 = 79 at 100k). */
function configs(rows: number): Config[] {
  const p = Math.max(2, Math.round(Math.sqrt(rows) / 4));
  const probes = (shares: number[], parts: number) => shares.map((s) => Math.max(1, Math.ceil(s * parts)));
  return [
    { name: 'hnsw-sq-product', index: { type: 'IVF_HNSW_SQ', numPartitions: Math.max(1, Math.round(rows / 100_000)) }, queries: [{ ef: 150 }, { ef: 400 }, { ef: 1000 }, { ef: 400, refineFactor: 5 }] },
    { name: 'hnsw-sq-m32', index: { type: 'IVF_HNSW_SQ', numPartitions: 1, m: 32, efConstruction: 500 }, queries: [{ ef: 150 }, { ef: 400 }] },
    { name: 'hnsw-sq-p8', index: { type: 'IVF_HNSW_SQ', numPartitions: 8 }, queries: [{ ef: 150, nprobes: 2 }, { ef: 150, nprobes: 8 }] },
    { name: 'ivf-flat', index: { type: 'IVF_FLAT', numPartitions: p }, queries: probes([0.05, 0.1, 0.25, 0.5], p).map((nprobes) => ({ nprobes })) },
    { name: 'ivf-pq', index: { type: 'IVF_PQ', numPartitions: p, numSubVectors: 48 }, queries: [...probes([0.1, 0.25], p).map((nprobes) => ({ nprobes, refineFactor: 10 })), { nprobes: Math.ceil(0.25 * p) }] },
  ];
}

/** Persona sentences, then pairs of them (deterministic, mulberry32), until `count` distinct texts. */
function distractorTexts(personas: readonly string[], count: number): string[] {
  const out = personas.slice(0, count);
  const seen = new Set(out);
  let seed = 12345;
  const next = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % personas.length;
  };
  while (out.length < count) {
    const text = `${personas[next()]} ${personas[next()]}`;
    if (!seen.has(text)) { seen.add(text); out.push(text); }
  }
  return out;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);

/** How hard the data is for an ANN index: neighbour distances against a random row's (relative contrast). */
async function contrast(store: MemoryStore, probes: AnnProbe[]): Promise<Record<string, number>> {
  const near1: number[] = [], near10: number[] = [], random: number[] = [], dupes: number[] = [];
  const others = await sampleProbes(store.table, 50);
  for (const p of probes.slice(0, 100)) {
    const rows = (await store.table.query().nearestTo(p.vector).distanceType('cosine').bypassVectorIndex().where(p.filter!).select(['id', '_distance']).limit(11).toArray()) as Array<{ _distance: number }>;
    if (rows.length < 11) continue;
    near1.push(rows[1]!._distance);
    near10.push(rows[10]!._distance);
    dupes.push(rows[1]!._distance < 1e-4 ? 1 : 0);
    for (const o of others.slice(0, 10)) {
      let dot = 0;
      for (let i = 0; i < p.vector.length; i++) dot += p.vector[i]! * o.vector[i]!;
      random.push(1 - dot);
    }
  }
  return { nearestOtherDistance: round3(mean(near1)), tenthDistance: round3(mean(near10)), randomDistance: round3(mean(random)), relativeContrast10: round3(mean(random) / Math.max(1e-9, mean(near10))), exactDuplicateShare: round3(mean(dupes)) };
}

async function recallLatency(memory: MemoryService, questions: Array<{ text: string; scope: string }>): Promise<Record<string, unknown>> {
  const ids: string[][] = [];
  const stages: Record<string, number[]> = { embed: [], vector: [], fts: [], fuse: [], total: [] };
  for (const q of questions) {
    const r = await memory.recall(q.text, { limit: 10, scopes: [q.scope], mode: 'vector', count: false });
    // Texts, not ids: identical memories are interchangeable (ties), which brute force returns is arbitrary.
    ids.push(r.results.map((x) => x.text));
    for (const [k, v] of Object.entries(r.timings)) stages[k]!.push(v);
  }
  return { ids, timings: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, summarize(v)])) };
}

async function productRun(dir: string, questions: Array<{ text: string; scope: string }>): Promise<Record<string, unknown>> {
  const memory = await MemoryService.open({ dir, defaultScopes: ['global'], vectorIndex: { auto: false }, storeOptions: { maintenance: { auto: false } } });
  try {
    await memory.memoryStore.table.dropIndex('vector_idx').catch(() => undefined);
    const flat = await recallLatency(memory, questions);
    const built = await memory.buildVectorIndex({ force: true });
    log(`product: ${built.kind}: ${JSON.stringify('selfCheck' in built ? built.selfCheck : built)}`);
    const indexed = await recallLatency(memory, questions);
    // Vector-only recall through the index vs flat: the share of the flat top 10 found (as texts).
    const a = flat.ids as string[][], b = indexed.ids as string[][];
    const overlap = a.map((x, i) => {
      const left = [...b[i]!];
      let found = 0;
      for (const t of x) { const j = left.indexOf(t); if (j >= 0) { found++; left.splice(j, 1); } }
      return x.length ? found / x.length : 1;
    });
    return { event: built, flatTimings: flat.timings, indexedTimings: indexed.timings, vectorRecallOverlapAt10: round3(overlap.reduce((s, x) => s + x, 0) / Math.max(1, overlap.length)), stats: (await memory.stats()).vectorIndex };
  } finally {
    await memory.close();
  }
}

async function main(): Promise<void> {
  const rows = Number(arg('rows') ?? 100_000);
  const nProbes = Number(arg('probes') ?? 200);
  const corpusKind = arg('corpus') ?? 'locomo';
  const only = arg('only')?.split(',');
  const data = arg('data');
  const distractorFile = arg('distractors');
  if (corpusKind === 'locomo' && (!data || !distractorFile)) {
    console.error('usage: npm run bench:ann -- --data LOCOMO.json --distractors PERSONAS.json [--rows N] [--probes N] [--only name,…] [--corpus locomo|synthetic]');
    process.exit(2);
  }
  const name = `ann-${corpusKind}-${rows >= 1000 ? `${Math.round(rows / 1000)}k` : rows}${only?.includes('none') ? '-product' : ''}`;
  await runBenchmark(name, `ANN index quality at ${rows} rows (${corpusKind})`, async ({ scratch, parameters, notes }) => {
    const dir = join(scratch.dir(name), 'store');
    const t0 = Date.now();
    let questions: AnnProbe[] = [];
    let questionTexts: Array<{ text: string; scope: string }> = [];
    if (corpusKind === 'locomo') {
      const conversations = loadLocomo(data!);
      const real: ProtocolMemory[] = [...buildCorpus(conversations, 'turns'), ...buildCorpus(conversations, 'observations')];
      const personas = JSON.parse(readFileSync(distractorFile!, 'utf8')) as string[];
      const count = Math.max(0, rows - real.length);
      await buildLocomoStore(dir, [...real, ...distractorMemories(distractorTexts(personas, count), count, conversations)]);
      const qs = buildQuestions(conversations);
      const embedder = new LocalEmbedder(LOCAL_DEFAULT_DIM);
      const step = Math.max(1, Math.floor(qs.length / nProbes));
      const picked = qs.filter((_, i) => i % step === 0).slice(0, nProbes);
      questions = picked.map((q) => ({ vector: embedder.embedOne(q.question), filter: `scope IN ${sqlInList([q.scope], 'scope')}` }));
      questionTexts = picked.map((q) => ({ text: q.question, scope: q.scope }));
      Object.assign(parameters, { corpus: `LoCoMo turns + observations (${real.length}) of ${conversations.length} conversations + ${count} persona distractors (sentences, then pairs of sentences), round robin over the ${conversations.length} scopes`, scopes: conversations.map(scopeOf) });
    } else {
      await buildCorpusStore(dir, rows);
      // The recall benchmark's labelled queries, in the scopes it recalls (bench/recall.ts).
      const embedder = new LocalEmbedder(LOCAL_DEFAULT_DIM);
      questions = labelledSet.queries.map((q) => ({ vector: embedder.embedOne(q.q), filter: `scope IN ${sqlInList([BENCH_SCOPE, 'global'], 'scope')}` }));
      questionTexts = labelledSet.queries.map((q) => ({ text: q.q, scope: BENCH_SCOPE }));
      Object.assign(parameters, { corpus: 'the recall benchmark\'s synthetic corpus (labelled memories + filler of their vocabulary, bench/lib/corpus.ts); questions = its labelled queries' });
    }
    const buildStoreMs = Date.now() - t0;
    log(`${name}: store of ${rows} rows built in ${buildStoreMs} ms`);
    const store = await MemoryStore.open(dir, { dim: LOCAL_DEFAULT_DIM, embedder: localEmbedderId(LOCAL_DEFAULT_DIM), maintenance: { auto: false } });
    const results: Array<Record<string, unknown>> = [];
    let closed = false;
    try {
      const rowProbes = await sampleProbes(store.table, nProbes);
      const unfiltered = rowProbes.map((p) => ({ vector: p.vector }));
      const data = await contrast(store, rowProbes);
      log(`${name}: data: ${JSON.stringify(data)}`);
      Object.assign(parameters, { rows, probes: { questions: questions.length, rows: rowProbes.length }, k: 10, measure: 'recall@10 of ANN against bypassVectorIndex, tie-tolerant (vectorIndex.ts measureAnnRecall); ms = mean per query, serial' });
      const sets: Array<[string, AnnProbe[]]> = [['rows', rowProbes], ['midpoints', midpointProbes(rowProbes)], ['rowsNoFilter', unfiltered], ...(questions.length ? [['questions', questions] as [string, AnnProbe[]]] : [])];
      const truth: Record<string, Awaited<ReturnType<typeof measureAnnRecall>>['truth']> = {};
      const bruteMs: Record<string, number> = {};
      for (const config of configs(rows).filter((c) => !only || only.includes(c.name))) {
        const b0 = Date.now();
        await store.table.createIndex('vector', { name: 'vector_idx', replace: true, config: annIndex(config.index) });
        const buildMs = Date.now() - b0;
        log(`${name}: ${config.name} (${describeIndex(config.index)}) built in ${buildMs} ms`);
        for (const query of config.queries) {
          const figures: Record<string, number> = {};
          for (const [set, probes] of sets) {
            if (set === 'rowsNoFilter' && config.name !== 'hnsw-sq-product' && config.name !== 'ivf-flat') continue;
            const m = await measureAnnRecall(store.table, probes, query, 10, truth[set]);
            if (!truth[set]) { truth[set] = m.truth; bruteMs[set] = round1(m.bruteMs); }
            figures[`${set}RecallAt10`] = round3(m.recall);
            figures[`${set}AnnMs`] = round1(m.annMs);
          }
          log(`${name}: ${config.name} ${describeQuery(query)}: ${JSON.stringify(figures)}`);
          results.push({ config: config.name, index: config.index, query, buildMs, ...figures });
        }
      }
      notes.push(`Brute force (bypassVectorIndex) mean ms per query: ${JSON.stringify(bruteMs)}.`);
      await store.close();
      closed = true;
      // --product: what the product itself does on this store: MemoryService.buildVectorIndex (the
      // ladder and its self-check), then the LoCoMo questions through recall, flat and indexed.
      const product = process.argv.includes('--product') ? await productRun(dir, questionTexts) : undefined;
      return { figures: { rows, buildStoreMs, data, bruteMs, results, product }, targets: [] };
    } finally {
      if (!closed) await store.close();
    }
  });
}

void main();
