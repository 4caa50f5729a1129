import type { MemoryPatch } from '../store/patch';
import type { MemoryRecord, SmartMetadata } from '../store/schema';
import type { UsagePurpose, UsageSink } from '../usage/tokens';

/** A row as Phase 1 reads it: everything but the vector. */
export type UpgradeRow = Omit<MemoryRecord, 'vector'>;

/** What Phase 1 decided for one row: a patch intent to write, a skip, or a failure with its reason. */
export type Preparation =
  | { id: string; patch: MemoryPatch; fallbackReason?: string; preview?: Record<string, unknown> }
  | { id: string; skip: string }
  | { id: string; fail: string };

/** Phase names as progress reports them; the lock is only ever taken in `write`. */
export type UpgradePhase = 'scan' | 'enrich' | 'embed' | 'write' | 'done';

/**
 * One kind of background upgrade over the store (enrichment, re-embedding). The engine
 * (UpgradeRun) does the scanning, windows, batching, locking discipline, progress, cancellation and
 * resume; a job only says which rows need it and how to compute their patches, without any lock.
 */
export interface UpgradeJob {
  readonly kind: 'enrich' | 'reembed';
  /** Phase 1's name in progress events. */
  readonly prepPhase: Extract<UpgradePhase, 'enrich' | 'embed'>;
  /** Shown as the job lock holder and in batch labels, e.g. "upgrade (openai-compatible/gpt-4o-mini)". */
  readonly label: string;
  /**
   * Prepared patches are spooled to the checkpoint under this key when set (worth it when Phase 1
   * costs money, e.g. an LLM), and reused by a resumed run with the same key if the text is unchanged.
   */
  readonly checkpointKey?: string;
  /** Decides from metadata alone whether a row needs this job (used on the scan and again on fetch). */
  needs(metadata: SmartMetadata): boolean;
  /**
   * Set when Phase 1 calls a model and so spends tokens: who spends them (the token ledger's key for
   * measured tokens per row) and the estimate rule for one row before any are measured.
   */
  readonly spender?: { purpose: UsagePurpose; provider: string; model?: string; estimateRow(row: UpgradeRow): { in: number; out: number } };
  /** Phase 1 for a window of rows: no lock, bounded concurrency, honours the signal; each model call's tokens go to `usage`. */
  prepare(rows: UpgradeRow[], signal: AbortSignal, onPrepared: (n: number) => void, usage?: UsageSink): Promise<Preparation[]>;
}

/**
 * A function that embeds texts (the embedding layer's `Embedder.embed`, or a test's hash vectors).
 * `usage`, when given, is told each request's tokens (pass it on as `EmbedOptions.usage`).
 */
export type EmbedFn = (texts: string[], signal?: AbortSignal, usage?: UsageSink) => Promise<number[][]>;
