import type { Table } from '@lancedb/lancedb';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import type { MaintenanceOptions, MaintenanceReport } from './maintenance';
import { SEARCH_TEXT_COLUMN } from './searchText';

export interface MaintenanceSchedule extends MaintenanceOptions {
  /** Maintenance after this many commits of this process (default 200). */
  everyCommits?: number;
  /** Maintenance when this many small fragments pile up (default 64). */
  smallFragments?: number;
  /** Off: maintenance runs only when asked (tests, the CLI's `optimize`). */
  auto?: boolean;
}

/** Fragment counts cost a table read: look every this many commits. */
const COMMITS_PER_FRAGMENT_CHECK = 50;

/**
 * Decides when the store's maintenance runs. It never runs it itself: it asks for `optimize(reason)`,
 * which queues maintenance at background priority, behind the interactive writes waiting now.
 */
export class MaintenanceScheduler {
  readonly options: Required<Omit<MaintenanceSchedule, keyof MaintenanceOptions>> & MaintenanceOptions;
  private commitsSinceMaintenance = 0;
  private indexesKnownPresent = false;

  constructor(options: MaintenanceSchedule, private readonly table: () => Table, private readonly optimize: (reason: string) => Promise<MaintenanceReport>, private readonly log: Logger) {
    this.options = { everyCommits: 200, smallFragments: 64, auto: true, ...options };
  }

  /** Called by the committer after each group commit (under the lock; nothing here waits for it). */
  afterCommit(): void {
    this.commitsSinceMaintenance++;
    if (!this.options.auto) return;
    if (!this.indexesKnownPresent) void this.scheduleIndexesIfMissing();
    // Every commit adds a fragment; many small ones slow every read and write (docs/lancedb.md#every-write-adds-a-version-and-a-fragment).
    if (this.commitsSinceMaintenance % COMMITS_PER_FRAGMENT_CHECK === 0) void this.scheduleIfFragmented();
    if (this.commitsSinceMaintenance >= this.options.everyCommits) {
      this.commitsSinceMaintenance = 0;
      void this.optimize('write count').catch((err) => this.log.warn(`maintenance failed: ${errorMessage(err)}`));
    }
  }

  /** Maintenance ran (asked for by anyone): the count starts again. */
  ran(): void {
    this.commitsSinceMaintenance = 0;
  }

  /** Identity lookups must be index-backed (docs/lessons.md#identity-lookups-are-index-backed): build missing indexes soon after the first rows land. */
  private async scheduleIndexesIfMissing(): Promise<void> {
    this.indexesKnownPresent = true;
    try {
      const columns = new Set((await this.table().listIndices()).flatMap((i) => i.columns));
      if (!columns.has('id') || !columns.has(SEARCH_TEXT_COLUMN) || !columns.has('scope')) await this.optimize('build indexes');
    } catch (err) {
      this.indexesKnownPresent = false;
      this.log.warn(`index check failed: ${errorMessage(err)}`);
    }
  }

  private async scheduleIfFragmented(): Promise<void> {
    try {
      const { fragmentStats } = await this.table().stats();
      if (fragmentStats.numSmallFragments >= this.options.smallFragments) await this.optimize('small fragments');
    } catch (err) {
      this.log.warn(`fragment check failed: ${errorMessage(err)}`);
    }
  }
}
