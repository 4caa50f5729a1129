// Consolidation quality and time: `npm run bench:consolidate [-- --rows 10000 --pairs 500]`.
//
// Protocol.
// 1. Quality: every distinct text of the labelled pair set (bench/fixtures/consolidationPairs.ts,
//    written for this project: paraphrase pairs and near-miss pairs) is one memory in one scope of a
//    fresh store (local embedder, 384 dims). planConsolidation runs at several thresholds; a pair is
//    *merged* when both memories land in one cluster. Precision = merged paraphrase pairs / all merged
//    labelled pairs; recall = merged paraphrase pairs / paraphrase pairs. `strict precision` also counts
//    every unlabelled pair inside a cluster as wrong. `vector only` is the same with minOverlap 0.
// 2. Time and memory at scale: a store of `rows` memories (synthetic sentences: 10–22 words drawn
//    with a Zipf law from 4 000 made-up words and some English glue words, seeded), `pairs` of which get a second copy reworded
//    (words reordered, case and punctuation changed) so there are clusters to find; one maintenance
//    as a real store has. Then the peak memory (maxRSS) of a process that plans, against one that
//    reads every row with its vector as the first planner did (bench/workers/consolidatePlanner.ts;
//    alternating, twice, the lower of each kept); then plan in this process (timed)
//    and apply that plan with the local merger (timed); the clusters found are checked against the
//    planted ones. The machine load is sampled throughout.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_DEFAULT_DIM, LocalEmbedder, localEmbedderId } from '../src/core/embedding/localEmbedder';
import { MemoryStore } from '../src/core/store/memoryStore';
import { CONSOLIDATE_DEFAULTS } from '../src/core/defaults';
import { consolidate, planConsolidation } from '../src/core/upgrade';
import { CONSOLIDATION_PAIRS } from './fixtures/consolidationPairs';
import { runWorker } from '../test/helpers/workers';
import { benchWorker, LoadSampler, log, machineInfo, numberArg, QUICK, RESULTS_DIR, round3 } from './lib/env';

const ROWS = numberArg('rows', QUICK ? 2000 : 10_000);
const PLANTED = numberArg('pairs', QUICK ? 100 : 500);
const DIM = LOCAL_DEFAULT_DIM;
const SCOPE = 'workspace:bench';

async function openStore(dir: string): Promise<MemoryStore> {
  return MemoryStore.open(dir, { dim: DIM, embedder: localEmbedderId(DIM), maxBatchRows: 2500, queue: { maxGroupRows: 5000 }, maintenance: { auto: false } });
}

async function insertTexts(store: MemoryStore, rows: Array<{ id: string; text: string }>): Promise<void> {
  const embedder = new LocalEmbedder(DIM);
  for (let i = 0; i < rows.length; i += 2500) {
    const chunk = rows.slice(i, i + 2500);
    const vectors = await embedder.embed(chunk.map((r) => r.text));
    await store.insert(chunk.map((r, k) => ({ ...r, scope: SCOPE, vector: vectors[k]! })), { priority: 'background', label: 'bench fixture' });
  }
  await store.optimize('bench fixture');
}

async function quality(): Promise<Array<Record<string, number>>> {
  const dir = mkdtempSync(join(tmpdir(), 'ml-bench-consolidate-q-'));
  try {
    const texts = [...new Set(CONSOLIDATION_PAIRS.flatMap((p) => [p.a, p.b]))];
    const idOf = new Map(texts.map((t, i) => [t, `q${String(i).padStart(3, '0')}`]));
    const store = await openStore(dir);
    await insertTexts(store, texts.map((text) => ({ id: idOf.get(text)!, text })));
    const rows: Array<Record<string, number>> = [];
    const positives = CONSOLIDATION_PAIRS.filter((p) => p.same).length;
    const negatives = CONSOLIDATION_PAIRS.length - positives;
    const variants = [{ minOverlap: CONSOLIDATE_DEFAULTS.minOverlap, factGuard: 1 }, { minOverlap: CONSOLIDATE_DEFAULTS.minOverlap, factGuard: 0 }, { minOverlap: 0, factGuard: 1 }];
    for (const { minOverlap, factGuard } of variants) {
      for (const threshold of [0.6, 0.7, 0.75, 0.8, 0.85, 0.9]) {
        const plan = await planConsolidation(store, { threshold, minOverlap, factGuard: factGuard === 1 });
        const clusterOf = new Map<string, string>();
        let pairsInClusters = 0;
        for (const c of plan.clusters) {
          const n = c.members.length + 1;
          pairsInClusters += (n * (n - 1)) / 2;
          for (const id of [c.survivor, ...c.members]) clusterOf.set(id, c.id);
        }
        const merged = (p: { a: string; b: string }) => { const x = clusterOf.get(idOf.get(p.a)!); return x !== undefined && x === clusterOf.get(idOf.get(p.b)!); };
        const tp = CONSOLIDATION_PAIRS.filter((p) => p.same && merged(p)).length;
        const fp = CONSOLIDATION_PAIRS.filter((p) => !p.same && merged(p)).length;
        rows.push({ minOverlap, factGuard, threshold, clusters: plan.clusters.length, paraphrasesMerged: tp, positives, nearMissesMerged: fp, negatives, precision: round3(tp + fp ? tp / (tp + fp) : 1), strictPrecision: round3(pairsInClusters ? tp / pairsInClusters : 1), recall: round3(tp / positives) });
      }
    }
    await store.close();
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Synthetic memories that are distinct from one another the way real ones are: a Zipf vocabulary, deterministic. */
function syntheticTexts(n: number, seed: number): string[] {
  // mulberry32: an LCG in doubles loses its low bits and repeats texts.
  let state = seed >>> 0;
  const rnd = () => { state = (state + 0x6d2b79f5) >>> 0; let t = state; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32; };
  const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vi', 'so', 'de', 'pa', 'gu', 'fe', 'zo', 'ri', 'ba', 'to'];
  const vocabulary = Array.from({ length: 4000 }, (_, i) => { let w = ''; for (let k = i + 7; w.length < 6 || k > 0; k = Math.floor(k / 16)) w += syllables[k % 16]; return w; });
  const weights = vocabulary.map((_, r) => 1 / (r + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  weights.reduce((acc, w) => { cumulative.push((acc + w) / total); return acc + w; }, 0);
  const pick = () => { const x = rnd(); let lo = 0, hi = cumulative.length - 1; while (lo < hi) { const mid = (lo + hi) >> 1; if (cumulative[mid]! < x) lo = mid + 1; else hi = mid; } return vocabulary[lo]!; };
  const glue = ['the', 'a', 'uses', 'needs', 'is', 'for', 'with', 'before', 'after', 'in'];
  return Array.from({ length: n }, () => {
    const len = 10 + Math.floor(rnd() * 13);
    const words = Array.from({ length: len }, (_, k) => (k % 4 === 1 ? glue[Math.floor(rnd() * glue.length)]! : pick()));
    return words.join(' ').replace(/^./, (c) => c.toUpperCase()) + '.';
  });
}

/** A reworded copy: the words in another order (first and last kept), another case, no final stop. */
function reworded(text: string, i: number): string {
  const words = text.replace(/\.$/, '').split(' ');
  const inner = words.slice(1, -1);
  const k = 1 + (i % Math.max(1, inner.length - 1));
  const moved = [...inner.slice(k), ...inner.slice(0, k)];
  const out = [words[0]!, ...moved, ...(words.length > 1 ? [words.at(-1)!] : [])].join(' ');
  return i % 3 === 0 ? out.toUpperCase() : out;
}

async function scale(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'ml-bench-consolidate-s-'));
  try {
    const base = syntheticTexts(ROWS - PLANTED, 777);
    const rows = base.map((text, i) => ({ id: `m${String(i).padStart(6, '0')}`, text }));
    const planted = new Map<string, string>();
    for (let i = 0; i < PLANTED; i++) {
      const of = rows[i * Math.floor(rows.length / PLANTED)]!;
      const id = `dup${String(i).padStart(5, '0')}`;
      rows.push({ id, text: reworded(of.text, i) });
      planted.set(id, of.id);
    }
    const store = await openStore(dir);
    const t0 = performance.now();
    await insertTexts(store, rows);
    log(`store of ${rows.length} memories built in ${Math.round(performance.now() - t0)} ms`);
    // Peak memory, each in a process of its own, alternating: the planner vs reading every row with its vector.
    const memory: Array<{ mode: string; ms: number; baseRssMB: number; maxRssMB: number }> = [];
    for (let round = 0; round < 2; round++) {
      for (const mode of ['loadAll', 'plan']) {
        const [m] = await runWorker(benchWorker('consolidatePlanner'), { dir, mode });
        memory.push(m);
        log(`${mode}: ${JSON.stringify(m)}`);
      }
    }
    const p0 = performance.now();
    const plan = await planConsolidation(store);
    const planMs = performance.now() - p0;
    const found = plan.clusters.filter((c) => [c.survivor, ...c.members].some((id) => planted.has(id) && [c.survivor, ...c.members].includes(planted.get(id)!))).length;
    const a0 = performance.now();
    const applied = await consolidate(store, { plan: plan.clusters });
    const applyMs = performance.now() - a0;
    const after = await store.count();
    await store.close();
    return {
      rows: rows.length, planted: PLANTED, clusters: plan.clusters.length, plantedFound: found, merged: applied.merged.length, skipped: applied.skipped.length, removed: applied.removed, rowsAfter: after,
      planMs: Math.round(planMs), applyMs: Math.round(applyMs), memory,
      planPeakRssMB: Math.min(...memory.filter((m) => m.mode === 'plan').map((m) => m.maxRssMB)),
      loadAllPeakRssMB: Math.min(...memory.filter((m) => m.mode === 'loadAll').map((m) => m.maxRssMB)),
      baseRssMB: Math.min(...memory.map((m) => m.baseRssMB)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const load = new LoadSampler();
  const started = new Date();
  log('quality on the labelled pairs');
  const q = await quality();
  const loadAfterQuality = load.mark();
  log(`time and memory at ${ROWS} memories`);
  const s = await scale();
  const result = { benchmark: 'consolidate', at: started.toISOString(), quick: QUICK, defaults: CONSOLIDATE_DEFAULTS, pairs: { total: CONSOLIDATION_PAIRS.length, paraphrase: CONSOLIDATION_PAIRS.filter((p) => p.same).length }, quality: q, scale: s, loadAfterQuality, load: load.stop(), machine: machineInfo() };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, ROWS === 10_000 ? 'consolidate.json' : `consolidate-${ROWS}.json`);
  writeFileSync(path, JSON.stringify(result, null, 2) + '\n');
  console.log('| minOverlap | fact guard | threshold | clusters | paraphrases merged | near misses merged | precision | strict precision | recall |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of q) console.log(`| ${r.minOverlap} | ${r.factGuard ? 'on' : 'off'} | ${r.threshold} | ${r.clusters} | ${r.paraphrasesMerged}/${r.positives} | ${r.nearMissesMerged}/${r.negatives} | ${r.precision} | ${r.strictPrecision} | ${r.recall} |`);
  console.log(JSON.stringify(s));
  console.log(`load: ${JSON.stringify(result.load.oneMinute)}; results in ${path}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
