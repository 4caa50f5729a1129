import { appendHistory, type HistoryEntry } from '../provenance';
import type { MemoryRecord } from './schema';

/**
 * A change to one memory, by id. Patches name only what they change and are merged onto the row as
 * it is *at commit time*, never onto a snapshot taken earlier (docs/lessons.md#stale-snapshot).
 */
export interface MemoryPatch {
  id: string;
  set?: Partial<Pick<MemoryRecord, 'text' | 'vector' | 'category' | 'scope' | 'importance'>>;
  /** Top-level metadata keys to set; `null` removes a key; `undefined` is ignored (never overwrites). */
  metadata?: Record<string, unknown>;
  /** Numeric metadata counters to add to (e.g. injected_count: 1). Increments commute, so none is lost. */
  increment?: Record<string, number>;
  /** Numeric metadata fields raised to at least this value (e.g. last_injected_at); commutes too. */
  raiseTo?: Record<string, number>;
  /**
   * A change record appended to `metadata.history` (the last few kept) at commit time, so two
   * writers' entries never overwrite each other the way a `metadata.history` set from a read would.
   */
  history?: HistoryEntry;
  /** Preconditions; a row that no longer matches is reported `stale` and left untouched. */
  expect?: { rev?: number; text?: string };
}

/** True when a patch only does bookkeeping (counters), which must not look like an edit (no updated_at bump). */
export function isBookkeepingOnly(patch: MemoryPatch): boolean {
  return !patch.set && !patch.metadata && !patch.history && !!(patch.increment || patch.raiseTo);
}

export function expectationHolds(current: MemoryRecord, patch: MemoryPatch): boolean {
  if (patch.expect?.rev !== undefined && current.rev !== patch.expect.rev) return false;
  if (patch.expect?.text !== undefined && current.text !== patch.expect.text) return false;
  return true;
}

/**
 * Merges a patch onto the current row. Fields the patch does not name stay as they are; keys with
 * value `undefined` never overwrite (the `{...base, ...{x: undefined}}` bug); unknown metadata keys
 * written by other tools are preserved. Does not touch `rev`: the committer sets it once per commit.
 */
export function applyPatch(current: MemoryRecord, patch: MemoryPatch, now: number): MemoryRecord {
  const next: MemoryRecord = { ...current, metadata: { ...current.metadata } };
  if (patch.set) {
    for (const [key, value] of Object.entries(patch.set)) {
      if (value !== undefined) (next as unknown as Record<string, unknown>)[key] = value;
    }
  }
  if (patch.metadata) {
    for (const [key, value] of Object.entries(patch.metadata)) {
      if (value === undefined) continue;
      if (value === null) delete next.metadata[key];
      else next.metadata[key] = value;
    }
  }
  if (patch.history) next.metadata.history = appendHistory(next.metadata.history, patch.history);
  if (patch.increment) {
    for (const [key, by] of Object.entries(patch.increment)) {
      if (!Number.isFinite(by)) continue;
      const before = Number(next.metadata[key]);
      next.metadata[key] = (Number.isFinite(before) ? before : 0) + by;
    }
  }
  if (patch.raiseTo) {
    for (const [key, value] of Object.entries(patch.raiseTo)) {
      if (!Number.isFinite(value)) continue;
      const before = Number(next.metadata[key]);
      next.metadata[key] = Number.isFinite(before) ? Math.max(before, value) : value;
    }
  }
  if (!isBookkeepingOnly(patch)) next.updated_at = now;
  return next;
}
