import type { WritePriority } from '../concurrency/writeQueue';
import { applyPatch, expectationHolds, type MemoryPatch } from './patch';
import type { MemoryRecord } from './schema';

/**
 * Planning a commit: what the write intents are, and how a group of them folds onto the rows as they
 * are at commit time. Pure: no I/O, no lock; the committer runs it under the lock.
 */

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
  /** The turn or message just before this memory, indexed for full-text search with it (MemoryRecord.context). */
  context?: string;
}

export interface WriteOptions {
  priority?: WritePriority;
  label?: string;
  deadlineMs?: number;
}

export type InsertResult = { id: string; status: 'inserted' | 'exists' | 'conflict'; rev?: number } | { id: string; status: 'failed'; error: string };
export type PatchResult = { id: string; status: 'applied' | 'missing' | 'stale'; rev?: number } | { id: string; status: 'failed'; error: string };
/** `stale`: a conditional delete whose row is no longer at the expected revision; it was kept. */
export type DeleteResult = { id: string; status: 'deleted' | 'missing' | 'stale' } | { id: string; status: 'failed'; error: string };

/** What the write queue carries, and what a dead letter keeps for replay (ids fixed at submission). */
export type StoreIntent =
  | {
      kind: 'upsert';
      inserts: MemoryRecord[];
      patches: MemoryPatch[];
      /** In a dead letter: each patched row's revision when the write failed, so a replay never overwrites a later change. */
      baseRevs?: Record<string, number>;
    }
  /** `expectRev`: delete these ids only while they are at these revisions (consolidation: a member edited meanwhile stays). */
  | { kind: 'delete'; ids: string[]; expectRev?: Record<string, number> }
  | { kind: 'maintenance'; reason: string }
  | { kind: 'repair' };

export type UpsertIntent = Extract<StoreIntent, { kind: 'upsert' }>;
export type DeleteIntent = Extract<StoreIntent, { kind: 'delete' }>;

export interface UpsertOutcome {
  inserts: InsertResult[];
  patches: PatchResult[];
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Rows are committed sorted by id, so two processes' batches touch rows in the same order. */
export const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export type PlanResult = [intentIndex: number, part: 'inserts' | 'patches', index: number, result: InsertResult | PatchResult];

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

