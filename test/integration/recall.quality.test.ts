import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryService } from '../../src/core/memoryService';
import type { RecallMode } from '../../src/core/retrieval/hybridSearch';
import { deferCleanup, tempDir } from '../helpers/tempStore';
import { labelledSet as fixture, meanRecall, scoreRecall } from '../helpers/recallQuality';

test('hybrid recall@5 is at least vector-only and FTS-only; the local embedder beats BM25 on stem paraphrases', async (t) => {
  assert.ok(fixture.memories.length >= 60 && fixture.queries.length >= 30, 'the labelled set is big enough');
  const dir = tempDir(t);
  const memory = await MemoryService.open({ dir, defaultScopes: ['workspace:quality', 'global'], vectorIndex: { auto: false } });
  deferCleanup(t, () => memory.close());
  const stored = await Promise.all(fixture.memories.map((m) => memory.store({ id: m.id, text: m.text, category: m.category })));
  assert.deepEqual(stored.map((s) => s.status), fixture.memories.map(() => 'stored'), 'no labelled memory is mistaken for a near-duplicate');
  // Real BM25 through LanceDB's FTS index, not the no-index fallback: build indexes now.
  await memory.memoryStore.optimize('quality test');
  assert.ok((await memory.memoryStore.table.listIndices()).some((i) => i.columns.includes('search_text')), 'FTS index present');

  const modes: RecallMode[] = ['hybrid', 'vector', 'fts'];
  const scores = await scoreRecall(memory, { k: 5, modes });
  for (const s of scores) assert.equal(s.ran, s.mode, `${s.mode} ran as ${s.ran}`);
  const at = (key: string) => {
    const [mode, kind] = key.split('/') as [RecallMode, 'keyword' | 'stem' | 'paraphrase' | undefined];
    return meanRecall(scores, mode, kind);
  };
  const n = (kind?: string) => fixture.queries.filter((q) => kind === undefined || q.kind === kind).length;
  for (const scope of ['', '/keyword', '/stem', '/paraphrase']) {
    t.diagnostic(`recall@5${scope || ' (all ' + fixture.queries.length + ' queries)'}: hybrid ${at('hybrid' + scope).toFixed(3)}, vector ${at('vector' + scope).toFixed(3)}, fts ${at('fts' + scope).toFixed(3)} (n=${n(scope.slice(1) || undefined)})`);
  }
  assert.ok(at('hybrid') >= at('vector'), `hybrid ${at('hybrid')} >= vector ${at('vector')}`);
  assert.ok(at('hybrid') >= at('fts'), `hybrid ${at('hybrid')} >= fts ${at('fts')}`);
  assert.ok(at('vector/stem') > at('fts/stem'), `local embedder beats BM25 on stem paraphrases: ${at('vector/stem')} > ${at('fts/stem')}`);
  assert.ok(at('vector/keyword') >= at('fts/keyword'), `and is not worse on keyword queries: ${at('vector/keyword')} >= ${at('fts/keyword')}`);
});
