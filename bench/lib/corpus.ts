// Fixture stores for the benchmarks, built efficiently: vectors from the local embedder in batches
// (outside any lock), rows inserted through the store at background priority in large batches.
import { LOCAL_DEFAULT_DIM, LocalEmbedder, localEmbedderId } from '../../src/core/embedding/localEmbedder';
import { MemoryStore, type NewMemory } from '../../src/core/store/memoryStore';
import { legacyRow } from '../../test/fixtures/upgrade/legacyStore';
import { fillerTexts, labelledSet } from '../../test/helpers/recallQuality';

export const DIM = LOCAL_DEFAULT_DIM;
export const EMBEDDER_ID = localEmbedderId(DIM);
/** Scope the recall queries search; 10% of the corpus lives in another scope (the prefilter has work to do). */
export const BENCH_SCOPE = 'workspace:bench';
export const OTHER_SCOPE = 'workspace:other';

const EMBED_CHUNK = 5000;

async function bulkInsert(dir: string, n: number, rowAt: (i: number) => Omit<NewMemory, 'vector'>): Promise<void> {
  // Large commits: a bulk load is one background job, not 100k interactive writes.
  const store = await MemoryStore.open(dir, { dim: DIM, embedder: EMBEDDER_ID, maxBatchRows: 2500, queue: { maxGroupRows: 5000 }, maintenance: { auto: false } });
  try {
    const embedder = new LocalEmbedder(DIM);
    for (let start = 0; start < n; start += EMBED_CHUNK) {
      const rows = Array.from({ length: Math.min(EMBED_CHUNK, n - start) }, (_, k) => rowAt(start + k));
      const vectors = await embedder.embed(rows.map((r) => r.text));
      const res = await store.insert(rows.map((r, k) => ({ ...r, vector: vectors[k]! })), { priority: 'background', label: 'bench fixture' });
      const bad = res.find((r) => r.status !== 'inserted');
      if (bad) throw new Error(`fixture row ${bad.id}: ${bad.status}`);
    }
    // One compaction and the id/FTS/scope indexes, as the store's maintenance leaves a real store.
    await store.optimize('bench fixture');
  } finally {
    await store.close();
  }
}

/**
 * The recall corpus: the labelled memories plus filler memories made of their vocabulary (the same
 * distractors as test/integration/recall.perf.test.ts). No smart metadata, so the rows are also
 * legacy memories for the upgrade throughput benchmark.
 */
export function buildCorpusStore(dir: string, n: number): Promise<void> {
  const labelled = labelledSet.memories;
  const filler = fillerTexts(Math.max(0, n - labelled.length));
  return bulkInsert(dir, n, (i) => i < labelled.length
    ? { id: labelled[i]!.id, text: labelled[i]!.text, category: labelled[i]!.category, scope: BENCH_SCOPE }
    : { id: `f${String(i).padStart(7, '0')}`, text: filler[i - labelled.length]!, scope: i % 10 === 9 ? OTHER_SCOPE : BENCH_SCOPE });
}

/** Legacy memories as the upgrade tests make them (mixed languages, messy whitespace, long notes, legacy categories). */
export function buildLegacyStore(dir: string, n: number): Promise<void> {
  return bulkInsert(dir, n, (i) => {
    const { vector: _v, ...row } = legacyRow(i);
    return row;
  });
}
