import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Float64, Schema, Utf8 } from 'apache-arrow';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { LOCK_DIR, LOCK_OWNER } from '../../src/core/concurrency/storeLock';
import { META_FILE } from '../../src/core/store/storeMeta';
import { CURRENT_SCHEMA_VERSION } from '../../src/core/store/schema';
import { DLQ_FILE } from '../../src/core/store/deadLetterQueue';
import { runWorker } from '../helpers/workers';
import { deferCleanup, openTempStore, tempDir, vec } from '../helpers/tempStore';

test('a row with malformed metadata JSON is readable, reported by verify, and preserved by a later patch', async (t) => {
  const { store } = await openTempStore(t);
  await store.insert([{ id: 'good', text: 'fine', vector: vec(1) }]);
  // Another tool wrote a row with broken metadata straight into the table.
  await store.table.add([{ id: 'broken', text: 'odd row', vector: vec(2), category: 'cases', scope: 'global', importance: 0.5, created_at: 1n, updated_at: 1n, rev: 1n, metadata: '{not json' }]);
  const got = await store.get('broken');
  assert.equal(got!.metadata._unparsed, '{not json');
  const report = await store.verify();
  assert.deepEqual(report.badMetadata, ['broken']);
  await store.patch([{ id: 'broken', increment: { access_count: 1 } }]);
  const after = await store.get('broken');
  assert.equal(after!.metadata._unparsed, '{not json');
  assert.equal(after!.metadata.access_count, 1);
  assert.equal(await store.count(), 2);
});

test('a fresh lock left by a process on another host is waited for and named; a stale one is taken over', async (t) => {
  const { store, dir } = await openTempStore(t, { lockStaleMs: 2000, queue: { interactiveDeadlineMs: 800 } });
  mkdirSync(join(dir, LOCK_DIR));
  writeFileSync(join(dir, LOCK_OWNER), JSON.stringify({ pid: 4242, host: 'laptop-elsewhere', label: 'upgrade 100 memories', since: Date.now(), token: 't' }));
  await assert.rejects(store.insert([{ id: 'w1', text: 'blocked', vector: vec(1) }]), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'E_LOCK_TIMEOUT');
    assert.match(e.message, /pid 4242 on laptop-elsewhere \("upgrade 100 memories"/);
    return true;
  });
  // The same lock, not refreshed for longer than the stale time (its holder died or sleeps): taken over.
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(dir, LOCK_DIR), old, old);
  const [r] = await store.insert([{ id: 'w2', text: 'goes through', vector: vec(2) }]);
  assert.equal(r!.status, 'inserted');
  assert.equal((await store.deadLetters.list()).open.length, 1, 'the blocked write stays in the dead-letter queue');
});

test('a corrupted owner record does not break waiting or writing', async (t) => {
  const { store, dir } = await openTempStore(t, { maintenance: { auto: false } });
  writeFileSync(join(dir, LOCK_OWNER), '{"pid": "garbage');
  const [r] = await store.insert([{ id: 'ok', text: 'still works', vector: vec(1) }]);
  assert.equal(r!.status, 'inserted');
  assert.deepEqual(await store.lock.status(), { held: false });
});

/**
 * Makes `dir` read-only for the test's worker; returns the undo. Windows ignores the read-only
 * attribute of a folder (chmod sets only that), so there writing and deleting in it are denied to
 * everyone (S-1-1-0) by an ACL entry instead (docs/platforms.md#lock-folders-on-windows).
 */
function makeReadOnly(dir: string): () => void {
  if (process.platform === 'win32') {
    execFileSync('icacls', [dir, '/deny', '*S-1-1-0:(OI)(CI)(W,D,DC)']);
    return () => { execFileSync('icacls', [dir, '/remove:d', '*S-1-1-0']); };
  }
  chmodSync(dir, 0o555);
  return () => chmodSync(dir, 0o755);
}

test('a read-only store folder can be read, and a write fails with a clear error leaving the data intact', async (t) => {
  const dir = tempDir(t);
  const s = await MemoryStore.open(dir, { dim: 8 });
  await s.insert([{ id: 'kept', text: 'kept memory', vector: vec(1) }]);
  await s.close();
  const restore = makeReadOnly(dir);
  let msgs: any[];
  try {
    // Root ignores folder permissions, so the writer runs as an unprivileged user there.
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    msgs = await runWorker('readonly-worker', { dir }, {}, asUser);
  } finally {
    restore();
  }
  const out = msgs.find((m) => m.read);
  assert.equal(out.read, 'kept memory');
  assert.equal(out.error.code, 'E_STORE_UNAVAILABLE');
  assert.match(out.error.message, /not writable/);
  const again = await MemoryStore.open(dir, { dim: 8 });
  deferCleanup(t, () => again.close());
  assert.equal(await again.count(), 1);
});

test('a disk-full failure during commit is reported, kept in the dead-letter queue, and loses nothing already stored', async (t) => {
  const dir = tempDir(t);
  const s = await MemoryStore.open(dir, { dim: 8 });
  await s.insert([{ id: 'before', text: 'stored before', vector: vec(1) }]);
  await s.close();
  const msgs = await runWorker('store-worker', { dir, mode: 'write-once', prefix: 'full-disk' }, { MEMORY_LANE_FAILPOINTS: 'store.beforeCommit=throw:ENOSPC: no space left on device' });
  const { error } = msgs.find((m) => m.error);
  assert.equal(error.code, 'E_WRITE_FAILED');
  assert.match(error.message, /ENOSPC: no space left on device/);
  assert.ok(error.deadLetterId);
  const store = await MemoryStore.open(dir, { dim: 8 });
  deferCleanup(t, () => store.close());
  assert.equal(await store.count(), 1);
  assert.equal((await store.get('before'))!.text, 'stored before');
  assert.equal((await store.deadLetters.list()).open[0]!.error.message.includes('ENOSPC'), true);
});

test('the dead-letter queue tolerates a torn tail line and keeps appending on a fresh line', async (t) => {
  const { store, dir } = await openTempStore(t);
  await store.deadLetters.append({ label: 'first', intent: { kind: 'delete', ids: ['a'] }, error: { code: 'E', message: 'm' } });
  appendFileSync(join(dir, DLQ_FILE), '{"dlqId":"torn","at":1,"intent":{"ki');
  await store.deadLetters.append({ label: 'second', intent: { kind: 'delete', ids: ['b'] }, error: { code: 'E', message: 'm' } });
  const listing = await store.deadLetters.list();
  assert.deepEqual(listing.open.map((l) => l.label), ['first', 'second']);
  assert.deepEqual(listing.tornLines, [2]);
  assert.equal(readFileSync(join(dir, DLQ_FILE), 'utf8').split('\n').filter(Boolean).length, 3);
});

test('a memory-lancedb-pro style table is migrated forward without losing a row or a value', async (t) => {
  const dir = tempDir(t);
  const db = await lancedb.connect(dir);
  const schema = new Schema([
    new Field('id', new Utf8(), false), new Field('text', new Utf8(), false),
    new Field('vector', new FixedSizeList(8, new Field('item', new Float32(), true)), false),
    new Field('category', new Utf8(), true), new Field('scope', new Utf8(), true), new Field('importance', new Float64(), true),
    new Field('timestamp', new Float64(), true), new Field('metadata', new Utf8(), true),
  ]);
  const table = await db.createEmptyTable('memories', schema);
  await table.add([
    { id: 'p1', text: 'likes dark mode', vector: vec(1), category: 'preference', scope: 'global', importance: 0.8, timestamp: 1700000000000, metadata: '{"source":"pro"}' },
    { id: 'p2', text: 'uses pnpm', vector: vec(2), category: 'fact', scope: 'project:x', importance: 0.4, timestamp: 1700000001000, metadata: '{}' },
  ]);
  table.close(); db.close();
  const store = await MemoryStore.open(dir, {});
  deferCleanup(t, () => store.close());
  assert.equal(store.dim, 8);
  assert.equal(store.meta.schemaVersion, CURRENT_SCHEMA_VERSION);
  const p1 = (await store.get('p1'))!;
  assert.equal(p1.text, 'likes dark mode');
  assert.equal(p1.created_at, 1700000000000);
  assert.equal(p1.rev, 1);
  assert.equal(p1.metadata.source, 'pro');
  assert.equal(p1.category, 'preference', 'the category is kept as written; the upgrader maps legacy categories');
  const [r] = await store.patch([{ id: 'p2', increment: { access_count: 1 } }]);
  assert.equal(r!.status, 'applied');
  assert.equal(await store.count(), 2);
  assert.equal((await store.verify()).ok, true);
});

test('a store written by a newer schema version is refused with a clear message', async (t) => {
  const dir = tempDir(t);
  const s = await MemoryStore.open(dir, { dim: 8 });
  await s.close();
  const meta = JSON.parse(readFileSync(join(dir, META_FILE), 'utf8'));
  writeFileSync(join(dir, META_FILE), JSON.stringify({ ...meta, schemaVersion: 99 }));
  await assert.rejects(MemoryStore.open(dir, { dim: 8 }), /schema version 99, newer than this Memory Lane understands \(2\)/);
});

test('empty and 1 MB texts: the 1 MB text round-trips exactly, the empty one is refused', async (t) => {
  const { store } = await openTempStore(t);
  const big = 'ab'.repeat(500_000);
  await store.insert([{ id: 'big', text: big, vector: vec(1) }]);
  assert.equal((await store.get('big'))!.text, big);
  await assert.rejects(store.insert([{ id: 'empty', text: '', vector: vec(1) }]), /text: must not be empty/);
});

test('maintenance builds the id and search-text indexes and compacts fragments without losing rows', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  for (let i = 0; i < 20; i++) await store.insert([{ id: `m${i}`, text: `memory number ${i}`, vector: vec(i) }]);
  const before = await store.stats();
  const report = await store.optimize('test');
  const after = await store.stats();
  assert.ok(report.indexesCreated.includes('id (btree)'));
  assert.ok(report.indexesCreated.includes('search_text (fts)'));
  assert.ok(after.fragments < before.fragments, `${before.fragments} → ${after.fragments}`);
  assert.equal(after.rows, 20);
  assert.deepEqual(after.indexes.map((i) => i.columns[0]).sort(), ['id', 'scope', 'search_text']);
});
