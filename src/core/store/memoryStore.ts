import type { Connection, Table } from '@lancedb/lancedb';
import { ExclusiveJobLock, type JobLease } from '../concurrency/jobLock';
import type { LockEvent } from '../concurrency/lockEvents';
import { StoreLock, type LockLease } from '../concurrency/storeLock';
import { WriteQueue, type QueueDepth, type Settled, type WriteQueueOptions } from '../concurrency/writeQueue';
import { MemoryLaneError, StoreUnavailableError, ValidationError, WriteFailedError, errorCode, errorMessage } from '../errors';
import type { LockSettings } from '../defaults';
import { Emitter } from '../events';
import type { Disposable } from '../lifecycle';
import { componentLogger, nullLogger, type Logger } from '../log';
import { byId, chunk, type DeleteIntent, type DeleteResult, type InsertResult, type NewMemory, type PatchResult, type StoreIntent, type UpsertIntent, type UpsertOutcome, type WriteOptions } from './commitPlan';
import { Committer, readByIds, type CommitEvent, type RepairAction } from './committer';
import { DeadLetterQueue, type DeadLetter } from './deadLetterQueue';
import { collectStats, verifyRows, type RemoteStoreStatus, type RepairReport, type StoreStats, type VerifyReport } from './health';
import { COMMIT_RETRY, REMOTE_COMMIT_RETRY, commitConflictsRetried, isRetryableCommitError } from './commitRetry';
import { MAINTENANCE_JOB, runMaintenance, type MaintenanceReport } from './maintenance';
import { REMOTE_CLEANUP_MARGIN_MS } from '../defaults';
import { MaintenanceScheduler, type MaintenanceSchedule } from './maintenanceScheduler';
import { parseStoreLocation, type StoreLocation } from './location';
import { openMemoriesTable } from './openStore';
import { resolveRemoteConnection, type RemoteConnection, type RemoteConnectionSettings } from './remoteStore';
import { leasedRead, pinVersion, type ReadPin } from './readPins';
import { isBookkeepingOnly, type MemoryPatch } from './patch';
import { MEMORIES_TABLE, fromRawRow, type MemoryRecord, type RawRow } from './schema';
import { sqlLikePrefix } from './sql';
import { META_TABLE, openIfExists, type StoreMeta } from './storeMeta';
import { claimStoreJob, type StoreJobClaim } from './storeJobClaim';
import { validateId, validateNewMemory, validatePatch } from './validation';

// The store's vocabulary, for callers that import it from here.
export type { CommitEvent, DeleteResult, InsertResult, NewMemory, PatchResult, RepairAction, RepairReport, StoreStats, VerifyReport, WriteOptions };

export interface MemoryStoreOptions {
  /** Vector dimension; required to create a store, checked against an existing one. */
  dim?: number;
  /** Which embedder makes this store's vectors (recorded at creation). */
  embedder?: string;
  /** Create the folder and table when missing (default true). */
  create?: boolean;
  logger?: Logger;
  lockStaleMs?: number;
  queue?: WriteQueueOptions;
  /** Rows per commit; larger calls are split into several bounded commits. */
  maxBatchRows?: number;
  /** Automatic maintenance: after `everyCommits` commits, or when `smallFragments` small fragments pile up. */
  maintenance?: MaintenanceSchedule;
  /** A remote store's endpoint, region and credentials (the editor's settings and SecretStorage); else the environment's. */
  remote?: RemoteConnectionSettings;
  /** Where to read AWS_*, MEMORY_LANE_STATE_DIR and friends (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Rows per page of a snapshot (an export): a few MB with 384-dim vectors. */
const SNAPSHOT_PAGE_ROWS = 1000;

/** Store options that carry a process's lock settings (the same for every process on a store). */
export function lockStoreOptions(settings: LockSettings): Pick<MemoryStoreOptions, 'lockStaleMs' | 'queue'> {
  return { lockStaleMs: settings.staleMs, queue: { interactiveDeadlineMs: settings.writeTimeoutMs, backgroundDeadlineMs: settings.backgroundTimeoutMs } };
}

/**
 * One LanceDB memory store shared by any number of processes (docs/architecture.md#the-write-path).
 * Writes are intents through one in-process queue; the queue's head takes the cross-process lock and
 * the committer (committer.ts) re-reads the rows it touches at the latest version, merges patches onto
 * them, and commits the whole group as one `mergeInsert` conditioned on each row's revision. Reads
 * take no lock. Opening lives in openStore.ts, planning in commitPlan.ts, maintenance decisions in
 * maintenanceScheduler.ts, health checks in health.ts.
 */
export class MemoryStore implements Disposable {
  /** How the store is named (a folder, or a remote store's URI); for files of this machine use {@link stateDir}. */
  readonly dir: string;
  readonly location: StoreLocation;
  /** This machine's folder for the store's lock, dead letters, pins, journals and ledgers (location.ts). */
  readonly stateDir: string;
  /** A remote store's resolved connection (endpoint, coordination); undefined for a folder. */
  readonly remote: RemoteConnection | undefined;
  readonly lock: StoreLock;
  readonly deadLetters: DeadLetterQueue;
  private readonly queue: WriteQueue<StoreIntent, unknown>;
  private readonly log: Logger;
  private readonly maxBatchRows: number;
  private readonly committer: Committer;
  private readonly scheduler: MaintenanceScheduler;
  private maintenancePending: Promise<MaintenanceReport> | undefined;
  private closed = false;

  private readonly _onCommit = new Emitter<CommitEvent>();
  readonly onCommit = this._onCommit.event;
  private readonly _onMaintenance = new Emitter<MaintenanceReport>();
  readonly onMaintenance = this._onMaintenance.event;
  private readonly _onDeadLetter = new Emitter<DeadLetter>();
  readonly onDeadLetter = this._onDeadLetter.event;

  private constructor(
    location: StoreLocation,
    remote: RemoteConnection | undefined,
    private readonly db: Connection,
    private _table: Table,
    private _meta: StoreMeta,
    lock: StoreLock,
    options: MemoryStoreOptions,
    log: Logger,
  ) {
    this.location = location;
    this.dir = location.label;
    this.stateDir = location.stateDir;
    this.remote = remote;
    this.lock = lock;
    this.log = log;
    this.deadLetters = new DeadLetterQueue(this.stateDir);
    this.maxBatchRows = Math.max(1, options.maxBatchRows ?? 256);
    this.committer = new Committer(() => this._table, log, (e) => this._onCommit.fire(e), location.kind === 'remote' ? REMOTE_COMMIT_RETRY : COMMIT_RETRY);
    this.scheduler = new MaintenanceScheduler(options.maintenance ?? {}, () => this._table, (reason) => this.optimize(reason), log);
    this.queue = new WriteQueue<StoreIntent, unknown>(lock, (intents, lease) => this.commitGroup(intents, lease), options.queue);
  }

  /** Opens a folder (absolute, or relative to the working folder) or a remote store's URI (docs/team-store.md). */
  static async open(dir: string, options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    const env = options.env ?? process.env;
    const location = parseStoreLocation(dir, 'store path', env);
    const remote = location.kind === 'remote' ? resolveRemoteConnection(location, options.remote, env) : undefined;
    const logger = options.logger ?? nullLogger;
    const lock = new StoreLock(location.stateDir, { staleMs: options.lockStaleMs, logger: componentLogger(logger, 'lock') });
    const { db, table, meta } = await openMemoriesTable(location, options, lock, componentLogger(logger, 'store'), remote);
    return new MemoryStore(location, remote, db, table, meta, lock, options, componentLogger(logger, 'store'));
  }

  get meta(): StoreMeta {
    return this._meta;
  }

  get dim(): number {
    return this._meta.dim;
  }

  /** The table, for read-only queries (retrieval). Writes must go through this class. */
  get table(): Table {
    return this._table;
  }

  get onLockEvent(): (listener: (e: LockEvent) => void) => Disposable {
    return this.lock.onEvent;
  }

  get onQueueDepth(): (listener: (e: QueueDepth) => void) => Disposable {
    return this.queue.onDepth;
  }

  get queueDepth(): QueueDepth {
    return this.queue.depth;
  }

  // ---------------------------------------------------------------- writes

  /** Validates and inserts memories; ids already present with the same text report `exists` (idempotent). */
  async insert(rows: NewMemory[], options: WriteOptions = {}): Promise<InsertResult[]> {
    const now = Date.now();
    const records = rows.map((row, i) => validateNewMemory(row, this.dim, now, rows.length > 1 ? `rows[${i}].` : ''));
    return this.insertRecords(records, options, 'insert');
  }

  /**
   * Restores memories exactly as exported (timestamps, revision, metadata kept). Ids already
   * present with the same text report `exists`, so restoring a backup twice is harmless.
   */
  async restore(records: MemoryRecord[], options: WriteOptions = {}): Promise<InsertResult[]> {
    const now = Date.now();
    const prepared = records.map((rec, i) => {
      const at = records.length > 1 ? `records[${i}].` : '';
      const base = validateNewMemory(rec, this.dim, now, at);
      const int = (v: unknown, field: string) => {
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ValidationError(`${at}${field}`, `must be a non-negative integer, got ${String(v)}`);
        return v;
      };
      return { ...base, category: rec.category, created_at: int(rec.created_at, 'created_at'), updated_at: int(rec.updated_at, 'updated_at'), rev: Math.max(1, int(rec.rev, 'rev')) };
    });
    return this.insertRecords(prepared, { priority: 'background', label: 'restore memories', ...options }, 'restore');
  }

  private async insertRecords(records: MemoryRecord[], options: WriteOptions, verb: string): Promise<InsertResult[]> {
    const chunks = chunk([...records].sort(byId), this.maxBatchRows);
    const outcomes = await this.submitChunks(chunks, (c) => ({ kind: 'upsert', inserts: c, patches: [] }), options, verb);
    const byKey = new Map<string, InsertResult>();
    outcomes.forEach((o, i) => {
      if (o.ok) for (const r of (o.value as UpsertOutcome).inserts) byKey.set(r.id, r);
      else for (const rec of chunks[i]!) byKey.set(rec.id, { id: rec.id, status: 'failed', error: errorMessage(o.error) });
    });
    return records.map((r) => byKey.get(r.id)!);
  }

  /** Applies patches by id onto each row's state at commit time. */
  async patch(patches: MemoryPatch[], options: WriteOptions = {}): Promise<PatchResult[]> {
    const checked = patches.map((p, i) => validatePatch(p, this.dim, patches.length > 1 ? `patches[${i}].` : ''));
    const chunks = chunk([...checked].sort(byId), this.maxBatchRows);
    const outcomes = await this.submitChunks(chunks, (c) => ({ kind: 'upsert', inserts: [], patches: c }), options, 'patch');
    const results: PatchResult[] = [];
    outcomes.forEach((o, i) => {
      if (o.ok) results.push(...(o.value as UpsertOutcome).patches);
      else for (const p of chunks[i]!) results.push({ id: p.id, status: 'failed', error: errorMessage(o.error) });
    });
    // Report in the caller's order; the same id may be patched more than once.
    const queues = new Map<string, PatchResult[]>();
    for (const r of results) queues.set(r.id, [...(queues.get(r.id) ?? []), r]);
    return checked.map((p) => queues.get(p.id)!.shift()!);
  }

  /** Deletes rows; with `expectRev`, each named row only while it is at that revision (else `stale`, kept). */
  async delete(ids: string[], options: WriteOptions & { expectRev?: Record<string, number> } = {}): Promise<DeleteResult[]> {
    const checked = [...new Set(ids.map((id, i) => validateId(id, ids.length > 1 ? `ids[${i}]` : 'id')))].sort();
    const chunks = chunk(checked, this.maxBatchRows);
    const { expectRev, ...writeOptions } = options;
    const outcomes = await this.submitChunks(chunks, (c) => {
      const expect = expectRev ? Object.fromEntries(c.filter((id) => expectRev[id] !== undefined).map((id) => [id, expectRev[id]!])) : undefined;
      return { kind: 'delete', ids: c, ...(expect && Object.keys(expect).length ? { expectRev: expect } : {}) };
    }, writeOptions, 'delete');
    const byKey = new Map<string, DeleteResult>();
    outcomes.forEach((o, i) => {
      if (o.ok) for (const r of o.value as DeleteResult[]) byKey.set(r.id, r);
      else for (const id of chunks[i]!) byKey.set(id, { id, status: 'failed', error: errorMessage(o.error) });
    });
    return ids.map((id) => byKey.get(id)!);
  }

  /**
   * Compaction, index upkeep and version pruning: by default a background intent of the write queue,
   * under the store lock. With `maintenance.offLock`, beside the writers: writers in any process
   * keep committing meanwhile and a compaction that loses to their commits is re-planned on the new
   * head (docs/lancedb.md#optimize-and-writers), one process at a time per store (the maintenance
   * job lock; a second one finds it running and skips); only a pass that lost on every attempt then
   * runs under the lock, where no commit can pre-empt it.
   */
  optimize(reason = 'requested'): Promise<MaintenanceReport> {
    if (!this.maintenancePending) {
      const pass = this.scheduler.options.offLock ? this.maintainOffLock(reason) : this.maintainUnderLock(reason);
      this.maintenancePending = pass.then((report) => {
        this.scheduler.ran();
        if (!report.skipped) this._onMaintenance.fire(report);
        return report;
      }).finally(() => { this.maintenancePending = undefined; });
    }
    return this.maintenancePending;
  }

  /** The options of a maintenance pass: the schedule's, this machine's state folder, and on a remote store the day-long prune margin. */
  private maintenanceOptions() {
    return { ...this.scheduler.options, ...remotePruneMargin(this.location, this.scheduler.options.cleanupMarginMs), dir: this.stateDir };
  }

  private async maintainUnderLock(reason: string): Promise<MaintenanceReport> {
    const report = (await this.queue.submit({ kind: 'maintenance', reason }, { priority: 'background', label: `maintenance (${reason})`, groupKey: 'maintenance' })) as MaintenanceReport;
    return { reason, ...report, underLock: true };
  }

  /** The maintenance job of this store, across processes; waits up to `waitMs` for a running one to end. */
  private async maintenanceJob(label: string, { waitMs = 0 } = {}): Promise<JobLease> {
    const job = new ExclusiveJobLock(this.stateDir, MAINTENANCE_JOB, { logger: this.log });
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        return await job.tryAcquire(label);
      } catch (err) {
        if (errorCode(err) !== 'E_BUSY' || Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private async maintainOffLock(reason: string): Promise<MaintenanceReport> {
    let job: JobLease;
    try {
      job = await this.maintenanceJob(`maintenance (${reason})`);
    } catch (err) {
      if (errorCode(err) !== 'E_BUSY') throw err;
      return { reason, ms: 0, skipped: errorMessage(err), indexesCreated: [], fragmentsRemoved: 0, fragmentsAdded: 0, versionsPruned: 0, bytesRemoved: 0, attempts: 0 };
    }
    try {
      return { reason, ...(await runMaintenance(this._table, this.maintenanceOptions(), this.log)), underLock: false };
    } catch (err) {
      if (!isRetryableCommitError(err)) throw err;
      this.log.info(`maintenance (${reason}) lost to concurrent commits on every attempt; running it under the store lock`);
      return await this.maintainUnderLock(reason);
    } finally {
      await job.release();
    }
  }

  /**
   * Fixes what can be fixed safely and reports every action: duplicate ids keep their newest
   * revision (older copies removed in one commit, so the id never disappears for readers); a lock
   * or owner record left by a process that is provably dead (same host, pid gone) is removed.
   * Unreadable metadata and bad vectors are reported, not touched: they may still hold user data.
   */
  async repair(): Promise<RepairReport> {
    const lockActions = await this.lock.clearDeadHolder();
    // Copies are deleted by row address, which a compaction committed between the read and the
    // delete would move: no maintenance of this store may run meanwhile, in any process.
    const job = await this.maintenanceJob('repair duplicates', { waitMs: 120_000 });
    let duplicates: RepairAction[];
    try {
      duplicates = (await this.queue.submit({ kind: 'repair' }, { priority: 'background', label: 'repair duplicates', groupKey: 'repair' })) as RepairAction[];
    } finally {
      await job.release();
    }
    const report = await this.verify();
    return { actions: [...lockActions.map((a) => ({ kind: 'lock' as const, detail: a })), ...duplicates], remaining: report };
  }

  /** Waits until every write submitted so far is committed or failed (shutdown, tests). */
  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  /**
   * Replays open dead letters through the normal write path; each one that commits is marked resolved.
   * A dead-lettered patch that sets fields was never acknowledged, and the caller may have written
   * again since: replaying it blindly would put an older value over a newer, acknowledged one. So it
   * applies only if its rows are still at the revision they had when it failed; otherwise it is
   * reported as superseded (and resolved). Counter-only patches commute and always apply.
   */
  async replayDeadLetters(): Promise<{ replayed: string[]; superseded: Array<{ dlqId: string; ids: string[] }>; failed: Array<{ dlqId: string; reason: string }> }> {
    const { open } = await this.deadLetters.list();
    const replayed: string[] = [];
    const superseded: Array<{ dlqId: string; ids: string[] }> = [];
    const failed: Array<{ dlqId: string; reason: string }> = [];
    for (const letter of open) {
      const intent = letter.intent as StoreIntent;
      try {
        if (intent.kind === 'delete') {
          await this.queue.submit(intent, { priority: 'background', label: 'replay dead letter', groupKey: 'delete' });
        } else if (intent.kind === 'upsert') {
          const replay = conditionedOnBase(intent);
          const outcome = (await this.queue.submit(replay, { priority: 'background', label: 'replay dead letter', groupKey: 'upsert', weight: replay.inserts.length + replay.patches.length })) as UpsertOutcome;
          const stale = outcome.patches.filter((r) => r.status === 'stale').map((r) => r.id);
          if (stale.length > 0) {
            await this.deadLetters.resolve(letter.dlqId, 'superseded');
            superseded.push({ dlqId: letter.dlqId, ids: stale });
            this.log.info(`dead letter ${letter.dlqId} superseded: ${stale.join(', ')} changed after it failed; not replayed over the newer value`);
            continue;
          }
        } else continue;
        await this.deadLetters.resolve(letter.dlqId, 'replayed');
        replayed.push(letter.dlqId);
      } catch (err) {
        failed.push({ dlqId: letter.dlqId, reason: errorMessage(err) });
      }
    }
    return { replayed, superseded, failed };
  }

  private async submitChunks<T>(chunks: T[][], toIntent: (c: T[]) => StoreIntent, options: WriteOptions, verb: string): Promise<Settled<unknown>[]> {
    if (this.closed) throw new StoreUnavailableError('The store is closed');
    const priority = options.priority ?? 'interactive';
    const groupKey = verb === 'delete' ? 'delete' : 'upsert';
    const settled = await Promise.all(chunks.map(async (c): Promise<Settled<unknown>> => {
      const intent = toIntent(c);
      const label = options.label ?? `${verb} ${c.length} ${c.length === 1 ? 'memory' : 'memories'}`;
      try {
        return { ok: true, value: await this.queue.submit(intent, { priority, label, groupKey, weight: c.length, deadlineMs: options.deadlineMs }) };
      } catch (err) {
        return { ok: false, error: await this.deadLetter(intent, label, err) };
      }
    }));
    // A single failed chunk is the whole call for most callers: raise it. Partial failures are
    // returned per row so a batch reports {success, failed} instead of hiding either half.
    if (settled.length > 0 && settled.every((s) => !s.ok)) throw (settled[0] as { error: unknown }).error;
    return settled;
  }

  /** Nothing is silently dropped: a write that could not be committed is kept durably for replay. */
  private async deadLetter(intent: StoreIntent, label: string, err: unknown): Promise<unknown> {
    try {
      const kept = intent.kind === 'upsert' && intent.patches.length > 0 ? { ...intent, baseRevs: await this.currentRevs(intent.patches.map((p) => p.id)) } : intent;
      const letter = await this.deadLetters.append({ label, intent: kept, error: { code: errorCode(err), message: errorMessage(err) } });
      this._onDeadLetter.fire(letter);
      this.log.warn(`write "${label}" failed (${errorMessage(err)}); kept as dead letter ${letter.dlqId}`);
      if (err instanceof MemoryLaneError) err.deadLetterId = letter.dlqId;
      else return new WriteFailedError(`Write "${label}" failed: ${errorMessage(err)} (kept as dead letter ${letter.dlqId})`, letter.dlqId, { cause: err });
    } catch (dlqErr) {
      this.log.error(`write "${label}" failed (${errorMessage(err)}) and could not be kept in the dead-letter queue: ${errorMessage(dlqErr)}`);
    }
    return err;
  }

  /** Revisions of rows as they are now (no lock); a failed read leaves the letter unconditioned, as before. */
  private async currentRevs(ids: string[]): Promise<Record<string, number> | undefined> {
    try {
      return Object.fromEntries([...(await readByIds(this._table, ids))].map(([id, row]) => [id, row.rev]));
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- under the lock

  private async commitGroup(intents: readonly StoreIntent[], lease: LockLease): Promise<Settled<unknown>[]> {
    const kind = intents[0]!.kind;
    if (kind === 'repair') {
      const actions = await this.committer.removeDuplicateCopies();
      return intents.map(() => ({ ok: true, value: actions }));
    }
    if (kind === 'maintenance') {
      const report = await runMaintenance(this._table, this.maintenanceOptions(), this.log);
      return intents.map(() => ({ ok: true, value: report }));
    }
    const value = kind === 'delete'
      ? await this.committer.commitDeletes(intents as DeleteIntent[])
      : await this.committer.commitUpserts(intents as UpsertIntent[], lease);
    this.scheduler.afterCommit();
    return value.map((v) => ({ ok: true, value: v }));
  }

  // ---------------------------------------------------------------- reads (no lock)

  /**
   * Runs a short read of the latest version: leased once it lasts a second, so no process's
   * maintenance prunes what it reads, and run again if pruning took a file anyway (readPins.ts).
   * Every read of the table outside the write path goes through here or through a pin.
   */
  reading<T>(label: string, read: () => Promise<T>): Promise<T> {
    return leasedRead(this.stateDir, label, read);
  }

  async get(id: string): Promise<MemoryRecord | undefined> {
    validateId(id);
    return (await this.reading('get', () => readByIds(this._table, [id]))).get(id);
  }

  async getMany(ids: string[]): Promise<Map<string, MemoryRecord>> {
    ids.forEach((id, i) => validateId(id, `ids[${i}]`));
    return this.reading('get', () => readByIds(this._table, ids));
  }

  /** Memories whose id starts with `prefix` (at most `limit`); for "update by unique id prefix". */
  async findByIdPrefix(prefix: string, limit = 2): Promise<MemoryRecord[]> {
    validateId(prefix, 'id prefix');
    const filter = `id LIKE ${sqlLikePrefix(prefix, 'id prefix')}`;
    const rows = await this.reading('find by id prefix', () => this._table.query().where(filter).limit(limit).toArray());
    return rows.map((r) => fromRawRow(r as RawRow));
  }

  async count(filter?: string): Promise<number> {
    return this.reading('count', () => this._table.countRows(filter));
  }

  /**
   * Every row at one table version, streamed in record batches: a consistent snapshot even while
   * other processes keep writing (the pinned table is read-only and never sees later commits).
   */
  async *snapshot(): AsyncGenerator<MemoryRecord, { version: number; rows: number }> {
    const pin = await this.pinCurrentVersion('snapshot');
    const version = pin.version;
    const pinned = await this.db.openTable(MEMORIES_TABLE, undefined, { version });
    let rows = 0;
    try {
      // Page by page over the one pinned version: memory stays bounded at any store size, and each
      // page is a fresh read of that version, which the pin keeps from being pruned meanwhile.
      for (let offset = 0; ; offset += SNAPSHOT_PAGE_ROWS) {
        const page = (await pinned.query().offset(offset).limit(SNAPSHOT_PAGE_ROWS).toArray()) as RawRow[];
        for (const row of page) {
          rows++;
          yield fromRawRow(row);
        }
        if (page.length < SNAPSHOT_PAGE_ROWS) break;
      }
    } finally {
      pinned.close();
      await pin.release();
    }
    return { version, rows };
  }

  /**
   * Keeps the current version (and everything newer) from being pruned by any process's maintenance
   * until released: for reads that last longer than a moment (an export, the upgrader's scan, an
   * index build). Short reads need no pin (readPins.ts).
   */
  async pinCurrentVersion(label: string): Promise<ReadPin> {
    return pinVersion(this.stateDir, await this._table.version(), label);
  }

  /** Rows matching a filter built with `sqlString` (never raw user text), with paging. */
  async rows(filter: string | undefined, options: { limit?: number; offset?: number; columns?: string[] } = {}): Promise<RawRow[]> {
    let q = this._table.query();
    if (filter) q = q.where(filter);
    if (options.columns) q = q.select(options.columns);
    if (options.offset) q = q.offset(options.offset);
    q = q.limit(options.limit ?? Number.MAX_SAFE_INTEGER);
    return (await this.reading('list', () => q.toArray())) as RawRow[];
  }

  // ---------------------------------------------------------------- health

  /**
   * On a remote store, claims `job` for the whole store (every machine), beside the per-machine job
   * lock (storeJobClaim.ts); on a folder store the job lock already covers every process: no-op.
   */
  async claimStoreJob(job: string, label: string, onLost?: (reason: string) => void): Promise<StoreJobClaim> {
    if (this.location.kind !== 'remote') return { release: async () => undefined };
    const meta = await openIfExists(this.db, META_TABLE);
    if (!meta) throw new StoreUnavailableError(`The meta table of ${this.dir} is missing`);
    try {
      const claim = await claimStoreJob(meta, job, label, { logger: this.log, ...(onLost ? { onLost } : {}) });
      return { release: async () => { try { await claim.release(); } finally { meta.close(); } } };
    } catch (err) {
      meta.close();
      throw err;
    }
  }

  /** A remote store's endpoint, commit coordination and the conflicts retried against other machines. */
  get remoteStatus(): RemoteStoreStatus | undefined {
    if (this.location.kind !== 'remote' || !this.remote) return undefined;
    return {
      endpoint: this.remote.endpointLabel,
      coordination: this.location.coordination,
      ...(this.location.ddbTableName ? { table: this.location.ddbTableName } : {}),
      stateDir: this.stateDir,
      conflictsRetried: commitConflictsRetried(),
    };
  }

  verify(): Promise<VerifyReport> {
    return verifyRows((columns) => this.rows(undefined, { columns }), this.dim);
  }

  stats(): Promise<StoreStats> {
    return this.reading('stats', () => collectStats({
      dir: this.dir,
      meta: this._meta,
      table: this._table,
      readRows: (columns) => this.rows(undefined, { columns }),
      openDeadLetters: async () => (await this.deadLetters.list()).open.length,
      lock: () => this.lock.status(),
      queue: this.queue.depth,
      lockAcquisitions: this.lock.acquisitions,
      ...(this.remoteStatus ? { remote: this.remoteStatus } : {}),
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.maintenancePending?.catch(() => undefined);
    await this.queue.whenIdle();
    this.dispose();
  }

  dispose(): void {
    this.closed = true;
    this.queue.dispose();
    this.lock.dispose();
    this._onCommit.dispose();
    this._onMaintenance.dispose();
    this._onDeadLetter.dispose();
    try { this._table.close(); this.db.close(); } catch { /* already closed */ }
  }
}

/**
 * Pruning on a remote store: the read pins of other machines are invisible here (each pins in its own
 * state folder), so a version goes only once its successor is a day old — longer than any export,
 * upgrade scan or index build plausibly reads one version; the cost is a day of old manifests and
 * data files on the bucket (docs/team-store.md#pruning-on-a-remote-store).
 */
function remotePruneMargin(location: StoreLocation, configured: number | undefined): { cleanupMarginMs?: number } {
  if (location.kind !== 'remote') return {};
  return { cleanupMarginMs: Math.max(configured ?? 0, REMOTE_CLEANUP_MARGIN_MS) };
}

/** A dead-lettered upsert as it is replayed: field-setting patches conditioned on the revision they failed at. */
function conditionedOnBase(intent: UpsertIntent): UpsertIntent {
  const { baseRevs, ...rest } = intent;
  if (!baseRevs) return rest;
  return {
    ...rest,
    patches: intent.patches.map((p) => (isBookkeepingOnly(p) || p.expect?.rev !== undefined || baseRevs[p.id] === undefined ? p : { ...p, expect: { ...p.expect, rev: baseRevs[p.id] } })),
  };
}
