import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Embedder } from '../../src/core/embedding/embedder';
import { EmbedderMismatchError } from '../../src/core/embedding/errors';
import { LocalEmbedder } from '../../src/core/embedding/localEmbedder';
import { MemoryService } from '../../src/core/memoryService';
import { deferCleanup, tempDir } from '../helpers/tempStore';

/** Stands in for a remote model: same math as the local embedder, another vector space by name. */
function remoteLike(id: string, dim: number): Embedder {
  const inner = new LocalEmbedder(dim);
  return { id, dim, kind: 'openai', maxBatchSize: 16, embed: (texts, o) => inner.embed(texts, o) };
}

test('a store made by another local embedder keeps working with its own embedder and asks for a re-embed', async (t) => {
  const dir = tempDir(t);
  const first = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  await first.store({ text: 'The nightly backup skips tables over 2 GB', scope: 'global' });
  await first.close();

  const memory = await MemoryService.open({ dir, embedding: { kind: 'local', dim: 256 }, vectorIndex: { auto: false } });
  deferCleanup(t, () => memory.close());
  assert.deepEqual(memory.embedderStatus, {
    configured: { id: 'local:fh1@256', kind: 'local', dim: 256 },
    store: { embedder: 'local:fh1@384', dim: 384 },
    active: 'local:fh1@384',
    needsReembed: true,
  });
  const { results, mode } = await memory.recall('backup of big tables');
  assert.equal(mode, 'hybrid');
  assert.equal(results.length, 1);
  assert.equal((await memory.store({ text: 'Restores are tested monthly', scope: 'global' })).status, 'stored', 'new memories join the store\'s own vector space');
});

test('a store made by an unavailable embedder recalls by full text only and refuses writes that need vectors', async (t) => {
  const dir = tempDir(t);
  const remote = await MemoryService.open({ dir, embedder: remoteLike('openai:text-embedding-3-small@384', 384), vectorIndex: { auto: false } });
  const { id } = await remote.store({ text: 'Invoices are generated on the first day of the month', scope: 'global' });
  await remote.close();

  const memory = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  deferCleanup(t, () => memory.close());
  const status = memory.embedderStatus;
  assert.equal(status.needsReembed, true);
  assert.equal(status.active, undefined);
  assert.equal(status.store.embedder, 'openai:text-embedding-3-small@384');
  const recalled = await memory.recall('when are invoices generated');
  assert.equal(recalled.mode, 'fts', 'no vector search across two vector spaces');
  assert.match(recalled.notes.join(' '), /no usable embedder/);
  assert.deepEqual(recalled.results.map((r) => r.id), [id]);
  await assert.rejects(memory.store({ text: 'A new memory' }), (e: Error) => {
    assert.ok(e instanceof EmbedderMismatchError);
    assert.equal((e as EmbedderMismatchError).code, 'E_EMBEDDER_MISMATCH');
    assert.equal((e as EmbedderMismatchError).needsReembed, true);
    assert.match(e.message, /openai:text-embedding-3-small@384.*local:fh1@384.*Re-embed/s);
    return true;
  });
  await assert.rejects(memory.update(id, { text: 'Invoices are generated on the second day' }), EmbedderMismatchError);
  assert.equal((await memory.update(id, { importance: 0.9 })).importance, 0.9, 'changes that need no vector still work');
  assert.equal((await memory.forget(id)).deleted, true);
});

test('a store made with another dimension is opened as it is, never refused or mixed', async (t) => {
  const dir = tempDir(t);
  const small = await MemoryService.open({ dir, embedder: remoteLike('openai:nomic-embed-text@64', 64), vectorIndex: { auto: false } });
  await small.store({ text: 'Staging runs on Kubernetes', scope: 'global' });
  await small.close();
  const memory = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  deferCleanup(t, () => memory.close());
  assert.equal(memory.memoryStore.dim, 64);
  assert.equal(memory.embedderStatus.needsReembed, true);
  assert.equal((await memory.recall('kubernetes staging')).results.length, 1);
  await assert.rejects(memory.store({ text: 'x y z' }), EmbedderMismatchError);
});
