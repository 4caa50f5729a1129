import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChaos } from '../chaos/controller';
import { tempDir } from '../helpers/tempStore';

// The short chaos run of `npm test`; `npm run chaos` runs the long one (default 2 minutes).
test('chaos (short): writers of every kind and an upgrader under SIGKILL/SIGSTOP/owner corruption/disk-full lose and duplicate nothing', async (t) => {
  const dir = tempDir(t, 'ml-chaos-');
  const summary = await runChaos({ dir, durationMs: 20_000, plugins: 2, mcpClients: 1, cliWriters: 1, legacyRows: 600, faultEveryMs: 1200, diskFullRate: 0.03 });
  t.diagnostic(`${summary.operations} operations, ${summary.kills} kills, ${summary.stops} stops, ${summary.ownerCorruptions} owner corruptions, ${summary.restarts} restarts; acknowledged ${JSON.stringify(summary.acknowledged)}; dead letters ${JSON.stringify(summary.deadLetters)}; legacy ${JSON.stringify(summary.legacy)}`);
  assert.ok(summary.kills + summary.stops >= 5, `too few faults injected: ${summary.kills} kills, ${summary.stops} stops`);
  assert.deepEqual(summary.fatalErrors, [], 'writers crashed by themselves');
  // Only our kills may end a writer: more restarts than kills means writers crash on their own.
  assert.ok(summary.restarts <= summary.kills, `${summary.restarts} restarts for ${summary.kills} kills: writers are crashing`);
  assert.ok(summary.acknowledged.stores > 0, `no write was acknowledged at all; failures: ${JSON.stringify(summary.failureReasons)}`);
  assert.equal(summary.lost, 0, summary.mismatched.join('\n'));
  assert.equal(summary.duplicated, 0);
  assert.deepEqual(summary.mismatched, []);
  assert.deepEqual(summary.hung, []);
  assert.equal(summary.deadLetters.replayFailed, 0);
  assert.equal(summary.legacy.missing, 0);
  assert.equal(summary.verify.ok, true, JSON.stringify(summary.verify));
});
