import type { MemoryStore } from '../../src/core/store/memoryStore';
import { planUpserts } from '../../src/core/store/commitPlan';
import { toRawRow } from '../../src/core/store/schema';
import { EnrichJob, enrichmentPatch, type Enricher } from '../../src/core/upgrade';
import { scanCandidates } from '../../src/core/upgrade/scan';

/**
 * The naive upgrader of docs/lessons.md#no-llm-call-under-the-lock — the behaviour that stalled agents in memory-lancedb-pro
 * (#632) — kept ONLY as a benchmark baseline; it must never reach src/. Per entry: take the
 * cross-process lock (the real StoreLock, with a deadline), read the row, call the enricher (the
 * LLM) while holding the lock, write that one row, release, and immediately go for the next entry.
 * Entries go one at a time: the lock serialises them, so an enricher's concurrency cannot help.
 *
 * It writes the same fields as the real upgrader (enrichmentPatch) with the same conditional
 * mergeInsert, so both baselines do identical work per row; only where the slow call and the lock
 * sit differs. It writes through the table directly because it already holds the lock (the store's
 * queue would try to take it again: not re-entrant).
 */
export interface NaiveUpgradeOptions {
  enricher: Enricher;
  signal: AbortSignal;
  lockDeadlineMs?: number;
  onWritten?: (written: number) => void;
}

export interface NaiveUpgradeResult {
  scanned: number;
  candidates: number;
  upgraded: number;
  failed: Array<{ id: string; reason: string }>;
  ms: number;
}

export async function naiveUpgrade(store: MemoryStore, options: NaiveUpgradeOptions): Promise<NaiveUpgradeResult> {
  const started = Date.now();
  const job = new EnrichJob({ enricher: options.enricher, fallback: 'none' });
  const scan = await scanCandidates(store, (m) => job.needs(m), options.signal);
  const failed: Array<{ id: string; reason: string }> = [];
  let upgraded = 0;
  for (const id of scan.ids) {
    if (options.signal.aborted) break;
    const lease = await store.lock.acquire(`naive upgrade: ${id}`, options.lockDeadlineMs ?? 60_000);
    try {
      const row = await store.get(id);
      if (!row) continue;
      const enrichment = await options.enricher.enrich({ id, text: row.text, category: row.category, importance: row.importance }, options.signal);
      const now = Date.now();
      const plan = planUpserts([{ inserts: [], patches: [enrichmentPatch(row, enrichment, now)] }], new Map([[id, row]]), new Set(), now);
      const result = await store.table
        .mergeInsert('id')
        .whenMatchedUpdateAll({ where: 'target.rev = source.rev - 1' })
        .whenNotMatchedInsertAll()
        .execute(plan.rows.map(toRawRow));
      if (result.numUpdatedRows === 1) options.onWritten?.(++upgraded);
      else failed.push({ id, reason: 'revision conflict' });
    } catch (err) {
      if (options.signal.aborted) break;
      failed.push({ id, reason: (err as Error).message });
    } finally {
      await lease.release();
    }
  }
  return { scanned: scan.scanned, candidates: scan.ids.length, upgraded, failed, ms: Date.now() - started };
}
