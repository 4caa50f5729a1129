import { createHash } from 'node:crypto';
import { errorCode, errorMessage, MemoryLaneError, NoEmbedderError } from '../../errors';
import { componentLogger, nullLogger, type Logger } from '../../log';
import type { MemoryStore, NewMemory } from '../../store/memoryStore';
import { validateId, validateVector } from '../../store/validation';
import type { EmbedFn } from '../job';
import type { Writer } from '../../provenance';
import { expectOneVectorPerText } from '../../embedding/errors';

export type ImportFormat = 'jsonl' | 'mcp-knowledge-graph' | 'memory-lancedb-pro';

export interface ImportOptions {
  /** Embeds texts for the store (outside any lock). Required unless every record brings a usable vector. */
  embed?: EmbedFn;
  /** Use vectors found in the source when their dimension matches the store (only if they come from the store's embedding model). */
  reuseVectors?: boolean;
  /** Put every memory in this scope, whatever the source says. */
  scope?: string;
  /** Scope for records that name none (default `global`). */
  defaultScope?: string;
  /**
   * Namespace of the derived ids (default: the format name). Ids are a hash of namespace + the
   * record's original id (or its text), so importing the same data again changes nothing.
   */
  source?: string;
  /** Keep the source's ids as they are (e.g. re-importing a Memory Lane export) instead of deriving them. */
  keepIds?: boolean;
  /** Records per batch (one insert commit, one embed call). */
  batchSize?: number;
  signal?: AbortSignal;
  /** Parse, validate and count what would be imported; embed and write nothing. */
  dryRun?: boolean;
  onProgress?: (p: ImportProgress) => void;
  logger?: Logger;
  /**
   * Who imports (kind `import`, e.g. `service.writerFor({ kind: 'import' })`): recorded as each new
   * memory's writer and first history entry. The source's own metadata keeps its keys.
   */
  writer?: Writer;
}

export interface ImportProgress {
  format: ImportFormat;
  read: number;
  imported: number;
  existing: number;
  malformed: number;
  failed: number;
  batches: number;
}

export interface ImportIssue {
  /** 1-based line of a JSONL file, or row number of a table. */
  line: number;
  reason: string;
  id?: string;
  deadLetterId?: string;
}

export interface ImportResult {
  format: ImportFormat;
  /** The file or folder imported. */
  from: string;
  /** Records parsed and valid. */
  read: number;
  /** Memories inserted (in a dry run: that would be). They arrive legacy; the upgrader enriches them. */
  imported: number;
  /** Already in the store from an earlier import, left as they are. */
  existing: number;
  /** Lines / rows that could not be understood; everything else was imported. */
  malformed: ImportIssue[];
  /** Valid records that could not be embedded or written (kept in the dead-letter queue). */
  failed: ImportIssue[];
  ids: string[];
  cancelled: boolean;
  dryRun: boolean;
  batches: number;
  ms: number;
}

/** One memory read from a source, before ids and vectors. */
export interface ImportRecord {
  line: number;
  /** What identifies the record within its source (original id, or content); hashed into the id. */
  key: string;
  /** Used as the id as-is with `keepIds`. */
  originalId?: string;
  memory: Omit<NewMemory, 'id' | 'vector'>;
  vector?: number[];
}

export type ParsedItem = { line: number; record: ImportRecord } | { line: number; malformed: string };

const ID_PREFIX: Record<ImportFormat, string> = { jsonl: 'imp', 'mcp-knowledge-graph': 'kg', 'memory-lancedb-pro': 'pro' };

/** A stable id for an imported record: the same source record always gets the same id. */
export function importId(format: ImportFormat, namespace: string, key: string): string {
  return `${ID_PREFIX[format]}-${createHash('sha256').update(`${namespace}\n${key}`).digest('hex').slice(0, 32)}`;
}

/**
 * Imports parsed records in bounded batches: ids derived stably, rows already present skipped
 * before anything is embedded, vectors computed outside the lock, each batch one background
 * insert. Malformed input is reported with its line and never stops the rest.
 */
export async function runImport(store: MemoryStore, format: ImportFormat, from: string, items: AsyncIterable<ParsedItem>, options: ImportOptions = {}): Promise<ImportResult> {
  const started = Date.now();
  const log = componentLogger(options.logger ?? nullLogger, 'import');
  const batchSize = Math.max(1, options.batchSize ?? 100);
  const namespace = options.source ?? format;
  const result: ImportResult = { format, from, read: 0, imported: 0, existing: 0, malformed: [], failed: [], ids: [], cancelled: false, dryRun: options.dryRun === true, batches: 0, ms: 0 };
  const seenInRun = new Set<string>();
  const progress = () => options.onProgress?.({ format, read: result.read, imported: result.imported, existing: result.existing, malformed: result.malformed.length, failed: result.failed.length, batches: result.batches });

  const flush = async (batch: Array<ImportRecord & { id: string }>) => {
    if (batch.length === 0) return;
    const existing = await store.getMany(batch.map((r) => r.id));
    const fresh = batch.filter((r) => !existing.has(r.id));
    result.existing += batch.length - fresh.length;
    if (fresh.length === 0 || options.dryRun) {
      if (options.dryRun) { result.imported += fresh.length; result.ids.push(...fresh.map((r) => r.id)); }
      return;
    }
    let vectors: number[][];
    try {
      vectors = await vectorsFor(store.dim, fresh, options);
    } catch (err) {
      await fail(fresh, `embedding failed: ${errorMessage(err)}`, errorCode(err));
      return;
    }
    const signed = options.writer ? { writer: options.writer, history: [{ writer: options.writer, at: options.writer.at, fields: ['text', 'category', 'scope', 'importance', 'metadata'] }] } : {};
    const rows: NewMemory[] = fresh.map((r, i) => ({ ...r.memory, ...(options.writer ? { metadata: { ...r.memory.metadata, ...signed } } : {}), id: r.id, vector: vectors[i]! }));
    result.batches++;
    try {
      const res = await store.insert(rows, { priority: 'background', label: `import ${format}: batch ${result.batches} (${rows.length} rows)` });
      res.forEach((r, i) => {
        const rec = fresh[i]!;
        if (r.status === 'inserted') { result.imported++; result.ids.push(r.id); }
        else if (r.status === 'exists') result.existing++;
        // Same id, different content: with derived ids that is this record imported earlier and
        // edited (or upgraded) since; with kept ids it is a different memory owning the id.
        else if (r.status === 'conflict') {
          if (options.keepIds) result.failed.push({ line: rec.line, id: r.id, reason: 'a different memory already has this id' });
          else result.existing++;
        } else if (r.status === 'failed') result.failed.push({ line: rec.line, id: r.id, reason: `write failed: ${r.error}` });
      });
    } catch (err) {
      const deadLetterId = err instanceof MemoryLaneError ? err.deadLetterId : undefined;
      if (deadLetterId) for (const r of fresh) result.failed.push({ line: r.line, id: r.id, reason: `write failed: ${errorMessage(err)}`, deadLetterId });
      else await fail(fresh, `write failed: ${errorMessage(err)}`, errorCode(err));
    }
  };

  // Records that never reached the store's write path are kept in its dead-letter queue here.
  const fail = async (records: Array<ImportRecord & { id: string }>, reason: string, code: string) => {
    let deadLetterId: string | undefined;
    try {
      deadLetterId = (await store.deadLetters.append({
        label: `import ${format}: ${records.length} records from ${from}`,
        intent: { kind: 'import', format, from, records: records.map((r) => ({ line: r.line, id: r.id, ...r.memory })) },
        error: { code, message: reason },
      })).dlqId;
    } catch (err) {
      log.error(`could not keep ${records.length} failed import records in the dead-letter queue: ${errorMessage(err)}`);
    }
    for (const r of records) result.failed.push({ line: r.line, id: r.id, reason, ...(deadLetterId ? { deadLetterId } : {}) });
    log.warn(`${records.length} records from ${from} failed: ${reason}`);
  };

  let batch: Array<ImportRecord & { id: string }> = [];
  for await (const item of items) {
    if (options.signal?.aborted) { result.cancelled = true; break; }
    if ('malformed' in item) {
      result.malformed.push({ line: item.line, reason: item.malformed });
      continue;
    }
    let id: string;
    try {
      id = options.keepIds && item.record.originalId !== undefined ? validateId(item.record.originalId) : importId(format, namespace, item.record.key);
    } catch (err) {
      result.malformed.push({ line: item.line, reason: errorMessage(err) });
      continue;
    }
    result.read++;
    // The same record twice in one source (duplicate lines) is one memory.
    if (seenInRun.has(id)) { result.existing++; continue; }
    seenInRun.add(id);
    batch.push({ ...item.record, id });
    if (batch.length >= batchSize) {
      await flush(batch);
      batch = [];
      progress();
    }
  }
  if (!result.cancelled) await flush(batch);
  progress();
  result.ms = Date.now() - started;
  log.info(`${format} from ${from}: ${result.imported} imported, ${result.existing} already present, ${result.malformed.length} malformed, ${result.failed.length} failed in ${result.ms} ms`);
  return result;
}

async function vectorsFor(dim: number, records: ImportRecord[], options: ImportOptions): Promise<number[][]> {
  const out: number[][] = new Array(records.length);
  const need: number[] = [];
  records.forEach((r, i) => {
    if (options.reuseVectors && r.vector && r.vector.length === dim) out[i] = r.vector;
    else need.push(i);
  });
  if (need.length > 0) {
    if (!options.embed) {
      const sample = records[need[0]!]!;
      throw new NoEmbedderError(sample.vector
        ? `the source's vectors have dimension ${sample.vector.length}, the store's ${dim}, and no embedder was given`
        : 'the source has no vectors and no embedder was given');
    }
    const vectors = await options.embed(need.map((i) => records[i]!.memory.text), options.signal);
    expectOneVectorPerText(vectors, need.length);
    need.forEach((recordIndex, j) => { out[recordIndex] = validateVector(vectors[j], dim); });
  }
  return out;
}
