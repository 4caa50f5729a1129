import { Index } from '@lancedb/lancedb';
import { ExclusiveJobLock, type JobLease } from '../concurrency/jobLock';
import { BusyError, errorMessage } from '../errors';
import { Emitter } from '../events';
import type { Disposable } from '../lifecycle';
import { nullLogger, type Logger } from '../log';
import { isRetryableCommitError, retryCommit } from '../store/commitRetry';
import type { MemoryStore } from '../store/memoryStore';

export interface VectorIndexOptions {
  /** Build automatically when the table passes `threshold` rows (default true; the CLI turns it off). */
  auto?: boolean;
  /**
   * Rows at which the ANN index is built (default 20 000). Below it brute-force search meets the
   * recall target (measured ~13 ms p50 for the vector side at 10k × 384 dims; ~3 ms with
   * IVF_HNSW_SQ) and an index has a price: with a vector index present, every `optimize()` (the
   * store's maintenance, under the lock) also remaps and extends the index — 0.5–1.5 s at 10k rows
   * instead of ~0.1 s. At 100k brute force is far too slow (docs/lancedb.md#indexes: ~200 ms), so big stores pay it.
   */
  threshold?: number;
  /** Wait this long after the trigger before building, so a burst of writes finishes first (default 5 s). */
  idleDelayMs?: number;
  /** Rebuild when rows not yet covered exceed this share of the indexed rows (default 0.5). */
  rebuildUnindexedRatio?: number;
  logger?: Logger;
}

export type VectorIndexEvent =
  | { kind: 'started'; rows: number }
  | { kind: 'built'; rows: number; ms: number; attempts: number }
  | { kind: 'skipped'; reason: string }
  | { kind: 'failed'; reason: string };

export interface VectorIndexState {
  present: boolean;
  building: boolean;
  rows: number;
  indexedRows?: number;
  unindexedRows?: number;
  threshold: number;
}

const INDEX_NAME = 'vector_idx';
/** The build claim is a job lock (`vector-index.job.lock` beside the table), refreshed while the build runs. */
export const VECTOR_INDEX_JOB = 'vector-index';

/**
 * Builds the ANN index (IVF_HNSW_SQ, cosine) on `vector` in the background once the table is large
 * enough. The build is a LanceDB commit, but it deliberately runs OUTSIDE the store lock and the
 * write queue: it takes seconds (6 s at 10k, 171 s at 100k, docs/lancedb.md#indexes) and holding the lock that
 * long would stall every writer in every process. That is safe because of Lance's conflict rules
 * (lance docs/format/table/transaction.md, "CreateIndex compatibility"): an index records which
 * fragments it covers, so CreateIndex is compatible with concurrent Append, Update (our mergeInsert)
 * and Delete — rows added or rewritten meanwhile are simply "unindexed", and LanceDB searches them by
 * brute force and filters out deleted ones, so recall stays correct during and after the build.
 * The one conflicting operation is a Rewrite (compaction, i.e. the store's `optimize()` maintenance)
 * of fragments the index covers (unless the table has stable row ids): that is a *retryable*
 * conflict, so the loser retries — the store's maintenance retries itself, and this builder retries
 * the build (bounded) or tries again later. Seen in test/integration/recall.index.test.ts.
 *
 * Cancellation: `cancel()` stops a scheduled build, and between attempts. A native build already
 * running cannot be interrupted; nothing is committed until it finishes (Lance commits atomically),
 * so a process that exits mid-build leaves the table as it was and the next process builds again.
 * A job lock keeps two processes from building the same index at once (both would succeed —
 * the second replaces the first — but twice the CPU on a 2-core laptop); a builder that died is
 * taken over like any dead lock holder.
 */
export class VectorIndexBuilder implements Disposable {
  private readonly options: Required<Omit<VectorIndexOptions, 'logger'>>;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<VectorIndexEvent> | undefined;
  private cancelled = false;
  private conflictedBuilds = 0;
  private readonly _onEvent = new Emitter<VectorIndexEvent>();
  readonly onEvent = this._onEvent.event;

  constructor(private readonly store: MemoryStore, options: VectorIndexOptions = {}) {
    this.options = {
      auto: options.auto ?? true,
      threshold: options.threshold ?? 20_000,
      idleDelayMs: options.idleDelayMs ?? 5000,
      rebuildUnindexedRatio: options.rebuildUnindexedRatio ?? 0.5,
    };
    this.log = options.logger ?? nullLogger;
  }

  get building(): boolean {
    return this.running !== undefined;
  }

  /** Called after writes: schedules a check `idleDelayMs` later (if auto and none is scheduled). */
  poke(): void {
    if (!this.options.auto || this.running) return;
    this.retryLater(this.options.idleDelayMs);
  }

  private retryLater(delayMs: number): void {
    if (this.cancelled || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.build().catch(() => undefined);
    }, delayMs);
    this.timer.unref?.();
  }

  async state(): Promise<VectorIndexState> {
    const rows = await this.store.count();
    const index = (await this.store.table.listIndices()).find((i) => i.columns.includes('vector'));
    const state: VectorIndexState = { present: !!index, building: this.building, rows, threshold: this.options.threshold };
    if (index) {
      const stats = await this.store.table.indexStats(index.name);
      if (stats) { state.indexedRows = stats.numIndexedRows; state.unindexedRows = stats.numUnindexedRows; }
    }
    return state;
  }

  /**
   * Builds now if needed (or always with `force`), unless a build is running here or in another
   * process. Resolves with what happened; never throws for an expected reason.
   */
  build(options: { force?: boolean } = {}): Promise<VectorIndexEvent> {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    if (!this.running) {
      this.running = this.run(!!options.force).finally(() => { this.running = undefined; });
    }
    return this.running;
  }

  private async run(force: boolean): Promise<VectorIndexEvent> {
    const emit = (e: VectorIndexEvent) => { this._onEvent.fire(e); return e; };
    if (this.cancelled) return emit({ kind: 'skipped', reason: 'cancelled' });
    let state: VectorIndexState;
    try {
      state = await this.state();
    } catch (err) {
      return emit({ kind: 'failed', reason: errorMessage(err) });
    }
    if (!force) {
      if (state.rows < this.options.threshold) return emit({ kind: 'skipped', reason: `${state.rows} rows, below the threshold of ${this.options.threshold}` });
      if (state.present && (state.unindexedRows ?? 0) <= this.options.rebuildUnindexedRatio * (state.indexedRows ?? 0)) {
        return emit({ kind: 'skipped', reason: 'the index is present and up to date enough' });
      }
    }
    if (state.rows === 0) return emit({ kind: 'skipped', reason: 'the table is empty' });
    let claim: JobLease | undefined;
    try {
      claim = await this.claim();
    } catch (err) {
      return emit({ kind: 'failed', reason: `cannot claim the vector index build: ${errorMessage(err)}` });
    }
    if (!claim) return emit({ kind: 'skipped', reason: 'another process is building the vector index' });
    const started = Date.now();
    emit({ kind: 'started', rows: state.rows });
    await this.compactFirst();
    this.log.info(`building the vector index (IVF_HNSW_SQ, cosine) over ${state.rows} rows, outside the store lock`);
    try {
      const { attempts } = await retryCommit('vector index build', async () => {
        if (this.cancelled) throw new CancelledBuild();
        await this.store.table.createIndex('vector', {
          name: INDEX_NAME,
          replace: true,
          // One HNSW graph up to ~100k rows; more partitions only to bound training memory beyond.
          config: Index.hnswSq({ distanceType: 'cosine', numPartitions: Math.max(1, Math.round(state.rows / 100_000)) }),
        });
      }, this.log);
      const ms = Date.now() - started;
      this.conflictedBuilds = 0;
      this.log.info(`vector index built over ${state.rows} rows in ${ms} ms (attempt ${attempts})`);
      return emit({ kind: 'built', rows: state.rows, ms, attempts });
    } catch (err) {
      if (err instanceof CancelledBuild) return emit({ kind: 'skipped', reason: 'cancelled' });
      this.log.warn(`vector index build failed: ${errorMessage(err)}; recall keeps using brute-force search`);
      // Lost to compaction every time: try again later even if no further write pokes us.
      if (isRetryableCommitError(err) && this.options.auto && ++this.conflictedBuilds <= 3) this.retryLater(this.options.idleDelayMs + 2000 * 2 ** this.conflictedBuilds);
      return emit({ kind: 'failed', reason: errorMessage(err) });
    } finally {
      await claim.release();
    }
  }

  /**
   * Compacts the table (the store's own maintenance, under the lock, cheap while no vector index
   * exists) before the build. On a table without stable row ids (stores created before they were
   * enabled, migrated foreign tables), compacting fragments the index covers remaps the whole HNSW
   * index inside that maintenance: measured 4.3–8.2 s under the lock at 10k rows when the index had
   * been built over 2+ fragments, 15 ms when built over 1. Tables created by the store now have stable
   * row ids, where compaction needs no remap (129 ms with concurrent writes during the build).
   */
  private async compactFirst(): Promise<void> {
    for (let round = 0; round < 2; round++) {
      try {
        const { fragmentStats } = await this.store.table.stats();
        if (fragmentStats.numFragments <= 1) return;
        await this.store.optimize('compact before the vector index build');
      } catch (err) {
        this.log.debug(`compaction before the vector index build failed (${errorMessage(err)}); building anyway`);
        return;
      }
    }
  }

  /** The build claim; undefined when another live process builds. */
  private async claim(): Promise<JobLease | undefined> {
    try {
      return await new ExclusiveJobLock(this.store.dir, VECTOR_INDEX_JOB, { logger: this.log }).tryAcquire(`vector index build over ${this.store.dir}`);
    } catch (err) {
      if (err instanceof BusyError) return undefined;
      throw err;
    }
  }

  /** Stops scheduled builds; a running native build finishes (or dies with the process). */
  cancel(): void {
    this.cancelled = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
  }

  /** Resolves when no build is running (close waits for it at most `timeoutMs`). */
  async settle(timeoutMs = Infinity): Promise<void> {
    const running = this.running;
    if (!running) return;
    await Promise.race([running.then(() => undefined, () => undefined), new Promise<void>((r) => { const t = setTimeout(r, timeoutMs); t.unref?.(); })]);
  }

  dispose(): void {
    this.cancel();
    this._onEvent.dispose();
  }
}

/** Raised inside a build attempt when `cancel()` came first; not a conflict, never retried. */
class CancelledBuild extends Error {}
