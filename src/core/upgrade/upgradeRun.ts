import { randomUUID } from 'node:crypto';
import { ExclusiveJobLock, type JobLease } from '../concurrency/jobLock';
import { errorCode, errorMessage, MemoryLaneError } from '../errors';
import { Emitter, type Event } from '../events';
import { failpoint } from '../failpoints';
import type { Disposable } from '../lifecycle';
import { componentLogger, nullLogger, type Logger } from '../log';
import type { MemoryStore } from '../store/memoryStore';
import type { MemoryPatch } from '../store/patch';
import type { StoreJobClaim } from '../store/storeJobClaim';
import { resolveWriter, type Writer } from '../provenance';
import { fromRawRow } from '../store/schema';
import { sqlInList } from '../store/sql';
import { tokenCost } from '../usage/tokens';
import { SpendGuard, type BudgetName, type BudgetStop, type UpgradeBudget } from './budget';
import { UpgradeCheckpoint } from './checkpoint';
import type { UpgradeJob, UpgradePhase, UpgradeRow } from './job';
import { scanCandidates } from './scan';

/** Name of the per-store job lock shared by enrichment and re-embedding: one upgrade at a time. */
export const UPGRADE_JOB = 'upgrade';

export interface UpgradeRunOptions {
  /**
   * Rows per Phase 2 batch = per lock acquisition (default 200; keep ≤ the store's maxBatchRows,
   * 256, or the store splits it into several commits). A batch's lock hold is mostly fixed cost, so
   * bigger batches mean fewer encounters for other writers. Measured here (4000 rows, a plugin
   * process writing every 20 ms, loaded 2-core machine): 200 rows → upgrade 2.8–4.6 s, plugin
   * write p50 92–104 ms; 50 rows → 12–15 s and 127–158 ms.
   */
  batchSize?: number;
  /** Rows enriched in Phase 1 before their batches are written (default 5 batches). */
  windowSize?: number;
  signal?: AbortSignal;
  /** Report what would change: scans, prepares the first `previewLimit` rows, writes nothing, takes no lock. */
  dryRun?: boolean;
  previewLimit?: number;
  /** A row whose text keeps changing under us is retried this many times, then reported failed. */
  maxRequeues?: number;
  /**
   * After a run that rewrote at least this many rows, ask the store for its maintenance (compaction
   * and index update, one background commit under the lock). Upgraded rows live in new fragments the
   * id index does not cover yet: measured at 10k rows, get-by-id p50 went 5.7 → 18.7 ms after the
   * upgrade and back to 8 ms after maintenance (which held the lock ~0.5 s once). Default 1000; 0 = never.
   */
  optimizeAfterRows?: number;
  /** Stop after this many batches in a row failed to commit (the store is unavailable); default 3. */
  maxConsecutiveBatchFailures?: number;
  logger?: Logger;
  /** Stale time of the job lock (a frozen runner loses the job after this). */
  jobLockStaleMs?: number;
  /** Who runs it, recorded in each rewritten memory's history (kind `upgrade`; host, pid and time filled in). */
  writer?: Partial<Writer>;
  /** What a job that calls a model may spend (no limit by default); see UpgradeBudget. */
  budget?: UpgradeBudget;
}

export type { BudgetName, BudgetStop, UpgradeBudget } from './budget';

/** A dry run's forecast of what the run would spend, made before anything is spent. */
export interface SpendEstimate {
  tokens: { in: number; out: number };
  calls: number;
  rows: number;
  /** `measured`: tokens per row from the ledger's earlier calls of this provider and model; `estimate`: the characters/4 rule. */
  method: 'measured' | 'estimate';
  perRow: { in: number; out: number };
  cost?: number;
  /** Memories the budget would let through, when a budget is set and would stop the run. */
  budgetAllows?: { budget: BudgetName; rows: number };
}

export interface UpgradeProgress {
  runId: string;
  job: UpgradeJob['kind'];
  phase: UpgradePhase;
  /** Rows looked at by the scan. */
  scanned: number;
  /** Rows that need the job (as of the scan). */
  candidates: number;
  /** Rows prepared in Phase 1 (enriched / embedded), including ones taken from the checkpoint. */
  enriched: number;
  /** Rows written in Phase 2. */
  written: number;
  skipped: number;
  failed: number;
  fallbacks: number;
  batches: number;
  /** Rows written per second since the run started. */
  rate: number;
  /** Estimated time left, once a rate is known. */
  etaMs?: number;
  /** Tokens this run spent so far (prompt = in, completion = out), requests sent, and tokens per second. */
  tokens?: { in: number; out: number };
  calls?: number;
  tokenRate?: number;
  /** The run's budget, when one is set, and the cost so far at its price. */
  budget?: UpgradeBudget;
  cost?: number;
  at: number;
}

export interface UpgradeFailure {
  id: string;
  reason: string;
  /** Where the failure is kept in the store's dead-letter queue. */
  deadLetterId?: string;
}

export interface UpgradeResult {
  runId: string;
  job: UpgradeJob['kind'];
  dryRun: boolean;
  /** Stopped by the signal; only whole batches were written. Run again to resume. */
  cancelled: boolean;
  /** Stopped early for another reason (store unavailable, job lock lost). */
  aborted?: string;
  scanned: number;
  candidates: number;
  /** Rows written (in a dry run: rows that would be). */
  upgraded: number;
  /** Candidates that needed nothing in the end, by reason ("deleted", "already upgraded"). */
  skipped: number;
  skippedReasons: Record<string, number>;
  failed: UpgradeFailure[];
  /** Entries the LLM could not enrich that `local` enriched instead (reason in metadata.enrichment.fallbackReason). */
  fallbacks: number;
  /** Entries whose Phase 1 result came from the checkpoint of an interrupted run. */
  fromCheckpoint: number;
  /**
   * Upgraded rows that someone else wrote between our Phase 1 read and our Phase 2 write (their
   * revision moved on); the store merged our patch onto their change, so both were kept.
   */
  concurrentWrites: number;
  batches: number;
  ms: number;
  /** Dry run: a sample of the changes. */
  preview?: Array<Record<string, unknown>>;
  /** Tokens this run spent; `estimated` when some calls' tokens were estimated (no usage reported). */
  tokens: { in: number; out: number; estimated?: boolean };
  /** Model requests sent, retries included. */
  calls: number;
  /** The budget the run had (null: none). */
  budget: UpgradeBudget | null;
  /** Set when a budget stopped the run; only whole batches were written and a rerun resumes. */
  stoppedBy?: BudgetStop;
  /** Cost at the budget's price per 1k tokens, when one is given. */
  cost?: number;
  /** Dry run of a job that calls a model: what the run would spend (nothing was). */
  estimate?: SpendEstimate;
}

const COLUMNS = ['id', 'text', 'category', 'scope', 'importance', 'created_at', 'updated_at', 'rev', 'metadata'];

/**
 * One background upgrade of a store (docs/architecture.md#the-upgrader, docs/lessons.md#no-llm-call-under-the-lock), for any UpgradeJob:
 *
 *   scan (ids + metadata, no limit) → per window: Phase 1 prepare with NO lock → Phase 2 write the
 *   window as bounded batches of patch intents at background priority → next window.
 *
 * Phase 2 only submits intents to the store; the store takes the lock once per batch, re-reads each
 * row at the latest version and merges the patch onto it, and yields between batches. This class
 * never touches the store lock (it is not re-entrant). A cancelled run writes no partial batch;
 * a killed one loses at most the batch in flight (atomic: committed or not). Rerunning continues:
 * written rows are no longer candidates, and Phase 1 results of a costly job are in the checkpoint.
 */
export class UpgradeRun implements Disposable {
  readonly id = randomUUID();
  private readonly _onProgress = new Emitter<UpgradeProgress>();
  readonly onProgress: Event<UpgradeProgress> = this._onProgress.event;
  private readonly controller = new AbortController();
  private readonly log: Logger;
  private readonly o: Required<Omit<UpgradeRunOptions, 'signal' | 'logger' | 'jobLockStaleMs' | 'writer' | 'budget'>> & { jobLockStaleMs?: number };
  private readonly spend: SpendGuard;
  private estimate: SpendEstimate | undefined;
  private readonly writer: Partial<Writer>;
  private readonly started = Date.now();
  private phase: UpgradePhase = 'scan';
  private readonly counts = { scanned: 0, candidates: 0, enriched: 0, written: 0, skipped: 0, batches: 0, fromCheckpoint: 0, concurrentWrites: 0 };
  private readonly skippedReasons: Record<string, number> = {};
  private readonly failed: UpgradeFailure[] = [];
  private preview: Array<Record<string, unknown>> = [];
  private aborted: string | undefined;
  private lastProgressAt = 0;
  private _done: Promise<UpgradeResult> | undefined;

  constructor(private readonly store: MemoryStore, private readonly job: UpgradeJob & { readonly fallbacks?: number }, options: UpgradeRunOptions = {}) {
    const batchSize = Math.max(1, options.batchSize ?? 200);
    this.o = {
      batchSize,
      windowSize: Math.max(batchSize, options.windowSize ?? batchSize * 5),
      dryRun: options.dryRun === true,
      previewLimit: options.previewLimit ?? 20,
      maxRequeues: options.maxRequeues ?? 3,
      maxConsecutiveBatchFailures: options.maxConsecutiveBatchFailures ?? 3,
      optimizeAfterRows: Math.max(0, options.optimizeAfterRows ?? 1000),
      ...(options.jobLockStaleMs !== undefined ? { jobLockStaleMs: options.jobLockStaleMs } : {}),
    };
    this.log = componentLogger(options.logger ?? nullLogger, 'upgrade');
    this.spend = new SpendGuard(store.stateDir, options.budget, job.spender, this.log, () => this.id);
    this.writer = { ...options.writer, kind: 'upgrade' };
    resolveWriter(this.writer); // a bad writer fails here, not in the first batch
    if (options.signal) {
      if (options.signal.aborted) this.controller.abort(options.signal.reason);
      else options.signal.addEventListener('abort', () => this.controller.abort(options.signal!.reason), { once: true });
    }
  }

  /** Starts the run (once) and resolves with its result; rejects with BusyError (E_BUSY, `holder`) if another upgrade runs on this store. */
  run(): Promise<UpgradeResult> {
    this._done ??= this.execute().finally(() => this._onProgress.dispose());
    return this._done;
  }

  /** Stops after the batch in flight; `run()` then resolves with `cancelled: true`. */
  cancel(): void {
    this.controller.abort(new Error('cancelled'));
  }

  get progress(): UpgradeProgress {
    const elapsed = Math.max(1, Date.now() - this.started) / 1000;
    const rate = this.counts.written / elapsed;
    const remaining = Math.max(0, this.counts.candidates - this.counts.written - this.counts.skipped - this.failed.length);
    return {
      runId: this.id,
      job: this.job.kind,
      phase: this.phase,
      scanned: this.counts.scanned,
      candidates: this.counts.candidates,
      enriched: this.counts.enriched,
      written: this.counts.written,
      skipped: this.counts.skipped,
      failed: this.failed.length,
      fallbacks: this.fallbacks,
      batches: this.counts.batches,
      rate: Math.round(rate * 10) / 10,
      ...(rate > 0 && this.phase !== 'done' ? { etaMs: Math.round((remaining / rate) * 1000) } : {}),
      tokens: { in: this.meter.totals.in, out: this.meter.totals.out },
      calls: this.meter.totals.calls,
      tokenRate: Math.round(this.meter.tokens / elapsed),
      ...(this.budget ? { budget: this.budget } : {}),
      ...(tokenCost(this.meter.tokens, this.budget?.pricePer1k) !== undefined ? { cost: tokenCost(this.meter.tokens, this.budget?.pricePer1k)! } : {}),
      at: Date.now(),
    };
  }

  dispose(): void {
    this.cancel();
    this._onProgress.dispose();
  }

  private get budget(): UpgradeBudget | undefined {
    return this.spend.budget;
  }

  private get meter() {
    return this.spend.meter;
  }

  private get stoppedBy(): BudgetStop | undefined {
    return this.spend.stoppedBy;
  }

  private get fallbacks(): number {
    return this.job.fallbacks ?? 0;
  }

  private get signal(): AbortSignal {
    return this.controller.signal;
  }

  private setPhase(phase: UpgradePhase): void {
    this.phase = phase;
    this.emit(true);
  }

  private emit(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastProgressAt < 250) return;
    this.lastProgressAt = now;
    this._onProgress.fire(this.progress);
  }

  private async execute(): Promise<UpgradeResult> {
    let lease: JobLease | undefined;
    let storeClaim: StoreJobClaim | undefined;
    if (!this.o.dryRun) {
      const jobLock = new ExclusiveJobLock(this.store.stateDir, UPGRADE_JOB, {
        ...(this.o.jobLockStaleMs !== undefined ? { staleMs: this.o.jobLockStaleMs } : {}),
        logger: this.log,
        onCompromised: (reason) => {
          this.aborted = `another process took over the upgrade job (${reason})`;
          this.controller.abort(new Error(this.aborted));
        },
      });
      lease = await jobLock.tryAcquire(this.job.label);
      try {
        // A team store: the job lock above is this machine's; the claim keeps other machines out too.
        storeClaim = await this.store.claimStoreJob(UPGRADE_JOB, this.job.label, (reason) => {
          this.aborted = `another machine took over the upgrade job (${reason})`;
          this.controller.abort(new Error(this.aborted));
        });
      } catch (err) {
        await lease.release();
        throw err;
      }
    }
    try {
      this.log.info(`${this.job.label}: run ${this.id} started${this.o.dryRun ? ' (dry run)' : ''}`);
      this.setPhase('scan');
      const scan = await scanCandidates(this.store, (m) => this.job.needs(m), this.signal, (scanned, candidates) => {
        this.counts.scanned = scanned;
        this.counts.candidates = candidates;
        this.emit();
      });
      this.counts.scanned = scan.scanned;
      this.counts.candidates = scan.ids.length;
      if (this.o.dryRun) await this.dryRun(scan.ids);
      else if (!this.signal.aborted) await this.upgrade(scan.ids);
      if (!this.o.dryRun && this.aborted === undefined && this.o.optimizeAfterRows > 0 && this.counts.written >= this.o.optimizeAfterRows) {
        try {
          await this.store.optimize('after upgrade');
        } catch (err) {
          this.log.warn(`maintenance after the upgrade failed (the store's own maintenance will retry): ${errorMessage(err)}`);
        }
      }
      return this.result();
    } catch (err) {
      // The store closed under us (a window shutting down without cancelling the run first):
      // whole batches are written, the rest stays legacy for the next run. Anything else is a bug
      // or an unusable store and is raised.
      if (errorCode(err) !== 'E_STORE_UNAVAILABLE' && !/\bis closed\b/.test(errorMessage(err))) throw err;
      this.aborted = `the store was closed: ${errorMessage(err)}`;
      this.controller.abort(err);
      return this.result();
    } finally {
      this.phase = 'done';
      this.emit(true);
      await storeClaim?.release();
      await lease?.release();
      this.log.info(`${this.job.label}: run ${this.id} ${this.signal.aborted || this.stoppedBy ? 'stopped' : 'finished'}: ${this.counts.written} written, ${this.counts.skipped} skipped, ${this.failed.length} failed, ${this.counts.batches} batches in ${Date.now() - this.started} ms${this.meter.totals.calls ? `; ${this.meter.totals.in} + ${this.meter.totals.out} tokens in ${this.meter.totals.calls} calls` : ''}${this.stoppedBy ? ` — ${this.stoppedBy.message}` : ''}`);
    }
  }

  private result(): UpgradeResult {
    return {
      runId: this.id,
      job: this.job.kind,
      dryRun: this.o.dryRun,
      cancelled: this.signal.aborted && this.aborted === undefined,
      ...(this.aborted !== undefined ? { aborted: this.aborted } : {}),
      scanned: this.counts.scanned,
      candidates: this.counts.candidates,
      upgraded: this.counts.written,
      skipped: this.counts.skipped,
      skippedReasons: { ...this.skippedReasons },
      failed: [...this.failed],
      fallbacks: this.fallbacks,
      fromCheckpoint: this.counts.fromCheckpoint,
      concurrentWrites: this.counts.concurrentWrites,
      batches: this.counts.batches,
      ms: Date.now() - this.started,
      ...(this.o.dryRun ? { preview: this.preview } : {}),
      ...this.spend.resultFields(),
      ...(this.estimate ? { estimate: this.estimate } : {}),
    };
  }

  private skip(id: string, reason: string): void {
    this.counts.skipped++;
    this.skippedReasons[reason] = (this.skippedReasons[reason] ?? 0) + 1;
    this.log.trace(`skip ${id}: ${reason}`);
  }

  /** Reads a page of rows at the latest version (no vectors); rows gone or no longer needing the job are skipped. */
  private async fetchRows(ids: string[]): Promise<UpgradeRow[]> {
    const raw = await this.store.rows(`id IN ${sqlInList(ids)}`, { columns: COLUMNS });
    const byId = new Map<string, UpgradeRow>();
    for (const r of raw) {
      const rec = fromRawRow(r);
      const seen = byId.get(rec.id);
      if (!seen || rec.rev > seen.rev) byId.set(rec.id, rec);
    }
    const rows: UpgradeRow[] = [];
    for (const id of ids) {
      const row = byId.get(id);
      if (!row) this.skip(id, 'deleted');
      else if (!this.job.needs(row.metadata)) this.skip(id, 'already upgraded');
      else rows.push(row);
    }
    return rows;
  }

  private async dryRun(ids: string[]): Promise<void> {
    this.counts.written = 0;
    if (this.job.spender) return this.dryRunEstimate(ids);
    const sample = ids.slice(0, this.o.previewLimit);
    if (sample.length === 0) return;
    this.setPhase(this.job.prepPhase);
    const rows = await this.fetchRows(sample);
    const prepared = await this.job.prepare(rows, this.signal, (n) => { this.counts.enriched += n; });
    this.preview = prepared.map((p) => ('patch' in p ? p.preview ?? { id: p.id } : 'fail' in p ? { id: p.id, wouldFail: p.fail } : { id: p.id, skip: p.skip }));
    // Candidates that were deleted or upgraded since the scan are already counted as skipped.
    this.counts.written = ids.length - this.counts.skipped;
  }

  /**
   * The dry run of a job that calls a model calls none: it forecasts the spend from the tokens per
   * row the ledger measured for this provider and model, or (before any) from the estimate rule
   * applied to each candidate's text.
   */
  private async dryRunEstimate(ids: string[]): Promise<void> {
    const spender = this.job.spender!;
    this.setPhase(this.job.prepPhase);
    const measured = await this.measuredPerRow();
    let tokensIn = 0, tokensOut = 0, rows = 0;
    for (let i = 0; i < ids.length && !this.signal.aborted; i += 500) {
      const page = await this.fetchRows(ids.slice(i, i + 500));
      for (const row of page) {
        const e = measured ?? spender.estimateRow(row);
        tokensIn += e.in;
        tokensOut += e.out;
        rows++;
        if (this.preview.length < this.o.previewLimit) this.preview.push({ id: row.id, estimatedTokens: Math.round(e.in + e.out) });
      }
    }
    const perRow = rows ? { in: Math.round(tokensIn / rows), out: Math.round(tokensOut / rows) } : { in: 0, out: 0 };
    const estimate: SpendEstimate = { tokens: { in: Math.round(tokensIn), out: Math.round(tokensOut) }, calls: rows, rows, method: measured ? 'measured' : 'estimate', perRow };
    const total = estimate.tokens.in + estimate.tokens.out;
    const cost = tokenCost(total, this.budget?.pricePer1k);
    if (cost !== undefined) estimate.cost = cost;
    const per = perRow.in + perRow.out;
    const b = this.budget;
    if (b && per > 0) {
      const today = b.dailyTokens ? await this.spend.backgroundTokensToday() : 0;
      const limits: Array<[BudgetName, number]> = [];
      if (b.tokens) limits.push(['tokenBudget', Math.floor(b.tokens / per)]);
      if (b.calls) limits.push(['maxCalls', b.calls]);
      if (b.dailyTokens) limits.push(['dailyTokenBudget', Math.floor(Math.max(0, b.dailyTokens - today) / per)]);
      const tightest = limits.sort((x, y) => x[1] - y[1])[0];
      if (tightest && tightest[1] < rows) estimate.budgetAllows = { budget: tightest[0], rows: tightest[1] };
    }
    this.estimate = estimate;
    this.counts.written = ids.length - this.counts.skipped;
  }

  private measuredPerRow(): Promise<{ in: number; out: number } | undefined> {
    return this.spend.measuredPerUnit();
  }

  private allowance(rows: UpgradeRow[]): Promise<number> {
    const spender = this.job.spender;
    return spender ? this.spend.allowance(rows, (r) => spender.estimateRow(r)) : Promise.resolve(rows.length);
  }

  private recordSpend(): Promise<void> {
    return this.spend.recordSpend();
  }

  private finishBudgetStop(): Promise<void> {
    return this.spend.finishStop();
  }

  private async upgrade(ids: string[]): Promise<void> {
    const checkpoint = this.job.checkpointKey ? await UpgradeCheckpoint.open(this.store.stateDir, this.job.checkpointKey) : undefined;
    if (checkpoint?.size) this.log.info(`resuming with ${checkpoint.size} prepared entries from the checkpoint`);
    const work = [...ids];
    const requeues = new Map<string, number>();
    let consecutiveBatchFailures = 0;
    for (let next = 0; next < work.length && !this.signal.aborted && !this.stoppedBy; ) {
      const windowIds = work.slice(next, next + this.o.windowSize);
      next += windowIds.length;

      // ---- Phase 1: prepare, no lock ------------------------------------------------------
      this.setPhase(this.job.prepPhase);
      const rows = await this.fetchRows(windowIds);
      const seenRev = new Map(rows.map((r) => [r.id, r.rev]));
      const patches: MemoryPatch[] = [];
      const toPrepare: UpgradeRow[] = [];
      for (const row of rows) {
        const spooled = checkpoint?.take(row.id, row.text);
        if (spooled) {
          patches.push(spooled);
          this.counts.fromCheckpoint++;
          this.counts.enriched++;
        } else {
          toPrepare.push(row);
        }
      }
      // A costly job prepares batch by batch, each checked against the budgets first, so a budget
      // stops the run at a batch boundary; spend reaches the ledger after each batch.
      const prepared = [];
      const step = this.job.spender ? this.o.batchSize : Math.max(1, toPrepare.length);
      for (let i = 0; i < toPrepare.length && !this.signal.aborted && !this.stoppedBy; ) {
        let chunk = toPrepare.slice(i, i + step);
        if (this.job.spender) chunk = chunk.slice(0, await this.allowance(chunk));
        if (chunk.length === 0) break;
        i += chunk.length;
        prepared.push(...await this.job.prepare(chunk, this.signal, (n) => { this.counts.enriched += n; this.emit(); }, this.meter.record));
        await this.recordSpend();
      }
      const fresh: MemoryPatch[] = [];
      const phase1Failures: UpgradeFailure[] = [];
      for (const p of prepared) {
        if ('patch' in p) fresh.push(p.patch);
        else if ('skip' in p) this.skip(p.id, p.skip);
        else phase1Failures.push({ id: p.id, reason: p.fail });
      }
      await checkpoint?.append(fresh);
      patches.push(...fresh);
      await this.recordFailures(phase1Failures, 'prepare');
      await failpoint('upgrade.afterPhase1');
      if (this.signal.aborted) break;

      // ---- Phase 2: write whole batches, one lock acquisition each (taken by the store) -----
      this.setPhase('write');
      patches.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      for (let i = 0; i < patches.length; i += this.o.batchSize) {
        if (this.signal.aborted) break;
        const batch = patches.slice(i, i + this.o.batchSize);
        const ok = await this.writeBatch(batch, seenRev, (id) => {
          const n = (requeues.get(id) ?? 0) + 1;
          requeues.set(id, n);
          if (n > this.o.maxRequeues) return false;
          work.push(id);
          return true;
        });
        consecutiveBatchFailures = ok ? 0 : consecutiveBatchFailures + 1;
        if (consecutiveBatchFailures >= this.o.maxConsecutiveBatchFailures) {
          this.aborted = `${consecutiveBatchFailures} batches in a row could not be written; stopped (see the dead-letter queue)`;
          this.controller.abort(new Error(this.aborted));
        }
        this.emit(true);
        await failpoint('upgrade.afterBatch');
        await failpoint(`upgrade.afterBatch.${this.counts.batches}`);
      }
    }
    await this.recordSpend();
    await this.finishBudgetStop();
    if (!this.signal.aborted && !this.stoppedBy) await checkpoint?.clear();
  }

  /**
   * Submits one batch as a single `store.patch` call (one commit, one lock acquisition) and sorts
   * out each row: applied → upgraded; missing → deleted meanwhile, skipped (never resurrected);
   * stale → its text changed meanwhile, re-queued for a fresh Phase 1. Returns false if the batch
   * could not be committed at all (its intents are then in the dead-letter queue).
   */
  private async writeBatch(batch: MemoryPatch[], seenRev: ReadonlyMap<string, number>, requeue: (id: string) => boolean): Promise<boolean> {
    const n = ++this.counts.batches;
    const label = `upgrade: batch ${n} (${batch.length} rows)`;
    let results;
    // Each row's history gets this batch's entry; the upgrade never changes a memory's text, so its writer stays.
    const writer = resolveWriter(this.writer)!;
    const signed = batch.map((p) => ({ ...p, history: { writer, at: writer.at, fields: [...Object.keys(p.set ?? {}), ...Object.keys(p.metadata ?? {})] } }));
    try {
      results = await this.store.patch(signed, { priority: 'background', label });
    } catch (err) {
      if (errorCode(err) === 'E_STORE_UNAVAILABLE') {
        // Closed (the window is shutting down) or not writable: nothing was written, every row is
        // still a candidate for the next run; stop instead of dead-lettering batch after batch.
        this.counts.batches--;
        this.aborted = errorMessage(err);
        this.controller.abort(err);
        return false;
      }
      const deadLetterId = err instanceof MemoryLaneError ? err.deadLetterId : undefined;
      this.log.warn(`batch ${n} failed: ${errorMessage(err)}`);
      if (deadLetterId) {
        for (const p of batch) this.failed.push({ id: p.id, reason: `write failed: ${errorMessage(err)}`, deadLetterId });
      } else {
        // Refused before reaching the queue (validation), so the store kept no dead letter: keep one here.
        await this.recordFailures(batch.map((p) => ({ id: p.id, reason: `write failed: ${errorMessage(err)}` })), 'write', { kind: 'upsert', inserts: [], patches: batch }, errorCode(err));
      }
      return false;
    }
    for (const r of results) {
      if (r.status === 'applied') {
        this.counts.written++;
        const seen = seenRev.get(r.id);
        if (seen !== undefined && r.rev !== undefined && r.rev > seen + 1) this.counts.concurrentWrites++;
      }
      else if (r.status === 'missing') this.skip(r.id, 'deleted');
      else if (r.status === 'stale') {
        if (!requeue(r.id)) this.failed.push({ id: r.id, reason: `its text kept changing during the upgrade (${this.o.maxRequeues} attempts)` });
      } else if (r.status === 'failed') this.failed.push({ id: r.id, reason: `write failed: ${r.error}` });
    }
    return true;
  }

  /** Failures are kept durably in the store's dead-letter queue, never only in memory. */
  private async recordFailures(failures: UpgradeFailure[], stage: 'prepare' | 'write', intent?: unknown, code = 'E_UPGRADE'): Promise<void> {
    if (failures.length === 0) return;
    let deadLetterId: string | undefined;
    try {
      const letter = await this.store.deadLetters.append({
        label: `${this.job.label}: ${failures.length} ${stage === 'prepare' ? 'entries could not be prepared' : 'entries could not be written'} (run ${this.id})`,
        intent: intent ?? { kind: 'upgrade', job: this.job.kind, runId: this.id, entries: failures.map(({ id, reason }) => ({ id, reason })) },
        error: { code, message: failures[0]!.reason },
      });
      deadLetterId = letter.dlqId;
    } catch (err) {
      this.log.error(`could not keep ${failures.length} upgrade failures in the dead-letter queue: ${errorMessage(err)}`);
    }
    for (const f of failures) this.failed.push({ ...f, ...(deadLetterId ? { deadLetterId } : {}) });
  }
}
