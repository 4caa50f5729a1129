import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExclusiveJobLock } from '../../src/core/concurrency/jobLock';
import { BusyError } from '../../src/core/errors';
import { testDir } from '../fixtures/upgrade/legacyStore';

test('the job lock admits one runner, tells the next who runs it, and is free again after release', async (t) => {
  const dir = testDir(t);
  const lock = new ExclusiveJobLock(dir, 'upgrade');
  assert.deepEqual(await lock.status(), { running: false });
  const lease = await lock.tryAcquire('upgrade (local)');
  const status = await lock.status();
  assert.equal(status.running, true);
  assert.deepEqual({ pid: status.holder?.pid, host: status.holder?.host, label: status.holder?.label }, { pid: process.pid, host: hostname(), label: 'upgrade (local)' });
  await assert.rejects(new ExclusiveJobLock(dir, 'upgrade').tryAcquire('another'), (err: Error) => {
    assert.ok(err instanceof BusyError);
    assert.equal(err.holder?.label, 'upgrade (local)');
    assert.match(err.message, /^An upgrade is already running on this store: pid \d+ on .* \("upgrade \(local\)", held for \d+\.\ds\)$/);
    return true;
  });
  await lease.release();
  await lease.release(); // twice is harmless
  assert.ok(!existsSync(join(dir, 'upgrade.job.owner.json')), 'the owner record goes with the lease');
  const again = await lock.tryAcquire('second run');
  await again.release();
});

test('a job lock left by a dead process on this host is taken over at once', async (t) => {
  const dir = testDir(t);
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const deadPid = Number(dead.stdout.toString());
  mkdirSync(join(dir, 'upgrade.job.lock'));
  writeFileSync(join(dir, 'upgrade.job.owner.json'), JSON.stringify({ pid: deadPid, host: hostname(), label: 'upgrade (crashed)', since: Date.now(), job: 'upgrade', token: 'x' }));
  const lock = new ExclusiveJobLock(dir, 'upgrade');
  const status = await lock.status();
  assert.equal(status.running, true);
  assert.equal(status.stale, true);
  const started = Date.now();
  const lease = await lock.tryAcquire('upgrade (resumed)');
  assert.ok(Date.now() - started < 1000, 'no waiting for the stale time');
  assert.equal((await lock.status()).holder?.label, 'upgrade (resumed)');
  await lease.release();
});
