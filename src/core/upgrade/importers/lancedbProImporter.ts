import { basename, resolve } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { errorMessage, FormatError, StoreUnavailableError } from '../../errors';
import type { MemoryStore } from '../../store/memoryStore';
import { runImport, type ImportOptions, type ImportResult, type ParsedItem } from './importRunner';
import { isPlainObject } from './jsonLines';
import { buildMemory } from './record';

export interface LanceDbProImportOptions extends ImportOptions {
  /** Table name in the source database (memory-lancedb-pro uses `memories`). */
  table?: string;
}

const SOURCE = 'import:memory-lancedb-pro';

/**
 * A memory-lancedb-pro LanceDB table (columns id, text, vector, category, scope, importance,
 * timestamp, metadata as a JSON string; categories preference/fact/decision/entity/other/reflection,
 * mapped onto ours). The source is only read, streamed batch by batch. Its metadata is kept under
 * `source_metadata`, so rows arrive legacy and the upgrader enriches them consistently. Vectors are
 * reused only with `reuseVectors` (same embedding model) and a matching dimension. Rows are
 * reported by their 1-based position in the scan.
 */
export async function importLanceDbPro(store: MemoryStore, sourceDir: string, options: LanceDbProImportOptions = {}): Promise<ImportResult> {
  const dir = resolve(sourceDir);
  const tableName = options.table ?? 'memories';
  let db: lancedb.Connection;
  let table: lancedb.Table;
  try {
    db = await lancedb.connect(dir);
    const names = await db.tableNames();
    if (!names.includes(tableName)) throw new FormatError(`no table "${tableName}" (tables: ${names.join(', ') || 'none'})`);
    table = await db.openTable(tableName);
  } catch (err) {
    throw new StoreUnavailableError(`Cannot read a memory-lancedb-pro database at ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const columns = new Set((await table.schema()).fields.map((f) => f.name));
    for (const required of ['id', 'text']) {
      if (!columns.has(required)) throw new StoreUnavailableError(`The table "${tableName}" in ${dir} has no "${required}" column; it is not a memory-lancedb-pro table`);
    }
    return await runImport(store, 'memory-lancedb-pro', dir, parseRows(table, dir, options), options);
  } finally {
    try { table.close(); db.close(); } catch { /* already closed */ }
  }
}

async function* parseRows(table: lancedb.Table, dir: string, options: LanceDbProImportOptions): AsyncGenerator<ParsedItem> {
  const importedAt = Date.now();
  const folder = basename(dir);
  let row = 0;
  for await (const batch of table.query() as AsyncIterable<{ numRows: number; get(i: number): { toJSON(): Record<string, unknown> } | null }>) {
    for (let i = 0; i < batch.numRows; i++) {
      row++;
      const r = batch.get(i)?.toJSON() ?? {};
      try {
        const originalId = r.id === null || r.id === undefined ? undefined : String(r.id);
        if (!originalId) throw new FormatError('the row has no id');
        const metadata: Record<string, unknown> = { source: SOURCE, imported_from: { format: 'memory-lancedb-pro', folder, row, original_id: originalId }, imported_at: importedAt };
        if (typeof r.metadata === 'string' && r.metadata.trim()) {
          try {
            const parsed: unknown = JSON.parse(r.metadata);
            metadata.source_metadata = isPlainObject(parsed) ? parsed : r.metadata;
          } catch {
            metadata.source_metadata = r.metadata;
          }
        }
        const importance = typeof r.importance === 'number' && Number.isFinite(r.importance) ? Math.min(1, Math.max(0, r.importance)) : undefined;
        const memory = buildMemory({ text: r.text, category: r.category, scope: r.scope, importance, createdAt: r.timestamp, metadata }, options);
        const vector = r.vector == null ? undefined : Array.from(r.vector as Iterable<number>);
        yield { line: row, record: { line: row, key: `id:${originalId}`, originalId, memory, ...(vector ? { vector } : {}) } };
      } catch (err) {
        yield { line: row, malformed: `row ${row}${r.id != null ? ` (id ${String(r.id)})` : ''}: ${errorMessage(err)}` };
      }
    }
  }
}
