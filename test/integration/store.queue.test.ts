import assert from 'node:assert/strict';
import { test } from 'node:test';
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
