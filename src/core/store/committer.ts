import { randomUUID } from 'node:crypto';
import type { Table } from '@lancedb/lancedb';
import type { LockLease } from '../concurrency/storeLock';
import { WriteFailedError } from '../errors';
import { failpoint } from '../failpoints';
import type { Logger } from '../log';
import { chunk, planUpserts, type DeleteIntent, type DeleteResult, type UpsertIntent, type UpsertOutcome } from './commitPlan';
import { COMMIT_RETRY, RetryableConflict, retryCommit, type CommitRetryBudget } from './commitRetry';
import { fromRawRow, toRawRow, type MemoryRecord, type RawRow } from './schema';
import { sqlInList, sqlString } from './sql';

export interface CommitEvent {
  kind: 'upsert' | 'delete';
  rows: number;
  intents: number;
  ms: number;
  attempts: number;
  version?: number;
}

export interface RepairAction {
  kind: 'duplicate' | 'lock';
  detail: string;
}

/** Reads rows by id at the latest committed version (the store opens with readConsistencyInterval 0). */
export async function readByIds(table: Table, ids: readonly string[]): Promise<Map<string, MemoryRecord>> {
  const out = new Map<string, MemoryRecord>();
  for (const part of chunk([...new Set(ids)], 512)) {
    const rows = await table.query().where(`id IN ${sqlInList(part)}`).limit(part.length * 4 + 16).toArray();
    for (const raw of rows) {
      const rec = fromRawRow(raw as RawRow);
      const seen = out.get(rec.id);
      // Should a duplicate ever exist (verify reports it), the newest revision wins.
      if (!seen || rec.rev > seen.rev) out.set(rec.id, rec);
    }
  }
  return out;
}

/**
 * Committing under the store lock: everything here runs only inside the write queue's group commit,
 * while this process holds the lease.
 */
export class Committer {
  constructor(private readonly table: () => Table, private readonly log: Logger, private readonly onCommit: (e: CommitEvent) => void, private readonly retry: CommitRetryBudget = COMMIT_RETRY) {}

  /**
   * Re-reads the touched rows at the latest version, folds every intent's operations onto them in
   * order, and commits the rows as one mergeInsert whose update is conditional on `rev`. Rows are
   * sorted by id. If some rows did not match their revision (our lock was taken over while we were
   * frozen, docs/lancedb.md#a-frozen-holder-loses-the-lock), the rows that landed are kept and only the others are
   * re-planned from a fresh read: an update is never lost, never applied twice and never applied blindly.
   * Which rows landed is told by the attempt's token stored in each row, never by comparing contents:
   * another process's commuting increment can produce exactly the planned state.
   */
  async commitUpserts(intents: readonly UpsertIntent[], lease: LockLease): Promise<UpsertOutcome[]> {
    const started = Date.now();
    const ids = new Set<string>();
    for (const intent of intents) {
      for (const r of intent.inserts) ids.add(r.id);
      for (const p of intent.patches) ids.add(p.id);
    }
    const outcomes: UpsertOutcome[] = intents.map((i) => ({ inserts: new Array(i.inserts.length), patches: new Array(i.patches.length) }));
    const landed = new Set<string>();
    // A group of inserts only (agents' stores, an import batch) nearly always names fresh ids: its
    // first attempt reads nothing and commits an insert-only merge, which leaves any row that already
    // exists untouched. Only if some id did exist is the group re-read and re-planned like any other.
    const insertOnly = intents.every((i) => i.patches.length === 0);
    let current = insertOnly ? new Map<string, MemoryRecord>() : await readByIds(this.table(), [...ids]);
    let previous: { rows: MemoryRecord[]; token: string } | undefined;
    // Rows may land over several attempts (a partial revision conflict, ids already stored).
    const committed = { rows: 0, version: undefined as number | undefined };
    try {
      const { attempts } = await retryCommit('commit', async (attempt) => {
        if (attempt > 1) {
          current = await readByIds(this.table(), [...ids]);
          for (const row of previous?.rows ?? []) if (current.get(row.id)?.commit === previous!.token) landed.add(row.id);
        }
        const token = randomUUID();
        const plan = planUpserts(intents, current, landed, Date.now(), token);
        for (const [intentIndex, part, index, result] of plan.results) outcomes[intentIndex]![part][index] = result as never;
        previous = { rows: plan.rows, token };
        if (plan.rows.length === 0) return;
        await failpoint('store.beforeCommit');
        const blind = insertOnly && attempt === 1;
        const merge = this.table().mergeInsert('id');
        const result = await (blind ? merge : merge.whenMatchedUpdateAll({ where: 'target.rev = source.rev - 1' }))
          .whenNotMatchedInsertAll()
          .execute(plan.rows.map(toRawRow));
        committed.rows += result.numInsertedRows + result.numUpdatedRows;
        committed.version = result.version;
        await failpoint('store.afterCommit');
        const missed = plan.rows.length - result.numInsertedRows - result.numUpdatedRows;
        if (missed === 0) return;
        if (blind) throw new RetryableConflict(`${missed} of ${plan.rows.length} ids were already stored`);
        this.log.warn(`revision conflict on ${missed} of ${plan.rows.length} rows${lease.compromised ? ' (lock was compromised)' : ''}; re-planning them`);
        throw new RetryableConflict(`revision conflicts on ${missed} of ${plan.rows.length} rows`);
      }, this.log, undefined, this.retry);
      if (committed.rows > 0) this.onCommit({ kind: 'upsert', rows: committed.rows, intents: intents.length, ms: Date.now() - started, attempts, version: committed.version });
    } catch (err) {
      if (err instanceof RetryableConflict) throw new WriteFailedError(`Revision conflicts persisted: ${err.message}`, undefined);
      throw err;
    }
    return outcomes;
  }

  async commitDeletes(intents: readonly DeleteIntent[]): Promise<DeleteResult[][]> {
    const started = Date.now();
    const ids = [...new Set(intents.flatMap((i) => i.ids))].sort();
    const existing = await readByIds(this.table(), ids);
    // A conditional delete keeps a row that moved past its expected revision (any intent's expectation counts).
    const stale = new Set<string>();
    const expected = new Map<string, number>();
    for (const intent of intents) {
      for (const [id, rev] of Object.entries(intent.expectRev ?? {})) {
        const row = existing.get(id);
        if (row && row.rev !== rev) stale.add(id);
        else expected.set(id, rev);
      }
    }
    const toDelete = ids.filter((id) => existing.has(id) && !stale.has(id));
    if (toDelete.length > 0) {
      await failpoint('store.beforeCommit');
      // The revision is in the predicate too, as in every conditional write: correct even if this lock was taken over.
      const plain = toDelete.filter((id) => !expected.has(id));
      const guarded = toDelete.filter((id) => expected.has(id)).map((id) => `(id = ${sqlString(id)} AND rev = ${expected.get(id)!})`);
      const predicate = [...(plain.length ? [`id IN ${sqlInList(plain)}`] : []), ...guarded].join(' OR ');
      const { attempts } = await retryCommit('delete', () => this.table().delete(predicate), this.log, undefined, this.retry);
      await failpoint('store.afterCommit');
      this.onCommit({ kind: 'delete', rows: toDelete.length, intents: intents.length, ms: Date.now() - started, attempts });
    }
    // Each id is reported deleted once, to the first intent that named it.
    const reported = new Set<string>();
    return intents.map((intent) => intent.ids.map((id): DeleteResult => {
      if (stale.has(id)) return { id, status: 'stale' };
      const deleted = existing.has(id) && !reported.has(id);
      reported.add(id);
      return { id, status: deleted ? 'deleted' : 'missing' };
    }));
  }

  /**
   * For each duplicated id keep the copy with the highest rev (then newest), delete the rest by row
   * id in one commit. Row ids are addresses that a compaction moves: the caller holds the
   * maintenance job lock as well as the store lock, so none can commit in between.
   */
  async removeDuplicateCopies(): Promise<RepairAction[]> {
    const rows = (await this.table().query().select(['id', 'rev', 'updated_at']).withRowId().toArray()) as RawRow[];
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
    if (doomed.length > 0) await retryCommit('repair', () => this.table().delete(`_rowid IN (${doomed.join(', ')})`), this.log, undefined, this.retry);
    return actions;
  }
}
