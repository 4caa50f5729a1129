import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { NotFoundError, ValidationError } from '../../src/core/errors';
import { AmbiguousIdError, MemoryService, type MemoryServiceOptions } from '../../src/core/memoryService';
import { deferCleanup, tempDir } from '../helpers/tempStore';

async function openService(t: TestContext, options: Partial<MemoryServiceOptions> = {}): Promise<MemoryService> {
  const memory = await MemoryService.open({ dir: tempDir(t), defaultScopes: ['workspace:abc', 'global'], vectorIndex: { auto: false }, ...options });
  deferCleanup(t, () => memory.close());
  return memory;
}

test('store then recall finds the memory with its score, why and full text; the store records the embedder', async (t) => {
  const memory = await openService(t, { source: 'test' });
  const r = await memory.store({ text: 'The user prefers tabs over spaces for indentation.', category: 'preferences', importance: 0.8 });
  assert.equal(r.status, 'stored');
  await memory.store({ text: 'Deploys to production need a manual approval.', category: 'patterns' });
  const { results, mode } = await memory.recall('indentation with tabs');
  assert.equal(mode, 'hybrid');
  assert.equal(results[0]!.id, r.id);
  assert.equal(results[0]!.text, 'The user prefers tabs over spaces for indentation.');
  assert.equal(results[0]!.detail, 'full');
  assert.equal(results[0]!.why, 'both');
  assert.equal(results[0]!.scope, 'workspace:abc', 'stored in the default store scope');
  assert.ok(results[0]!.score > 0 && results[0]!.score <= 1);
  const view = await memory.get(r.id);
  assert.equal(view.metadata.source, 'test');
  assert.equal(view.legacy, true);
  assert.equal(memory.memoryStore.meta.embedder, 'local:fh1@384');
  assert.equal(memory.memoryStore.meta.dim, 384);
  assert.equal(memory.embedderStatus.needsReembed, false);
});

test('a near-duplicate in the same scope is reported instead of stored; force stores it; another scope is not a duplicate', async (t) => {
  const memory = await openService(t);
  const first = await memory.store({ text: 'The user prefers tabs over spaces for indentation.' });
  const dup = await memory.store({ text: 'The user prefers tabs over spaces for indentation' });
  assert.equal(dup.status, 'duplicate');
  assert.ok(dup.status === 'duplicate' && dup.duplicateOf === first.id && dup.similarity >= 0.95 && dup.existing.text.startsWith('The user prefers tabs'));
  const forced = await memory.store({ text: 'The user prefers tabs over spaces for indentation', force: true });
  assert.equal(forced.status, 'stored');
  const elsewhere = await memory.store({ text: 'The user prefers tabs over spaces for indentation.', scope: 'workspace:other' });
  assert.equal(elsewhere.status, 'stored');
  assert.equal(await memory.memoryStore.count(), 3);
});

test('client ids make store idempotent; the same id with other text is a conflict', async (t) => {
  const memory = await openService(t);
  assert.deepEqual(await memory.store({ id: 'pref-1', text: 'Likes dark mode' }), { status: 'stored', id: 'pref-1' });
  assert.deepEqual(await memory.store({ id: 'pref-1', text: 'Likes dark mode' }), { status: 'exists', id: 'pref-1' });
  await assert.rejects(memory.store({ id: 'pref-1', text: 'Likes light mode, definitely not dark', force: true }), (e: Error & { code?: string }) => e.code === 'E_ID_CONFLICT');
});

test('update by unique id prefix re-embeds changed text, clears stale abstracts, and keeps counters', async (t) => {
  const memory = await openService(t);
  const { id } = await memory.store({ text: 'The staging cluster runs on Kubernetes in eu-west-1.' });
  await memory.memoryStore.patch([{ id, metadata: { l0_abstract: 'staging on k8s', l1_overview: 'overview' }, increment: { injected_count: 3 } }]);
  const updated = await memory.update(id.slice(0, 8), { text: 'The staging cluster moved to Nomad in eu-central-1.', importance: 0.9 });
  assert.equal(updated.id, id);
  assert.equal(updated.text, 'The staging cluster moved to Nomad in eu-central-1.');
  assert.equal(updated.importance, 0.9);
  assert.equal(updated.metadata.l0_abstract, undefined, 'the old abstract described the old text');
  assert.equal(updated.metadata.injected_count, 3);
  assert.equal(updated.legacy, true);
  const { results } = await memory.recall('Nomad eu-central-1', { count: false });
  assert.equal(results[0]!.id, id, 'the new text is what recall finds');
  const stored = await memory.memoryStore.get(id);
  const [fresh] = await memory.activeEmbedder!.embed([updated.text]);
  assert.ok(Math.abs(stored!.vector[0]! - fresh![0]!) < 1e-6, 'the vector was recomputed from the new text');
  const before = (await memory.memoryStore.get(id))!.rev;
  await memory.update(id, { importance: 0.9 });
  assert.equal((await memory.memoryStore.get(id))!.rev, before + 1);
  await memory.update(id, {});
  assert.equal((await memory.memoryStore.get(id))!.rev, before + 1, 'an empty update writes nothing');
});

test('id prefixes must be unique and at least 8 characters', async (t) => {
  const memory = await openService(t);
  await memory.store({ id: 'abcdefgh-1', text: 'first memory about apples' });
  await memory.store({ id: 'abcdefgh-2', text: 'second memory about pears' });
  await assert.rejects(memory.get('abcdefgh'), (e: Error) => e instanceof AmbiguousIdError && /abcdefgh-1/.test(e.message) && /give more characters/.test(e.message));
  await assert.rejects(memory.get('abcd'), NotFoundError);
  await assert.rejects(memory.forget('zzzzzzzzzz'), NotFoundError);
  assert.equal((await memory.get('abcdefgh-2')).text, 'second memory about pears');
  assert.deepEqual(await memory.forget('abcdefgh-1'), { id: 'abcdefgh-1', deleted: true });
  assert.equal((await memory.get('abcdefgh')).id, 'abcdefgh-2', 'unique again after the forget');
});

test('forgetByQuery returns candidates without confirm and deletes exactly them with confirm', async (t) => {
  const memory = await openService(t);
  await memory.store({ text: 'Temporary note: the demo password is rotated weekly' });
  await memory.store({ text: 'Temporary note: the demo server restarts at midnight' });
  await memory.store({ text: 'Use pnpm in the monorepo' });
  const preview = await memory.forgetByQuery('temporary demo note');
  assert.equal(preview.confirmed, false);
  assert.equal(preview.deleted.length, 0);
  assert.equal(preview.candidates.length, 2);
  assert.equal(await memory.memoryStore.count(), 3);
  const done = await memory.forgetByQuery('temporary demo note', { confirm: true });
  assert.deepEqual([...done.deleted].sort(), preview.candidates.map((c) => c.id).sort());
  assert.equal(await memory.memoryStore.count(), 1);
  const stats = await memory.stats();
  assert.equal(stats.bookkeeping.pendingIds, 0, 'previews are not counted as recalls');
});

test('list pages, filters and sorts; recall shows the L0 abstract of upgraded memories unless full is asked', async (t) => {
  const memory = await openService(t);
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) ids.push((await memory.store({ text: `Memory number ${i} about topic ${String.fromCharCode(97 + i)}${i}x`, importance: i / 10, category: i % 2 ? 'events' : 'cases' })).id);
  const page1 = await memory.list({ limit: 3, sort: 'importance' });
  assert.equal(page1.total, 7);
  assert.deepEqual(page1.items.map((m) => m.importance), [0.6, 0.5, 0.4]);
  const page3 = await memory.list({ limit: 3, offset: 6, sort: 'importance' });
  assert.deepEqual(page3.items.map((m) => m.importance), [0]);
  assert.equal((await memory.list({ category: 'events' })).total, 3);
  assert.equal((await memory.list({ scopes: ['workspace:nope'] })).total, 0);
  await memory.memoryStore.patch([{ id: ids[3]!, metadata: { l0_abstract: 'Short abstract of memory 3', l1_overview: 'An overview' } }]);
  assert.equal((await memory.list({ legacy: false })).total, 1);
  const r = (await memory.recall('Memory number 3 about topic d3x', { count: false })).results.find((x) => x.id === ids[3]);
  assert.equal(r?.text, 'Short abstract of memory 3');
  assert.equal(r?.detail, 'abstract');
  assert.equal(r?.overview, 'An overview');
  const full = (await memory.recall('Memory number 3 about topic d3x', { full: true, count: false })).results.find((x) => x.id === ids[3]);
  assert.equal(full?.text, 'Memory number 3 about topic d3x');
  const asc = await memory.list({ sort: 'created', order: 'asc', limit: 2 });
  assert.deepEqual(asc.items.map((m) => m.id), ids.slice(0, 2));
});

test('stats combine store figures with embedder, index and bookkeeping state', async (t) => {
  const memory = await openService(t);
  await memory.store({ text: 'one fact worth keeping', scope: 'global' });
  await memory.recall('fact worth keeping');
  const s = await memory.stats();
  assert.equal(s.rows, 1);
  assert.equal(s.byScope.global, 1);
  assert.equal(s.embedding.configured.kind, 'local');
  assert.equal(s.embedding.active, 'local:fh1@384');
  assert.equal(s.vectorIndex.present, false);
  assert.equal(typeof s.lock.held, 'boolean');
  assert.ok(s.embedding.cache.misses >= 1);
});

test('a closed service refuses calls; close is idempotent and flushes bookkeeping', async (t) => {
  const dir = tempDir(t);
  const memory = await MemoryService.open({ dir, vectorIndex: { auto: false }, bookkeeping: { debounceMs: 60_000 } });
  const { id } = await memory.store({ text: 'remember to count me' });
  await memory.recall('count me');
  await Promise.all([memory.close(), memory.close()]);
  await assert.rejects(memory.recall('x'), /closed/);
  const again = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  deferCleanup(t, () => again.close());
  assert.equal((await again.get(id)).metadata.injected_count, 1, 'the pending count was written on close, not lost');
  await assert.rejects(again.recall('x', { scopes: [] }), ValidationError);
});
