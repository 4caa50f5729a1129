import type { MemoryStore } from '../store/memoryStore';
import { parseMetadata, type SmartMetadata } from '../store/schema';

export interface ScanResult {
  /** Rows looked at. */
  scanned: number;
  /** Ids of rows that need the job, sorted (rows are always processed in id order, docs/lessons.md#one-acquisition-order). */
  ids: string[];
}

/**
 * Streams the whole table (no limit: the original upgrader's capped listing silently left rows
 * behind) reading only `id` and `metadata`, and keeps the ids of rows that need the job. The stream
 * reads one snapshot and ends in seconds even at 100k rows, so it never spans a version cleanup;
 * the rows themselves are fetched page by page later, at their latest version. Memory is
 * O(candidates) ids. Rows added after the snapshot are picked up by the next run.
 */
export async function scanCandidates(
  store: MemoryStore,
  needs: (metadata: SmartMetadata) => boolean,
  signal: AbortSignal,
  onPage?: (scanned: number, candidates: number) => void,
): Promise<ScanResult> {
  const ids: string[] = [];
  let scanned = 0;
  // One stream over one version for as long as the scan takes (minutes at 100k rows): pinned.
  const pin = await store.pinCurrentVersion('upgrade scan');
  try {
    const query = store.table.query().select(['id', 'metadata']);
    for await (const batch of query as AsyncIterable<{ numRows: number; getChild(name: string): { get(i: number): unknown } | null }>) {
      const idCol = batch.getChild('id');
      const metaCol = batch.getChild('metadata');
      for (let i = 0; i < batch.numRows; i++) {
        scanned++;
        const id = idCol?.get(i);
        if (typeof id !== 'string') continue;
        if (needs(parseMetadata(metaCol?.get(i)))) ids.push(id);
      }
      onPage?.(scanned, ids.length);
      if (signal.aborted) break;
    }
  } finally {
    await pin.release();
  }
  ids.sort();
  // A duplicate id (verify reports it) is upgraded once; the store resolves it to its newest revision.
  return { scanned, ids: ids.filter((id, i) => i === 0 || ids[i - 1] !== id) };
}
