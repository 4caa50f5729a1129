import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreLock } from '../../src/core/concurrency/storeLock';
import { LocalEmbedder } from '../../src/core/embedding/localEmbedder';
import { MemoryService } from '../../src/core/memoryService';
import { deferCleanup, openTempStore, storedMemories, tempDir, vec } from '../helpers/tempStore';

test('a store that timed out on the lock, retried by the client, then replayed from the dead-letter queue leaves one memory', async (t) => {
  const dir = tempDir(t);
  const memory = await MemoryService.open({ dir, embedder: new LocalEmbedder(), defaultScopes: ['global'], storeOptions: { queue: { interactiveDeadlineMs: 300 }, maintenance: { auto: false } }, vectorIndex: { auto: false } });
  deferCleanup(t, () => memory.close());
  await memory.store({ text: 'the store exists before the lock is taken' });
  const text = 'The user deploys with blue-green releases on Fridays';
  const other = await new StoreLock(dir).acquire('another process', 1000);
  await assert.rejects(memory.store({ text }), (err: Error & { code?: string; deadLetterId?: string }) => {
    assert.equal(err.code, 'E_LOCK_TIMEOUT');
    assert.ok(err.deadLetterId, 'the write was kept for replay');
    return true;
  });
  await other.release();
  // The agent saw the failure and stores the same memory again (no id of its own, as agents do).
  const retried = await memory.store({ text });
  assert.equal(retried.status, 'stored');
  const replay = await memory.memoryStore.replayDeadLetters();
  assert.equal(replay.replayed.length, 1);
  assert.deepEqual(replay.failed, []);
  const copies = (await storedMemories(memory.memoryStore)).filter((m) => m.text === text);
  assert.equal(copies.length, 1, `replay stored a second copy: ${copies.map((c) => c.id).join(', ')}`);
  assert.equal(copies[0]!.id, retried.id);
});

test('without a client id, the same text stored again after its memory was edited is a new memory, not an id conflict', async (t) => {
  const dir = tempDir(t);
  const memory = await MemoryService.open({ dir, embedder: new LocalEmbedder(), defaultScopes: ['global'], vectorIndex: { auto: false } });
  deferCleanup(t, () => memory.close());
  const first = await memory.store({ text: 'The build uses esbuild with a CommonJS target' });
  await memory.update(first.id, { text: 'The build uses esbuild with an ESM target now' });
  const again = await memory.store({ text: 'The build uses esbuild with a CommonJS target', force: true });
  assert.equal(again.status, 'stored');
  assert.notEqual(again.id, first.id);
  assert.equal(await memory.memoryStore.count(), 2);
});

test('a dead-lettered patch is not replayed over a newer acknowledged value; a dead-lettered increment still applies', async (t) => {
  const { store, dir } = await openTempStore(t, { maintenance: { auto: false }, queue: { interactiveDeadlineMs: 300 } });
  await store.insert([{ id: 'row', text: 'a memory with a sequence', vector: vec(1) }]);
  const other = await new StoreLock(dir).acquire('another process', 1000);
  await assert.rejects(store.patch([{ id: 'row', metadata: { seq: 1 } }]), /E_LOCK_TIMEOUT|Timed out/);
  await assert.rejects(store.patch([{ id: 'row', increment: { hits: 1 } }]), /Timed out/);
  await other.release();
  // The caller was told both failed; it sets seq again, then moves on to 2.
  assert.equal((await store.patch([{ id: 'row', metadata: { seq: 1 } }]))[0]!.status, 'applied');
  assert.equal((await store.patch([{ id: 'row', metadata: { seq: 2 } }]))[0]!.status, 'applied');
  const replay = await store.replayDeadLetters();
  assert.deepEqual(replay.superseded.map((s) => s.ids), [['row']]);
  assert.equal(replay.replayed.length, 1, 'the increment');
  const row = await store.get('row');
  assert.equal(row!.metadata.seq, 2, 'the acknowledged value stands');
  assert.equal(row!.metadata.hits, 1);
  assert.equal((await store.deadLetters.list()).open.length, 0, 'both letters are resolved');
});
