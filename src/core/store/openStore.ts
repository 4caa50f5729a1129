import { promises as fs } from 'node:fs';
import * as lancedb from '@lancedb/lancedb';
import type { Connection, Table } from '@lancedb/lancedb';
import type { StoreLock } from '../concurrency/storeLock';
import { DimensionMismatchError, MemoryLaneError, RemoteStoreError, StoreMetaError, StoreUnavailableError, ValidationError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { StoreLocation } from './location';
import { migrateToV1, migrateToV2, vectorDimensionOf } from './migrations';
import { lanceSession } from './lanceSession';
import { lanceStorageOptions, redactRemoteSecrets, verifyRemoteStore, type RemoteConnection } from './remoteStore';
import { CURRENT_SCHEMA_VERSION, MEMORIES_TABLE, memoriesSchema } from './schema';
import { folderMetaStore, openIfExists, remoteMetaStore, type StoreMeta, type StoreMetaStore } from './storeMeta';

/** Opening a store folder: creating it, or migrating an older or foreign table forward. */

export interface OpenTableOptions {
  dim?: number;
  embedder?: string;
  create?: boolean;
}

/**
 * Opens (or creates, or migrates) the memories table in `root`. Creating and migrating are commits
 * like any other: only under the store lock, and re-checked once it is held.
 */
export async function openMemoriesTable(location: StoreLocation, options: OpenTableOptions, lock: StoreLock, log: Logger, remote?: RemoteConnection): Promise<{ db: Connection; table: Table; meta: StoreMeta }> {
  if (location.kind === 'folder') {
    await prepareFolder(location.uri, options.create !== false);
    return openAt(location.uri, await lancedb.connect(location.uri, { readConsistencyInterval: 0, session: lanceSession() }), folderMetaStore(location.uri), options, lock, log);
  }
  if (!remote) throw new RemoteStoreError('storePath', `No connection settings for ${location.label}`);
  // Refused before LanceDB writes anything: a store whose commits could overwrite each other loses memories silently.
  await verifyRemoteStore(location, remote);
  await fs.mkdir(location.stateDir, { recursive: true });
  const storageOptions = lanceStorageOptions(location, remote);
  let db: Connection | undefined;
  try {
    db = await lancedb.connect(location.uri, { readConsistencyInterval: 0, storageOptions, session: lanceSession() });
    return await openAt(location.label, db, remoteMetaStore(db, location.label), options, lock, log);
  } catch (err) {
    db?.close();
    if (err instanceof MemoryLaneError) throw err;
    // LanceDB's errors may quote request details: never let a credential through.
    throw new StoreUnavailableError(redactRemoteSecrets(`Cannot open ${location.label}: ${errorMessage(err)}`, remote));
  }
}

async function openAt(root: string, db: Connection, metaStore: StoreMetaStore, options: OpenTableOptions, lock: StoreLock, log: Logger): Promise<{ db: Connection; table: Table; meta: StoreMeta }> {
  let meta = await metaStore.read();
  let table: Table | undefined;
  const existing = await openIfExists(db, MEMORIES_TABLE);
  if (meta && meta.schemaVersion >= CURRENT_SCHEMA_VERSION && existing) {
    table = existing;
  } else {
    existing?.close();
    if (options.create === false && !existing) {
      throw new StoreUnavailableError(`No Memory Lane store at ${root}`);
    }
    const lease = await lock.acquire('open store', 30_000);
    try {
      ({ table, meta } = await createOrMigrate(db, root, metaStore, options, log));
    } finally {
      await lease.release();
    }
  }
  if (options.dim !== undefined && options.dim !== meta!.dim) {
    throw new DimensionMismatchError(meta!.dim, options.dim, `the embedder "${options.embedder ?? 'configured'}"`);
  }
  return { db, table, meta: meta! };
}

async function prepareFolder(root: string, create: boolean): Promise<void> {
  try {
    const st = await fs.stat(root);
    if (!st.isDirectory()) throw new StoreUnavailableError(`The store path ${root} is a file, not a folder`);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new StoreUnavailableError(`Cannot open the store folder ${root}: ${errorMessage(err)}`, { cause: err });
    if (!create) throw new StoreUnavailableError(`No Memory Lane store at ${root}`);
    try {
      await fs.mkdir(root, { recursive: true });
    } catch (mkErr) {
      throw new StoreUnavailableError(`Cannot create the store folder ${root}: ${errorMessage(mkErr)}`, { cause: mkErr });
    }
  }
  try {
    await fs.access(root, fs.constants?.R_OK ?? 4);
  } catch (err) {
    throw new StoreUnavailableError(`The store folder ${root} is not readable: ${errorMessage(err)}`, { cause: err });
  }
}

async function createOrMigrate(db: Connection, root: string, metaStore: StoreMetaStore, options: OpenTableOptions, log: Logger): Promise<{ table: Table; meta: StoreMeta }> {
  let meta = await metaStore.read();
  const found = await openIfExists(db, MEMORIES_TABLE);
  if (found) {
    const table = found;
    if (!meta) {
      // A table without our meta file: an earlier layout or a foreign (memory-lancedb-pro) table.
      await migrateToV1(table, log);
      await migrateToV2(table, log);
      const dim = await vectorDimensionOf(table);
      if (!dim) throw new StoreMetaError(`The table in ${root} has no fixed-size vector column; it cannot be used as a memory store`);
      meta = { schemaVersion: CURRENT_SCHEMA_VERSION, dim, embedder: options.embedder ?? 'unknown', createdAt: Date.now(), migratedAt: Date.now() };
      await metaStore.write(meta);
    } else if (meta.schemaVersion < CURRENT_SCHEMA_VERSION) {
      // Re-checked under the lock: another process may have migrated it meanwhile (then nothing is missing).
      await migrateToV2(table, log);
      meta = { ...meta, schemaVersion: CURRENT_SCHEMA_VERSION, migratedAt: Date.now() };
      await metaStore.write(meta);
    }
    return { table, meta };
  }
  const dim = meta?.dim ?? options.dim;
  if (!dim || !Number.isInteger(dim) || dim <= 0) throw new ValidationError('dim', 'a positive vector dimension is needed to create a store');
  // Stable row ids: compaction then keeps row ids, so it need not remap the vector (ANN) index. Without
  // them, every maintenance that compacted indexed fragments rewrote the HNSW index under the lock:
  // 4.3–8.2 s at 10k rows, 129 ms with them (retrieval/vectorIndex.ts). Only tables created from now on.
  const table = await db.createEmptyTable(MEMORIES_TABLE, memoriesSchema(dim), { existOk: true, storageOptions: { new_table_enable_stable_row_ids: 'true' } });
  if (!meta || meta.schemaVersion < CURRENT_SCHEMA_VERSION) {
    const fresh = !meta;
    meta = { ...(meta ?? { dim, embedder: options.embedder ?? 'unknown', createdAt: Date.now() }), schemaVersion: CURRENT_SCHEMA_VERSION };
    await metaStore.write(meta, fresh ? 'create' : 'replace');
    // Another machine may have created the store at the same moment (the lock is per machine): its
    // meta row, committed first, is the store's; read it back rather than trusting ours.
    meta = (await metaStore.read()) ?? meta;
  }
  log.info(`created store at ${root} (dim ${dim})`);
  return { table, meta };
}

