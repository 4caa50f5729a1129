import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failpoint, failpointsArmed, parseFailpoints } from '../../src/core/failpoints';

test('failpoint specs parse into actions with once and probability modifiers', () => {
  const map = parseFailpoints('a=pause:50; b=once:kill ;c=p0.05:throw:ENOSPC: no space left;d=block:10;e=hang;bogus');
  assert.deepEqual(map.get('a'), { action: { kind: 'pause', ms: 50 }, once: false, probability: 1 });
  assert.deepEqual(map.get('b'), { action: { kind: 'kill' }, once: true, probability: 1 });
  assert.deepEqual(map.get('c'), { action: { kind: 'throw', message: 'ENOSPC: no space left' }, once: false, probability: 0.05 });
  assert.deepEqual(map.get('d'), { action: { kind: 'block', ms: 10 }, once: false, probability: 1 });
  assert.equal(map.get('e')!.action.kind, 'hang');
  assert.equal(map.has('bogus'), false);
});

test('unarmed failpoints are no-ops (nothing in settings can reach them)', async () => {
  assert.equal(failpointsArmed, false);
  await failpoint('store.beforeCommit');
});
