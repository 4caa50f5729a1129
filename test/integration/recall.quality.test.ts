import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryService } from '../../src/core/memoryService';
import type { RecallMode } from '../../src/core/retrieval/hybridSearch';
import { deferCleanup, tempDir } from '../helpers/tempStore';
import labelled from '../fixtures/recall-quality.json';

interface Fixture {
  memories: Array<{ id: string; text: string; category: string }>;
  queries: Array<{ kind: 'keyword' | 'stem' | 'paraphrase'; q: string; expected: string[] }>;
}

// Bundled into the test by esbuild, so the test runs from out/ without reaching back into the source tree.
const fixture = labelled as Fixture;

test('hybrid recall@5 is at least vector-only and FTS-only; the local embedder beats BM25 on stem paraphrases', async (t) => {
  assert.ok(fixture.memories.length >= 60 && fixture.queries.length >= 30, 'the labelled set is big enough');
  const dir = tempDir(t);
  const memory = await MemoryService.open({ dir, defaultScopes: ['workspace:quality', 'global'], vectorIndex: { auto: false } });
  deferCleanup(t, () => memory.close());
  const stored = await Promise.all(fixture.memories.map((m) => memory.store({ id: m.id, text: m.text, category: m.category })));
  assert.deepEqual(stored.map((s) => s.status), fixture.memories.map(() => 'stored'), 'no labelled memory is mistaken for a near-duplicate');
  // Real BM25 through LanceDB's FTS index, not the no-index fallback: build indexes now.
  await memory.memoryStore.optimize('quality test');
  assert.ok((await memory.memoryStore.table.listIndices()).some((i) => i.columns.includes('text')), 'FTS index present');

  const modes: RecallMode[] = ['hybrid', 'vector', 'fts'];
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  const add = (key: string, value: number) => { sums.set(key, (sums.get(key) ?? 0) + value); counts.set(key, (counts.get(key) ?? 0) + 1); };
  for (const q of fixture.queries) {
    for (const mode of modes) {
      const { results, mode: ran } = await memory.recall(q.q, { limit: 5, mode, count: false });
      assert.equal(ran, mode, `${mode} ran as ${ran}`);
      const ids = results.map((r) => r.id);
      const r5 = q.expected.filter((e) => ids.includes(e)).length / q.expected.length;
      add(`${mode}`, r5);
      add(`${mode}/${q.kind}`, r5);
    }
  }
  const at = (key: string) => (sums.get(key) ?? 0) / (counts.get(key) ?? 1);
  for (const scope of ['', '/keyword', '/stem', '/paraphrase']) {
    t.diagnostic(`recall@5${scope || ' (all ' + fixture.queries.length + ' queries)'}: hybrid ${at('hybrid' + scope).toFixed(3)}, vector ${at('vector' + scope).toFixed(3)}, fts ${at('fts' + scope).toFixed(3)} (n=${counts.get('hybrid' + scope)})`);
  }
  assert.ok(at('hybrid') >= at('vector'), `hybrid ${at('hybrid')} >= vector ${at('vector')}`);
  assert.ok(at('hybrid') >= at('fts'), `hybrid ${at('hybrid')} >= fts ${at('fts')}`);
  assert.ok(at('vector/stem') > at('fts/stem'), `local embedder beats BM25 on stem paraphrases: ${at('vector/stem')} > ${at('fts/stem')}`);
  assert.ok(at('vector/keyword') >= at('fts/keyword'), `and is not worse on keyword queries: ${at('vector/keyword')} >= ${at('fts/keyword')}`);
});
