import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { exportBackup, restoreBackup } from '../../src/core/store/backup';
import { deferCleanup, openTempStore, tempDir, vec } from '../helpers/tempStore';

test('export then restore into a new store round-trips every row exactly; restoring twice adds nothing', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  await store.insert(Array.from({ length: 600 }, (_, i) => ({ id: `b${i}`, text: `memory ${i} — ünïcode "quotes"`, vector: vec(i), scope: i % 2 ? 'global' : `project:p${i % 5}`, importance: (i % 10) / 10, metadata: { i } })));
  await store.patch([{ id: 'b7', metadata: { l0_abstract: 'seven' }, increment: { injected_count: 3 } }]);
  const file = join(tempDir(t), 'backup.jsonl');
  const exported = await exportBackup(store, file);
  assert.equal(exported.rows, 600);
  const target = await MemoryStore.open(tempDir(t), { dim: 8, maintenance: { auto: false } });
  deferCleanup(t, () => target.close());
  const first = await restoreBackup(target, file);
  assert.deepEqual(first, { restored: 600, existing: 0, failed: [] });
  const second = await restoreBackup(target, file);
  assert.deepEqual(second, { restored: 0, existing: 600, failed: [] });
  const all = async (s: MemoryStore) => {
    const rows = [];
    for await (const r of s.snapshot()) rows.push(r);
    // `commit` names the commit that wrote a row; a restore is a new commit, so it differs by design.
    return rows.sort((a, b) => (a.id < b.id ? -1 : 1)).map(({ commit: _commit, ...r }) => ({ ...r, vector: r.vector.map((x) => Math.fround(x)) }));
  };
  assert.deepEqual(await all(target), await all(store));
  assert.equal((await target.get('b7'))!.rev, 2);
});

test('a backup refuses to be written inside the store folder, and a malformed line is reported by number', async (t) => {
  const { store, dir } = await openTempStore(t, { maintenance: { auto: false } });
  await store.insert([{ id: 'a', text: 'a', vector: vec(1) }, { id: 'b', text: 'b', vector: vec(2) }]);
  await assert.rejects(exportBackup(store, join(dir, 'inside.jsonl')), /inside the store folder/);
  const file = join(tempDir(t), 'b.jsonl');
  await exportBackup(store, file);
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.splice(2, 0, '{broken json', JSON.stringify({ id: 'v', text: 'bad vector', vector: [1], category: 'cases', scope: 'global', importance: 0.5, created_at: 1, updated_at: 1, rev: 1, metadata: {} }));
  writeFileSync(file, lines.join('\n'));
  const target = await MemoryStore.open(tempDir(t), { dim: 8, maintenance: { auto: false } });
  deferCleanup(t, () => target.close());
  const res = await restoreBackup(target, file);
  assert.equal(res.restored, 2);
  assert.deepEqual(res.failed.map((f) => f.line), [3, 4]);
  assert.match(res.failed[1]!.reason, /dimension 1/);
});

test('a snapshot is one version: rows committed during the export are not half-included', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  await store.insert(Array.from({ length: 300 }, (_, i) => ({ id: `s${i}`, text: `s${i}`, vector: vec(i) })));
  const snapshot = store.snapshot();
  const first = await snapshot.next();
  await store.insert(Array.from({ length: 50 }, (_, i) => ({ id: `late${i}`, text: `late${i}`, vector: vec(i) })));
  let n = first.done ? 0 : 1;
  for (;;) { const r = await snapshot.next(); if (r.done) break; n++; }
  assert.equal(n, 300);
});
