/**
 * The background upgrader's public API (docs/architecture.md#the-upgrader), for the CLI, the MCP server and the
 * extension. Everything here runs without an editor.
 */
import { ExclusiveJobLock } from '../concurrency/jobLock';
import type { LockHolderInfo } from '../errors';
import type { MemoryStore } from '../store/memoryStore';
import type { Enricher } from './enricher';
import { EnrichJob, type EnrichJobOptions } from './enrichJob';
import type { Embedder } from '../embedding/embedder';
import type { EmbedFn } from './job';
import { LocalEnricher, type LocalEnricherOptions } from './localEnricher';
import { OpenAiCompatibleEnricher, type OpenAiCompatibleEnricherOptions } from './openAiCompatibleEnricher';
import { LocalMerger, OpenAiCompatibleMerger, type ConsolidationMerger } from './merger';
import { ReembedJob } from './reembedJob';
import { UPGRADE_JOB, UpgradeRun, type UpgradeProgress, type UpgradeResult, type UpgradeRunOptions } from './upgradeRun';
import type { Logger } from '../log';

export { EnrichmentError, enricherKey, type Enricher, type Enrichment, type EnrichmentInput } from './enricher';
export { LocalEnricher, type LocalEnricherOptions } from './localEnricher';
export { OpenAiCompatibleEnricher, type OpenAiCompatibleEnricherOptions } from './openAiCompatibleEnricher';
export { FallbackEnricher } from './fallbackEnricher';
export { ENRICHMENT_JSON_SCHEMA, enrichmentMessages, parseEnrichmentReply, type ParsedReply, type ReplyParse } from './enrichmentReply';
export { EnrichJob, enrichmentPatch, type EnrichJobOptions } from './enrichJob';
export { ReembedJob, type ReembedJobOptions } from './reembedJob';
export { UpgradeRun, UPGRADE_JOB, type BudgetName, type BudgetStop, type SpendEstimate, type UpgradeBudget, type UpgradeFailure, type UpgradeProgress, type UpgradeResult, type UpgradeRunOptions } from './upgradeRun';
export { CHECKPOINT_FILE } from './checkpoint';
export { clusterId, consolidate, CONSOLIDATE_JOB, CONSOLIDATION_DIR, planConsolidation, restoreOriginal, undoConsolidation, type ConsolidateOptions, type ConsolidateProgress, type ConsolidateResult, type PlannedCluster, type PlanOptions, type PlanResult, type UndoResult } from './consolidate';
export { cleanMergeReply, LocalMerger, LOCAL_MERGER_NAME, MERGE_SYSTEM_PROMPT, mergeMessage, MergeError, mergeReplyProblem, OpenAiCompatibleMerger, type ConsolidationMerger, type MergeUsage, type OpenAiCompatibleMergerOptions } from './merger';
export { normalizeBudget, SpendGuard, type Spender } from './budget';
export { copyIntoNewStore, type StoreCopyOptions, type StoreCopyResult } from './storeCopy';
export type { EmbedFn, UpgradeJob, UpgradePhase } from './job';
export * from './importers';

export type EnricherConfig =
  | ({ provider: 'local' } & LocalEnricherOptions)
  | ({ provider: 'openai-compatible' } & OpenAiCompatibleEnricherOptions);

/** Builds an enricher from settings (the extension adds its `vscode.lm` provider by implementing Enricher itself). */
export function createEnricher(config: EnricherConfig = { provider: 'local' }, logger?: Logger): Enricher {
  return config.provider === 'openai-compatible' ? new OpenAiCompatibleEnricher({ ...(logger ? { logger } : {}), ...config }) : new LocalEnricher(config);
}

/**
 * Builds the consolidation merger from the same settings as the enricher: `local` keeps the
 * survivor's text, `openai-compatible` asks that endpoint and model to write the merged memory.
 */
export function createMerger(config: EnricherConfig = { provider: 'local' }, logger?: Logger): ConsolidationMerger {
  if (config.provider !== 'openai-compatible') return new LocalMerger();
  const { baseUrl, model, apiKey, timeoutMs, retries, maxReplyBytes } = config;
  return new OpenAiCompatibleMerger({ baseUrl, model, ...(apiKey ? { apiKey } : {}), ...(timeoutMs ? { timeoutMs } : {}), ...(retries !== undefined ? { retries } : {}), ...(maxReplyBytes ? { maxReplyBytes } : {}), ...(logger ? { logger } : {}) });
}

export interface UpgradeOptions extends UpgradeRunOptions, Partial<EnrichJobOptions> {
  onProgress?: (p: UpgradeProgress) => void;
}

/** Creates (does not start) an enrichment run; subscribe to `onProgress`, then `run()`. */
export function createUpgradeRun(store: MemoryStore, options: UpgradeOptions = {}): UpgradeRun {
  const job = new EnrichJob({ enricher: options.enricher ?? new LocalEnricher(), ...(options.fallback ? { fallback: options.fallback } : {}), ...(options.force ? { force: true } : {}), ...(options.concurrency ? { concurrency: options.concurrency } : {}) });
  const run = new UpgradeRun(store, job, options);
  if (options.onProgress) run.onProgress(options.onProgress);
  return run;
}

/** Upgrades legacy memories (and with `force`, `local`-enriched ones); see UpgradeRun. */
export function upgradeMemories(store: MemoryStore, options: UpgradeOptions = {}): Promise<UpgradeResult> {
  return createUpgradeRun(store, options).run();
}

export interface ReembedOptions extends UpgradeRunOptions {
  embed: EmbedFn;
  /** The embedding model the new vectors come from (recorded per row as metadata.embedding_model). */
  model: string;
  embedBatchSize?: number;
  concurrency?: number;
  force?: boolean;
  /** The remote embedder's provider and model when `embed` reports usage: the run is then counted and budgeted (see ReembedJobOptions.spender). */
  spender?: { provider: string; model?: string };
  onProgress?: (p: UpgradeProgress) => void;
}

/**
 * Creates a re-embedding run for a new embedding model of the SAME dimension: vectors computed in
 * Phase 1 (no lock), written in batches as `set: {vector}` patches conditional on the text, the
 * store usable throughout, resumable (rows already marked with `model` are skipped).
 *
 * A different dimension cannot be done in place: the `vector` column is a fixed-size list of the
 * store's dimension (and store.json records it). The run stops with a DimensionMismatchError on the
 * first vectors, before anything is written. Changing the dimension means a new store folder:
 * open it with `MemoryStore.open(newDir, { dim: newDim, embedder })`, run `copyIntoNewStore(old,
 * new, { embed, model })` (resumable, the old store stays usable), then point every window, the CLI
 * and MCP servers at the new folder. Edits and deletions made in the old store after a row was
 * copied are not carried over: switch while no agent writes, or copy again for rows added since.
 */
export function createReembedRun(store: MemoryStore, options: ReembedOptions): UpgradeRun {
  const job = new ReembedJob({ embed: options.embed, model: options.model, dim: store.dim, ...(options.embedBatchSize ? { embedBatchSize: options.embedBatchSize } : {}), ...(options.concurrency ? { concurrency: options.concurrency } : {}), ...(options.force ? { force: true } : {}), ...(options.spender ? { spender: options.spender } : {}) });
  const run = new UpgradeRun(store, job, options);
  if (options.onProgress) run.onProgress(options.onProgress);
  return run;
}

/** An EmbedFn over an embedder that passes each call's usage on (for a counted, budgeted re-embed). */
export function embedFnOf(embedder: Pick<Embedder, 'embed'>): EmbedFn {
  return (texts, signal, usage) => embedder.embed(texts, { ...(signal ? { signal } : {}), ...(usage ? { usage } : {}) });
}

export function reembedMemories(store: MemoryStore, options: ReembedOptions): Promise<UpgradeResult> {
  return createReembedRun(store, options).run();
}

/** Who runs an upgrade on this store now, if anyone (for `lock-status` and the Locks & Upgrades view). */
export function upgradeStatus(store: Pick<MemoryStore, 'stateDir'>): Promise<{ running: boolean; holder?: LockHolderInfo; stale?: boolean }> {
  return new ExclusiveJobLock(store.stateDir, UPGRADE_JOB).status();
}
