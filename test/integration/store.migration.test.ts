import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as lancedb from '@lancedb/lancedb';
import { Index } from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Float64, Int64, Schema, Utf8 } from 'apache-arrow';
import { LocalEmbedder } from '../../src/core/embedding/localEmbedder';
import { MemoryService } from '../../src/core/memoryService';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { CURRENT_SCHEMA_VERSION } from '../../src/core/store/schema';
import { dayText, searchTextOf } from '../../src/core/store/searchText';
import { META_FILE } from '../../src/core/store/storeMeta';
import { deferCleanup, tempDir } from '../helpers/tempStore';

const DIM = 384;

/** A store as schema v1 left it: no context or search_text column, the FTS index on `text`. */
async function schemaV1Store(dir: string, rows: Array<{ id: string; text: string; created_at: number }>): Promise<void> {
  const db = await lancedb.connect(dir);
  const schema = new Schema([
    new Field('id', new Utf8(), false), new Field('text', new Utf8(), false),
    new Field('vector', new FixedSizeList(DIM, new Field('item', new Float32(), true)), false),
    new Field('category', new Utf8(), false), new Field('scope', new Utf8(), false), new Field('importance', new Float64(), false),
    new Field('created_at', new Int64(), false), new Field('updated_at', new Int64(), false), new Field('rev', new Int64(), false),
    new Field('metadata', new Utf8(), false),
  ]);
  const table = await db.createEmptyTable('memories', schema);
  const embedder = new LocalEmbedder(DIM);
  await table.add(rows.map((r) => ({ id: r.id, text: r.text, vector: embedder.embedOne(r.text), category: 'cases', scope: 'global', importance: 0.5, created_at: BigInt(r.created_at), updated_at: BigInt(r.created_at), rev: 1n, metadata: '{}' })));
  await table.createIndex('text', { config: Index.fts() });
  table.close(); db.close();
  writeFileSync(join(dir, META_FILE), JSON.stringify({ schemaVersion: 1, dim: DIM, embedder: embedder.id, createdAt: 1 }));
}

test('a schema-v1 store gains context and search_text (= its text) on open, and maintenance moves the FTS index from text to search_text', async (t) => {
  const dir = tempDir(t);
  const at = Date.UTC(2023, 4, 8, 13, 56);
  await schemaV1Store(dir, [
    { id: 'a', text: 'The staging database moved to Postgres 16', created_at: at },
    { id: 'b', text: 'Prefers tabs over spaces in TypeScript', created_at: at },
  ]);

  const store = await MemoryStore.open(dir, { dim: DIM, maintenance: { auto: false } });
  assert.equal(store.meta.schemaVersion, CURRENT_SCHEMA_VERSION);
  assert.equal(JSON.parse(readFileSync(join(dir, META_FILE), 'utf8')).schemaVersion, CURRENT_SCHEMA_VERSION, 'the meta file says so too');
  const raw = await store.rows(undefined, { columns: ['id', 'text', 'context', 'search_text'] });
  assert.equal(raw.length, 2, 'no row lost');
  for (const r of raw) {
    assert.equal(r.search_text, r.text, 'rows written before are found by their text, as before');
    assert.equal(r.context, '');
  }
  assert.equal((await store.get('a'))!.context, undefined);
  assert.ok((await store.table.listIndices()).some((i) => i.columns.includes('text')), 'the old index is still there before maintenance');
  await store.optimize('migration test');
  const indices = await store.table.listIndices();
  assert.ok(indices.some((i) => i.columns.includes('search_text') && /fts|inverted/i.test(i.indexType)), JSON.stringify(indices));
  assert.ok(!indices.some((i) => i.columns.includes('text')), `the FTS index on text is dropped: ${JSON.stringify(indices)}`);
  await store.close();

  // Opening again is a no-op (nothing left to migrate), and recall runs on the moved index.
  const memory = await MemoryService.open({ dir, defaultScopes: ['global'], vectorIndex: { auto: false }, storeOptions: { maintenance: { auto: false } } });
  deferCleanup(t, () => memory.close());
  const { results, notes } = await memory.recall('postgres', { mode: 'fts', count: false });
  assert.deepEqual(results.map((r) => r.id), ['a']);
  assert.deepEqual(notes, [], 'through the FTS index, not the no-index fallback');
});

test('a memory stored with a context is found by the context\'s words, returns only its own text, and keeps its context through an update', async (t) => {
  const dir = tempDir(t);
  const memory = await MemoryService.open({ dir, defaultScopes: ['global'], vectorIndex: { auto: false } });
  deferCleanup(t, () => memory.close());
  const question = 'Which concert did you go to last weekend?';
  const stored = await memory.store({ text: 'It was Matt Patterson, he is so talented!', context: question });
  assert.equal(stored.status, 'stored');
  await memory.store({ text: 'We adopted a rescue greyhound in spring' });
  await memory.memoryStore.optimize('context test');

  const { results } = await memory.recall('concert last weekend', { mode: 'fts', count: false });
  assert.equal(results[0]?.id, stored.id, 'found by the words of the turn it answers');
  assert.equal(results[0]!.text, 'It was Matt Patterson, he is so talented!', 'the context is never part of the returned text');
  const record = (await memory.memoryStore.get(stored.id))!;
  assert.equal(record.context, question);
  const [row] = await memory.memoryStore.rows(`id = '${stored.id}'`, { columns: ['search_text'] });
  assert.equal(row!.search_text, searchTextOf(record));
  assert.ok(String(row!.search_text).endsWith(dayText(record.created_at)!), 'the day it was written is indexed too');

  await memory.update(stored.id, { text: 'It was Matt Patterson, what a voice!' });
  const updated = (await memory.memoryStore.get(stored.id))!;
  assert.equal(updated.context, question, 'an update of the text keeps the context');
  const again = await memory.recall('concert last weekend', { mode: 'fts', count: false });
  assert.equal(again.results[0]?.id, stored.id);
  await assert.rejects(memory.store({ text: 'x y z', context: 'bad\u0001context' }), /context/);
});

test('searchTextOf: text, then context, then the day in words (UTC)', () => {
  assert.equal(searchTextOf({ text: 'A', created_at: Date.UTC(2023, 9, 13, 23, 30) }), 'A\n13 October 2023');
  assert.equal(searchTextOf({ text: 'A', context: 'B', created_at: Date.UTC(2022, 0, 1) }), 'A\nB\n1 January 2022');
  assert.equal(searchTextOf({ text: 'A', created_at: 0 }), 'A');
});
