import { errorMessage, MemoryLaneError, ValidationError } from '../errors';
import type { MemoryStore, NewMemory } from '../store/memoryStore';
import { fromRawRow } from '../store/schema';
import { sqlInList } from '../store/sql';
import { validateVector } from '../store/validation';
import type { EmbedFn } from './job';
import { scanCandidates } from './scan';
import { expectOneVectorPerText } from '../embedding/errors';

export interface StoreCopyOptions {
  embed: EmbedFn;
  /** The embedding model of the target store, recorded per row as `metadata.embedding_model`. */
  model: string;
  /** Rows per page (one embed call, one insert commit in the target). */
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: { scanned: number; copied: number; existing: number; failed: number }) => void;
}

export interface StoreCopyResult {
  scanned: number;
  copied: number;
  /** Already in the target (an earlier, interrupted copy); left as they are. */
  existing: number;
  failed: Array<{ id: string; reason: string; deadLetterId?: string }>;
  cancelled: boolean;
  ms: number;
}

const COLUMNS = ['id', 'text', 'category', 'scope', 'importance', 'created_at', 'updated_at', 'rev', 'metadata', 'context'];

/**
 * Re-embedding into a new dimension: copies every memory of `source` into `target` (a store opened
 * with the new dimension) with vectors from `embed`, keeping ids, text, category, scope,
 * importance, created_at, metadata and context. The source is only read, so agents keep working on it
 * meanwhile; embeddings are computed outside any lock; each page is one background insert into the
 * target. Resumable and idempotent: ids already in the target are skipped before embedding.
 *
 * Not carried over (say so to the user, or run it while no agent writes): edits and deletions made
 * in the source after a row was copied. Running it again copies rows added since.
 */
export async function copyIntoNewStore(source: MemoryStore, target: MemoryStore, options: StoreCopyOptions): Promise<StoreCopyResult> {
  if (source.dir === target.dir) throw new ValidationError('target', 'must be a different store folder than the source');
  const started = Date.now();
  const signal = options.signal ?? new AbortController().signal;
  const batchSize = Math.max(1, options.batchSize ?? 200);
  const result: StoreCopyResult = { scanned: 0, copied: 0, existing: 0, failed: [], cancelled: false, ms: 0 };
  const { ids, scanned } = await scanCandidates(source, () => true, signal);
  result.scanned = scanned;
  for (let i = 0; i < ids.length; i += batchSize) {
    if (signal.aborted) { result.cancelled = true; break; }
    const page = ids.slice(i, i + batchSize);
    const present = await target.getMany(page);
    result.existing += present.size;
    const todo = page.filter((id) => !present.has(id));
    if (todo.length === 0) continue;
    const rows = (await source.rows(`id IN ${sqlInList(todo)}`, { columns: COLUMNS })).map(fromRawRow);
    let memories: NewMemory[];
    try {
      const vectors = await options.embed(rows.map((r) => r.text), signal);
      expectOneVectorPerText(vectors, rows.length);
      const now = Date.now();
      memories = rows.map((r, k) => ({
        id: r.id,
        text: r.text,
        vector: validateVector(vectors[k], target.dim),
        category: r.category,
        scope: r.scope,
        importance: r.importance,
        created_at: r.created_at,
        metadata: { ...r.metadata, embedding_model: options.model, embedded_at: now },
        ...(r.context ? { context: r.context } : {}),
      }));
    } catch (err) {
      if (signal.aborted) { result.cancelled = true; break; }
      for (const r of rows) result.failed.push({ id: r.id, reason: `embedding failed: ${errorMessage(err)}` });
      continue;
    }
    try {
      const res = await target.insert(memories, { priority: 'background', label: `copy into new store (${memories.length} rows)` });
      for (const r of res) {
        if (r.status === 'inserted') result.copied++;
        else if (r.status === 'exists' || r.status === 'conflict') result.existing++;
        else if (r.status === 'failed') result.failed.push({ id: r.id, reason: `write failed: ${r.error}` });
      }
    } catch (err) {
      const deadLetterId = err instanceof MemoryLaneError ? err.deadLetterId : undefined;
      for (const m of memories) result.failed.push({ id: m.id!, reason: `write failed: ${errorMessage(err)}`, ...(deadLetterId ? { deadLetterId } : {}) });
    }
    options.onProgress?.({ scanned, copied: result.copied, existing: result.existing, failed: result.failed.length });
  }
  result.ms = Date.now() - started;
  return result;
}
