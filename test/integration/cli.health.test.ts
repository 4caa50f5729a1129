import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { LOCK_DIR, LOCK_OWNER } from '../../src/core/concurrency/storeLock';
import { cli } from '../helpers/cli';
import { deferCleanup, tempDir, vec } from '../helpers/tempStore';

async function seeded(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = tempDir(t);
  const store = await MemoryStore.open(dir, { dim: 8, maintenance: { auto: false } });
  await store.insert([{ id: 'a1', text: 'first', vector: vec(1), scope: 'project:x' }, { id: 'a2', text: 'second', vector: vec(2), category: 'events' }]);
  await store.close();
  return dir;
}

test('cli stats --json prints exactly one JSON document with counts; logs stay off stdout', async (t) => {
  const dir = await seeded(t);
  const r = await cli(['--db', dir, 'stats', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.rows, 2);
  assert.equal(r.json.legacy, 2);
  assert.deepEqual(r.json.byScope, { 'project:x': 1, global: 1 });
  assert.equal(r.json.dim, 8);
  assert.ok(r.json.diskBytes > 0);
});

test('cli verify --json reports ok on a clean store and exit 0', async (t) => {
  const dir = await seeded(t);
  const r = await cli(['verify', '--db', dir, '--json']);
  assert.equal(r.code, 0);
  assert.deepEqual(r.json, { ok: true, rows: 2, duplicateIds: [], exactDuplicates: [], badVectors: [], badMetadata: [], tornRows: [] });
});

test('cli verify exits 1 and names the row when metadata is unreadable', async (t) => {
  const dir = await seeded(t);
  const store = await MemoryStore.open(dir, { dim: 8, maintenance: { auto: false } });
  await store.table.add([{ id: 'bad', text: 'x', vector: vec(3), category: 'cases', scope: 'global', importance: 0.5, created_at: 1n, updated_at: 1n, rev: 1n, metadata: '{oops' }]);
  await store.close();
  const r = await cli(['--db', dir, 'verify', '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.json.ok, false);
  assert.deepEqual(r.json.badMetadata, ['bad']);
});

test('cli lock-status names the holder without taking the lock', async (t) => {
  const dir = await seeded(t);
  const free = await cli(['--db', dir, 'lock-status', '--json']);
  assert.deepEqual(free.json, { held: false });
  mkdirSync(join(dir, LOCK_DIR));
  writeFileSync(join(dir, LOCK_OWNER), JSON.stringify({ pid: 999999, host: 'elsewhere', label: 'upgrade', since: 5, token: 'secret-token' }));
  const held = await cli(['--db', dir, 'lock-status', '--json']);
  assert.deepEqual(held.json, { held: true, holder: { pid: 999999, host: 'elsewhere', label: 'upgrade', since: 5 } });
  const human = await cli(['--db', dir, 'lock-status']);
  assert.match(human.stdout, /held by pid 999999 on elsewhere \("upgrade"/);
});

test('cli on a missing store fails with exit 1, a one-line reason, and {error} on stdout with --json', async (t) => {
  const dir = join(tempDir(t), 'nothing-here');
  const r = await cli(['--db', dir, 'stats', '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.json.error.code, 'E_STORE_UNAVAILABLE');
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /No Memory Lane store at/);
});

test('cli usage errors exit non-zero; --help exits 0', async (t) => {
  const dir = tempDir(t);
  const bad = await cli(['--db', dir, 'no-such-command', '--json']);
  assert.notEqual(bad.code, 0);
  assert.ok(bad.json.error.message.length > 0);
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /lock-status/);
});

test('cli dlq list and replay round-trip a dead letter', async (t) => {
  const dir = await seeded(t);
  const store = await MemoryStore.open(dir, { dim: 8, maintenance: { auto: false } });
  await store.deadLetters.append({ label: 'late insert', intent: { kind: 'upsert', inserts: [{ id: 'from-dlq', text: 'replayed', vector: vec(5), category: 'cases', scope: 'global', importance: 0.5, created_at: 1, updated_at: 1, rev: 1, metadata: {} }], patches: [] }, error: { code: 'E_LOCK_TIMEOUT', message: 'timed out' } });
  await store.close();
  const listed = await cli(['--db', dir, 'dlq', 'list', '--json']);
  assert.equal(listed.json.open.length, 1);
  const replayed = await cli(['--db', dir, 'dlq', 'replay', '--json']);
  assert.equal(replayed.code, 0);
  assert.equal(replayed.json.replayed.length, 1);
  const after = await cli(['--db', dir, 'dlq', 'list', '--json']);
  assert.equal(after.json.open.length, 0);
  const check = await MemoryStore.open(dir, { dim: 8 });
  deferCleanup(t, () => check.close());
  assert.equal((await check.get('from-dlq'))?.text, 'replayed');
});

test('cli export writes a backup with every row and reports the count', async (t) => {
  const dir = await seeded(t);
  const file = join(tempDir(t), 'out', 'backup.jsonl');
  const r = await cli(['--db', dir, 'export', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.rows, 2);
  const lines = require('node:fs').readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(JSON.parse(lines[0]).format, 'memory-lane-backup');
  assert.deepEqual(lines.slice(1).map((l: string) => JSON.parse(l).id).sort(), ['a1', 'a2']);
});
