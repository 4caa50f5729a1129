import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileLock } from '../../src/core/concurrency/fileLock';
import { ExclusiveJobLock } from '../../src/core/concurrency/jobLock';
import { LOCK_DIR, LOCK_OWNER, StoreLock } from '../../src/core/concurrency/storeLock';
import { StoreActivity } from '../../src/core/storeActivity';
import { cli } from '../helpers/cli';
import { tempDir } from '../helpers/tempStore';
import { startWorker } from '../helpers/workers';

test('a lock whose owner record cannot be written is released at once: not left on disk, not held here, free for other processes', async (t) => {
  const dir = tempDir(t);
  const worker = startWorker('lock-worker', { dir, stayMs: 3000 }, { MEMORY_LANE_FAILPOINTS: 'lock.writeOwner=once:throw:ENOSPC: no space left on device' });
  const first = await worker.waitFor((m) => 'firstError' in m || 'lockDirLeft' in m);
  assert.match(String(first.firstError), /ENOSPC/, 'the write of the owner record failed, and its caller is told');
  assert.equal(first.lockDirLeft, false, 'the lock folder is gone with the failed acquisition');
  assert.equal(first.heldHere, false);
  // While that process lives, another one takes the lock well before any stale time could free it.
  const other = new StoreLock(dir, { staleMs: 10_000 });
  const started = Date.now();
  const lease = await other.acquire('another process', 1500);
  assert.ok(Date.now() - started < 1500);
  await lease.release();
  const second = await worker.waitFor((m) => 'second' in m, 20_000);
  assert.equal(second.second, 'acquired', 'the same process locks again: no "not re-entrant" from a lock it never kept');
  assert.equal((await worker.exited).code, 0);
});

test('status names the holder but never its private token, for the store lock, a job lock and stats --json', async (t) => {
  const dir = tempDir(t);
  const store = new FileLock(dir, 'store.lock', { staleMs: 10_000 });
  const holding = await store.tryLock('holding for the test');
  assert.ok(holding);
  const record = JSON.parse(readFileSync(join(dir, LOCK_OWNER), 'utf8')) as { token: string };
  assert.ok(record.token, 'the record on disk has a token');
  const status = await new StoreLock(dir).status();
  assert.equal(status.held, true);
  assert.equal(status.holder?.label, 'holding for the test');
  assert.equal(JSON.stringify(status).includes(record.token), false);
  assert.equal('token' in (status.holder ?? {}), false);
  await holding!.release();

  const job = await new ExclusiveJobLock(dir, 'upgrade').tryAcquire('upgrade (local)');
  const jobRecord = JSON.parse(readFileSync(join(dir, 'upgrade.job.owner.json'), 'utf8')) as { token: string };
  const jobStatus = await new ExclusiveJobLock(dir, 'upgrade').status();
  assert.equal(jobStatus.running, true);
  assert.equal(JSON.stringify(jobStatus).includes(jobRecord.token), false);
  await job.release();
});

test('stats --json and lock-status --json never print the lock token', async (t) => {
  const dir = tempDir(t);
  assert.equal((await cli(['--db', dir, '--json', 'store', '--text', 'a memory to make the store'])).code, 0);
  mkdirSync(join(dir, LOCK_DIR));
  writeFileSync(join(dir, LOCK_OWNER), JSON.stringify({ pid: process.pid, host: hostname(), label: 'held by the test', since: Date.now(), token: 'secret-token-4711' }));
  for (const command of ['stats', 'lock-status']) {
    const run = await cli(['--db', dir, '--json', command]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /held by the test/, `${command} names the holder`);
    assert.equal(run.stdout.includes('secret-token-4711'), false, `${command} leaks the token: ${run.stdout}`);
  }
});

test('the three locks are one primitive: same file layout, same dead-holder takeover', async (t) => {
  const dir = tempDir(t);
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
  for (const name of ['store.lock', 'upgrade.job', 'vector-index.job']) {
    mkdirSync(join(dir, `${name}.lock`));
    writeFileSync(join(dir, `${name}.owner.json`), JSON.stringify({ pid: dead, host: hostname(), label: `crashed ${name}`, since: Date.now(), token: 'x' }));
  }
  const store = await new StoreLock(dir).acquire('after the crash', 1000);
  await store.release();
  for (const job of ['upgrade', 'vector-index']) {
    const lease = await new ExclusiveJobLock(dir, job).tryAcquire(`${job} after the crash`);
    await lease.release();
  }
  assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('store.lock.waiters')), [], 'every lock and record is gone after release');
});

test('the lock watch sees another process take and release the lock, without polling, even before the folder exists', async (t) => {
  const dir = join(tempDir(t), 'store-not-yet-created');
  let lockChanges = 0;
  const activity = new StoreActivity(dir, { onLockChange: () => { lockChanges++; }, onCommit: () => undefined });
  t.after(() => activity.dispose());
  mkdirSync(dir);
  const until = async (what: string, check: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 100; i++) { if (await check()) return; await new Promise((r) => setTimeout(r, 20)); }
    assert.fail(`timed out waiting for ${what}`);
  };
  await until('the folder to be noticed', () => lockChanges > 0);
  const before = lockChanges;
  const worker = startWorker('lock-worker', { dir, stayMs: 500 }, { MEMORY_LANE_FAILPOINTS: 'lock.afterAcquire=pause:300' });
  // The lock folder comes a moment before its owner record: wait for both.
  await until('the lock to be seen held', async () => lockChanges > before && (await activity.lockView()).holder !== undefined);
  assert.match(String((await activity.lockView()).holder?.label), /write/);
  await worker.exited;
  await until('the release to be seen', async () => !(await activity.lockView()).held);
  assert.equal(existsSync(join(dir, LOCK_DIR)), false);
});

test('a real failure to write the owner record (its path is a folder) leaks nothing either', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, LOCK_OWNER, 'in-the-way'), { recursive: true });
  const lock = new StoreLock(dir);
  await assert.rejects(lock.acquire('blocked record', 1000), /EISDIR|ENOTEMPTY|EEXIST|EPERM/);
  assert.equal(lock.isHeldHere, false);
  assert.equal(existsSync(join(dir, LOCK_DIR)), false, 'no lock folder left behind for proper-lockfile to keep refreshing');
  rmSync(join(dir, LOCK_OWNER), { recursive: true });
  const lease = await lock.acquire('after the fault', 1000);
  await lease.release();
});

test('a waiter takes the lock as soon as another process releases it, not at its next poll', async (t) => {
  const dir = tempDir(t);
  // The holder keeps the lock 400 ms after taking it; the waiter's fallback poll is 2–4 s, so only
  // the watch on the lock folder can get it the lock within a second.
  const holder = startWorker('lock-worker', { dir, stayMs: 0 }, { MEMORY_LANE_FAILPOINTS: 'lock.afterAcquire=once:pause:400' });
  t.after(() => holder.child.kill());
  await holder.waitForStderr('[failpoint] lock.afterAcquire');
  const waiter = new StoreLock(dir, { pollMs: 4000 });
  t.after(() => waiter.dispose());
  const started = Date.now();
  const lease = await waiter.acquire('waiter', 10_000);
  const waited = Date.now() - started;
  await lease.release();
  assert.ok(waited < 1500, `waited ${waited} ms: woken by its poll, not by the release`);
  assert.ok(waited >= 100, `waited only ${waited} ms: the holder was not holding the lock`);
});
