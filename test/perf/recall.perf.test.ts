import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalEmbedder } from '../../src/core/embedding/localEmbedder';
import { MemoryService } from '../../src/core/memoryService';
import type { NewMemory } from '../../src/core/store/memoryStore';
import labelled from '../fixtures/recall-quality.json';
import { fillerTexts } from '../helpers/recallQuality';
import { deferCleanup, tempDir } from '../helpers/tempStore';
import { startWorker } from '../helpers/workers';

const SCOPE = 'workspace:perf';
const N = 10_000;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

test('recall latency on a 10k store with the local embedder, before and after the background ANN index; recall stays correct while it builds', async (t) => {
  const dir = tempDir(t);
  const memory = await MemoryService.open({ dir, defaultScopes: [SCOPE, 'global'], vectorIndex: { auto: false } });
  deferCleanup(t, () => memory.close());
  const embedder = new LocalEmbedder();
  const texts = [...labelled.memories.map((m) => m.text), ...fillerTexts(N - labelled.memories.length)];
  let t0 = Date.now();
  const vectors = await embedder.embed(texts);
  const embedMs = Date.now() - t0;
  t0 = Date.now();
  for (let i = 0; i < N; i += 2000) {
    const rows: NewMemory[] = texts.slice(i, i + 2000).map((text, j) => ({ id: i + j < labelled.memories.length ? labelled.memories[i + j]!.id : `f${i + j}`, text, vector: vectors[i + j]!, scope: (i + j) % 10 === 9 ? 'workspace:other' : SCOPE }));
    await memory.memoryStore.insert(rows, { priority: 'background' });
  }
  const insertMs = Date.now() - t0;
  t0 = Date.now();
  await memory.memoryStore.optimize('perf test');
  t.diagnostic(`setup: embed ${N} in ${embedMs} ms, insert in ${insertMs} ms, optimize (compaction + FTS/BTREE index) in ${Date.now() - t0} ms`);
  assert.equal(await memory.memoryStore.count(), N);

  const queries = labelled.queries.map((q) => q.q);
  const measure = async (label: string, rounds: number) => {
    const ms: number[] = [];
    let found = 0;
    for (let r = 0; r < rounds; r++) {
      for (const [i, q] of queries.entries()) {
        const s = performance.now();
        const { results } = await memory.recall(q, { limit: 5 });
        ms.push(performance.now() - s);
        if (labelled.queries[i]!.expected.some((e) => results.some((x) => x.id === e))) found++;
      }
    }
    const p50 = percentile(ms, 0.5);
    t.diagnostic(`${label}: recall p50 ${p50.toFixed(1)} ms, p90 ${percentile(ms, 0.9).toFixed(1)} ms over ${ms.length} recalls; labelled hit@5 ${(found / ms.length).toFixed(3)}`);
    return { p50, hitRate: found / ms.length };
  };
  await memory.recall('warm up', { count: false });
  const flat = await measure('10k, no ANN index (brute-force vectors)', 2);

  // Build the ANN index outside the lock while another process stores memories, and recall each one as soon as it is acknowledged.
  const storer = startWorker('recall.storer', { dir, count: 60, scope: SCOPE, prefix: 'zqmarker' });
  await storer.waitFor((m: any) => m.stored, 60_000);
  let built = false;
  const building = memory.buildVectorIndex({ force: true }).finally(() => { built = true; });
  let recalledDuringBuild = 0;
  let checked = 0;
  const pending: Array<Promise<void>> = [];
  const seen = new Set<string>();
  while (!storer.messages.some((m: any) => m.done)) {
    await storer.waitFor((m: any) => (m.stored && !seen.has(m.stored)) || m.done, 60_000);
    for (const m of storer.messages as any[]) {
      if (!m.stored || seen.has(m.stored)) continue;
      seen.add(m.stored);
      pending.push((async () => {
        for (let attempt = 0; attempt < 20; attempt++) {
          const { results } = await memory.recall(m.marker, { limit: 3, count: false });
          if (results.some((r) => r.id === m.stored)) { checked++; if (!built) recalledDuringBuild++; return; }
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.fail(`memory ${m.stored} (${m.marker}) acknowledged by another process was not recallable`);
      })());
    }
  }
  await Promise.all(pending);
  const outcome = await building;
  assert.equal((await storer.exited).code, 0, storer.stderr());
  assert.equal(outcome.kind, 'built', JSON.stringify(outcome));
  assert.equal(checked, 60);
  t.diagnostic(`ANN build (IVF_HNSW_SQ, outside the lock) ${outcome.kind === 'built' ? outcome.ms + ' ms, ' + outcome.attempts + ' attempt(s)' : ''}; ${recalledDuringBuild} of 60 concurrent memories recalled while it was building`);
  assert.equal(await memory.memoryStore.count(), N + 60);
  assert.equal((await memory.memoryStore.verify()).ok, true);
  for (const m of storer.messages as any[]) {
    if (!m.stored) continue;
    const { results } = await memory.recall(m.marker, { limit: 3, count: false });
    assert.ok(results.some((r) => r.id === m.stored), `${m.marker} recallable after the build`);
  }

  // The store's next maintenance compacts the concurrent writes; with a vector index present it
  // also remaps/extends the index, under the lock. Report how long that holds the lock.
  await memory.flushBookkeeping();
  t0 = Date.now();
  const maintenance = await memory.memoryStore.optimize('after index build');
  t.diagnostic(`first maintenance after the index build: ${Date.now() - t0} ms under the lock (${maintenance.fragmentsRemoved} → ${maintenance.fragmentsAdded} fragments)`);
  const ann = await measure('10k, IVF_HNSW_SQ index', 2);
  assert.ok(ann.hitRate >= flat.hitRate - 0.05, `the ANN index keeps recall quality (${ann.hitRate} vs ${flat.hitRate})`);
  assert.ok(Math.min(flat.p50, ann.p50) < 500, 'generous bound; the target (20 ms) is reported above');
});
