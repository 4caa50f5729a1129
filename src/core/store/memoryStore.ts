import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import type { Connection, Table } from '@lancedb/lancedb';
import type { LockEvent } from '../concurrency/lockEvents';
import { StoreLock, type LockLease } from '../concurrency/storeLock';
import { WriteQueue, type QueueDepth, type Settled, type WriteQueueOptions, type WritePriority } from '../concurrency/writeQueue';
import { DimensionMismatchError, MemoryLaneError, StoreUnavailableError, ValidationError, WriteFailedError, errorCode, errorMessage } from '../errors';
import { Emitter } from '../events';
import { failpoint } from '../failpoints';
import type { Disposable } from '../lifecycle';
import { componentLogger, nullLogger, type Logger } from '../log';
import { isRetryableCommitError } from './commitErrors';
import { DeadLetterQueue, type DeadLetter } from './deadLetterQueue';
import { runMaintenance, type MaintenanceOptions, type MaintenanceReport } from './maintenance';
import { migrateToV1, vectorDimensionOf } from './migrations';
import { applyPatch, expectationHolds, type MemoryPatch } from './patch';
import { CURRENT_SCHEMA_VERSION, MEMORIES_TABLE, fromRawRow, isLegacy, memoriesSchema, toRawRow, type MemoryRecord, type RawRow } from './schema';
import { sqlInList, sqlLikePrefix, sqlString } from './sql';
import { readStoreMeta, writeStoreMeta, type StoreMeta } from './storeMeta';
import { validateCategory, validateId, validateImportance, validateMetadata, validateScope, validateText, validateVector } from './validation';

export interface NewMemory {
  /** Client-supplied ids make retries idempotent: inserting the same memory twice stores it once. */
  id?: string;
  text: string;
  vector: number[];
  category?: string;
  scope?: string;
  importance?: number;
  metadata?: Record<string, unknown>;
  created_at?: number;
}

export interface WriteOptions {
  priority?: WritePriority;
  label?: string;
  deadlineMs?: number;
}

export type InsertResult = { id: string; status: 'inserted' | 'exists' | 'conflict'; rev?: number } | { id: string; status: 'failed'; error: string };
export type PatchResult = { id: string; status: 'applied' | 'missing' | 'stale'; rev?: number } | { id: string; status: 'failed'; error: string };
export type DeleteResult = { id: string; status: 'deleted' | 'missing' } | { id: string; status: 'failed'; error: string };

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
  maintenance?: MaintenanceOptions & { everyCommits?: number; smallFragments?: number; auto?: boolean };
}

export interface CommitEvent {
  kind: 'upsert' | 'delete';
  rows: number;
  intents: number;
  ms: number;
  attempts: number;
  version?: number;
}

type StoreIntent =
  | { kind: 'upsert'; inserts: MemoryRecord[]; patches: MemoryPatch[] }
  | { kind: 'delete'; ids: string[] }
  | { kind: 'maintenance'; reason: string }
  | { kind: 'repair' };

interface UpsertOutcome {
  inserts: InsertResult[];
  patches: PatchResult[];
}

const MAX_COMMIT_ATTEMPTS = 6;

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * One LanceDB memory store shared by any number of processes (DESIGN.md "The write path").
 * Writes are intents through one in-process queue; the queue's head takes the cross-process lock,
 * re-reads the rows it touches at the latest version, merges patches onto them, and commits the
 * whole group as one `mergeInsert` conditioned on each row's revision. Reads take no lock.
 */
export class MemoryStore implements Disposable {
  readonly dir: string;
  readonly lock: StoreLock;
  readonly deadLetters: DeadLetterQueue;
  private readonly queue: WriteQueue<StoreIntent, unknown>;
  private readonly log: Logger;
  private readonly maxBatchRows: number;
  private readonly maintenanceOptions: MaintenanceOptions & { everyCommits: number; smallFragments: number; auto: boolean };
  private commitsSinceMaintenance = 0;
  private indexesKnownPresent = false;
  private maintenancePending: Promise<MaintenanceReport> | undefined;
  private closed = false;

  private readonly _onCommit = new Emitter<CommitEvent>();
  readonly onCommit = this._onCommit.event;
  private readonly _onMaintenance = new Emitter<MaintenanceReport>();
  readonly onMaintenance = this._onMaintenance.event;
  private readonly _onDeadLetter = new Emitter<DeadLetter>();
  readonly onDeadLetter = this._onDeadLetter.event;

  private constructor(
    dir: string,
    private readonly db: Connection,
    private _table: Table,
    private _meta: StoreMeta,
    lock: StoreLock,
    options: MemoryStoreOptions,
    log: Logger,
  ) {
    this.dir = dir;
    this.lock = lock;
    this.log = log;
    this.deadLetters = new DeadLetterQueue(dir);
    this.maxBatchRows = Math.max(1, options.maxBatchRows ?? 256);
    this.maintenanceOptions = { everyCommits: 200, smallFragments: 64, auto: true, ...options.maintenance };
    this.queue = new WriteQueue<StoreIntent, unknown>(lock, (intents, lease) => this.commitGroup(intents, lease), options.queue);
  }

  static async open(dir: string, options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    const root = resolve(dir);
    const logger = options.logger ?? nullLogger;
    await prepareFolder(root, options.create !== false);
    const lock = new StoreLock(root, { staleMs: options.lockStaleMs, logger: componentLogger(logger, 'lock') });
    let meta = await readStoreMeta(root);
    const db = await lancedb.connect(root, { readConsistencyInterval: 0 });
    let table: Table | undefined;
    if (meta && (await db.tableNames()).includes(MEMORIES_TABLE)) {
      table = await db.openTable(MEMORIES_TABLE);
    } else {
      if (options.create === false && !(await db.tableNames()).includes(MEMORIES_TABLE)) {
        throw new StoreUnavailableError(`No Memory Lane store at ${root}`);
      }
      // Creating or migrating is a commit like any other: only under the lock, re-checked inside.
      const lease = await lock.acquire('open store', 30_000);
      try {
        ({ table, meta } = await createOrMigrate(db, root, options, componentLogger(logger, 'store')));
      } finally {
        await lease.release();
      }
    }
    if (options.dim !== undefined && options.dim !== meta!.dim) {
      throw new DimensionMismatchError(meta!.dim, options.dim, `the embedder "${options.embedder ?? 'configured'}"`);
    }
    return new MemoryStore(root, db, table, meta!, lock, options, componentLogger(logger, 'store'));
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
    const records = rows.map((row, i) => this.prepareNew(row, now, rows.length > 1 ? `rows[${i}].` : ''));
    const chunks = chunk([...records].sort(byId), this.maxBatchRows);
    const outcomes = await this.submitChunks(chunks, (c) => ({ kind: 'upsert', inserts: c, patches: [] }), options, 'insert');
    const byKey = new Map<string, InsertResult>();
    outcomes.forEach((o, i) => {
      if (o.ok) for (const r of (o.value as UpsertOutcome).inserts) byKey.set(r.id, r);
      else for (const rec of chunks[i]!) byKey.set(rec.id, { id: rec.id, status: 'failed', error: errorMessage(o.error) });
    });
    return records.map((r) => byKey.get(r.id)!);
  }

  /**
   * Restores memories exactly as exported (timestamps, revision, metadata kept). Ids already
   * present with the same text report `exists`, so restoring a backup twice is harmless.
   */
  async restore(records: MemoryRecord[], options: WriteOptions = {}): Promise<InsertResult[]> {
    const now = Date.now();
    const prepared = records.map((rec, i) => {
      const at = records.length > 1 ? `records[${i}].` : '';
      const base = this.prepareNew(rec, now, at);
      const int = (v: unknown, field: string) => {
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ValidationError(`${at}${field}`, `must be a non-negative integer, got ${String(v)}`);
        return v;
      };
      return { ...base, category: rec.category, created_at: int(rec.created_at, 'created_at'), updated_at: int(rec.updated_at, 'updated_at'), rev: Math.max(1, int(rec.rev, 'rev')) };
    });
    const chunks = chunk([...prepared].sort(byId), this.maxBatchRows);
    const outcomes = await this.submitChunks(chunks, (c) => ({ kind: 'upsert', inserts: c, patches: [] }), { priority: 'background', label: 'restore memories', ...options }, 'restore');
    const byKey = new Map<string, InsertResult>();
    outcomes.forEach((o, i) => {
      if (o.ok) for (const r of (o.value as UpsertOutcome).inserts) byKey.set(r.id, r);
      else for (const rec of chunks[i]!) byKey.set(rec.id, { id: rec.id, status: 'failed', error: errorMessage(o.error) });
    });
    return prepared.map((r) => byKey.get(r.id)!);
  }

  /** Applies patches by id onto each row's state at commit time. */
  async patch(patches: MemoryPatch[], options: WriteOptions = {}): Promise<PatchResult[]> {
    const checked = patches.map((p, i) => this.preparePatch(p, patches.length > 1 ? `patches[${i}].` : ''));
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

  async delete(ids: string[], options: WriteOptions = {}): Promise<DeleteResult[]> {
    const checked = [...new Set(ids.map((id, i) => validateId(id, ids.length > 1 ? `ids[${i}]` : 'id')))].sort();
    const chunks = chunk(checked, this.maxBatchRows);
    const outcomes = await this.submitChunks(chunks, (c) => ({ kind: 'delete', ids: c }), options, 'delete');
    const byKey = new Map<string, DeleteResult>();
    outcomes.forEach((o, i) => {
      if (o.ok) for (const r of o.value as DeleteResult[]) byKey.set(r.id, r);
      else for (const id of chunks[i]!) byKey.set(id, { id, status: 'failed', error: errorMessage(o.error) });
    });
    return ids.map((id) => byKey.get(id)!);
  }

  /** Compaction, index upkeep and version pruning, as a background commit under the lock. */
  optimize(reason = 'requested'): Promise<MaintenanceReport> {
    if (!this.maintenancePending) {
      this.maintenancePending = (this.queue.submit({ kind: 'maintenance', reason }, { priority: 'background', label: `maintenance (${reason})`, groupKey: 'maintenance' }) as Promise<MaintenanceReport>)
        .finally(() => { this.maintenancePending = undefined; });
    }
    return this.maintenancePending;
  }

  /**
   * Fixes what can be fixed safely and reports every action: duplicate ids keep their newest
   * revision (older copies removed in one commit, so the id never disappears for readers); a lock
   * or owner record left by a process that is provably dead (same host, pid gone) is removed.
   * Unreadable metadata and bad vectors are reported, not touched: they may still hold user data.
   */
  async repair(): Promise<RepairReport> {
    const lockActions = await this.lock.clearDeadHolder();
    const duplicates = (await this.queue.submit({ kind: 'repair' }, { priority: 'background', label: 'repair duplicates', groupKey: 'repair' })) as RepairAction[];
    const report = await this.verify();
    return { actions: [...lockActions.map((a) => ({ kind: 'lock' as const, detail: a })), ...duplicates], remaining: report };
  }

  /** Under the lock: for each duplicated id keep the copy with the highest rev (then newest), delete the rest by row id. */
  private async removeDuplicateCopies(): Promise<RepairAction[]> {
    const rows = (await this._table.query().select(['id', 'rev', 'updated_at']).withRowId().toArray()) as RawRow[];
    const byIdRows = new Map<string, RawRow[]>();
    for (const r of rows) byIdRows.set(String(r.id), [...(byIdRows.get(String(r.id)) ?? []), r]);
    const actions: RepairAction[] = [];
    const doomed: bigint[] = [];
    for (const [id, copies] of byIdRows) {
      if (copies.length < 2) continue;
      copies.sort((a, b) => Number(b.rev) - Number(a.rev) || Number(b.updated_at) - Number(a.updated_at));
      doomed.push(...copies.slice(1).map((c) => BigInt(c._rowid as bigint)));
      actions.push({ kind: 'duplicate', detail: `kept rev ${Number(copies[0]!.rev)} of ${JSON.stringify(id)}, removed ${copies.length - 1} older ${copies.length - 1 === 1 ? 'copy' : 'copies'}` });
    }
    if (doomed.length > 0) await this._table.delete(`_rowid IN (${doomed.join(', ')})`);
    return actions;
  }

  /** Waits until every write submitted so far is committed or failed (shutdown, tests). */
  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  /** Replays open dead letters through the normal write path; each one that commits is marked resolved. */
  async replayDeadLetters(): Promise<{ replayed: string[]; failed: Array<{ dlqId: string; reason: string }> }> {
    const { open } = await this.deadLetters.list();
    const replayed: string[] = [];
    const failed: Array<{ dlqId: string; reason: string }> = [];
    for (const letter of open) {
      const intent = letter.intent as StoreIntent;
      try {
        if (intent.kind === 'delete') await this.queue.submit(intent, { priority: 'background', label: 'replay dead letter', groupKey: 'delete' });
        else if (intent.kind === 'upsert') await this.queue.submit(intent, { priority: 'background', label: 'replay dead letter', groupKey: 'upsert', weight: intent.inserts.length + intent.patches.length });
        else continue;
        await this.deadLetters.resolve(letter.dlqId, 'replayed');
        replayed.push(letter.dlqId);
      } catch (err) {
        failed.push({ dlqId: letter.dlqId, reason: errorMessage(err) });
      }
    }
    return { replayed, failed };
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
      const letter = await this.deadLetters.append({ label, intent, error: { code: errorCode(err), message: errorMessage(err) } });
      this._onDeadLetter.fire(letter);
      this.log.warn(`write "${label}" failed (${errorMessage(err)}); kept as dead letter ${letter.dlqId}`);
      if (err instanceof MemoryLaneError) err.deadLetterId = letter.dlqId;
      else return new WriteFailedError(`Write "${label}" failed: ${errorMessage(err)} (kept as dead letter ${letter.dlqId})`, letter.dlqId, { cause: err });
    } catch (dlqErr) {
      this.log.error(`write "${label}" failed (${errorMessage(err)}) and could not be kept in the dead-letter queue: ${errorMessage(dlqErr)}`);
    }
    return err;
  }

  private prepareNew(row: NewMemory, now: number, at: string): MemoryRecord {
    if (!row || typeof row !== 'object') throw new ValidationError(at || 'memory', 'must be an object');
    return {
      id: row.id === undefined ? randomUUID() : validateId(row.id, `${at}id`),
      text: validateText(row.text, `${at}text`),
      vector: validateVector(row.vector, this.dim, `${at}vector`),
      category: validateCategory(row.category ?? 'cases', `${at}category`),
      scope: validateScope(row.scope ?? 'global', `${at}scope`),
      importance: validateImportance(row.importance ?? 0.5, `${at}importance`),
      created_at: row.created_at !== undefined && Number.isFinite(row.created_at) ? row.created_at : now,
      updated_at: now,
      rev: 1,
      metadata: { ...validateMetadata(row.metadata, `${at}metadata`) } as MemoryRecord['metadata'],
    };
  }

  private preparePatch(patch: MemoryPatch, at: string): MemoryPatch {
    if (!patch || typeof patch !== 'object') throw new ValidationError(at || 'patch', 'must be an object');
    validateId(patch.id, `${at}id`);
    const set = patch.set;
    if (set) {
      if (set.text !== undefined) validateText(set.text, `${at}text`);
      if (set.vector !== undefined) set.vector = validateVector(set.vector, this.dim, `${at}vector`);
      if (set.category !== undefined) set.category = validateCategory(set.category, `${at}category`);
      if (set.scope !== undefined) validateScope(set.scope, `${at}scope`);
      if (set.importance !== undefined) validateImportance(set.importance, `${at}importance`);
    }
    if (patch.metadata !== undefined) validateMetadata(patch.metadata, `${at}metadata`);
    for (const [field, values] of [['increment', patch.increment], ['raiseTo', patch.raiseTo]] as const) {
      for (const [key, v] of Object.entries(values ?? {})) {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValidationError(`${at}${field}.${key}`, `must be a finite number, got ${String(v)}`);
      }
    }
    return patch;
  }

  // ---------------------------------------------------------------- under the lock

  private async commitGroup(intents: readonly StoreIntent[], lease: LockLease): Promise<Settled<unknown>[]> {
    const kind = intents[0]!.kind;
    if (kind === 'repair') {
      const actions = await this.removeDuplicateCopies();
      return intents.map(() => ({ ok: true, value: actions }));
    }
    if (kind === 'maintenance') {
      const report = await runMaintenance(this._table, this.maintenanceOptions, this.log);
      this.commitsSinceMaintenance = 0;
      this._onMaintenance.fire(report);
      return intents.map(() => ({ ok: true, value: report }));
    }
    const value = kind === 'delete'
      ? await this.commitDeletes(intents as Array<Extract<StoreIntent, { kind: 'delete' }>>)
      : await this.commitUpserts(intents as Array<Extract<StoreIntent, { kind: 'upsert' }>>, lease);
    this.commitsSinceMaintenance++;
    if (!this.indexesKnownPresent && this.maintenanceOptions.auto) void this.scheduleIndexesIfMissing();
    // Every commit adds a fragment; many small ones slow every read and write (FACTS.md: 8 → 171 ms).
    if (this.maintenanceOptions.auto && this.commitsSinceMaintenance % 50 === 0) void this.scheduleIfFragmented();
    if (this.maintenanceOptions.auto && this.commitsSinceMaintenance >= this.maintenanceOptions.everyCommits) {
      this.commitsSinceMaintenance = 0;
      // Queued behind us at background priority: it never delays the interactive writes waiting now.
      void this.optimize('write count').catch((err) => this.log.warn(`maintenance failed: ${errorMessage(err)}`));
    }
    return value.map((v) => ({ ok: true, value: v }));
  }

  /**
   * Re-reads the touched rows at the latest version, folds every intent's operations onto them in
   * order, and commits the rows as one mergeInsert whose update is conditional on `rev`. Rows are
   * sorted by id. If some rows did not match their revision (our lock was taken over while we were
   * frozen, FACTS.md), the rows that landed are kept and only the others are re-planned from a fresh
   * read: an update is never lost, never applied twice and never applied blindly.
   */
  private async commitUpserts(intents: Array<Extract<StoreIntent, { kind: 'upsert' }>>, lease: LockLease): Promise<UpsertOutcome[]> {
    const started = Date.now();
    const ids = new Set<string>();
    for (const intent of intents) {
      for (const r of intent.inserts) ids.add(r.id);
      for (const p of intent.patches) ids.add(p.id);
    }
    const outcomes: UpsertOutcome[] = intents.map((i) => ({ inserts: new Array(i.inserts.length), patches: new Array(i.patches.length) }));
    const landed = new Set<string>();
    let current = await this.readByIds([...ids]);
    for (let attempt = 1; ; attempt++) {
      const now = Date.now();
      const token = randomUUID();
      const plan = planUpserts(intents, current, landed, now, token);
      for (const [intentIndex, part, index, result] of plan.results) outcomes[intentIndex]![part][index] = result as never;
      if (plan.rows.length === 0) break;
      await failpoint('store.beforeCommit');
      let complete = false;
      try {
        const result = await this._table
          .mergeInsert('id')
          .whenMatchedUpdateAll({ where: 'target.rev = source.rev - 1' })
          .whenNotMatchedInsertAll()
          .execute(plan.rows.map(toRawRow));
        await failpoint('store.afterCommit');
        complete = result.numInsertedRows + result.numUpdatedRows === plan.rows.length;
        if (complete) {
          this._onCommit.fire({ kind: 'upsert', rows: plan.rows.length, intents: intents.length, ms: Date.now() - started, attempts: attempt, version: result.version });
          break;
        }
        this.log.warn(`revision conflict on ${plan.rows.length - result.numInsertedRows - result.numUpdatedRows} of ${plan.rows.length} rows${lease.compromised ? ' (lock was compromised)' : ''}; re-planning them`);
      } catch (err) {
        if (!isRetryableCommitError(err) || attempt >= MAX_COMMIT_ATTEMPTS) throw err;
        this.log.debug(`retryable commit error (attempt ${attempt}): ${errorMessage(err)}`);
      }
      if (attempt >= MAX_COMMIT_ATTEMPTS) throw new WriteFailedError(`Revision conflicts persisted after ${attempt} attempts`, undefined);
      current = await this.readByIds([...ids]);
      for (const row of plan.rows) {
        if (current.get(row.id)?.commit === token) landed.add(row.id);
      }
    }
    return outcomes;
  }

  private async commitDeletes(intents: Array<Extract<StoreIntent, { kind: 'delete' }>>): Promise<DeleteResult[][]> {
    const started = Date.now();
    const ids = [...new Set(intents.flatMap((i) => i.ids))].sort();
    const existing = await this.readByIds(ids);
    const toDelete = ids.filter((id) => existing.has(id));
    if (toDelete.length > 0) {
      await failpoint('store.beforeCommit');
      await this._table.delete(`id IN ${sqlInList(toDelete)}`);
      await failpoint('store.afterCommit');
      this._onCommit.fire({ kind: 'delete', rows: toDelete.length, intents: intents.length, ms: Date.now() - started, attempts: 1 });
    }
    // Each id is reported deleted once, to the first intent that named it.
    const reported = new Set<string>();
    return intents.map((intent) => intent.ids.map((id): DeleteResult => {
      const deleted = existing.has(id) && !reported.has(id);
      reported.add(id);
      return { id, status: deleted ? 'deleted' : 'missing' };
    }));
  }

  /** Identity lookups must be index-backed (LESSONS.md §2): build missing indexes soon after the first rows land. */
  private async scheduleIndexesIfMissing(): Promise<void> {
    this.indexesKnownPresent = true;
    try {
      const columns = new Set((await this._table.listIndices()).flatMap((i) => i.columns));
      if (!columns.has('id') || !columns.has('text') || !columns.has('scope')) await this.optimize('build indexes');
    } catch (err) {
      this.indexesKnownPresent = false;
      this.log.warn(`index check failed: ${errorMessage(err)}`);
    }
  }

  private async scheduleIfFragmented(): Promise<void> {
    try {
      const { fragmentStats } = await this._table.stats();
      if (fragmentStats.numSmallFragments >= this.maintenanceOptions.smallFragments) await this.optimize('small fragments');
    } catch (err) {
      this.log.warn(`fragment check failed: ${errorMessage(err)}`);
    }
  }

  // ---------------------------------------------------------------- reads (no lock)

  async get(id: string): Promise<MemoryRecord | undefined> {
    validateId(id);
    return (await this.readByIds([id])).get(id);
  }

  async getMany(ids: string[]): Promise<Map<string, MemoryRecord>> {
    ids.forEach((id, i) => validateId(id, `ids[${i}]`));
    return this.readByIds(ids);
  }

  /** Memories whose id starts with `prefix` (at most `limit`); for "update by unique id prefix". */
  async findByIdPrefix(prefix: string, limit = 2): Promise<MemoryRecord[]> {
    validateId(prefix, 'id prefix');
    const rows = await this._table.query().where(`id LIKE ${sqlLikePrefix(prefix, 'id prefix')}`).limit(limit).toArray();
    return rows.map((r) => fromRawRow(r as RawRow));
  }

  async count(filter?: string): Promise<number> {
    return this._table.countRows(filter);
  }

  /**
   * Every row at one table version, streamed in record batches: a consistent snapshot even while
   * other processes keep writing (the pinned table is read-only and never sees later commits).
   */
  async *snapshot(): AsyncGenerator<MemoryRecord, { version: number; rows: number }> {
    const version = await this._table.version();
    const pinned = await this.db.openTable(MEMORIES_TABLE, undefined, { version });
    let rows = 0;
    try {
      for await (const batch of pinned.query()) {
        for (const row of batch.toArray()) {
          rows++;
          yield fromRawRow((row as { toJSON(): RawRow }).toJSON());
        }
      }
    } finally {
      pinned.close();
    }
    return { version, rows };
  }

  /** Rows matching a filter built with `sqlString` (never raw user text), with paging. */
  async rows(filter: string | undefined, options: { limit?: number; offset?: number; columns?: string[] } = {}): Promise<RawRow[]> {
    let q = this._table.query();
    if (filter) q = q.where(filter);
    if (options.columns) q = q.select(options.columns);
    if (options.offset) q = q.offset(options.offset);
    q = q.limit(options.limit ?? Number.MAX_SAFE_INTEGER);
    return (await q.toArray()) as RawRow[];
  }

  async list(options: { scope?: string; category?: string; legacy?: boolean; limit?: number; offset?: number } = {}): Promise<{ total: number; items: MemoryRecord[] }> {
    const filter = this.listFilter(options);
    // Sorted by recency so paging is stable for a person; LanceDB has no ORDER BY, so sort the ids here.
    const keys = (await this.rows(filter, { columns: ['id', 'updated_at', 'metadata'] }))
      .map((r) => ({ id: String(r.id), updated: Number(r.updated_at), legacy: isLegacy({ metadata: fromRawRow(r).metadata }) }))
      .filter((k) => options.legacy === undefined || k.legacy === options.legacy)
      .sort((a, b) => b.updated - a.updated || (a.id < b.id ? -1 : 1));
    const offset = Math.max(0, options.offset ?? 0);
    const page = keys.slice(offset, offset + Math.max(0, options.limit ?? 50));
    const found = await this.readByIds(page.map((k) => k.id));
    return { total: keys.length, items: page.map((k) => found.get(k.id)).filter((r): r is MemoryRecord => !!r) };
  }

  listFilter(options: { scope?: string; category?: string }): string | undefined {
    const parts: string[] = [];
    if (options.scope !== undefined) parts.push(`scope = ${sqlString(validateScope(options.scope), 'scope')}`);
    if (options.category !== undefined) parts.push(`category = ${sqlString(validateCategory(options.category), 'category')}`);
    return parts.length ? parts.join(' AND ') : undefined;
  }

  /** Reads rows by id at the latest committed version (readConsistencyInterval 0). */
  private async readByIds(ids: string[]): Promise<Map<string, MemoryRecord>> {
    const out = new Map<string, MemoryRecord>();
    for (const part of chunk([...new Set(ids)], 512)) {
      const rows = await this._table.query().where(`id IN ${sqlInList(part)}`).limit(part.length * 4 + 16).toArray();
      for (const raw of rows) {
        const rec = fromRawRow(raw as RawRow);
        const seen = out.get(rec.id);
        // Should a duplicate ever exist (verify reports it), the newest revision wins.
        if (!seen || rec.rev > seen.rev) out.set(rec.id, rec);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- health

  async verify(): Promise<VerifyReport> {
    const rows = await this.rows(undefined, { columns: ['id', 'text', 'vector', 'metadata'] });
    const seen = new Map<string, number>();
    const badVectors: string[] = [];
    const badMetadata: string[] = [];
    const tornRows: string[] = [];
    for (const raw of rows) {
      const id = String(raw.id ?? '');
      seen.set(id, (seen.get(id) ?? 0) + 1);
      if (!id || typeof raw.text !== 'string') tornRows.push(id);
      const vec = raw.vector == null ? [] : Array.from(raw.vector as Iterable<number>);
      if (vec.length !== this.dim || vec.some((x) => !Number.isFinite(x))) badVectors.push(id);
      if ('_unparsed' in fromRawRow(raw).metadata) badMetadata.push(id);
    }
    const duplicateIds = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    return { ok: duplicateIds.length + badVectors.length + badMetadata.length + tornRows.length === 0, rows: rows.length, duplicateIds, badVectors, badMetadata, tornRows };
  }

  async stats(): Promise<StoreStats> {
    const rows = await this.rows(undefined, { columns: ['scope', 'category', 'metadata'] });
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
    const tableStats = await this._table.stats();
    const indexes = await this._table.listIndices();
    const dlq = await this.deadLetters.list();
    return {
      dir: this.dir,
      schemaVersion: this._meta.schemaVersion,
      dim: this._meta.dim,
      embedder: this._meta.embedder,
      rows: rows.length,
      legacy,
      byScope,
      byCategory,
      byTier,
      diskBytes: await folderSize(this.dir),
      versions: (await this._table.listVersions()).length,
      fragments: tableStats.fragmentStats.numFragments,
      smallFragments: tableStats.fragmentStats.numSmallFragments,
      indexes: indexes.map((i) => ({ name: i.name, type: i.indexType, columns: i.columns })),
      deadLetters: dlq.open.length,
      lock: await this.lock.status(),
      queue: this.queue.depth,
      lockAcquisitions: this.lock.acquisitions,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
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

export interface RepairAction {
  kind: 'duplicate' | 'lock';
  detail: string;
}

export interface RepairReport {
  actions: RepairAction[];
  /** What verify says after the repair (unreadable metadata and bad vectors are left for a person). */
  remaining: VerifyReport;
}

export interface VerifyReport {
  ok: boolean;
  rows: number;
  duplicateIds: string[];
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
  lock: Awaited<ReturnType<StoreLock['status']>>;
  queue: QueueDepth;
  lockAcquisitions: number;
}

type PlanResult = [intentIndex: number, part: 'inserts' | 'patches', index: number, result: InsertResult | PatchResult];

/**
 * Folds the group's operations, in submission order, onto the rows as they are now. Pure: no I/O.
 * Ids in `landed` were committed by an earlier attempt and are not planned again.
 */
export function planUpserts(
  intents: ReadonlyArray<{ inserts: MemoryRecord[]; patches: MemoryPatch[] }>,
  current: ReadonlyMap<string, MemoryRecord>,
  landed: ReadonlySet<string>,
  now: number,
  commit?: string,
): { rows: MemoryRecord[]; results: PlanResult[] } {
  const working = new Map(current);
  const dirty = new Set<string>();
  const pending: Array<[number, 'inserts' | 'patches', number, string, 'inserted' | 'exists' | 'conflict' | 'applied' | 'missing' | 'stale']> = [];
  intents.forEach((intent, i) => {
    intent.inserts.forEach((rec, j) => {
      if (landed.has(rec.id)) return;
      const existing = working.get(rec.id);
      if (!existing) {
        working.set(rec.id, { ...rec, metadata: { ...rec.metadata } });
        dirty.add(rec.id);
        pending.push([i, 'inserts', j, rec.id, 'inserted']);
      } else {
        const same = existing.text === rec.text && existing.scope === rec.scope && existing.category === rec.category;
        pending.push([i, 'inserts', j, rec.id, same ? 'exists' : 'conflict']);
      }
    });
    intent.patches.forEach((patch, j) => {
      if (landed.has(patch.id)) return;
      const row = working.get(patch.id);
      if (!row) return pending.push([i, 'patches', j, patch.id, 'missing']);
      if (!expectationHolds(row, patch)) return pending.push([i, 'patches', j, patch.id, 'stale']);
      // The row's revision advances with its first change in this group, so a second patch that
      // expected the revision both callers read is stale, exactly as if it had come one commit later.
      working.set(patch.id, { ...applyPatch(row, patch, now), rev: (current.get(patch.id)?.rev ?? 0) + 1 });
      dirty.add(patch.id);
      pending.push([i, 'patches', j, patch.id, 'applied']);
    });
  });
  // A changed row gets stored rev + 1 (the commit's condition); a new row keeps its own rev (1, or
  // the original rev when a backup is restored).
  const rows = [...dirty].sort().map((id) => {
    const row = working.get(id)!;
    const stored = current.get(id);
    return { ...row, rev: stored ? stored.rev + 1 : Math.max(1, row.rev), ...(commit ? { commit } : {}) };
  });
  const revOf = new Map(rows.map((r) => [r.id, r.rev]));
  const results: PlanResult[] = pending.map(([i, part, j, id, status]) => {
    const rev = status === 'inserted' || status === 'applied' ? revOf.get(id) : current.get(id)?.rev;
    return [i, part, j, { id, status, ...(rev !== undefined ? { rev } : {}) } as InsertResult | PatchResult];
  });
  return { rows, results };
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

async function createOrMigrate(db: Connection, root: string, options: MemoryStoreOptions, log: Logger): Promise<{ table: Table; meta: StoreMeta }> {
  let meta = await readStoreMeta(root);
  const exists = (await db.tableNames()).includes(MEMORIES_TABLE);
  if (exists) {
    const table = await db.openTable(MEMORIES_TABLE);
    if (!meta) {
      // A table without our meta file: an earlier layout or a foreign (memory-lancedb-pro) table.
      await migrateToV1(table, log);
      const dim = await vectorDimensionOf(table);
      if (!dim) throw new MemoryLaneError('E_STORE_META', `The table in ${root} has no fixed-size vector column; it cannot be used as a memory store`);
      meta = { schemaVersion: CURRENT_SCHEMA_VERSION, dim, embedder: options.embedder ?? 'unknown', createdAt: Date.now(), migratedAt: Date.now() };
      await writeStoreMeta(root, meta);
    }
    return { table, meta };
  }
  const dim = meta?.dim ?? options.dim;
  if (!dim || !Number.isInteger(dim) || dim <= 0) throw new ValidationError('dim', 'a positive vector dimension is needed to create a store');
  // Stable row ids: compaction then keeps row ids, so it need not remap the vector (ANN) index. Without
  // them, every maintenance that compacted indexed fragments rewrote the HNSW index under the lock:
  // 4.3–8.2 s at 10k rows, 129 ms with them (retrieval/vectorIndex.ts). Only tables created from now on.
  const table = await db.createEmptyTable(MEMORIES_TABLE, memoriesSchema(dim), { existOk: true, storageOptions: { new_table_enable_stable_row_ids: 'true' } });
  if (!meta) {
    meta = { schemaVersion: CURRENT_SCHEMA_VERSION, dim, embedder: options.embedder ?? 'unknown', createdAt: Date.now() };
    await writeStoreMeta(root, meta);
  }
  log.info(`created store at ${root} (dim ${dim})`);
  return { table, meta };
}

async function folderSize(dir: string): Promise<number> {
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
