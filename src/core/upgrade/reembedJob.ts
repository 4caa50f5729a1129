import PQueue from 'p-queue';
import { DimensionMismatchError, errorMessage, ValidationError } from '../errors';
import type { SmartMetadata } from '../store/schema';
import { validateVector } from '../store/validation';
import type { EmbedFn, Preparation, UpgradeJob, UpgradeRow } from './job';
import { expectOneVectorPerText } from '../embedding/errors';
import { estimateTokens, type UsageSink } from '../usage/tokens';

export interface ReembedJobOptions {
  embed: EmbedFn;
  /** Name of the embedding model the new vectors come from; recorded per row as `metadata.embedding_model`. */
  model: string;
  /** The store's vector dimension: re-embedding in place keeps it (a new dimension needs copyIntoNewStore). */
  dim: number;
  /** Texts per embed call. */
  embedBatchSize?: number;
  /** Embed calls in flight at once. */
  concurrency?: number;
  /** Re-embed every row, even those already marked with this model. */
  force?: boolean;
  /**
   * Set when `embed` calls a remote model and reports usage: the run then counts its tokens, records
   * them in the ledger under its run id, and honours the upgrade's budget (estimate: characters/4 of each text).
   */
  spender?: { provider: string; model?: string };
}

/**
 * Re-embedding as an upgrade job, on the same machinery as enrichment: vectors are computed in
 * Phase 1 (no lock), written in Phase 2 as patches `set: {vector}` conditional on the text they were
 * computed from (a text edited meanwhile is re-queued and embedded again). Resume: rows already
 * marked with the target model are not redone.
 */
export class ReembedJob implements UpgradeJob {
  readonly kind = 'reembed';
  readonly prepPhase = 'embed';
  readonly label: string;
  private readonly o: Required<Omit<ReembedJobOptions, 'spender'>>;
  readonly spender?: UpgradeJob['spender'];

  constructor(options: ReembedJobOptions) {
    if (!options.model?.trim()) throw new ValidationError('model', 're-embedding needs the name of the target embedding model');
    const { spender, ...rest } = options;
    this.o = { embedBatchSize: 32, concurrency: 2, force: false, ...rest };
    if (spender) this.spender = { purpose: 'embed', provider: spender.provider, ...(spender.model ? { model: spender.model } : {}), estimateRow: (row) => ({ in: estimateTokens(row.text), out: 0 }) };
    this.label = `re-embed (${options.model})`;
  }

  needs(metadata: SmartMetadata): boolean {
    return this.o.force || metadata.embedding_model !== this.o.model;
  }

  async prepare(rows: UpgradeRow[], signal: AbortSignal, onPrepared: (n: number) => void, usage?: UsageSink): Promise<Preparation[]> {
    const queue = new PQueue({ concurrency: Math.max(1, this.o.concurrency) });
    const groups: UpgradeRow[][] = [];
    for (let i = 0; i < rows.length; i += this.o.embedBatchSize) groups.push(rows.slice(i, i + this.o.embedBatchSize));
    const results = await Promise.all(groups.map((group) => queue.add(async (): Promise<Preparation[]> => {
      if (signal.aborted) return [];
      let vectors: number[][];
      try {
        vectors = await this.o.embed(group.map((r) => r.text), signal, this.spender ? usage : undefined);
      } catch (err) {
        if (signal.aborted) return [];
        return group.map((r) => ({ id: r.id, fail: `embedding failed: ${errorMessage(err)}` }));
      }
      // A model of another dimension cannot be written into this table at all: stop the run before
      // anything is written, instead of failing every row (see reembedMemories for that path).
      const wrong = Array.isArray(vectors) ? vectors.find((v) => Array.isArray(v) && v.length !== this.o.dim) : undefined;
      if (wrong) {
        const err = new DimensionMismatchError(this.o.dim, wrong.length, `the embedding model "${this.o.model}"`);
        err.message += '; changing the dimension needs a new store: open one with the new dimension and copyIntoNewStore() into it';
        throw err;
      }
      const now = Date.now();
      const out = group.map((row, i): Preparation => {
        try {
          expectOneVectorPerText(vectors, group.length);
          const vector = validateVector(vectors[i], this.o.dim);
          return { id: row.id, patch: { id: row.id, set: { vector }, metadata: { embedding_model: this.o.model, embedded_at: now }, expect: { text: row.text } }, preview: { id: row.id, model: this.o.model } };
        } catch (err) {
          return { id: row.id, fail: `embedding unusable: ${errorMessage(err)}` };
        }
      });
      onPrepared(group.length);
      return out;
    })));
    return results.flat();
  }
}
