import { promises as fs } from 'node:fs';
import type { Table } from '@lancedb/lancedb';
import type { FileLockStatus } from '../concurrency/fileLock';
import type { QueueDepth } from '../concurrency/writeQueue';
import type { RepairAction } from './committer';
import { listVersionsSafely } from './maintenance';
import { fromRawRow, isLegacy, type RawRow } from './schema';
import type { StoreMeta } from './storeMeta';

/** Health checks of a store: integrity (`verify`) and the figures `stats` shows. Reads only. */

export interface RepairReport {
  actions: RepairAction[];
  /** What verify says after the repair (unreadable metadata and bad vectors are left for a person). */
  remaining: VerifyReport;
}

export interface VerifyReport {
  ok: boolean;
  rows: number;
  duplicateIds: string[];
  /**
   * Memories of one scope whose texts are the same (up to case, spacing and punctuation) under
   * different ids, e.g. stored by two processes at the same moment. Not damage, so `ok` does not
   * depend on it; `memory-lane consolidate` merges them.
   */
  exactDuplicates: string[][];
  badVectors: string[];
  badMetadata: string[];
  tornRows: string[];
}

export interface StoreStats {
  dir: string;
  schemaVersion: number;
  dim: number;
  embedder: string;
  rows: number;
  legacy: number;
  byScope: Record<string, number>;
  byCategory: Record<string, number>;
  byTier: Record<string, number>;
  diskBytes: number;
  versions: number;
  fragments: number;
  smallFragments: number;
  indexes: Array<{ name: string; type: string; columns: string[] }>;
  deadLetters: number;
  lock: FileLockStatus;
  queue: QueueDepth;
  lockAcquisitions: number;
  /** A remote store: where it is and how commits from several machines are kept apart. */
  remote?: RemoteStoreStatus;
}

export interface RemoteStoreStatus {
  endpoint: string;
  coordination: 'dynamodb' | 'conditional-put';
  /** DynamoDB commit table (s3+ddb://). */
  table?: string;
  /** This machine's folder for the lock, dead letters, pins and journals. */
  stateDir: string;
  /** Commit conflicts this process retried (other machines committed first), since it opened the store. */
  conflictsRetried: number;
}

type RowsReader = (columns: string[]) => Promise<RawRow[]>;

/** The form in which two texts count as the same memory: lower case, letters and digits, single spaces. */
export function normalizedText(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

export async function verifyRows(readRows: RowsReader, dim: number): Promise<VerifyReport> {
  const rows = await readRows(['id', 'text', 'scope', 'vector', 'metadata']);
  const sameText = new Map<string, Set<string>>();
  const seen = new Map<string, number>();
  const badVectors: string[] = [];
  const badMetadata: string[] = [];
  const tornRows: string[] = [];
  for (const raw of rows) {
    const id = String(raw.id ?? '');
    seen.set(id, (seen.get(id) ?? 0) + 1);
    if (!id || typeof raw.text !== 'string') tornRows.push(id);
    const vec = raw.vector == null ? [] : Array.from(raw.vector as Iterable<number>);
    if (vec.length !== dim || vec.some((x) => !Number.isFinite(x))) badVectors.push(id);
    if ('_unparsed' in fromRawRow(raw).metadata) badMetadata.push(id);
    if (id && typeof raw.text === 'string') {
      const key = `${String(raw.scope)}\n${normalizedText(raw.text)}`;
      sameText.set(key, (sameText.get(key) ?? new Set()).add(id));
    }
  }
  const exactDuplicates = [...sameText.values()].filter((ids) => ids.size > 1).map((ids) => [...ids].sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
  const duplicateIds = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  return { ok: duplicateIds.length + badVectors.length + badMetadata.length + tornRows.length === 0, rows: rows.length, duplicateIds, exactDuplicates, badVectors, badMetadata, tornRows };
}

export async function collectStats(
  store: { dir: string; meta: StoreMeta; table: Table; readRows: RowsReader; openDeadLetters: () => Promise<number>; lock: () => Promise<FileLockStatus>; queue: QueueDepth; lockAcquisitions: number; remote?: RemoteStoreStatus },
): Promise<StoreStats> {
  const rows = await store.readRows(['scope', 'category', 'metadata']);
  const byScope: Record<string, number> = {};
  const byCategory: Record<string, number> = {};
  const byTier: Record<string, number> = {};
  let legacy = 0;
  for (const raw of rows) {
    const rec = fromRawRow(raw);
    byScope[rec.scope] = (byScope[rec.scope] ?? 0) + 1;
    byCategory[rec.category] = (byCategory[rec.category] ?? 0) + 1;
    const tier = typeof rec.metadata.tier === 'string' ? rec.metadata.tier : 'none';
    byTier[tier] = (byTier[tier] ?? 0) + 1;
    if (isLegacy(rec)) legacy++;
  }
  const tableStats = await store.table.stats();
  const indexes = await store.table.listIndices();
  return {
    dir: store.dir,
    schemaVersion: store.meta.schemaVersion,
    dim: store.meta.dim,
    embedder: store.meta.embedder,
    rows: rows.length,
    legacy,
    byScope,
    byCategory,
    byTier,
    // A remote store has no folder to walk: LanceDB's own count of the table's bytes.
    diskBytes: store.remote ? tableStats.totalBytes : await folderSize(store.dir),
    versions: (await listVersionsSafely(store.table)).length,
    fragments: tableStats.fragmentStats.numFragments,
    smallFragments: tableStats.fragmentStats.numSmallFragments,
    indexes: indexes.map((i) => ({ name: i.name, type: i.indexType, columns: i.columns })),
    deadLetters: await store.openDeadLetters(),
    lock: await store.lock(),
    queue: store.queue,
    lockAcquisitions: store.lockAcquisitions,
    ...(store.remote ? { remote: store.remote } : {}),
  };
}

export async function folderSize(dir: string): Promise<number> {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) total += await folderSize(p);
    else if (e.isFile()) total += (await fs.stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
