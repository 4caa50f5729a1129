import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sqlString } from '../../src/core/store/sql';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { DimensionMismatchError, StoreUnavailableError, ValidationError } from '../../src/core/errors';
import { openTempStore, tempDir, TEST_DIM, vec } from '../helpers/tempStore';

test('insert then get returns the stored memory with rev 1 and plain numbers', async (t) => {
  const { store } = await openTempStore(t);
  const [r] = await store.insert([{ id: 'm1', text: 'Prefers tabs over spaces', vector: vec(1), category: 'preferences', scope: 'workspace:abc', importance: 0.7 }]);
  assert.deepEqual(r, { id: 'm1', status: 'inserted', rev: 1 });
  const got = await store.get('m1');
  assert.ok(got);
  assert.equal(got.text, 'Prefers tabs over spaces');
  assert.equal(got.rev, 1);
  assert.equal(got.scope, 'workspace:abc');
  assert.equal(got.vector.length, TEST_DIM);
  assert.equal(typeof got.created_at, 'number');
});

test('re-inserting the same id and text is idempotent; different text is a conflict', async (t) => {
  const { store } = await openTempStore(t);
  await store.insert([{ id: 'x', text: 'one', vector: vec(1) }]);
  const [again] = await store.insert([{ id: 'x', text: 'one', vector: vec(1) }]);
  assert.equal(again!.status, 'exists');
  const [other] = await store.insert([{ id: 'x', text: 'two', vector: vec(2) }]);
  assert.equal(other!.status, 'conflict');
  assert.equal(await store.count(), 1);
  assert.equal((await store.get('x'))!.text, 'one');
});

test('patch merges onto the current row: unnamed fields and undefined values never overwrite', async (t) => {
  const { store } = await openTempStore(t);
  await store.insert([{ id: 'p', text: 'hello', vector: vec(3), metadata: { injected_count: 5, keep: 'me' } }]);
  const [r] = await store.patch([{ id: 'p', metadata: { l0_abstract: 'hi', keep: undefined }, increment: { injected_count: 2 } }]);
  assert.equal(r!.status, 'applied');
  assert.equal(r!.rev, 2);
  const got = (await store.get('p'))!;
  assert.equal(got.metadata.injected_count, 7);
  assert.equal(got.metadata.keep, 'me');
  assert.equal(got.metadata.l0_abstract, 'hi');
  assert.equal(got.text, 'hello');
});

test('patch with a failed expectation is reported stale and changes nothing; a missing id is reported missing', async (t) => {
  const { store } = await openTempStore(t);
  await store.insert([{ id: 'a', text: 'old text', vector: vec(4) }]);
  await store.patch([{ id: 'a', set: { text: 'new text' } }]);
  const [stale, missing] = await store.patch([{ id: 'a', metadata: { l0_abstract: 'abstract of old' }, expect: { text: 'old text' } }, { id: 'nope', metadata: { a: 1 } }]);
  assert.equal(stale!.status, 'stale');
  assert.equal(missing!.status, 'missing');
  const got = (await store.get('a'))!;
  assert.equal(got.metadata.l0_abstract, undefined);
  assert.equal(got.rev, 2);
});

test('delete removes rows in one commit and reports missing ids', async (t) => {
  const { store } = await openTempStore(t);
  await store.insert([1, 2, 3].map((i) => ({ id: `d${i}`, text: `t${i}`, vector: vec(i) })));
  const res = await store.delete(['d1', 'd3', 'zz']);
  assert.deepEqual(res.map((r) => r.status), ['deleted', 'deleted', 'missing']);
  assert.equal(await store.count(), 1);
});

test('a large insert is split into bounded commits, each taking the lock once', async (t) => {
  const { store } = await openTempStore(t, { maxBatchRows: 100, queue: { maxGroupRows: 100 }, maintenance: { auto: false } });
  const before = store.lock.acquisitions;
  const rows = Array.from({ length: 450 }, (_, i) => ({ id: `r${String(i).padStart(4, '0')}`, text: `memory ${i}`, vector: vec(i) }));
  const res = await store.insert(rows);
  assert.equal(res.filter((r) => r.status === 'inserted').length, 450);
  assert.equal(store.lock.acquisitions - before, 5);
  assert.equal(await store.count(), 450);
});

test('concurrent interactive writes in one process are group-committed under few lock acquisitions', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  const before = store.lock.acquisitions;
  await Promise.all(Array.from({ length: 50 }, (_, i) => store.insert([{ id: `g${i}`, text: `group ${i}`, vector: vec(i) }])));
  const used = store.lock.acquisitions - before;
  assert.ok(used < 50, `expected grouping, used ${used} acquisitions for 50 writes`);
  assert.equal(await store.count(), 50);
});

test('bad input gets a clear error naming the field and stores nothing', async (t) => {
  const { store } = await openTempStore(t);
  await store.insert([{ id: 'keep', text: 'kept', vector: vec(9) }]);
  const cases: Array<[string, Parameters<typeof store.insert>[0][0], RegExp]> = [
    ['empty text', { text: '   ', vector: vec(1) }, /text: must not be empty/],
    ['NaN importance', { text: 'x', vector: vec(1), importance: NaN }, /importance/],
    ['infinite importance', { text: 'x', vector: vec(1), importance: Infinity }, /importance/],
    ['out of range importance', { text: 'x', vector: vec(1), importance: 1.5 }, /importance: must be between 0 and 1/],
    ['wrong vector length', { text: 'x', vector: [1, 2, 3] }, /dimension 3.*dimension 8/],
    ['null vector', { text: 'x', vector: null as unknown as number[] }, /vector: is missing/],
    ['NaN in vector', { text: 'x', vector: [NaN, ...vec(1).slice(1)] }, /element 0/],
    ['NUL in text', { text: 'a\u0000b', vector: vec(1) }, /NUL/],
    ['2 MB text', { text: 'x'.repeat(2 * 1024 * 1024), vector: vec(1) }, /limit is 1048576 bytes/],
    ['bad scope', { text: 'x', vector: vec(1), scope: "x' OR 1=1 --" }, /is not a scope/],
    ['unknown category', { text: 'x', vector: vec(1), category: 'gossip' }, /unknown category/],
    ['NUL in id', { id: 'a\u0000', text: 'x', vector: vec(1) }, /id: must not contain control characters/],
  ];
  for (const [name, row, re] of cases) {
    await assert.rejects(store.insert([row]), (err: Error) => {
      assert.ok(err instanceof ValidationError || err instanceof DimensionMismatchError, `${name}: ${err.constructor.name}`);
      assert.match(err.message, re, name);
      return true;
    }, name);
  }
  assert.equal(await store.count(), 1);
  assert.equal((await store.verify()).ok, true);
});

test('ids and scopes with quotes, %, backslashes, SQL keywords and unicode round-trip without breaking filters', async (t) => {
  const { store } = await openTempStore(t);
  const ids = ["it's", '100%', 'back\\slash', "x' OR '1'='1", 'DROP TABLE memories;--', 'ünïcødé-🙂', '_under_', "'; DELETE FROM memories WHERE '1'='1"];
  await store.insert(ids.map((id, i) => ({ id, text: `text ${i}`, vector: vec(i), scope: `project:${id}` })));
  for (const id of ids) assert.equal((await store.get(id))?.id, id);
  assert.equal(await store.count(), ids.length);
  const scoped = await store.rows(`scope = ${sqlString("project:x' OR '1'='1", 'scope')}`);
  assert.deepEqual(scoped.map((r) => r.id), ["x' OR '1'='1"]);
  assert.deepEqual((await store.findByIdPrefix('100%')).map((r) => r.id), ['100%']);
  assert.deepEqual((await store.findByIdPrefix('_u')).map((r) => r.id), ['_under_']);
  await store.delete(["x' OR '1'='1"]);
  assert.equal(await store.count(), ids.length - 1);
});

test('a store created with one dimension refuses another, naming both', async (t) => {
  const dir = tempDir(t);
  const s = await MemoryStore.open(dir, { dim: 8 });
  await s.close();
  await assert.rejects(MemoryStore.open(dir, { dim: 16, embedder: 'big' }), /dimension 16.*dimension 8/);
});

test('a store path that is a file is refused clearly', async (t) => {
  const dir = tempDir(t);
  const file = `${dir}/not-a-folder`;
  require('node:fs').writeFileSync(file, 'x');
  await assert.rejects(MemoryStore.open(file, { dim: 8 }), (e: Error) => e instanceof StoreUnavailableError && /is a file/.test(e.message));
});

test('telemetry: each commit fires acquired/released lock events, a commit event and queue depth changes', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  const lockEvents: string[] = [];
  const commits: number[] = [];
  const depths: number[] = [];
  store.onLockEvent((e) => lockEvents.push(e.type));
  store.onCommit((e) => commits.push(e.rows));
  store.onQueueDepth((d) => depths.push(d.interactive));
  await store.insert([{ id: 'e1', text: 'one', vector: vec(1) }, { id: 'e2', text: 'two', vector: vec(2) }]);
  assert.deepEqual(lockEvents, ['acquired', 'released']);
  assert.deepEqual(commits, [2]);
  assert.ok(depths.includes(1) && depths.at(-1) === 0, `depths ${depths}`);
});

test('automatic maintenance runs after the configured number of commits, behind the writes', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { everyCommits: 10 } });
  const reports: unknown[] = [];
  store.onMaintenance((r) => reports.push(r));
  for (let i = 0; i < 25; i++) await store.insert([{ id: `auto${i}`, text: `auto ${i}`, vector: vec(i) }]);
  await store.whenIdle();
  await new Promise((r) => setTimeout(r, 200));
  await store.whenIdle();
  assert.ok(reports.length >= 2, `maintenance ran ${reports.length} times`);
  assert.equal(await store.count(), 25);
});

test('the lock is not re-entrant: locking again while this process holds it fails at once instead of deadlocking', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  const lease = await store.lock.acquire('outer', 1000);
  const started = Date.now();
  await assert.rejects(store.lock.acquire('inner', 5000), /not re-entrant: "inner" tried to lock while this process holds it/);
  assert.ok(Date.now() - started < 1000);
  await lease.release();
  const again = await store.lock.acquire('after release', 1000);
  await again.release();
});
