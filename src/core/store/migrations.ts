import type { Table } from '@lancedb/lancedb';
import type { Logger } from '../log';
import { StoreMetaError } from '../errors';

/**
 * Forward migrations of the `memories` table. Version 0 is any table without our meta file: earlier
 * Memory Lane layouts and memory-lancedb-pro tables (id, text, vector, category, scope, importance,
 * timestamp, metadata). Migrations only add columns with values derived from existing ones: no row
 * is rewritten or dropped, so a migration can never lose data. They run under the store lock.
 */
const V1_COLUMNS: Array<{ name: string; valueSql: (present: Set<string>) => string }> = [
  { name: 'category', valueSql: () => "'cases'" },
  { name: 'scope', valueSql: () => "'global'" },
  { name: 'importance', valueSql: () => 'CAST(0.5 AS DOUBLE)' },
  { name: 'created_at', valueSql: (p) => (p.has('timestamp') ? 'CAST(timestamp AS BIGINT)' : `CAST(${Date.now()} AS BIGINT)`) },
  { name: 'updated_at', valueSql: (p) => (p.has('timestamp') ? 'CAST(timestamp AS BIGINT)' : `CAST(${Date.now()} AS BIGINT)`) },
  { name: 'rev', valueSql: () => 'CAST(1 AS BIGINT)' },
  { name: 'metadata', valueSql: () => "'{}'" },
];

export async function vectorDimensionOf(table: Table): Promise<number | undefined> {
  const schema = await table.schema();
  const field = schema.fields.find((f) => f.name === 'vector');
  const listSize = (field?.type as { listSize?: number } | undefined)?.listSize;
  return typeof listSize === 'number' ? listSize : undefined;
}

export async function migrateToV1(table: Table, log: Logger): Promise<string[]> {
  const schema = await table.schema();
  const present = new Set(schema.fields.map((f) => f.name));
  for (const required of ['id', 'text', 'vector']) {
    if (!present.has(required)) throw new StoreMetaError(`cannot migrate: the table has no "${required}" column`);
  }
  const missing = V1_COLUMNS.filter((c) => !present.has(c.name));
  if (missing.length > 0) {
    await table.addColumns(missing.map((c) => ({ name: c.name, valueSql: c.valueSql(present) })));
    log.info(`migrated table to schema v1: added ${missing.map((c) => c.name).join(', ')}`);
  }
  return missing.map((c) => c.name);
}

/**
 * Schema v2: `context` (what the caller gave as the memory's preceding turn or message; none for
 * rows written before) and `search_text`, what the full-text index reads (store/searchText.ts). Rows
 * written before get their text as search text: the same words they were found by until now (no
 * context; the date joins it the next time a row is written). Maintenance then moves the FTS index
 * from `text` to `search_text` (maintenance.ts `ensureIndexes`).
 */
const V2_COLUMNS: Array<{ name: string; valueSql: string }> = [
  { name: 'context', valueSql: "CAST('' AS STRING)" },
  { name: 'search_text', valueSql: 'text' },
];

export async function migrateToV2(table: Table, log: Logger): Promise<string[]> {
  const present = new Set((await table.schema()).fields.map((f) => f.name));
  const missing = V2_COLUMNS.filter((c) => !present.has(c.name));
  if (missing.length > 0) {
    await table.addColumns(missing.map((c) => ({ name: c.name, valueSql: c.valueSql })));
    log.info(`migrated table to schema v2: added ${missing.map((c) => c.name).join(', ')}`);
  }
  return missing.map((c) => c.name);
}
