import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreLock } from '../../src/core/concurrency/storeLock';
import { openTempStore, vec } from '../helpers/tempStore';

test('steady interactive writes do not starve a background intent: requested maintenance runs while they continue', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false }, queue: { backgroundMaxWaitMs: 500 } });
  await store.insert([{ id: 'seed', text: 'seed', vector: vec(0) }]);
  // Four writers one after another each: an interactive intent is always pending while a group commits.
  let stop = false;
  let written = 0;
  let writtenWhenMaintained = -1;
  const started = Date.now();
  const writers = [0, 1, 2, 3].map(async (w) => {
    for (let i = 0; !stop && Date.now() - started < 15_000; i++) {
      await store.insert([{ id: `w${w}-${i}`, text: `note ${w} ${i}`, vector: vec(w * 1000 + i) }]);
      written++;
    }
  });
  await new Promise((r) => setTimeout(r, 200));
  const maintained = store.optimize('test').then((report) => { writtenWhenMaintained = written; return report; });
  const report = await Promise.race([maintained, Promise.all(writers).then(() => undefined)]);
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(writers);
  assert.ok(report, `maintenance waited until the interactive writers stopped (${written} writes in ${Date.now() - started} ms)`);
  assert.ok(writtenWhenMaintained > 0 && written > writtenWhenMaintained, 'interactive writes kept committing before and after the maintenance');
  assert.equal((await store.verify()).ok, true);
});

test('stores submitted in the same tick share one lock cycle (group commit from the first intent on)', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  const before = store.lock.acquisitions;
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.insert([{ id: `burst-${i}`, text: `burst ${i}`, vector: vec(i) }])));
  assert.deepEqual(results.map(([r]) => r!.status), results.map(() => 'inserted'));
  assert.equal(store.lock.acquisitions - before, 1, 'one lock acquisition for the whole burst');
});

test('a store submitted while the head waits for the lock joins its commit instead of waiting for the next lock cycle', async (t) => {
  const { store, dir } = await openTempStore(t, { maintenance: { auto: false } });
  await store.insert([{ id: 'seed', text: 'seed', vector: vec(0) }]);
  const other = new StoreLock(dir); // another holder, as a second process would be
  const lease = await other.acquire('another writer', 1000);
  const before = store.lock.acquisitions;
  const first = store.insert([{ id: 'first', text: 'first', vector: vec(1) }]);
  await new Promise((r) => setTimeout(r, 100)); // the head is waiting for the lock now
  const second = store.insert([{ id: 'second', text: 'second', vector: vec(2) }]);
  await new Promise((r) => setTimeout(r, 50));
  await lease.release();
  other.dispose();
  assert.deepEqual([(await first)[0]!.status, (await second)[0]!.status], ['inserted', 'inserted']);
  assert.equal(store.lock.acquisitions - before, 1, 'both stores committed in one lock cycle');
});

test('an overdue background intent never holds an interactive write past its deadline while another process holds the lock', async (t) => {
  const { store, dir } = await openTempStore(t, { maintenance: { auto: false }, queue: { backgroundMaxWaitMs: 200, interactiveDeadlineMs: 800 } });
  await store.insert([{ id: 'seed', text: 'seed', vector: vec(0) }]);
  const other = new StoreLock(dir);
  const lease = await other.acquire('a long holder in another process', 1000);
  const started = Date.now();
  const settle = (p: Promise<unknown>) => p.then(() => ({ ok: true, at: Date.now() - started }), (err: { code?: string }) => ({ ok: false, code: err.code, at: Date.now() - started }));
  const a = settle(store.insert([{ id: 'a', text: 'a', vector: vec(1) }]));
  await new Promise((r) => setTimeout(r, 10));
  const maintenance = settle(store.optimize('test'));
  await new Promise((r) => setTimeout(r, 300));
  const b = settle(store.insert([{ id: 'b', text: 'b', vector: vec(2) }]));
  const [ra, rb] = await Promise.all([a, b]);
  assert.deepEqual([ra.ok, rb.ok], [false, false], 'both writes failed loudly on their deadline');
  assert.equal((rb as { code?: string }).code, 'E_LOCK_TIMEOUT');
  assert.ok(rb.at < 300 + 800 + 400, `the second write failed at ${rb.at} ms, not after the background intent's own (60 s) wait`);
  setTimeout(() => { void lease.release().then(() => other.dispose()); }, 200);
  assert.equal((await maintenance).ok, true, 'the background intent ran once the lock was free');
});
