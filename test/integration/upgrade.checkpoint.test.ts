import assert from 'node:assert/strict';
import { appendFileSync, existsSync } from 'node:fs';
import { test } from 'node:test';
import { UpgradeCheckpoint } from '../../src/core/upgrade/checkpoint';
import { testDir } from '../fixtures/upgrade/legacyStore';

test('checkpoint: entries are reused only for the same job key and the same text; a torn tail is ignored', async (t) => {
  const dir = testDir(t);
  const cp = await UpgradeCheckpoint.open(dir, 'enrich:openai-compatible/m1');
  await cp.append([
    { id: 'a', metadata: { l0_abstract: 'A' }, set: { category: 'events' }, expect: { text: 'text of a' } },
    { id: 'b', metadata: { l0_abstract: 'B' }, expect: { text: 'text of b' } },
  ]);
  const other = await UpgradeCheckpoint.open(dir, 'enrich:openai-compatible/m2');
  await other.append([{ id: 'a', metadata: { l0_abstract: 'other model' }, expect: { text: 'text of a' } }]);
  appendFileSync(cp.path, '{"key":"enrich:openai-compatible/m1","id":"c","h":"abc'); // crash mid-append

  const reopened = await UpgradeCheckpoint.open(dir, 'enrich:openai-compatible/m1');
  assert.equal(reopened.size, 2);
  assert.deepEqual(reopened.take('a', 'text of a'), { id: 'a', set: { category: 'events' }, metadata: { l0_abstract: 'A' }, expect: { text: 'text of a' } });
  assert.equal(reopened.take('b', 'b was edited since'), undefined, 'an answer about an older text is never reused');
  assert.equal((await UpgradeCheckpoint.open(dir, 'enrich:openai-compatible/m2')).take('a', 'text of a')!.metadata!.l0_abstract, 'other model');
  await reopened.append([{ id: 'd', metadata: { l0_abstract: 'D' }, expect: { text: 'd' } }]);
  assert.equal((await UpgradeCheckpoint.open(dir, 'enrich:openai-compatible/m1')).size, 3, 'appending after a torn line starts a fresh line');
  await reopened.clear();
  assert.ok(!existsSync(reopened.path));
});
