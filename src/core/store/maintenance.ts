import { Index, type Table } from '@lancedb/lancedb';
import { failpoint } from '../failpoints';
import type { Logger } from '../log';
import { retryCommit } from './commitRetry';
import { SEARCH_TEXT_COLUMN } from './searchText';
import { isPrunedFileError, pruneCutoff, readersFloor } from './readPins';

/** The job lock that keeps maintenance to one process at a time per store (jobLock.ts). */
export const MAINTENANCE_JOB = 'maintenance';

/**
 * How long a version is kept after it stopped being the latest. A short read leases what it reads
 * after its first second (readPins.ts), so this covers that second, the lease's write, and event-loop
 * stalls of a loaded laptop. Each version kept costs every maintenance pass a manifest read: at
 * 40 commits/s, a 60 s margin kept ~2,400 versions and made a pass take 1–1.5 s (BENCHMARKS.md §12).
 */
export const DEFAULT_CLEANUP_MARGIN_MS = 10_000;

export interface MaintenanceOptions {
  /**
   * A version is pruned only once the version after it has been committed for this long, so a
   * short read that opened it as the latest has leased it first (default 10 s); versions pinned by
   * long readers and those leased short reads still need are kept too (readPins.ts). Pruning by
   * creation time alone, or too soon, makes readers and writers in other processes fail ("manifest
   * was not found", docs/lancedb.md#version-cleanup-and-readers).
   */
  cleanupMarginMs?: number;
  /** This machine's state folder, where readers pin versions and lease reads; without it only the margin protects readers. */
  dir?: string;
  /**
   * Run maintenance beside the writers instead of under the store lock (default false). Safe (the
   * races in test/integration/store.maintenance.test.ts), but on a loaded 2-core machine it lost:
   * compaction competes with the commits for the CPU and its rewrites pre-empt counter patches, so
   * writes got slower, not faster (BENCHMARKS.md, "Maintenance off the lock").
   */
  offLock?: boolean;
}

export interface MaintenanceReport {
  reason?: string;
  ms: number;
  /**
   * Whether it ran under the store lock: only when compaction off the lock lost to concurrent
   * commits on every retry (see MemoryStore.optimize).
   */
  underLock?: boolean;
  /** Set when nothing ran because another process's maintenance of this store was running. */
  skipped?: string;
  indexesCreated: string[];
  fragmentsRemoved: number;
  fragmentsAdded: number;
  versionsPruned: number;
  bytesRemoved: number;
  attempts: number;
}

/**
 * One maintenance pass: indexes, compaction, index upkeep and pruning. `optimize()` is a commit like
 * any other: run beside writers in other processes it can lose to them with a retryable conflict
 * (docs/lancedb.md#optimize-and-writers), and is then run again on the new head, within the
 * commit-retry budget. The store runs it under the store lock (docs/lessons.md#optimize-under-the-lock),
 * or with `offLock` beside the writers, one process at a time (MAINTENANCE_JOB). Never `deleteUnverified`:
 * it can corrupt tables (docs/lancedb.md#version-cleanup-and-readers). Identity lookups must be index-backed (docs/lessons.md#identity-lookups-are-index-backed): the BTREE on
 * `id` and the FTS index on `search_text` are created here once the table has rows.
 */
export async function runMaintenance(table: Table, options: MaintenanceOptions, log: Logger): Promise<MaintenanceReport> {
  const started = Date.now();
  // An index build in another process (the vector index, off the lock) can pre-empt these too.
  const { value: indexesCreated } = await retryCommit('index creation', () => ensureIndexes(table, log), log);
  await failpoint('maintenance.beforeOptimize');
  // Computed once, not per attempt: a cutoff from an older version list only keeps more, and a pin
  // or lease written meanwhile belongs to a read that started after the margin's boundary. The
  // readers are read after the clock: a read old enough to lose its version to the margin has had
  // its lease on disk since well before.
  const versions = await listVersionsSafely(table);
  const now = Date.now();
  const readers = options.dir ? await readersFloor(options.dir, now) : {};
  const cutoff = pruneCutoff(versions, options.cleanupMarginMs ?? DEFAULT_CLEANUP_MARGIN_MS, readers.version, now, readers.since);
  const { value: stats, attempts } = await retryCommit('maintenance', async () => {
    // Nothing may go yet: the epoch prunes nothing (omitting the option would mean LanceDB's 7 days).
    const result = await table.optimize({ cleanupOlderThan: cutoff ?? new Date(0) });
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

/**
 * `listVersions()` reads every version's manifest; one that another process's maintenance prunes
 * meanwhile makes it fail with "Not found: …/_versions/….manifest" (seen by bench/sustainedWrites.ts
 * after ~4 minutes at 50 stores/s). A fresh listing no longer names the pruned version.
 */
export async function listVersionsSafely(table: Table): Promise<Awaited<ReturnType<Table['listVersions']>>> {
  // A pass prunes hundreds of manifests one by one: successive listings can each meet one going,
  // so pause between tries (5 immediate tries were not enough in the sustained-write benchmark).
  for (let attempt = 1; ; attempt++) {
    try {
      return await table.listVersions();
    } catch (err) {
      if (attempt >= 20 || !isPrunedFileError(err)) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

export async function ensureIndexes(table: Table, log: Logger): Promise<string[]> {
  if ((await table.countRows()) === 0) return [];
  const indices = await table.listIndices();
  const present = new Set(indices.flatMap((i) => i.columns));
  const created: string[] = [];
  if (!present.has('id')) {
    await table.createIndex('id', { config: Index.btree() });
    created.push('id (btree)');
  }
  // Full-text search reads the derived search text (store/searchText.ts); a table without that
  // column (not migrated: only a foreign caller's) keeps its index on `text`.
  const ftsColumn = (await table.schema()).fields.some((f) => f.name === SEARCH_TEXT_COLUMN) ? SEARCH_TEXT_COLUMN : 'text';
  if (!present.has(ftsColumn)) {
    await table.createIndex(ftsColumn, { config: Index.fts() });
    created.push(`${ftsColumn} (fts)`);
  }
  // A schema-v1 store's FTS index on `text`: recall no longer searches it, it would only cost upkeep
  // at every optimize. Dropped once its replacement exists.
  if (ftsColumn !== 'text') {
    for (const old of indices.filter((i) => i.columns.includes('text') && /fts|inverted/i.test(i.indexType))) {
      await table.dropIndex(old.name);
      created.push(`dropped ${old.name} (fts on text)`);
    }
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
