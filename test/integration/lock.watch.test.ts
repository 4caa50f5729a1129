import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StoreLock } from '../../src/core/concurrency/storeLock';
import { tempDir } from '../helpers/tempStore';
import { runWorker } from '../helpers/workers';

// The lock monitor never polls: it relies on fs.watch, which is inotify on Linux, FSEvents on macOS
// and ReadDirectoryChangesW on Windows (docs/platforms.md#fswatch-on-macos-and-windows). The release
// workflow runs this on all three.

function waitFor(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => (check() ? resolve() : Date.now() - t0 > ms ? reject(new Error(`no ${what} within ${ms} ms`)) : setTimeout(tick, 20));
    tick();
  });
}

test('the store lock\'s watch sees a store folder appear, and another process take and release the lock', async (t) => {
  const dir = join(tempDir(t), 'not-yet', 'store');
  let changes = 0;
  const watching = new StoreLock(dir, { staleMs: 2000 }).watch(() => { changes++; });
  t.after(() => watching.dispose());

  mkdirSync(dir, { recursive: true });
  await waitFor('event for the new store folder', () => changes > 0);

  const before = changes;
  const [first, second] = await runWorker('lock-worker', { dir, stayMs: 0 });
  assert.equal(first.firstError, undefined);
  assert.equal(second.second, 'acquired');
  await waitFor('event for the other process\'s lock', () => changes > before);
});
