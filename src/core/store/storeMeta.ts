import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Connection, Table } from '@lancedb/lancedb';
import { Field, Schema, Utf8 } from 'apache-arrow';
import { StoreMetaError, StoreVersionError } from '../errors';
import { looksLikeUri } from './location';
import { CURRENT_SCHEMA_VERSION } from './schema';

export const META_FILE = 'store.json';

/** What a store remembers about itself: layout version, and which embedder made its vectors. */
export interface StoreMeta {
  schemaVersion: number;
  dim: number;
  embedder: string;
  createdAt: number;
  migratedAt?: number;
}

/** A folder store's meta file; undefined for a remote store (its meta is in the store: {@link remoteMetaStore}). */
export async function readStoreMeta(dir: string): Promise<StoreMeta | undefined> {
  if (looksLikeUri(dir)) return undefined;
  let text: string;
  try {
    text = await fs.readFile(join(dir, META_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let meta: Partial<StoreMeta>;
  try {
    meta = JSON.parse(text) as Partial<StoreMeta>;
  } catch {
    throw new StoreMetaError(`${join(dir, META_FILE)} is not valid JSON; restore it from a backup or remove it to let Memory Lane re-detect the store`);
  }
  return checkedMeta(meta, join(dir, META_FILE), dir);
}

function checkedMeta(meta: Partial<StoreMeta>, where: string, store: string): StoreMeta {
  if (typeof meta.schemaVersion !== 'number' || typeof meta.dim !== 'number') {
    throw new StoreMetaError(`${where} lacks schemaVersion/dim`);
  }
  if (meta.schemaVersion > CURRENT_SCHEMA_VERSION) throw new StoreVersionError(meta.schemaVersion, CURRENT_SCHEMA_VERSION, store);
  return { embedder: 'unknown', createdAt: 0, ...meta } as StoreMeta;
}

/** Where a store keeps its meta: the folder's store.json, or a remote store's own meta table. */
export interface StoreMetaStore {
  read(): Promise<StoreMeta | undefined>;
  /** `create`: only if the store has no meta yet (concurrent creators on other machines: the first wins). */
  write(meta: StoreMeta, mode?: 'create' | 'replace'): Promise<void>;
}

export function folderMetaStore(dir: string): StoreMetaStore {
  return { read: () => readStoreMeta(dir), write: (meta) => writeStoreMeta(dir, meta) };
}

/** The one-row table beside `memories` in which a remote store keeps its meta (a file would be per machine). */
export const META_TABLE = 'store_meta';

/**
 * A remote store's meta, in a LanceDB table of the same store: shared by every machine and committed
 * through the same coordination as the memories. Concurrent creators: the first committed row wins
 * (an insert-only merge), every machine then reads that one.
 */
export function remoteMetaStore(db: Connection, label: string): StoreMetaStore {
  let table: Table | undefined;
  const open = async (create: boolean): Promise<Table | undefined> => {
    if (table) return table;
    table = await openIfExists(db, META_TABLE);
    if (!table && create) table = await db.createEmptyTable(META_TABLE, metaSchema(), { existOk: true });
    return table;
  };
  return {
    async read() {
      const t = await open(false);
      if (!t) return undefined;
      const rows = await t.query().where(`key = 'meta'`).limit(1).toArray();
      if (!rows.length) return undefined;
      let meta: Partial<StoreMeta>;
      try {
        meta = JSON.parse(String(rows[0]!.json)) as Partial<StoreMeta>;
      } catch {
        throw new StoreMetaError(`The meta table of ${label} holds invalid JSON`);
      }
      return checkedMeta(meta, `the meta table of ${label}`, label);
    },
    async write(meta, mode = 'replace') {
      const t = (await open(true))!;
      const merge = t.mergeInsert('key');
      await (mode === 'create' ? merge : merge.whenMatchedUpdateAll()).whenNotMatchedInsertAll().execute([{ key: 'meta', json: JSON.stringify(meta) }]);
    },
  };
}

/**
 * Opens a table, or undefined when there is none. By trying to open it, not by `tableNames()`:
 * on an S3-compatible store the listing can come back empty (s3rver) although the table is there.
 */
export async function openIfExists(db: Connection, name: string): Promise<Table | undefined> {
  try {
    return await db.openTable(name);
  } catch (err) {
    if (/not found|does not exist|no such/i.test(err instanceof Error ? err.message : String(err))) return undefined;
    throw err;
  }
}

function metaSchema(): Schema {
  return new Schema([new Field('key', new Utf8(), false), new Field('json', new Utf8(), false)]);
}

/** Written only under the store lock; atomic (tmp + rename) so readers never see half a file. */
export async function writeStoreMeta(dir: string, meta: StoreMeta): Promise<void> {
  const path = join(dir, META_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(JSON.stringify(meta, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, path);
}
