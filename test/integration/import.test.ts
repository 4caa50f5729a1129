import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as lancedb from '@lancedb/lancedb';
import { isLegacy } from '../../src/core/store/schema';
import { detectImportFormat, importFrom, importJsonl, importLanceDbPro, importMcpKnowledgeGraph, upgradeMemories } from '../../src/core/upgrade';
import { fixtureDir, hashEmbed, openTestStore, testDir } from '../fixtures/upgrade/legacyStore';
import { TEST_DIM, vec, storedMemories } from '../helpers/tempStore';

const FIXTURES = fixtureDir();

function countingEmbed() {
  const inner = hashEmbed(TEST_DIM);
  const calls = { texts: 0 };
  return { calls, embed: async (texts: string[]) => { calls.texts += texts.length; return inner(texts); } };
}

test('JSONL: valid lines are imported as legacy memories, malformed ones reported by line; re-import changes nothing', async (t) => {
  const { store } = await openTestStore(t);
  const { embed, calls } = countingEmbed();
  const file = join(FIXTURES, 'memories.jsonl');
  const r = await importJsonl(store, file, { embed });
  assert.equal(r.format, 'jsonl');
  assert.equal(r.read, 5);
  assert.equal(r.imported, 4);
  assert.equal(r.existing, 1, 'line 11 repeats line 1');
  assert.deepEqual(r.malformed.map((m) => m.line), [3, 5, 7, 8, 10, 12]);
  assert.match(r.malformed[0]!.reason, /invalid JSON/);
  assert.match(r.malformed[1]!.reason, /text: must not be empty/);
  assert.match(r.malformed[2]!.reason, /not a JSON object/);
  assert.match(r.malformed[3]!.reason, /scope/);
  assert.match(r.malformed[4]!.reason, /importance: must be between 0 and 1/);
  assert.deepEqual(r.failed, []);
  assert.equal(await store.count(), 4);
  assert.equal(calls.texts, 4);

  const rows = (await storedMemories(store));
  assert.ok(rows.every((m) => isLegacy(m)), 'imported rows arrive legacy');
  const pnpm = rows.find((m) => m.text === 'User prefers pnpm over npm.')!;
  assert.equal(pnpm.category, 'preferences');
  assert.equal(pnpm.scope, 'project:web');
  assert.equal(pnpm.importance, 0.8);
  assert.equal(pnpm.created_at, 1714000000000);
  assert.deepEqual(pnpm.metadata.imported_from, { format: 'jsonl', file: 'memories.jsonl', line: 1, original_id: 'm-1' });
  assert.match(pnpm.id, /^imp-[0-9a-f]{32}$/);
  const pg = rows.find((m) => m.text.startsWith('The staging database'))!;
  assert.equal(pg.category, 'entities');
  assert.equal(pg.metadata.origin, 'notes');
  assert.equal(pg.created_at, Date.parse('2024-05-01T10:00:00Z'));
  const noId = rows.find((m) => m.text.startsWith('A memory without an id'))!;
  assert.equal(noId.category, 'cases');
  assert.equal(noId.metadata.original_category, 'gossip');
  assert.equal(noId.importance, 0.3);
  assert.equal(noId.created_at, 1714000000000, 'seconds are read as seconds');
  assert.equal(rows.find((m) => m.text.startsWith('We decided'))!.metadata.legacy, true, 'metadata given as a JSON string is parsed');

  const again = await importJsonl(store, file, { embed });
  assert.equal(again.imported, 0);
  assert.equal(again.existing, 5);
  assert.equal(calls.texts, 4, 'rows already present are not embedded again');
  assert.equal(await store.count(), 4);

  // Upgraded rows (category refined, metadata added) are still recognised on the next import.
  const up = await upgradeMemories(store);
  assert.equal(up.upgraded, 4);
  const third = await importJsonl(store, file, { embed });
  assert.equal(third.imported, 0);
  assert.deepEqual(third.failed, []);
  assert.equal(await store.count(), 4);
  assert.equal((await store.verify()).ok, true);
});

test('MCP knowledge graph: one memory per observation and relation; malformed lines reported; re-import is incremental', async (t) => {
  const { store } = await openTestStore(t);
  const dir = testDir(t);
  const file = join(dir, 'memory.jsonl');
  copyFileSync(join(FIXTURES, 'knowledge-graph.jsonl'), file);
  const { embed } = countingEmbed();
  assert.equal(await detectImportFormat(file), 'mcp-knowledge-graph');
  const r = await importMcpKnowledgeGraph(store, file, { embed, scope: 'project:kg' });
  assert.equal(r.imported, 6);
  assert.deepEqual(r.malformed.map((m) => m.line), [4, 5, 6, 7, 8]);
  assert.match(r.malformed.find((m) => m.line === 5)!.reason, /observation 2 is not a string/);
  assert.match(r.malformed.find((m) => m.line === 7)!.reason, /unknown "type" "note"/);
  const texts = (await storedMemories(store)).map((m) => m.text).sort();
  assert.deepEqual(texts, [
    'Anthropic is a organization.',
    'John_Smith (person): Graduated in 2019',
    'John_Smith (person): Speaks fluent Spanish',
    'John_Smith works at Anthropic',
    'Memory_Lane (project): Runs in VS Code',
    'Memory_Lane (project): Stores memories in LanceDB',
  ]);
  const rel = (await storedMemories(store)).find((m) => m.text === 'John_Smith works at Anthropic')!;
  assert.deepEqual(rel.metadata.relation, { from: 'John_Smith', to: 'Anthropic', type: 'works_at' });
  assert.equal(rel.scope, 'project:kg');
  assert.ok((await storedMemories(store)).every((m) => m.category === 'entities' && isLegacy(m)));

  appendFileSync(file, JSON.stringify({ type: 'entity', name: 'John_Smith', entityType: 'person', observations: ['Speaks fluent Spanish', 'Graduated in 2019', 'Likes chess'] }) + '\n');
  const again = await importFrom(store, file, { embed, scope: 'project:kg' });
  assert.equal(again.format, 'mcp-knowledge-graph');
  assert.equal(again.imported, 1, 'only the new observation');
  assert.equal(again.existing, 8);
  assert.equal(await store.count(), 7);
});

async function makeProTable(dir: string, dim = TEST_DIM): Promise<void> {
  const db = await lancedb.connect(dir);
  const rows = [
    { id: 'a1b2c3d4-0001', text: 'Prefers vim keybindings', vector: vec(1, dim), category: 'preference', scope: 'global', importance: 0.9, timestamp: 1714000000000, metadata: '{"source":"auto-capture","injected_count":4}' },
    { id: 'a1b2c3d4-0002', text: 'The API gateway is Kong', vector: vec(2, dim), category: 'fact', scope: 'agent:main', importance: 0.6, timestamp: 1714000100000, metadata: 'not json at all' },
    { id: 'a1b2c3d4-0003', text: '', vector: vec(3, dim), category: 'other', scope: 'global', importance: 0.5, timestamp: 1714000200000, metadata: '{}' },
    { id: 'a1b2c3d4-0004', text: 'Decided to drop Python 3.8', vector: vec(4, dim), category: 'decision', scope: 'bad scope!', importance: 0.5, timestamp: 1714000300000, metadata: '{}' },
    { id: 'a1b2c3d4-0005', text: 'Lessons from the outage: add alerts', vector: vec(5, dim), category: 'reflection', scope: 'custom:ops', importance: 1.7, timestamp: 1714000400000, metadata: '{"l0_abstract":"their own abstract"}' },
  ];
  const table = await db.createTable('memories', rows);
  table.close();
  db.close();
}

test('memory-lancedb-pro table: rows imported with mapped categories and kept metadata; bad rows reported by row number', async (t) => {
  const { store } = await openTestStore(t);
  const src = testDir(t);
  await makeProTable(src);
  assert.equal(await detectImportFormat(src), 'memory-lancedb-pro');
  const { embed, calls } = countingEmbed();
  const r = await importLanceDbPro(store, src, { embed, reuseVectors: true });
  assert.equal(r.imported, 3);
  assert.deepEqual(r.malformed.map((m) => m.line), [3, 4]);
  assert.match(r.malformed[0]!.reason, /row 3 \(id a1b2c3d4-0003\): text: must not be empty/);
  assert.match(r.malformed[1]!.reason, /scope/);
  assert.equal(calls.texts, 0, 'vectors of the same dimension reused on request');
  const items = (await storedMemories(store));
  const vim = items.find((m) => m.text === 'Prefers vim keybindings')!;
  assert.equal(vim.category, 'preferences');
  assert.deepEqual(vim.metadata.source_metadata, { source: 'auto-capture', injected_count: 4 });
  assert.equal(vim.metadata.source, 'import:memory-lancedb-pro');
  assert.equal(vim.created_at, 1714000000000);
  assert.ok((await store.get(vim.id))!.vector.every((x, i) => Math.abs(x - vec(1)[i]!) < 1e-6));
  const kong = items.find((m) => m.text.includes('Kong'))!;
  assert.equal(kong.category, 'entities');
  assert.equal(kong.scope, 'agent:main');
  assert.equal(kong.metadata.source_metadata, 'not json at all');
  const outage = items.find((m) => m.text.startsWith('Lessons'))!;
  assert.equal(outage.category, 'patterns');
  assert.equal(outage.importance, 1, 'out-of-range importance clamped');
  assert.ok(items.every((m) => isLegacy(m)), 'their smart metadata is kept aside; rows arrive legacy');

  const again = await importLanceDbPro(store, src, { embed });
  assert.equal(again.imported, 0);
  assert.equal(again.existing, 3);
  assert.equal(await store.count(), 3);
});

test('imports embed when vectors are absent or of another dimension, and fail clearly (into the DLQ) without an embedder', async (t) => {
  const { store } = await openTestStore(t);
  const src = testDir(t);
  await makeProTable(src, 4);
  const noEmbedder = await importLanceDbPro(store, src);
  assert.equal(noEmbedder.imported, 0);
  assert.equal(noEmbedder.failed.length, 3);
  assert.match(noEmbedder.failed[0]!.reason, /dimension 4, the store's 8, and no embedder was given/);
  assert.ok(noEmbedder.failed[0]!.deadLetterId);
  const dlq = await store.deadLetters.list();
  assert.equal(dlq.open.length, 1);
  assert.equal((dlq.open[0]!.intent as { records: unknown[] }).records.length, 3);

  const { embed, calls } = countingEmbed();
  const ok = await importLanceDbPro(store, src, { embed, reuseVectors: true });
  assert.equal(ok.imported, 3);
  assert.equal(calls.texts, 3);
});

test('dry run of an import counts what would be imported and writes nothing', async (t) => {
  const { store } = await openTestStore(t);
  await store.insert([{ id: 'unrelated', text: 'x', vector: vec(1) }]);
  const r = await importJsonl(store, join(FIXTURES, 'memories.jsonl'), { dryRun: true });
  assert.equal(r.dryRun, true);
  assert.equal(r.imported, 4);
  assert.equal(r.malformed.length, 6);
  assert.equal(await store.count(), 1);
});
