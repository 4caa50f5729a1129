import { Index, type Table } from '@lancedb/lancedb';
import { failpoint } from '../failpoints';
import type { Logger } from '../log';
import { retryCommit } from './commitRetry';

export interface MaintenanceOptions {
  /**
   * Versions younger than this are kept. Pruning recent versions makes readers and writers in
   * other processes fail ("manifest was not found"), docs/lancedb.md#version-cleanup-and-readers; 10 minutes measured safe.
   */
  cleanupMarginMs?: number;
}

export interface MaintenanceReport {
  reason?: string;
  ms: number;
  indexesCreated: string[];
  fragmentsRemoved: number;
  fragmentsAdded: number;
  versionsPruned: number;
  bytesRemoved: number;
  attempts: number;
}

/**
 * Runs only under the store lock (called by the store's committer): `optimize()` is a commit like
 * any other and races writers in other processes otherwise (docs/lessons.md#optimize-under-the-lock). Never `deleteUnverified`:
 * it can corrupt tables (docs/lancedb.md#version-cleanup-and-readers). Identity lookups must be index-backed (docs/lessons.md#identity-lookups-are-index-backed): the BTREE on
 * `id` and the FTS index on `text` are created here once the table has rows.
 */
export async function runMaintenance(table: Table, options: MaintenanceOptions, log: Logger): Promise<MaintenanceReport> {
  const started = Date.now();
  const indexesCreated = await ensureIndexes(table, log);
  await failpoint('maintenance.beforeOptimize');
  const { value: stats, attempts } = await retryCommit('maintenance', async () => {
    const result = await table.optimize({ cleanupOlderThan: new Date(Date.now() - (options.cleanupMarginMs ?? 10 * 60_000)) });
    await failpoint('maintenance.afterOptimize');
    return result;
  }, log);
  const report: MaintenanceReport = {
    ms: Date.now() - started,
    indexesCreated,
    fragmentsRemoved: stats.compaction.fragmentsRemoved,
    fragmentsAdded: stats.compaction.fragmentsAdded,
    versionsPruned: stats.prune.oldVersionsRemoved,
    bytesRemoved: stats.prune.bytesRemoved,
    attempts,
  };
  log.info(`maintenance: ${report.fragmentsRemoved}→${report.fragmentsAdded} fragments, ${report.versionsPruned} versions pruned in ${report.ms} ms`);
  return report;
}

export async function ensureIndexes(table: Table, log: Logger): Promise<string[]> {
  if ((await table.countRows()) === 0) return [];
  const present = new Set((await table.listIndices()).flatMap((i) => i.columns));
  const created: string[] = [];
  if (!present.has('id')) {
    await table.createIndex('id', { config: Index.btree() });
    created.push('id (btree)');
  }
  if (!present.has('text')) {
    await table.createIndex('text', { config: Index.fts() });
    created.push('text (fts)');
  }
  // Every recall prefilters by scope; without an index that filter scans the column and doubled
  // vector search (5 → 2.6 ms ANN, 9 → 2.6 ms flat) and FTS (11 → 1.7 ms) times at 10k rows. ~6 ms to build.
  if (!present.has('scope')) {
    await table.createIndex('scope', { config: Index.bitmap() });
    created.push('scope (bitmap)');
  }
  if (created.length) log.info(`created indexes: ${created.join(', ')}`);
  return created;
}
