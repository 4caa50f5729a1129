import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { StoreMetaError, StoreVersionError } from '../errors';
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

export async function readStoreMeta(dir: string): Promise<StoreMeta | undefined> {
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
  if (typeof meta.schemaVersion !== 'number' || typeof meta.dim !== 'number') {
    throw new StoreMetaError(`${join(dir, META_FILE)} lacks schemaVersion/dim`);
  }
  if (meta.schemaVersion > CURRENT_SCHEMA_VERSION) throw new StoreVersionError(meta.schemaVersion, CURRENT_SCHEMA_VERSION, dir);
  return { embedder: 'unknown', createdAt: 0, ...meta } as StoreMeta;
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
