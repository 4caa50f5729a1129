import type { UsageSink } from '../usage/tokens';
/**
 * Turns texts into vectors. Every memory's `vector` column comes from exactly one embedder, and a
 * store remembers which one (`StoreMeta.embedder` = `Embedder.id`, `StoreMeta.dim` = `Embedder.dim`):
 * vectors from two embedders live in different spaces and must never be mixed in one table.
 */
export interface Embedder {
  /**
   * Names the vector space, e.g. `local:fh1@384` or `openai:text-embedding-3-small@1536`. Two
   * embedders with the same id produce comparable vectors; a different id means re-embedding.
   */
  readonly id: string;
  /** Length of every vector this embedder returns. */
  readonly dim: number;
  /** `local` needs no network; `openai` calls an OpenAI-compatible `/embeddings` endpoint. */
  readonly kind: EmbedderKind;
  /** Largest number of texts one `embed` call sends in one request (the caching wrapper batches by it). */
  readonly maxBatchSize: number;
  /** One vector per text, in order. Throws a `MemoryLaneError` subclass on failure (see ./errors). */
  embed(texts: string[], options?: EmbedOptions): Promise<number[][]>;
}

export type EmbedderKind = 'local' | 'openai';

export interface EmbedOptions {
  /** Cancels the call (a request in flight is aborted); the promise rejects with `CancelledError`. */
  signal?: AbortSignal;
  /**
   * This call's token usage goes here instead of the embedder's `onUsage`: a background run (the
   * re-embed) counts its own calls against its budget and records them under its run id.
   */
  usage?: UsageSink;
}

/** What `stats()` and the views show about an embedder; never contains a key. */
export interface EmbedderInfo {
  id: string;
  kind: EmbedderKind;
  dim: number;
  model?: string;
  baseUrl?: string;
}

/** Scales a vector to unit length in place (cosine = dot product afterwards); a zero vector stays zero. */
export function normalizeInPlace(v: number[]): number[] {
  let sum = 0;
  for (const x of v) sum += x * x;
  if (sum > 0) {
    const inv = 1 / Math.sqrt(sum);
    for (let i = 0; i < v.length; i++) v[i]! *= inv;
  }
  return v;
}

/** Cosine similarity of two equal-length vectors (0 when either is zero). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0, na = 0, nb = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!, y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}
