import { MatchQuery } from '@lancedb/lancedb';
import { CachingEmbedder } from '../embedding/cachingEmbedder';
import { cosine, type EmbedOptions, type Embedder } from '../embedding/embedder';
import { FeatureStatistics, LocalEmbedder } from '../embedding/localEmbedder';
import { errorMessage } from '../errors';
import { nullLogger, type Logger } from '../log';
import type { MemoryStore } from '../store/memoryStore';
import { fromRawRow, type MemoryRecord, type RawRow } from '../store/schema';
import { SEARCH_TEXT_COLUMN } from '../store/searchText';
import { sqlInList } from '../store/sql';
import { DEFAULT_RANKING_WEIGHTS, diversify, importanceFactor, normalizedRrf, reciprocalRankFusion, recencyFactor, RRF_K, type RankingWeights, type Why } from './fusion';
import { bm25Rank } from './lexicalFallback';
import { applyVectorQueryParams, type VectorQueryParams } from './vectorIndex';

/** `hybrid` (default) fuses both retrievers; `vector` and `fts` run one alone (diagnostics, quality tests). */
export type RecallMode = 'hybrid' | 'vector' | 'fts';

export interface HybridQuery {
  /** The query text (full-text side). */
  text: string;
  /** The query embedding; undefined when no usable embedder is available (full-text only). */
  vector: number[] | undefined;
  /** What the vector search orders by, when it differs from `vector` (see {@link HybridSearch.queryVectors}). */
  rankingVector?: number[];
  /** Only memories in these scopes; undefined = every scope. */
  scopes?: readonly string[];
  /** Only memories in these categories; undefined = all. */
  categories?: readonly string[];
  limit: number;
  mode?: RecallMode;
  /** Drop results whose final score is below this (0..1). */
  minScore?: number;
  /**
   * Relevance floor for memories only the vector side found: below this cosine they are noise
   * (every query has *some* nearest neighbour). Full-text matches always pass: they share a word.
   */
  minSimilarity?: number;
  /** Candidates fetched from each retriever (default max(3 × limit, 20), at most 200). */
  candidates?: number;
  /** Near-duplicate demotion; `false` turns it off. */
  diversity?: { threshold: number; demotion: number } | false;
  weights?: RankingWeights;
  /** Clock for recency (tests). */
  now?: number;
}

export interface HybridHit {
  record: MemoryRecord;
  /** Final score in (0, 1]: fused rank relevance × recency × importance (× demotion). */
  score: number;
  /** Cosine similarity between the query and the memory (0 when there is no query vector). */
  similarity: number;
  why: Why;
  ranks: { vector?: number; fts?: number };
  /** True when pushed down as a near-duplicate of a higher result. */
  demoted: boolean;
}

export interface HybridResult {
  hits: HybridHit[];
  /** The mode that actually ran (hybrid degrades to one side when the other is unavailable). */
  mode: RecallMode;
  /** Why the search ran degraded, if it did (no FTS index yet, no embedder, …). */
  notes: string[];
  /** Stage times (ms): vector and fts run in parallel; fuse = fusion, weighting, diversity, cut (after both). */
  ms: { vector: number; fts: number; fuse: number; total: number };
}

/** Above this many candidate rows, the no-index lexical fallback is skipped (the index is on its way). */
const LEXICAL_FALLBACK_MAX_ROWS = 5000;
/**
 * Term statistics for the query weighting are counted over every row's text: ~35 ms per 1000 LoCoMo
 * turns. Up to this many rows the first recall waits for them (so a recall's ranking does not depend
 * on timing); above it they are counted in the background and the first recalls go unweighted.
 */
const STATS_SYNC_MAX_ROWS = 20_000;
/** Statistics are recounted (in the background) when the row count moved by this share, checked at most every STATS_CHECK_MS. */
const STATS_DRIFT = 0.05;
const STATS_CHECK_MS = 2000;
const COLUMNS = ['id', 'text', 'vector', 'category', 'scope', 'importance', 'created_at', 'updated_at', 'rev', 'metadata'];

/** SQL filter for scopes and categories; every value goes through `sqlString` (via sqlInList). */
export function recallFilter(scopes: readonly string[] | undefined, categories: readonly string[] | undefined): string | undefined {
  const parts: string[] = [];
  if (scopes) parts.push(scopes.length ? `scope IN ${sqlInList(scopes, 'scope')}` : 'false');
  if (categories) parts.push(categories.length ? `category IN ${sqlInList(categories, 'category')}` : 'false');
  return parts.length ? parts.join(' AND ') : undefined;
}

function isMissingFtsIndex(err: unknown): boolean {
  return /INVERTED index|full text search unless|no inverted index|fts index/i.test(errorMessage(err));
}

/**
 * Hybrid retrieval over a store's table: LanceDB vector search and full-text (BM25) search run in
 * parallel with the same scope/category prefilter, are fused with RRF, then weighted by recency
 * and importance, gated by relevance, diversified, and cut to the limit. Read-only: takes no lock.
 */
export class HybridSearch {
  private stats?: { value: FeatureStatistics; rows: number; checkedAt: number };
  private counting?: Promise<void>;

  /** `vectorQueryParams`: what the ANN index's self-check chose (VectorIndexBuilder.queryParams). */
  constructor(private readonly store: MemoryStore, private readonly log: Logger = nullLogger, private readonly vectorQueryParams: () => VectorQueryParams = () => ({})) {}

  /**
   * The query's embedding (`vector`) and, for the local embedder, the one the vector search ranks
   * by (`rankingVector`): its features weighted by their rarity in this store
   * ({@link LocalEmbedder.embedQuery}). The relevance floor and the reported similarity stay on the
   * plain cosine, whose scale they were calibrated on (gating on the weighted one cut real hits:
   * LoCoMo observations vector-only hit@5 0.538 → 0.528).
   */
  async queryVectors(text: string, embedder: Embedder, options: EmbedOptions = {}): Promise<{ vector: number[] | undefined; rankingVector?: number[] }> {
    const inner = embedder instanceof CachingEmbedder ? embedder.inner : embedder;
    const [vector] = await embedder.embed([text], options);
    if (!(inner instanceof LocalEmbedder)) return { vector };
    return { vector, rankingVector: inner.embedQuery(text, await this.featureStatistics()) };
  }

  private async featureStatistics(): Promise<FeatureStatistics | undefined> {
    const now = Date.now();
    if (this.stats && now - this.stats.checkedAt < STATS_CHECK_MS) return this.stats.value;
    const rows = await this.store.count();
    if (this.stats) {
      this.stats.checkedAt = now;
      if (Math.abs(rows - this.stats.rows) > STATS_DRIFT * this.stats.rows) void this.countFeatures();
      return this.stats.value;
    }
    const counting = this.countFeatures();
    if (rows <= STATS_SYNC_MAX_ROWS) await counting;
    return (this.stats as { value: FeatureStatistics } | undefined)?.value;
  }

  private countFeatures(): Promise<void> {
    this.counting ??= (async () => {
      try {
        const started = performance.now();
        const texts = await this.store.rows(undefined, { columns: ['text'] });
        const value = new FeatureStatistics();
        for (let i = 0; i < texts.length; i++) {
          value.add(String(texts[i]!.text ?? ''));
          if (i % 2000 === 1999) await new Promise((r) => setImmediate(r)); // recalls and lock heartbeats go on meanwhile
        }
        this.stats = { value, rows: texts.length, checkedAt: Date.now() };
        this.log.debug(`term statistics of ${texts.length} memories counted in ${Math.round(performance.now() - started)} ms`);
      } catch (err) {
        this.log.warn(`counting term statistics failed; query weighting off until the next try: ${errorMessage(err)}`);
      } finally {
        this.counting = undefined;
      }
    })();
    return this.counting;
  }

  async search(q: HybridQuery): Promise<HybridResult> {
    const started = performance.now();
    const notes: string[] = [];
    const limit = Math.max(0, Math.floor(q.limit));
    const k = Math.min(200, Math.max(q.candidates ?? 3 * limit, 20));
    const filter = recallFilter(q.scopes, q.categories);
    let mode: RecallMode = q.mode ?? 'hybrid';
    const hasVector = !!q.vector && q.vector.some((x) => x !== 0);
    if (!hasVector && mode !== 'fts') {
      notes.push(q.vector ? 'the query has no embeddable content; full-text search only' : 'no usable embedder for this store; full-text search only');
      mode = 'fts';
    }
    if (limit === 0) return { hits: [], mode, notes, ms: { vector: 0, fts: 0, fuse: 0, total: 0 } };

    const ms = { vector: 0, fts: 0, fuse: 0, total: 0 };
    const timed = async <T>(side: 'vector' | 'fts', fn: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try { return await fn(); } finally { ms[side] = performance.now() - t0; }
    };
    const [vectorRows, ftsRows] = await Promise.all([
      mode === 'fts' ? undefined : timed('vector', () => this.vectorCandidates(q.rankingVector ?? q.vector!, filter, k)),
      mode === 'vector' ? undefined : timed('fts', () => this.ftsCandidates(q.text, filter, k, notes)),
    ]);
    const fuseStarted = performance.now();
    if (mode === 'hybrid' && ftsRows === undefined) mode = 'vector';

    const records = new Map<string, MemoryRecord>();
    for (const row of [...(vectorRows ?? []), ...(ftsRows ?? [])]) if (!records.has(row.id)) records.set(row.id, row);
    const similarities = new Map<string, number>();
    const similarityOf = (r: MemoryRecord) => {
      let s = similarities.get(r.id);
      if (s === undefined) similarities.set(r.id, (s = hasVector && r.vector.length === q.vector!.length ? cosine(q.vector!, r.vector) : 0));
      return s;
    };
    // Every query has *some* nearest neighbours. Below the relevance floor they are noise, and noise
    // must not count as "agreement" in the fusion (it would lift weak full-text hits over a strong
    // vector-only hit), so the vector list is cut at the floor before fusing.
    const minSimilarity = q.minSimilarity ?? 0;
    const vectorList = vectorRows?.filter((r) => similarityOf(r) >= minSimilarity).map((r) => r.id);
    const now = q.now ?? Date.now();
    const weights = q.weights ?? DEFAULT_RANKING_WEIGHTS;
    const rrfK = weights.rrfK ?? RRF_K;
    const fusionWeights = weights.fusionWeights ?? { vector: 1, fts: 1 };
    const fused = reciprocalRankFusion({ vector: vectorList, fts: ftsRows?.map((r) => r.id) }, rrfK, fusionWeights);
    const listsSearched = (vectorRows ? fusionWeights.vector : 0) + (ftsRows ? fusionWeights.fts : 0);

    const scored = fused.map((f) => {
      const record = records.get(f.id)!;
      const similarity = similarityOf(record);
      const age = now - Math.max(record.updated_at, record.created_at);
      const score = normalizedRrf(f.rrf, listsSearched, rrfK) * recencyFactor(age, weights) * importanceFactor(record.importance, weights);
      return { id: f.id, record, vector: record.vector, score, similarity, why: f.why, ranks: f.ranks };
    }).sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));

    const ranked = q.diversity === false
      ? scored.slice(0, limit).map((s) => ({ ...s, demoted: false }))
      : diversify(scored, limit, q.diversity?.threshold ?? 0.92, q.diversity?.demotion ?? 0.5);
    const hits = ranked
      .filter((h) => h.score >= (q.minScore ?? 0))
      .map((h): HybridHit => ({ record: h.record, score: h.score, similarity: h.similarity, why: h.why, ranks: h.ranks, demoted: h.demoted }));
    ms.fuse = performance.now() - fuseStarted;
    ms.total = performance.now() - started;
    return { hits, mode, notes, ms };
  }

  private async vectorCandidates(vector: number[], filter: string | undefined, k: number): Promise<MemoryRecord[]> {
    let query = this.store.table.query().nearestTo(vector).distanceType('cosine');
    // Query-time parameters the index's self-check chose (vectorIndex.ts); ignored without an index.
    query = applyVectorQueryParams(query, this.vectorQueryParams(), k).select(COLUMNS).limit(k);
    if (filter) query = query.where(filter);
    return ((await this.store.reading('recall', () => query.toArray())) as RawRow[]).map(fromRawRow);
  }

  /**
   * BM25 through LanceDB's FTS index. `MatchQuery` treats the text as plain words (no query
   * syntax), so quotes, colons, AND/OR or SQL in a query are just words. Rows appended since the
   * index was built are still searched (LanceDB scans unindexed fragments). With no index at all
   * yet, small tables are ranked by the TypeScript BM25 fallback; returns undefined when full-text
   * search is unavailable.
   */
  private async ftsCandidates(text: string, filter: string | undefined, k: number, notes: string[]): Promise<MemoryRecord[] | undefined> {
    try {
      // The derived search text: the memory's text, its context and its date (store/searchText.ts).
      let query = this.store.table.query().fullTextSearch(new MatchQuery(text, SEARCH_TEXT_COLUMN)).select(COLUMNS).limit(k);
      if (filter) query = query.where(filter);
      return ((await this.store.reading('recall', () => query.toArray())) as RawRow[]).map(fromRawRow);
    } catch (err) {
      if (!isMissingFtsIndex(err)) throw err;
    }
    const rows = await this.store.count(filter);
    if (rows > LEXICAL_FALLBACK_MAX_ROWS) {
      notes.push(`no full-text index yet on ${rows} rows; vector search only until background maintenance builds it`);
      this.log.debug(`recall: FTS index missing on ${rows} rows; vector only`);
      return undefined;
    }
    notes.push('no full-text index yet; ranked words in memory (BM25 fallback)');
    const docs = (await this.store.rows(filter, { columns: ['id', SEARCH_TEXT_COLUMN] })).map((r) => ({ id: String(r.id), text: String(r[SEARCH_TEXT_COLUMN] ?? '') }));
    const top = bm25Rank(text, docs, k);
    if (top.length === 0) return [];
    const found = await this.store.getMany(top.map((t) => t.id));
    return top.map((t) => found.get(t.id)).filter((r): r is MemoryRecord => !!r);
  }
}
