import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DimensionMismatchError } from '../../src/core/errors';
import { copyIntoNewStore, createReembedRun, reembedMemories, upgradeStatus } from '../../src/core/upgrade';
import { hashEmbed, legacyId, openTestStore, seedLegacy } from '../fixtures/upgrade/legacyStore';
import { deferCleanup, TEST_DIM } from '../helpers/tempStore';

test('re-embed replaces every vector in batches (one lock each, none while embedding) and records the model', async (t) => {
  const { store } = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(store, 500);
  const embed = hashEmbed(TEST_DIM);
  let phase = '';
  const acquired: string[] = [];
  const sub = store.lock.onEvent((e) => { if (e.type === 'acquired') acquired.push(phase); });
  deferCleanup(t, () => sub.dispose());
  let calls = 0;
  const result = await createReembedRun(store, {
    embed: async (texts) => { calls++; return embed(texts); },
    model: 'hash-v2',
    batchSize: 100,
    embedBatchSize: 50,
    onProgress: (p) => { phase = p.phase; },
  }).run();
  assert.equal(result.job, 'reembed');
  assert.equal(result.upgraded, 500);
  assert.deepEqual(result.failed, []);
  assert.equal(calls, 10);
  assert.equal(acquired.length, result.batches);
  assert.ok(acquired.every((p) => p === 'write'), JSON.stringify(acquired));
  const row = (await store.get(legacyId(42)))!;
  const [expected] = await embed([row.text]);
  assert.ok(row.vector.every((x, i) => Math.abs(x - expected![i]!) < 1e-6), 'vector recomputed from the text');
  assert.equal(row.metadata.embedding_model, 'hash-v2');
  assert.equal(row.rev, 2);
  assert.equal(row.metadata.l0_abstract, undefined, 're-embedding touches only the vector and its marker');

  const again = await reembedMemories(store, { embed, model: 'hash-v2' });
  assert.equal(again.candidates, 0, 'resume: rows already embedded with the model are not redone');
  const other = await reembedMemories(store, { embed, model: 'hash-v3', dryRun: true });
  assert.equal(other.upgraded, 500);
});

test('re-embed: a text edited meanwhile is embedded again from the new text; a model of another dimension stops the run before anything is written', async (t) => {
  const { store } = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(store, 20);
  const embed = hashEmbed(TEST_DIM);
  let edited = false;
  const result = await reembedMemories(store, {
    embed,
    model: 'hash-v2',
    onProgress: (p) => {
      if (p.phase === 'write' && !edited) { edited = true; void store.patch([{ id: legacyId(3), set: { text: 'A brand new text.' } }]); }
    },
  });
  assert.equal(result.upgraded, 20);
  const row = (await store.get(legacyId(3)))!;
  const [fresh] = await embed(['A brand new text.']);
  assert.ok(row.vector.every((x, i) => Math.abs(x - fresh![i]!) < 1e-6), 'the vector is of the new text');

  await assert.rejects(reembedMemories(store, { embed: hashEmbed(16), model: 'big-model' }), (err: Error) => {
    assert.ok(err instanceof DimensionMismatchError);
    assert.match(err.message, /the embedding model "big-model" has dimension 16, but this store's vectors have dimension 8; changing the dimension needs a new store: open one with the new dimension and copyIntoNewStore\(\) into it/);
    return true;
  });
  assert.deepEqual(await upgradeStatus(store), { running: false }, 'the job lock is released');
  assert.equal((await store.get(legacyId(3)))!.metadata.embedding_model, 'hash-v2', 'nothing half-written');
});

test('a new dimension: copyIntoNewStore copies every memory with new vectors, keeps ids and metadata, and resumes', async (t) => {
  const { store: source } = await openTestStore(t, { maintenance: { auto: false } });
  await seedLegacy(source, 250);
  await source.patch([{ id: legacyId(1), increment: { injected_count: 3 }, metadata: { l0_abstract: 'kept' } }]);
  const { store: target } = await openTestStore(t, { dim: 16, embedder: 'hash-16', maintenance: { auto: false } });
  const embed16 = hashEmbed(16);

  const controller = new AbortController();
  const first = await copyIntoNewStore(source, target, { embed: embed16, model: 'hash-16', batchSize: 50, signal: controller.signal, onProgress: (p) => { if (p.copied >= 100) controller.abort(); } });
  assert.equal(first.cancelled, true);
  assert.equal(first.copied, 100);
  await seedLegacy(source, 5, 'later');
  const second = await copyIntoNewStore(source, target, { embed: embed16, model: 'hash-16', batchSize: 50 });
  assert.equal(second.copied, 155, 'the rest, and rows added to the source meanwhile');
  assert.equal(second.existing, 100);
  assert.deepEqual(second.failed, []);
  assert.equal(await target.count(), 255);
  const [a, b] = [(await source.get(legacyId(1)))!, (await target.get(legacyId(1)))!];
  assert.equal(b.vector.length, 16);
  assert.deepEqual({ text: b.text, category: b.category, scope: b.scope, importance: b.importance, created_at: b.created_at }, { text: a.text, category: a.category, scope: a.scope, importance: a.importance, created_at: a.created_at });
  assert.equal(b.metadata.injected_count, a.metadata.injected_count);
  assert.equal(b.metadata.l0_abstract, 'kept');
  assert.equal(b.metadata.embedding_model, 'hash-16');
  assert.equal(await source.count(), 255, 'the source is untouched');
});
