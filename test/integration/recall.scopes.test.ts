import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryService } from '../../src/core/memoryService';
import type { RecallMode } from '../../src/core/retrieval/hybridSearch';
import labelled from '../fixtures/recall-quality.json';
import { deferCleanup, tempDir } from '../helpers/tempStore';

const A = 'workspace:aaaa1111';
const B = 'workspace:bbbb2222';

test('a memory stored in workspace A never surfaces in workspace B unless it is global — with and without FTS and ANN indexes', async (t) => {
  const memory = await MemoryService.open({ dir: tempDir(t), defaultScopes: [A, 'global'], vectorIndex: { auto: false }, storeOptions: { maintenance: { auto: false } } });
  deferCleanup(t, () => memory.close());
  // Every labelled memory lives in A; B holds a few of the same texts; a few more are global.
  await Promise.all(labelled.memories.map((m) => memory.store({ id: `A-${m.id}`, text: m.text, scope: A, category: m.category })));
  await Promise.all(labelled.memories.slice(0, 10).map((m) => memory.store({ id: `B-${m.id}`, text: m.text, scope: B, category: m.category })));
  await Promise.all(labelled.memories.slice(10, 20).map((m) => memory.store({ id: `G-${m.id}`, text: m.text, scope: 'global', category: m.category })));

  const check = async (stage: string) => {
    let fromB = 0, fromGlobal = 0;
    for (const q of labelled.queries) {
      for (const mode of ['hybrid', 'vector', 'fts'] as RecallMode[]) {
        const inB = await memory.recall(q.q, { scopes: [B, 'global'], limit: 10, mode, count: false });
        for (const r of inB.results) {
          assert.ok(r.scope === B || r.scope === 'global', `${stage}/${mode}: "${q.q}" surfaced ${r.id} from ${r.scope} in workspace B`);
          if (r.scope === B) fromB++; else fromGlobal++;
        }
        const inA = await memory.recall(q.q, { limit: 10, mode, count: false });
        for (const r of inA.results) assert.ok(r.scope === A || r.scope === 'global', `${stage}/${mode}: ${r.id} from ${r.scope} in workspace A`);
      }
    }
    assert.ok(fromB > 0 && fromGlobal > 0, `${stage}: B sees its own and global memories (${fromB}, ${fromGlobal})`);
    const onlyB = await memory.recall(labelled.memories[0]!.text, { scopes: [B], count: false });
    assert.equal(onlyB.results[0]!.id, `B-${labelled.memories[0]!.id}`, 'the same text in B is found as B\'s own copy');
  };

  assert.equal((await memory.memoryStore.table.listIndices()).length, 0);
  await check('no indexes (BM25 fallback)');
  await memory.memoryStore.optimize('scope test');
  assert.ok((await memory.memoryStore.table.listIndices()).some((i) => i.indexType === 'FTS'));
  await check('FTS index');
  const built = await memory.buildVectorIndex({ force: true });
  assert.equal(built.kind, 'built', JSON.stringify(built));
  await check('FTS + ANN index');
});
