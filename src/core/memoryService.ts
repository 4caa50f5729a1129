import { createHash, randomUUID } from 'node:crypto';
import { CachingEmbedder } from './embedding/cachingEmbedder';
import type { Embedder, EmbedderInfo } from './embedding/embedder';
import { EmbedderMismatchError } from './embedding/errors';
import { createEmbedder, describeEmbedder, embedderFromId, type EmbedderConfig } from './embedding/factory';
import { EmbeddingUsageRecorder } from './usage/embeddingUsage';
import { ConcurrentChangeError, DimensionMismatchError, IdConflictError, MemoryLaneError, NotFoundError, StoreUnavailableError, ValidationError, WriteFailedError, errorMessage } from './errors';
import { Emitter, type Event } from './events';
import type { Disposable } from './lifecycle';
import { componentLogger, nullLogger, type Logger } from './log';
import { AGENT_WRITER_KINDS, PROVENANCE_KEYS, historyOf, isReviewed, kindForSource, resolveWriter, visibleUnderApproval, writerMatches, writerOf, type HistoryEntry, type Writer } from './provenance';
import { DEFAULT_RANKING_WEIGHTS, type RankingWeights, type Why } from './retrieval/fusion';
import { HybridSearch, type HybridHit, type RecallMode } from './retrieval/hybridSearch';
import { RecallBookkeeper } from './retrieval/recallBookkeeper';
import { RecentRecallTimings, roundMs, type RecallTimings } from './retrieval/recallTimings';
import { VectorIndexBuilder, type VectorIndexEvent, type VectorIndexOptions, type VectorIndexSelfCheck, type VectorIndexState } from './retrieval/vectorIndex';
import { MemoryStore, type MemoryStoreOptions, type StoreStats } from './store/memoryStore';
import type { MemoryPatch } from './store/patch';
import { fromRawRow, isLegacy, type MemoryRecord, type SmartMetadata } from './store/schema';
import { sqlInList } from './store/sql';
import { readStoreMeta } from './store/storeMeta';
import { validateCategory, validateContext, validateId, validateImportance, validateMetadata, validateScope, validateText } from './store/validation';

// ------------------------------------------------------------------------------------------ types

/** Options of {@link MemoryService.open}. Only `dir` is required. */
export interface MemoryServiceOptions {
  /** The store folder (created when missing, unless `create: false`). */
  dir: string;
  /** Which embedder to use (default `{ kind: 'local' }`: offline, no key). Ignored when `embedder` is given. */
  embedding?: EmbedderConfig;
  /** A ready embedder instead of `embedding` (tests, custom embedders). */
  embedder?: Embedder;
  logger?: Logger;
  /**
   * Scopes `recall` searches when the caller names none, in order of preference, e.g.
   * `['workspace:1a2b3c', 'global']` in a VS Code window. Default `['global']`.
   */
  defaultScopes?: string[];
  /** Scope `store` uses when the caller names none. Default: the first of `defaultScopes` that is not `global`, else `global`. */
  defaultStoreScope?: string;
  /**
   * Who writes, recorded as `metadata.source` on new memories unless given (e.g. `mcp`, `cli`,
   * `vscode`). It also gives a write's writer its kind when the caller names none: `mcp` → mcp,
   * `cli` → cli, `vscode` → lm-tool.
   */
  source?: string;
  /** Default writer of this service's writes (a call's own `writer` wins field by field); host, pid and time are filled in. */
  writer?: Partial<Writer>;
  /**
   * Hold agents' memories out of other agents' recall until a person keeps them ({@link MemoryService.keep}).
   * Default false; can be changed later through `requireApproval` on the service.
   */
  requireApproval?: boolean;
  /** Cosine similarity at or above which a new memory in the same scope is a near-duplicate (default 0.95). */
  duplicateThreshold?: number;
  /** Ranking knobs for recall; defaults suit the local embedder. */
  ranking?: Partial<RankingOptions>;
  /** Background ANN index (IVF_HNSW_SQ); short-lived processes like the CLI should pass `{ auto: false }`. */
  vectorIndex?: VectorIndexOptions;
  /** Recall bookkeeping coalescing window (default 1000 ms; counts are flushed on close either way). */
  bookkeeping?: { debounceMs?: number };
  /** Create the store when missing (default true). */
  create?: boolean;
  /** Passed through to {@link MemoryStore.open} (lock staleness, queue deadlines, maintenance). */
  storeOptions?: Omit<MemoryStoreOptions, 'dim' | 'embedder' | 'logger' | 'create'>;
}

export interface RankingOptions extends RankingWeights {
  /** Vector candidates below this cosine are treated as unrelated (default 0.15 for the local embedder, 0 otherwise). */
  minSimilarity: number;
  /** Results at least this similar to a better one are demoted (default 0.92). */
  diversityThreshold: number;
  /** Score multiplier for a demoted near-duplicate (default 0.5). */
  diversityDemotion: number;
}

/** A memory as consumers see it: no vector, metadata parsed, `legacy` = not yet upgraded (no L0 abstract). */
export interface MemoryView {
  id: string;
  text: string;
  category: string;
  scope: string;
  importance: number;
  /** Epoch milliseconds. */
  created_at: number;
  updated_at: number;
  /** Revision, +1 on every write (bookkeeping included). */
  rev: number;
  metadata: SmartMetadata;
  legacy: boolean;
  /** Who wrote the current text; absent for memories from before provenance (see `metadata.source`). */
  writer?: Writer;
  /** The last changes (at most 5), oldest first. */
  history?: HistoryEntry[];
  /** False only for an agent's memory no person has kept yet (see {@link MemoryService.keep}); always set by the service. */
  reviewed?: boolean;
}

/** Who makes a write, in the options of update, forget and keep. */
export interface WriteBy {
  /** Default: the service's writer; host, pid and time are filled in. */
  writer?: Partial<Writer>;
}

export interface StoreInput {
  /** The memory, verbatim. Non-empty, at most 1 MiB, no NUL or other control characters except tab and newlines. */
  text: string;
  /** Client-chosen id: storing the same id and text again is a no-op (`status: 'exists'`), safe to retry. */
  id?: string;
  /** Default: the service's default store scope. `global` or `<kind>:<name>`. */
  scope?: string;
  /** profile, preferences, entities, events, cases (default), patterns; legacy names are mapped. */
  category?: string;
  /** 0..1, default 0.5. */
  importance?: number;
  /** Extra JSON metadata (≤ 256 KiB); smart fields (l0_abstract, …) are the upgrader's. */
  metadata?: Record<string, unknown>;
  /**
   * What came just before this memory, e.g. the preceding turn of the conversation it is part of:
   * indexed for full-text search with it (a reply is found by the question it answers), never
   * returned as its text. Same checks as `text`; empty means none.
   */
  context?: string;
  /** Store even when a near-duplicate exists in the same scope. */
  force?: boolean;
  /** Who stores it (default: the service's writer); host, pid and time are filled in. */
  writer?: Partial<Writer>;
  signal?: AbortSignal;
}

export type StoreResult =
  /** Stored as a new memory. */
  | { status: 'stored'; id: string }
  /** The same id with the same text was already stored (an idempotent retry). */
  | { status: 'exists'; id: string }
  /** Not stored: `duplicateOf` (== `id`) in the same scope says nearly the same. Pass `force` to store anyway, or `update` it. */
  | { status: 'duplicate'; id: string; duplicateOf: string; similarity: number; existing: MemoryView };

export interface RecallOptions {
  /** Results wanted, 1..50 (default 5). */
  limit?: number;
  /** Scopes to search (default: the service's `defaultScopes`). */
  scopes?: string[];
  /** Only these categories. */
  category?: string | string[];
  /** Drop results scoring below this (0..1, default 0). */
  minScore?: number;
  /** Return each memory's full text even when an upgraded L0 abstract exists. */
  full?: boolean;
  /** Diagnostics: run one retriever alone. Default `hybrid`. */
  mode?: RecallMode;
  /** Count this recall in the memories' `injected_count` (default true; set false for previews and UI searches). */
  count?: boolean;
  /**
   * Who recalls (default: the service's writer). With `requireApproval`, an agent's unreviewed
   * memories reach only their own writer: the same MCP client name, or the same kind for VS Code's
   * LM tools and participant.
   */
  caller?: Partial<Pick<Writer, 'kind' | 'client'>>;
  signal?: AbortSignal;
}

/**
 * One recalled memory. `text` is the memory's L0 abstract when it has been upgraded and `full` was
 * not requested (`detail: 'abstract'`, with the L1 `overview` when present), else the full text.
 * The text is data written by agents and people: adapters must present it as quoted data, never as
 * instructions.
 */
export interface RecallResult {
  id: string;
  text: string;
  detail: 'abstract' | 'full';
  overview?: string;
  /** 0..1: fused rank relevance × recency × importance (× 0.5 when demoted as a near-duplicate). */
  score: number;
  /** Cosine similarity of query and memory under the active embedder (0 in full-text-only mode). */
  similarity: number;
  /** Which retriever found it. */
  why: Why;
  category: string;
  scope: string;
  importance: number;
  created_at: number;
  updated_at: number;
}

export interface RecallResponse {
  results: RecallResult[];
  /** What actually ran: `hybrid` degrades to `vector` (no full-text index on a big new table) or `fts` (no usable embedder). */
  mode: RecallMode;
  /** Why it ran degraded, if it did. */
  notes: string[];
  ms: number;
  /** Where the time went, per stage (ms): see {@link RecallTimings}. */
  timings: RecallTimings;
}

export interface UpdateChanges {
  /** New text: re-embedded; the upgrader's L0/L1/L2 fields are cleared (they described the old text). */
  text?: string;
  importance?: number;
  category?: string;
  scope?: string;
  /** Top-level metadata keys to set; `null` removes a key. */
  metadata?: Record<string, unknown>;
}

export interface ForgetResult {
  id: string;
  deleted: boolean;
}

export interface ForgetByQueryOptions {
  /** Must be true to delete; otherwise only the candidates are returned. */
  confirm?: boolean;
  scopes?: string[];
  category?: string | string[];
  /** Candidates at most (1..100, default 10). */
  limit?: number;
  /** Candidates must score at least this (default 0.3). */
  minScore?: number;
}

export interface ForgetByQueryResult {
  confirmed: boolean;
  candidates: RecallResult[];
  /** Ids deleted (empty unless confirmed). */
  deleted: string[];
  failed: Array<{ id: string; reason: string }>;
}

export type ListSort = 'updated' | 'created' | 'importance' | 'injected';

export interface ListOptions {
  /** Only these scopes (default: all scopes). */
  scopes?: string[];
  category?: string | string[];
  /** true: only not-yet-upgraded memories; false: only upgraded ones. */
  legacy?: boolean;
  /** Only memories whose writer has this kind (`mcp`, `lm-tool`, …) or client name (case-insensitive); `unknown`: no recorded writer. */
  writer?: string;
  /** Only memories whose current text was written (stored, or changed by an update) at or after this time (epoch ms). */
  since?: number;
  /** false: only agents' memories no person has kept yet; true: only the others. */
  reviewed?: boolean;
  /** Default `updated`. */
  sort?: ListSort;
  /** Default `desc`. */
  order?: 'asc' | 'desc';
  /** 1..500, default 50. */
  limit?: number;
  offset?: number;
}

export interface ListPage {
  total: number;
  offset: number;
  limit: number;
  items: MemoryView[];
}

export interface EmbedderStatus {
  /** The embedder the settings ask for. */
  configured: EmbedderInfo;
  /** What made the store's vectors (from the store's meta). */
  store: { embedder: string; dim: number };
  /** Embedder used for this store now: the configured one, or the store's own local embedder while a re-embed is pending; undefined = none usable (full-text recall only, writes refused). */
  active?: string;
  /** True when the store's vectors are not the configured embedder's: run the upgrader's re-embed. */
  needsReembed: boolean;
}

export interface ServiceStats extends StoreStats {
  embedding: EmbedderStatus & { cache: { size: number; hits: number; misses: number } };
  vectorIndex: VectorIndexState;
  bookkeeping: { pendingIds: number };
}

export type MemoryChange = { kind: 'stored' | 'updated' | 'forgotten' | 'kept'; ids: string[]; writer?: Writer };

export interface KeepResult {
  id: string;
  /** kept: marked reviewed now; already: it needed no review or was kept before; missing: no such memory. */
  status: 'kept' | 'already' | 'missing';
}

// --------------------------------------------------------------------------------------- service

const MAX_QUERY_BYTES = 16 * 1024;
const MIN_PREFIX = 8;
const UPDATE_ATTEMPTS = 3;

/**
 * The memory plugin: what the CLI, the MCP server and the VS Code Language Model tools call.
 * One instance per process and store; all methods are safe to call concurrently. Writes go through
 * the store's queue and cross-process lock; embedding and every other slow step happen before the
 * write, never under the lock. Errors are `MemoryLaneError`s with stable codes:
 * `E_INVALID` (ValidationError: bad input, names the field), `E_NOT_FOUND`, `E_AMBIGUOUS_ID`,
 * `E_ID_CONFLICT`, `E_CONFLICT` (the memory kept changing during an update), `E_EMBEDDER_MISMATCH` (re-embed needed), `E_DIMENSION`, `E_EMBED_AUTH`,
 * `E_EMBED_MODEL`, `E_EMBED_TIMEOUT`, `E_EMBED_REQUEST`, `E_LOCK_TIMEOUT`, `E_WRITE_FAILED`,
 * `E_STORE_UNAVAILABLE`, `E_CANCELLED`.
 *
 * @example
 * const memory = await MemoryService.open({ dir, defaultScopes: ['workspace:1a2b', 'global'], source: 'mcp' });
 * const { id } = await memory.store({ text: 'Prefers tabs over spaces', category: 'preferences' });
 * const { results } = await memory.recall('indentation style');
 * await memory.close(); // flushes recall bookkeeping
 */
export class MemoryService implements Disposable {
  /** The underlying store (reads, stats, lock events, `onCommit`). */
  readonly memoryStore: MemoryStore;
  /** The configured embedder (the upgrader re-embeds with it). */
  readonly configuredEmbedder: Embedder;
  /** The embedder used for this store's vectors, if any is usable (see {@link embedderStatus}). */
  readonly activeEmbedder: Embedder | undefined;
  readonly defaultScopes: readonly string[];
  readonly defaultStoreScope: string;
  private readonly search: HybridSearch;
  private readonly bookkeeper: RecallBookkeeper;
  private readonly indexBuilder: VectorIndexBuilder;
  /** The last 100 recalls' stage timings in this process (the Locks & Upgrades view's p50/p95). */
  readonly recallTimings = new RecentRecallTimings(100);
  private readonly ranking: RankingOptions;
  private readonly duplicateThreshold: number;
  private readonly source: string | undefined;
  private readonly defaultWriter: Partial<Writer>;
  /** See {@link MemoryServiceOptions.requireApproval}; the extension flips it when its setting changes. */
  requireApproval: boolean;
  private readonly log: Logger;
  private readonly ownsStore: boolean;
  private closing: Promise<void> | undefined;
  private readonly embeddingUsage: EmbeddingUsageRecorder | undefined;
  private readonly _onDidChange = new Emitter<MemoryChange>();
  /** Fires after this process stored, updated or forgot memories (for tree views; other processes' writes arrive via the store). */
  readonly onDidChange: Event<MemoryChange> = this._onDidChange.event;

  /**
   * Opens (or creates) the store at `options.dir` with the configured embedder. A new store records
   * the embedder's id and dimension. An existing store made by another embedder still opens: see
   * {@link embedderStatus} — recall keeps working and `needsReembed` tells the UI to offer the upgrader.
   */
  static async open(options: MemoryServiceOptions): Promise<MemoryService> {
    const logger = options.logger ?? nullLogger;
    const configured = options.embedder ?? await createEmbedder(options.embedding ?? { kind: 'local' }, { logger: componentLogger(logger, 'embedding') });
    const existing = await readStoreMeta(options.dir).catch(() => undefined);
    const base: MemoryStoreOptions = { ...options.storeOptions, create: options.create, logger };
    let store: MemoryStore;
    try {
      store = await MemoryStore.open(options.dir, existing ? base : { ...base, dim: configured.dim, embedder: configured.id });
    } catch (err) {
      // Another process created the store with another dimension a moment ago: open it as it is.
      if (!(err instanceof DimensionMismatchError)) throw err;
      store = await MemoryStore.open(options.dir, base);
    }
    try {
      return new MemoryService(store, configured, { ...options, ownsStore: true });
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** Wraps an already open store (the caller keeps owning it unless `ownsStore`). Prefer {@link open}. */
  constructor(store: MemoryStore, embedder: Embedder, options: Omit<MemoryServiceOptions, 'dir' | 'embedding' | 'embedder' | 'create' | 'storeOptions'> & { ownsStore?: boolean } = {}) {
    this.memoryStore = store;
    this.configuredEmbedder = embedder instanceof CachingEmbedder ? embedder : new CachingEmbedder(embedder);
    this.log = componentLogger(options.logger ?? nullLogger, 'memory');
    this.ownsStore = options.ownsStore ?? false;
    const matches = store.meta.embedder === embedder.id && store.meta.dim === embedder.dim;
    this.activeEmbedder = matches ? this.configuredEmbedder : embedderFromId(store.meta.embedder);
    if (this.activeEmbedder && this.activeEmbedder.dim !== store.dim) this.activeEmbedder = undefined;
    if (!matches) {
      this.log.warn(`the store's vectors come from "${store.meta.embedder}" (dim ${store.meta.dim}) but "${embedder.id}" is configured; `
        + (this.activeEmbedder ? `using "${this.activeEmbedder.id}" until the store is re-embedded` : 'recall is full-text only and writes are refused until the store is re-embedded'));
    }
    this.defaultScopes = (options.defaultScopes ?? ['global']).map((s, i) => validateScope(s, `defaultScopes[${i}]`));
    if (this.defaultScopes.length === 0) throw new ValidationError('defaultScopes', 'must name at least one scope');
    this.defaultStoreScope = validateScope(options.defaultStoreScope ?? this.defaultScopes.find((s) => s !== 'global') ?? 'global', 'defaultStoreScope');
    this.source = options.source;
    const kind = kindForSource(options.source);
    const workspace = this.defaultStoreScope !== 'global' ? this.defaultStoreScope : undefined;
    this.defaultWriter = { ...(kind ? { kind } : {}), ...(workspace ? { scope: workspace } : {}), ...options.writer };
    resolveWriter(this.defaultWriter); // a bad default writer fails at open, not at the first write
    this.requireApproval = options.requireApproval === true;
    this.duplicateThreshold = options.duplicateThreshold ?? 0.95;
    const local = (this.activeEmbedder ?? embedder).kind === 'local';
    this.ranking = {
      ...DEFAULT_RANKING_WEIGHTS,
      minSimilarity: local ? 0.15 : 0,
      // The local embedder's vector side is a hashed bag of words and character n-grams: on real
      // conversations much weaker than BM25 (LoCoMo dev hit@5, turns 0.425 vs 0.584), and with equal
      // weights and k = 60 its noise pushed BM25's hits out of the top 5 (hybrid 0.534). k = 1 keeps
      // each list's own first hits on top (what one side alone finds is not lost: the LoCoMo-format
      // fixture test), the full-text list counts 3×: hybrid turns 0.576, observations 0.575 → 0.605
      // (BENCHMARKS.md §6). k = 20 with 3× got 0.571 / 0.584 but lost single-side hits on the fixture.
      ...(local ? { rrfK: 1, fusionWeights: { vector: 1, fts: 3 } } : {}),
      diversityThreshold: 0.92,
      diversityDemotion: 0.5,
      ...options.ranking,
    };
    this.search = new HybridSearch(store, componentLogger(options.logger ?? nullLogger, 'recall'), () => this.indexBuilder.queryParams());
    this.bookkeeper = new RecallBookkeeper(store, { debounceMs: options.bookkeeping?.debounceMs, logger: componentLogger(options.logger ?? nullLogger, 'recall') });
    this.indexBuilder = new VectorIndexBuilder(store, { logger: componentLogger(options.logger ?? nullLogger, 'index'), ...options.vectorIndex });
    this.indexBuilder.poke();
    // Remote embedding calls (stores, recalls, re-embeds) are counted in the store's token ledger.
    this.embeddingUsage = EmbeddingUsageRecorder.attach(this.configuredEmbedder, store.stateDir, { logger: this.log });
  }

  /** Which embedder made the store's vectors, which one is configured, and whether a re-embed is due. */
  get embedderStatus(): EmbedderStatus {
    return {
      configured: describeEmbedder(this.configuredEmbedder),
      store: { embedder: this.memoryStore.meta.embedder, dim: this.memoryStore.meta.dim },
      ...(this.activeEmbedder ? { active: this.activeEmbedder.id } : {}),
      needsReembed: this.memoryStore.meta.embedder !== this.configuredEmbedder.id || this.memoryStore.meta.dim !== this.configuredEmbedder.dim,
    };
  }

  /** Vector index builds: started, built, skipped, failed (for the lock/upgrade view and logs). */
  get onVectorIndex(): Event<VectorIndexEvent> {
    return this.indexBuilder.onEvent;
  }

  /** The ANN index's last self-check (this process or the one that built it), without a table read. */
  get vectorIndexSelfCheck(): VectorIndexSelfCheck | undefined {
    return this.indexBuilder.lastSelfCheck;
  }

  // ---------------------------------------------------------------------------------- store

  /**
   * Stores a memory. Validates everything first, embeds outside the lock, refuses a near-duplicate
   * in the same scope (unless `force`), then inserts at interactive priority.
   * @throws ValidationError (E_INVALID) naming the bad field; EmbedderMismatchError when the store needs re-embedding;
   *   IdConflictError when `id` exists with other text; embedding and lock errors.
   */
  async store(input: StoreInput): Promise<StoreResult> {
    this.assertOpen();
    if (!input || typeof input !== 'object') throw new ValidationError('memory', 'must be an object with at least a text');
    const text = validateText(input.text, 'text');
    const id = input.id === undefined ? undefined : validateId(input.id, 'id');
    const scope = validateScope(input.scope ?? this.defaultStoreScope, 'scope');
    const category = validateCategory(input.category ?? 'cases', 'category');
    const importance = validateImportance(input.importance ?? 0.5, 'importance');
    const context = validateContext(input.context, 'context');
    const metadata = checkOwnMetadata(validateMetadata(input.metadata, 'metadata'));
    if (this.source !== undefined && metadata.source === undefined) metadata.source = this.source;
    const writer = this.writerFor(input.writer);
    if (writer) {
      metadata.writer = writer;
      metadata.history = [{ writer, at: writer.at, fields: ['text', 'category', 'scope', 'importance', ...(input.metadata ? ['metadata'] : [])] }];
    }
    const embedder = this.writableEmbedder();

    const [vector] = await embedder.embed([text], { signal: input.signal });
    if (!input.force) {
      const dup = await this.nearestDuplicate(vector!, scope, id);
      if (dup) {
        this.log.debug(`store: near-duplicate of ${dup.record.id} (cosine ${dup.similarity.toFixed(3)}) in ${scope}; not stored`);
        return { status: 'duplicate', id: dup.record.id, duplicateOf: dup.record.id, similarity: dup.similarity, existing: toView(dup.record) };
      }
    }
    const insert = (rowId: string) => this.memoryStore.insert([{ id: rowId, text, vector: vector!, scope, category, importance, metadata, ...(context ? { context } : {}) }], { priority: 'interactive', label: 'store memory' });
    // Without a client id, the id comes from the content: a store that timed out on the lock sits in
    // the dead-letter queue with this id, so the agent's retry and a later replay land as one memory.
    let [result] = await insert(id ?? contentId(scope, text));
    // That id already names a memory whose text was changed since: this one is new after all.
    if (result?.status === 'conflict' && id === undefined) [result] = await insert(randomUUID());
    if (!result || result.status === 'failed') throw new WriteFailedError(`Storing the memory failed: ${result && 'error' in result ? result.error : 'no result'}`, undefined);
    if (result.status === 'conflict') throw new IdConflictError(result.id);
    if (result.status === 'inserted') {
      this._onDidChange.fire({ kind: 'stored', ids: [result.id], ...(writer ? { writer } : {}) });
      this.indexBuilder.poke();
      return { status: 'stored', id: result.id };
    }
    return { status: 'exists', id: result.id };
  }

  // --------------------------------------------------------------------------------- recall

  /**
   * Hybrid recall: vector + full-text search fused with RRF, weighted by recency and importance,
   * filtered by scope (default: the service's `defaultScopes`) and category, near-duplicates
   * demoted. Returned memories are counted (`injected_count`, `last_injected_at`) in the background
   * unless `count: false`.
   */
  async recall(query: string, options: RecallOptions = {}): Promise<RecallResponse> {
    this.assertOpen();
    const started = performance.now();
    const text = checkQuery(query);
    const limit = checkLimit(options.limit, 5, 50, 'limit');
    const scopes = this.checkScopes(options.scopes) ?? [...this.defaultScopes];
    const categories = checkCategories(options.category);
    const mode = options.mode ?? 'hybrid';
    if (!['hybrid', 'vector', 'fts'].includes(mode)) throw new ValidationError('mode', `must be hybrid, vector or fts, got ${JSON.stringify(mode)}`);
    const minScore = options.minScore ?? 0;
    if (typeof minScore !== 'number' || !Number.isFinite(minScore) || minScore < 0 || minScore > 1) throw new ValidationError('minScore', `must be a number between 0 and 1, got ${String(minScore)}`);

    // No embedding in fts mode (or without an embedder): its stage is 0, not the time of an await.
    let vector: number[] | undefined;
    let rankingVector: number[] | undefined;
    let embedMs = 0;
    if (this.activeEmbedder && mode !== 'fts') {
      const embedStarted = performance.now();
      ({ vector, rankingVector } = await this.search.queryVectors(text, this.activeEmbedder, { signal: options.signal }));
      embedMs = performance.now() - embedStarted;
    }
    const approval = this.requireApproval ? { caller: this.callerFor(options.caller) } : undefined;
    const result = await this.search.search({
      text,
      vector,
      rankingVector,
      scopes,
      categories,
      // Held-out memories are dropped after ranking; ask for more so the caller still gets `limit`.
      limit: approval ? Math.min(limit * 3, limit + 50) : limit,
      mode,
      minScore,
      minSimilarity: this.ranking.minSimilarity,
      diversity: { threshold: this.ranking.diversityThreshold, demotion: this.ranking.diversityDemotion },
      weights: this.ranking,
    });
    const hits = approval ? result.hits.filter((h) => visibleUnderApproval(h.record.metadata, approval.caller)).slice(0, limit) : result.hits;
    const results = hits.map((h) => toRecallResult(h, !!options.full));
    if (options.count !== false && results.length > 0) this.bookkeeper.record(results.map((r) => r.id));
    const total = performance.now() - started;
    const timings: RecallTimings = { embed: roundMs(embedMs), vector: roundMs(result.ms.vector), fts: roundMs(result.ms.fts), fuse: roundMs(result.ms.fuse), total: roundMs(total) };
    this.recallTimings.record(timings);
    return { results, mode: result.mode, notes: result.notes, ms: total, timings };
  }

  // --------------------------------------------------------------------------------- update

  /**
   * Changes a memory found by id or unique id prefix (≥ 8 characters). Changed text is re-embedded
   * outside the lock and applied only if the text did not change meanwhile (else re-read and retried),
   * so the vector always matches the text.
   * @returns the memory as stored after the update.
   * @throws NotFoundError, AmbiguousIdError (E_AMBIGUOUS_ID), ValidationError, EmbedderMismatchError.
   */
  async update(idOrPrefix: string, changes: UpdateChanges, options: WriteBy & { signal?: AbortSignal } = {}): Promise<MemoryView> {
    this.assertOpen();
    if (!changes || typeof changes !== 'object') throw new ValidationError('changes', 'must be an object');
    const set: MemoryPatch['set'] = {};
    const text = changes.text === undefined ? undefined : validateText(changes.text, 'text');
    if (changes.importance !== undefined) set.importance = validateImportance(changes.importance, 'importance');
    if (changes.category !== undefined) set.category = validateCategory(changes.category, 'category');
    if (changes.scope !== undefined) set.scope = validateScope(changes.scope, 'scope');
    const metadata = changes.metadata === undefined ? undefined : checkOwnMetadata(validateMetadata(changes.metadata, 'metadata'));
    const writer = this.writerFor(options.writer);
    let current = await this.resolve(idOrPrefix);

    for (let attempt = 1; ; attempt++) {
      const patch: MemoryPatch = { id: current.id, set: { ...set }, ...(metadata ? { metadata: { ...metadata } } : {}) };
      if (text !== undefined && text !== current.text) {
        const [vector] = await this.writableEmbedder().embed([text], { signal: options.signal });
        patch.set!.text = text;
        patch.set!.vector = vector!;
        // The upgrader's abstracts described the old text; without them the memory is legacy again and gets re-enriched.
        patch.metadata = { ...patch.metadata, l0_abstract: null, l1_overview: null, l2_content: null };
        // The new text is this writer's, and no person has seen it yet.
        patch.metadata.writer = writer ?? null;
        patch.metadata.reviewed = null;
        patch.expect = { text: current.text };
      } else if (Object.keys(patch.set!).length === 0 && !patch.metadata) {
        return toView(current); // nothing changes: no write, no new revision
      }
      const fields = [...(patch.set!.text !== undefined ? ['text'] : []), ...Object.keys(set), ...(metadata ? ['metadata'] : [])];
      if (writer) patch.history = { writer, at: writer.at, fields };
      const [r] = await this.memoryStore.patch([patch], { priority: 'interactive', label: 'update memory' });
      if (r!.status === 'applied') break;
      if (r!.status === 'missing') throw new NotFoundError(current.id);
      if (r!.status === 'failed') throw new WriteFailedError(`Updating ${current.id} failed: ${r!.error}`, undefined);
      // stale: someone changed the text since we read it; re-read and re-embed against their version.
      if (attempt >= UPDATE_ATTEMPTS) throw new ConcurrentChangeError(`Memory ${current.id} kept changing while it was being updated; try again`);
      const fresh = await this.memoryStore.get(current.id);
      if (!fresh) throw new NotFoundError(current.id);
      current = fresh;
    }
    const updated = await this.memoryStore.get(current.id);
    if (!updated) throw new NotFoundError(current.id);
    this._onDidChange.fire({ kind: 'updated', ids: [updated.id], ...(writer ? { writer } : {}) });
    return toView(updated);
  }

  // --------------------------------------------------------------------------------- forget

  /** Deletes one memory by id or unique id prefix (≥ 8 characters). @throws NotFoundError, AmbiguousIdError. */
  async forget(idOrPrefix: string, options: WriteBy = {}): Promise<ForgetResult> {
    this.assertOpen();
    const writer = this.writerFor(options.writer);
    const target = await this.resolve(idOrPrefix);
    const [r] = await this.memoryStore.delete([target.id], { priority: 'interactive', label: 'forget memory' });
    if (r!.status === 'failed') throw new WriteFailedError(`Forgetting ${target.id} failed: ${r!.error}`, undefined);
    if (r!.status === 'deleted') {
      // A deleted row keeps no history; the log is where a forget by whom is seen.
      this.log.info(`forgot ${target.id} (${writer ? describeWriterShort(writer) : 'writer unknown'})`);
      this._onDidChange.fire({ kind: 'forgotten', ids: [target.id], ...(writer ? { writer } : {}) });
    }
    return { id: target.id, deleted: r!.status === 'deleted' };
  }

  /**
   * Forgets the memories a query recalls. Without `confirm: true` nothing is deleted: the
   * candidates are returned for a person or agent to review (and then confirm, or forget by id).
   * Previews are not counted as recalls.
   */
  async forgetByQuery(query: string, options: ForgetByQueryOptions & WriteBy = {}): Promise<ForgetByQueryResult> {
    this.assertOpen();
    const writer = this.writerFor(options.writer);
    const limit = checkLimit(options.limit, 10, 100, 'limit');
    const { results } = await this.recall(query, { limit, scopes: options.scopes, category: options.category, minScore: options.minScore ?? 0.3, full: true, count: false, caller: options.writer });
    if (options.confirm !== true) return { confirmed: false, candidates: results, deleted: [], failed: [] };
    const outcome = results.length ? await this.memoryStore.delete(results.map((r) => r.id), { priority: 'interactive', label: `forget ${results.length} memories` }) : [];
    const deleted = outcome.filter((o) => o.status === 'deleted').map((o) => o.id);
    const failed = outcome.flatMap((o) => (o.status === 'failed' ? [{ id: o.id, reason: o.error }] : []));
    if (deleted.length) {
      this.log.info(`forgot ${deleted.length} memories by query (${writer ? describeWriterShort(writer) : 'writer unknown'})`);
      this._onDidChange.fire({ kind: 'forgotten', ids: deleted, ...(writer ? { writer } : {}) });
    }
    return { confirmed: true, candidates: results, deleted, failed };
  }

  // ----------------------------------------------------------------------------------- read

  /** One memory by id or unique id prefix (≥ 8 characters). @throws NotFoundError, AmbiguousIdError. */
  async get(idOrPrefix: string): Promise<MemoryView> {
    this.assertOpen();
    return toView(await this.resolve(idOrPrefix));
  }

  /** Pages through memories with filters and a sort; reads no vectors. */
  async list(options: ListOptions = {}): Promise<ListPage> {
    this.assertOpen();
    const scopes = this.checkScopes(options.scopes);
    const categories = checkCategories(options.category);
    const limit = checkLimit(options.limit, 50, 500, 'limit');
    const offset = options.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0) throw new ValidationError('offset', `must be a non-negative integer, got ${String(offset)}`);
    const sort = options.sort ?? 'updated';
    if (!['updated', 'created', 'importance', 'injected'].includes(sort)) throw new ValidationError('sort', `must be updated, created, importance or injected, got ${JSON.stringify(sort)}`);
    const order = options.order ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw new ValidationError('order', `must be asc or desc, got ${JSON.stringify(order)}`);
    const writer = checkWriterFilter(options.writer);
    const since = options.since;
    if (since !== undefined && (typeof since !== 'number' || !Number.isFinite(since) || since < 0)) throw new ValidationError('since', `must be epoch milliseconds (a non-negative number), got ${String(since)}`);
    if (options.reviewed !== undefined && typeof options.reviewed !== 'boolean') throw new ValidationError('reviewed', `must be true or false, got ${String(options.reviewed)}`);

    const parts: string[] = [];
    if (scopes) parts.push(`scope IN ${sqlInList(scopes, 'scope')}`);
    if (categories) parts.push(`category IN ${sqlInList(categories, 'category')}`);
    const keys = (await this.memoryStore.rows(parts.length ? parts.join(' AND ') : undefined, { columns: ['id', 'created_at', 'updated_at', 'importance', 'metadata'] }))
      .map((raw) => {
        const r = fromRawRow(raw);
        const key = sort === 'updated' ? r.updated_at : sort === 'created' ? r.created_at : sort === 'importance' ? r.importance : Number(r.metadata.injected_count ?? 0) || 0;
        return { id: r.id, key, legacy: isLegacy(r), record: r };
      })
      .filter((k) => options.legacy === undefined || k.legacy === options.legacy)
      // Provenance lives in the metadata JSON, which a filter cannot reach: matched here, on the rows read anyway.
      .filter((k) => writer === undefined || writerMatches(writerOf(k.record.metadata), writer))
      .filter((k) => since === undefined || (writerOf(k.record.metadata)?.at ?? k.record.created_at) >= since)
      .filter((k) => options.reviewed === undefined || isReviewed(k.record.metadata) === options.reviewed);
    const dir = order === 'desc' ? -1 : 1;
    // LanceDB has no ORDER BY over a filter here; sort the light keys, then read only the page.
    keys.sort((a, b) => (a.key - b.key) * dir || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const page = keys.slice(offset, offset + limit);
    const found = page.length ? await this.memoryStore.getMany(page.map((k) => k.id)) : new Map<string, MemoryRecord>();
    return { total: keys.length, offset, limit, items: page.map((k) => found.get(k.id)).filter((r): r is MemoryRecord => !!r).map(toView) };
  }

  /** How many agents' memories no person has kept yet (the review's count). */
  async unreviewedCount(): Promise<number> {
    this.assertOpen();
    const rows = await this.memoryStore.rows(undefined, { columns: ['id', 'metadata'] });
    return rows.reduce((n, raw) => n + (isReviewed(fromRawRow(raw).metadata) ? 0 : 1), 0);
  }

  // ----------------------------------------------------------------------------------- review

  /**
   * A person keeps memories: each is marked reviewed (`metadata.reviewed = { at, by }`), so with
   * `requireApproval` it reaches every agent's recall. Memories that needed no review (a person's,
   * or kept before) are left as they are. Exact ids only: a person keeps what they saw.
   */
  async keep(ids: string[], options: WriteBy = {}): Promise<KeepResult[]> {
    this.assertOpen();
    if (!Array.isArray(ids)) throw new ValidationError('ids', 'must be an array of memory ids');
    const wanted = [...new Set(ids.map((id, i) => validateId(id, `ids[${i}]`)))];
    const writer = this.writerFor(options.writer);
    if (!writer) throw new ValidationError('writer', 'a keep must say who keeps (this service has no source or writer)');
    if (wanted.length === 0) return [];
    const found = await this.memoryStore.getMany(wanted);
    const results = new Map<string, KeepResult>();
    const patches: MemoryPatch[] = [];
    for (const id of wanted) {
      const current = found.get(id);
      if (!current) results.set(id, { id, status: 'missing' });
      else if (isReviewed(current.metadata)) results.set(id, { id, status: 'already' });
      // Conditional on the text the person saw: a text rewritten meanwhile is not kept unseen.
      else patches.push({ id, metadata: { reviewed: { at: writer.at, by: writer } }, history: { writer, at: writer.at, fields: ['reviewed'] }, expect: { text: current.text } });
    }
    const outcome = patches.length ? await this.memoryStore.patch(patches, { priority: 'interactive', label: `keep ${patches.length} memories` }) : [];
    for (const r of outcome) {
      if (r.status === 'failed') throw new WriteFailedError(`Keeping ${r.id} failed: ${r.error}`, undefined);
      results.set(r.id, { id: r.id, status: r.status === 'applied' ? 'kept' : r.status === 'missing' ? 'missing' : 'already' });
    }
    const kept = [...results.values()].filter((r) => r.status === 'kept').map((r) => r.id);
    if (kept.length) this._onDidChange.fire({ kind: 'kept', ids: kept, writer });
    return wanted.map((id) => results.get(id)!);
  }

  /**
   * The complete writer of a write by `given` (field by field over this service's writer), with host,
   * pid and time filled in; undefined when no kind is known. For adapters that write past the service
   * (the importer: `writerFor({ kind: 'import' })`).
   */
  writerFor(given?: Partial<Writer>): Writer | undefined {
    return resolveWriter(given, this.defaultWriter);
  }

  private callerFor(given: Partial<Pick<Writer, 'kind' | 'client'>> | undefined): Pick<Writer, 'kind' | 'client'> | undefined {
    const w = this.writerFor(given);
    return w ? { kind: w.kind, ...(w.client ? { client: w.client } : {}) } : undefined;
  }

  /** Store figures (counts per scope/category/tier, legacy, disk, versions, indexes, lock, queue) plus embedder, index and bookkeeping state. */
  async stats(): Promise<ServiceStats> {
    this.assertOpen();
    const [store, vectorIndex] = await Promise.all([this.memoryStore.stats(), this.indexBuilder.state()]);
    const cache = this.activeEmbedder instanceof CachingEmbedder ? this.activeEmbedder : this.configuredEmbedder as CachingEmbedder;
    return {
      ...store,
      embedding: { ...this.embedderStatus, cache: { size: cache.size, hits: cache.hits, misses: cache.misses } },
      vectorIndex,
      bookkeeping: { pendingIds: this.bookkeeper.pendingIds },
    };
  }

  // ------------------------------------------------------------------------------- upkeep

  /** Writes pending recall counts now (normally once per coalescing window, and on close). */
  flushBookkeeping(): Promise<unknown> {
    return this.bookkeeper.flush();
  }

  /** Builds the ANN vector index now (outside the store lock); `force` builds even below the threshold. */
  buildVectorIndex(options: { force?: boolean } = {}): Promise<VectorIndexEvent> {
    this.assertOpen();
    return this.indexBuilder.build(options);
  }

  /** Flushes recall bookkeeping, stops background index builds and closes the store (if this service opened it). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.bookkeeper.close();
      } catch (err) {
        this.log.warn(`flushing recall bookkeeping on close failed: ${errorMessage(err)}`);
      }
      await this.embeddingUsage?.close();
      this.indexBuilder.cancel();
      // A native index build cannot be interrupted; give it a moment, then let it finish or die with the process.
      await this.indexBuilder.settle(3000);
      this.indexBuilder.dispose();
      this.recallTimings.dispose();
      this._onDidChange.dispose();
      if (this.ownsStore) await this.memoryStore.close();
    })();
    return this.closing;
  }

  dispose(): void {
    void this.close().catch(() => undefined);
  }

  // ------------------------------------------------------------------------------ helpers

  private assertOpen(): void {
    if (this.closing) throw new StoreUnavailableError('The memory service is closed');
  }

  private writableEmbedder(): Embedder {
    if (!this.activeEmbedder) {
      throw new EmbedderMismatchError(this.memoryStore.meta.embedder, this.memoryStore.meta.dim, this.configuredEmbedder.id, this.configuredEmbedder.dim);
    }
    return this.activeEmbedder;
  }

  private checkScopes(scopes: string[] | undefined): string[] | undefined {
    if (scopes === undefined) return undefined;
    if (!Array.isArray(scopes)) throw new ValidationError('scopes', 'must be an array of scopes, e.g. ["workspace:1a2b", "global"]');
    if (scopes.length === 0) throw new ValidationError('scopes', 'must name at least one scope');
    return [...new Set(scopes.map((s, i) => validateScope(s, `scopes[${i}]`)))];
  }

  /** The closest memory in `scope` if it is a near-duplicate (cosine ≥ threshold). */
  private async nearestDuplicate(vector: number[], scope: string, exceptId: string | undefined): Promise<{ record: MemoryRecord; similarity: number } | undefined> {
    const hit = await this.search.search({ text: '', vector, scopes: [scope], limit: 3, mode: 'vector', diversity: false, candidates: 3 });
    for (const h of hit.hits) {
      if (h.record.id === exceptId) continue; // the same client id: the insert reports exists/conflict
      if (h.similarity >= this.duplicateThreshold) return { record: h.record, similarity: h.similarity };
    }
    return undefined;
  }

  /** Exact id first; otherwise a unique prefix of at least 8 characters. */
  private async resolve(idOrPrefix: string): Promise<MemoryRecord> {
    const key = validateId(idOrPrefix, 'id');
    const exact = await this.memoryStore.get(key);
    if (exact) return exact;
    if (key.length < MIN_PREFIX) throw new NotFoundError(key);
    const matches = await this.memoryStore.findByIdPrefix(key, 6);
    if (matches.length === 0) throw new NotFoundError(key);
    if (matches.length > 1) throw new AmbiguousIdError(key, matches.map((m) => m.id));
    return matches[0]!;
  }
}

/** An id prefix matched several memories; `candidates` lists (some of) them. */
export class AmbiguousIdError extends MemoryLaneError {
  constructor(readonly prefix: string, readonly candidates: string[]) {
    super('E_AMBIGUOUS_ID', `The id prefix ${JSON.stringify(prefix)} matches more than one memory (${candidates.slice(0, 5).join(', ')}${candidates.length > 5 ? ', …' : ''}); give more characters`);
  }
}

// ------------------------------------------------------------------------------ pure helpers

/** A memory's id when the client gives none: UUID-shaped, from its scope and text. */
export function contentId(scope: string, text: string): string {
  const h = createHash('sha256').update(`${scope}\n${text}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function checkQuery(value: unknown): string {
  if (typeof value !== 'string') throw new ValidationError('query', `must be a string, got ${value === null ? 'null' : typeof value}`);
  if (value.trim().length === 0) throw new ValidationError('query', 'must not be empty or only whitespace');
  if (value.includes('\u0000')) throw new ValidationError('query', 'must not contain NUL characters');
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_QUERY_BYTES) throw new ValidationError('query', `is ${bytes} bytes; the limit is ${MAX_QUERY_BYTES} bytes — recall with a short description of what you need`);
  return value;
}

function checkLimit(value: unknown, fallback: number, max: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) throw new ValidationError(field, `must be an integer from 1 to ${max}, got ${String(value)}`);
  return value;
}

function checkCategories(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new ValidationError('category', 'must name at least one category');
  return [...new Set(list.map((c, i) => validateCategory(c, list.length > 1 ? `category[${i}]` : 'category')))];
}

function toView(r: MemoryRecord): MemoryView {
  const writer = writerOf(r.metadata);
  const history = historyOf(r.metadata);
  return {
    id: r.id, text: r.text, category: r.category, scope: r.scope, importance: r.importance, created_at: r.created_at, updated_at: r.updated_at, rev: r.rev, metadata: r.metadata, legacy: isLegacy(r),
    ...(writer ? { writer } : {}),
    ...(history.length ? { history } : {}),
    reviewed: isReviewed(r.metadata),
  };
}

/** A caller's metadata may not set the keys provenance is kept in: they would forge who wrote a memory or who kept it. */
function checkOwnMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  for (const key of PROVENANCE_KEYS) {
    if (Object.hasOwn(metadata, key)) throw new ValidationError(`metadata.${key}`, `is recorded by Memory Lane itself; pass the ${key === 'reviewed' ? 'keep() call' : 'writer option'} instead`);
  }
  return { ...metadata };
}

function checkWriterFilter(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim().length === 0) throw new ValidationError('writer', `must be a writer kind (${AGENT_WRITER_KINDS.join(', ')}, cli, import, upgrade, consolidate) or a client name, got ${JSON.stringify(value)}`);
  if (value.length > 200) throw new ValidationError('writer', `is ${value.length} characters; the limit is 200`);
  return value.trim();
}

function describeWriterShort(w: Writer): string {
  return `${w.kind}${w.client ? ` ${w.client.name}` : ''}, pid ${w.pid}`;
}

function toRecallResult(h: HybridHit, full: boolean): RecallResult {
  const r = h.record;
  const abstract = !full && typeof r.metadata.l0_abstract === 'string' && r.metadata.l0_abstract.trim() ? r.metadata.l0_abstract : undefined;
  const overview = abstract && typeof r.metadata.l1_overview === 'string' && r.metadata.l1_overview.trim() ? r.metadata.l1_overview : undefined;
  return {
    id: r.id,
    text: abstract ?? r.text,
    detail: abstract ? 'abstract' : 'full',
    ...(overview ? { overview } : {}),
    score: round(h.score),
    similarity: round(h.similarity),
    why: h.why,
    category: r.category,
    scope: r.scope,
    importance: r.importance,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
