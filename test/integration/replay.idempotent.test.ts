import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreLock } from '../../src/core/concurrency/storeLock';
import { LocalEmbedder } from '../../src/core/embedding/localEmbedder';
import { MemoryService } from '../../src/core/memoryService';
import { deferCleanup, openTempStore, storedMemories, tempDir, vec } from '../helpers/tempStore';
import { runWorker } from '../helpers/workers';

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

test('an insert whose ack was lost after its commit, retried and then replayed, is stored once', async (t) => {
  const { store, dir } = await openTempStore(t, { maintenance: { auto: false } });
  await store.insert([{ id: 'seed', text: 'makes the table', vector: vec(1) }]);
  // Another process commits, then fails before it can acknowledge (the write is dead-lettered).
  const lost = (await runWorker('store-worker', { dir, mode: 'write-once', prefix: 'lost-ack' }, { MEMORY_LANE_FAILPOINTS: 'store.afterCommit=once:throw:connection reset before the ack' })).find((m) => 'error' in m || 'result' in m);
  assert.match(String(lost.error?.message ?? ''), /connection reset before the ack/);
  assert.ok(lost.error?.deadLetterId);
  // The caller retries with the same id: the insert-only commit finds it stored and reports exists.
  const [retry] = await store.insert([{ id: 'lost-ack', text: 'memory lost-ack', vector: vec(1) }]);
  assert.equal(retry!.status, 'exists');
  const replay = await store.replayDeadLetters();
  assert.equal(replay.replayed.length, 1);
  assert.equal(await store.count("id = 'lost-ack'"), 1);
});

test('a group of fresh inserts commits in one attempt without reading first; ids already stored report exists or conflict', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  const commits: Array<{ rows: number; attempts: number }> = [];
  store.onCommit((e) => commits.push({ rows: e.rows, attempts: e.attempts }));
  // Count the table reads the commit makes (the real table, its query method observed).
  const table = store.table;
  const query = table.query.bind(table);
  let reads = 0;
  table.query = () => { reads++; return query(); };
  t.after(() => { table.query = query; });
  const fresh = await store.insert([{ id: 'a', text: 'first', vector: vec(1) }, { id: 'b', text: 'second', vector: vec(2) }]);
  assert.deepEqual(fresh.map((r) => r.status), ['inserted', 'inserted']);
  assert.deepEqual(commits.at(-1), { rows: 2, attempts: 1 });
  assert.equal(reads, 0, 'fresh ids are committed without reading the table first');
  const mixed = await store.insert([{ id: 'a', text: 'first', vector: vec(1) }, { id: 'b', text: 'not the same text', vector: vec(2) }, { id: 'c', text: 'third', vector: vec(3) }]);
  assert.deepEqual(mixed.map((r) => r.status), ['exists', 'conflict', 'inserted']);
  assert.deepEqual(commits.at(-1), { rows: 1, attempts: 2 }, 'c landed on the first attempt; the second only re-planned a and b');
  assert.equal((await store.get('b'))!.text, 'second', 'an existing row is never overwritten by an insert');
  assert.equal(await store.count(), 3);
});
