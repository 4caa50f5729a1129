import { MemoryLaneError } from '../errors';
import type { Category } from '../store/schema';
import type { UsageSink } from '../usage/tokens';

/** What an enricher sees of a memory: its text and what the row already says about it. */
export interface EnrichmentInput {
  id: string;
  text: string;
  /** The row's current category (may be a legacy value such as `fact`). */
  category: string;
  importance?: number;
}

/** The smart fields of one memory, as an enricher produced them. */
export interface Enrichment {
  /** L0: one sentence. */
  l0_abstract: string;
  /** L1: 1–5 bullet lines ("- …" joined by newlines). */
  l1_overview: string;
  /** L2: the cleaned full content. */
  l2_content: string;
  category: Category;
  confidence: number;
  /** How it was made; recorded in `metadata.enrichment` so `force` can redo `local` ones with an LLM. */
  provider: string;
  model?: string;
  /** Set when the configured provider failed for this entry and `local` stood in. */
  fallbackReason?: string;
}

/**
 * An enrichment provider: `local` (heuristic, no network), `openai-compatible` (chat endpoint), and
 * the extension's VS Code language-model provider. Enrichers run in Phase 1, never under a lock.
 */
export interface Enricher {
  /** Recorded as `metadata.enrichment.provider`. */
  readonly provider: string;
  readonly model?: string;
  /** How many entries may be in flight at once (p-queue concurrency). */
  readonly concurrency: number;
  /**
   * `usage`, when given, is told the tokens of every request this entry sends (src/core/usage/tokens.ts
   * says where they come from); an enricher that calls no model reports nothing.
   */
  enrich(input: EnrichmentInput, signal: AbortSignal, usage?: UsageSink): Promise<Enrichment>;
  /**
   * The tokens one entry is expected to cost before it is sent (the estimate rule, for budgets and
   * the dry run until the ledger has measured figures). Absent: the enricher calls no model and costs nothing.
   */
  estimate?(input: EnrichmentInput): { in: number; out: number };
}

/** One entry could not be enriched; `reason` is what a person reads in the result and the DLQ. */
export class EnrichmentError extends MemoryLaneError {
  /** Worth another attempt (timeout, network, 408/429/5xx). */
  readonly retryable: boolean;
  /** The endpoint could not be used (as opposed to a model's bad answer); counts towards skipping it. */
  readonly transport: boolean;
  /** From a Retry-After header. */
  readonly retryAfterMs?: number;

  constructor(readonly reason: string, options: { retryable?: boolean; transport?: boolean; retryAfterMs?: number; cause?: unknown } = {}) {
    super('E_ENRICHMENT', reason, { cause: options.cause });
    this.retryable = options.retryable ?? false;
    this.transport = options.transport ?? false;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** A stable key of "who enriches": checkpoints are reused only by the same provider and model. */
export function enricherKey(e: Pick<Enricher, 'provider' | 'model'>): string {
  return e.model ? `${e.provider}/${e.model}` : e.provider;
}
