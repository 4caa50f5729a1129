import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOCK_OWNER } from '../../src/core/concurrency/storeLock';
import { cli } from '../helpers/cli';
import { openTempStore, vec } from '../helpers/tempStore';

const raw = (id: string, rev: number, text: string) => ({ id, text, vector: vec(rev), category: 'cases', scope: 'global', importance: 0.5, created_at: 1n, updated_at: BigInt(rev), rev: BigInt(rev), metadata: '{}' });

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('repair keeps the newest revision of a duplicated id and removes the older copies in one commit', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  await store.insert([{ id: 'solo', text: 'alone', vector: vec(1) }]);
  // Duplicates as a lock-less writer (or an old bug) could have left them.
  await store.table.add([raw('dup', 1, 'old'), raw('dup', 3, 'newest'), raw('dup', 2, 'middle')]);
  assert.deepEqual((await store.verify()).duplicateIds, ['dup']);
  const report = await store.repair();
  assert.deepEqual(report.actions.map((a) => a.kind), ['duplicate']);
  assert.match(report.actions[0]!.detail, /kept rev 3 of "dup", removed 2 older copies/);
  assert.equal(report.remaining.ok, true);
  assert.equal((await store.get('dup'))!.text, 'newest');
  assert.equal(await store.count(), 2);
});

test('repair removes an owner record of a provably dead process, and never one of a live process', async (t) => {
  const { store, dir } = await openTempStore(t, { maintenance: { auto: false } });
  const owner = join(dir, LOCK_OWNER);
  writeFileSync(owner, JSON.stringify({ pid: process.ppid, host: hostname(), label: 'live parent', since: 1, token: 'live' }));
  // The lock step alone: a repair that then takes the lock replaces the record like any writer does.
  assert.deepEqual(await store.lock.clearDeadHolder(), []);
  assert.ok(existsSync(owner));
  writeFileSync(owner, JSON.stringify({ pid: deadPid(), host: hostname(), label: 'crashed window', since: 1, token: 'dead' }));
  const report = await store.repair();
  assert.match(report.actions[0]!.detail, /orphaned owner record/);
  assert.equal(existsSync(owner), false);
});

test('cli verify --repair reports every action and exits 0 once the store is clean', async (t) => {
  const { store, dir } = await openTempStore(t, { maintenance: { auto: false } });
  await store.table.add([raw('twice', 1, 'a'), raw('twice', 2, 'b')]);
  await store.close();
  const before = await cli(['--db', dir, 'verify', '--json']);
  assert.equal(before.code, 1);
  const repaired = await cli(['--db', dir, 'verify', '--repair', '--json']);
  assert.equal(repaired.code, 0, repaired.stderr);
  assert.equal(repaired.json.ok, true);
  assert.equal(repaired.json.actions.length, 1);
  const after = await cli(['--db', dir, 'verify', '--json']);
  assert.equal(after.code, 0);
});

test('verify names memories of one scope that say the same text under different ids, without calling the store damaged', async (t) => {
  const { store, dir } = await openTempStore(t, { maintenance: { auto: false } });
  // Two processes stored the same fact at the same moment (the near-duplicate check is best effort).
  await store.insert([
    { id: 'first', text: 'Deploys go out on Tuesdays.', vector: vec(1), scope: 'project:api' },
    { id: 'second', text: 'deploys go out on  tuesdays', vector: vec(2), scope: 'project:api' },
    { id: 'elsewhere', text: 'Deploys go out on Tuesdays.', vector: vec(3), scope: 'project:web' },
    { id: 'other', text: 'Releases are tagged on Fridays.', vector: vec(4), scope: 'project:api' },
  ]);
  const report = await store.verify();
  assert.equal(report.ok, true);
  assert.deepEqual(report.exactDuplicates, [['first', 'second']]);
  const run = await cli(['--db', dir, 'verify']);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /same text under different ids \(consolidate merges them\): first = second/);
});
