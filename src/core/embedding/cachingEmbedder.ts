import { createHash } from 'node:crypto';
import { CancelledError } from '../errors';
import type { EmbedOptions, Embedder } from './embedder';

export interface CachingEmbedderOptions {
  /** Upper bound on cached vector bytes (Float32), default 16 MiB (≈10k vectors of 384 dims). */
  maxBytes?: number;
  /** Batches sent to the inner embedder at once (default 2: a slow endpoint is not flooded). */
  concurrency?: number;
}

/**
 * Wraps an embedder with a bounded LRU cache and batching. Recall embeds the same few queries
 * over and over (an agent repeats itself; the bookkeeping test recalls one query a thousand times),
 * and a store followed by its near-duplicate check embeds the same text twice. Misses are
 * de-duplicated and split into batches of the inner embedder's `maxBatchSize`.
 */
export class CachingEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  readonly kind: Embedder['kind'];
  readonly maxBatchSize: number;
  private readonly cache = new Map<string, Float32Array>();
  private readonly maxEntries: number;
  private readonly concurrency: number;
  hits = 0;
  misses = 0;

  constructor(readonly inner: Embedder, options: CachingEmbedderOptions = {}) {
    this.id = inner.id;
    this.dim = inner.dim;
    this.kind = inner.kind;
    this.maxBatchSize = inner.maxBatchSize;
    this.maxEntries = Math.max(1, Math.floor((options.maxBytes ?? 16 * 1024 * 1024) / (inner.dim * 4)));
    this.concurrency = Math.max(1, options.concurrency ?? 2);
  }

  get size(): number {
    return this.cache.size;
  }

  async embed(texts: string[], options: EmbedOptions = {}): Promise<number[][]> {
    const keys = texts.map(cacheKey);
    const out: Array<number[] | undefined> = keys.map((k) => {
      const hit = this.cache.get(k);
      if (!hit) return undefined;
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.cache.delete(k);
      this.cache.set(k, hit);
      return Array.from(hit);
    });
    const missing = new Map<string, string>();
    keys.forEach((k, i) => { if (!out[i] && !missing.has(k)) missing.set(k, texts[i]!); });
    this.hits += texts.length - [...out].filter((v) => !v).length;
    this.misses += missing.size;
    if (missing.size > 0) {
      const entries = [...missing];
      const batches: Array<Array<[string, string]>> = [];
      for (let i = 0; i < entries.length; i += this.maxBatchSize) batches.push(entries.slice(i, i + this.maxBatchSize));
      const fresh = new Map<string, number[]>();
      let next = 0;
      const worker = async () => {
        while (next < batches.length) {
          if (options.signal?.aborted) throw new CancelledError('embedding');
          const batch = batches[next++]!;
          const vectors = await this.inner.embed(batch.map(([, t]) => t), options);
          batch.forEach(([k], j) => fresh.set(k, vectors[j]!));
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, batches.length) }, worker));
      for (const [k, v] of fresh) this.remember(k, v);
      keys.forEach((k, i) => { if (!out[i]) out[i] = [...fresh.get(k)!]; });
    }
    return out as number[][];
  }

  clear(): void {
    this.cache.clear();
  }

  private remember(key: string, vector: number[]): void {
    this.cache.delete(key);
    this.cache.set(key, Float32Array.from(vector));
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
  }
}

/** Short texts key themselves; long ones by digest, so the cache's memory is bounded by vectors, not by texts. */
function cacheKey(text: string): string {
  return text.length <= 200 ? 't:' + text : 'h:' + createHash('sha256').update(text).digest('base64');
}
