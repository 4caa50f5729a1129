import { CancelledError, ValidationError } from '../errors';
import { normalizeInPlace, type EmbedOptions, type Embedder } from './embedder';
import { analyze, foldText, LOCAL_FEATURES_VERSION, type Token } from './textFeatures';

/**
 * 384 dimensions. With signed feature hashing, two unrelated texts collide on a few of their
 * ~100–300 features and the noise in their cosine shrinks like 1/sqrt(dim) (≈0.05 at 384). On the
 * labelled set (test/fixtures/recall-quality.json) 256, 384, 512, 768 and 1024 dimensions gave the
 * same recall@5; first-hit rank (MRR) on the paraphrase queries moved within noise (0.93 at 384,
 * 0.98 at 768, 0.93 at 1024). Cost is not noise: brute-force vector search, which dominates recall
 * latency until the ANN index exists, measured 13 ms p50 at 10k rows × 384 and 20 ms × 768 on this
 * 2-core machine kind. 384 is also the width of common small sentence models.
 */
export const LOCAL_DEFAULT_DIM = 384;

/** Feature weights (before sublinear tf): exact stems dominate; word pairs add phrase sense; char n-grams bridge word forms. */
const WEIGHTS = { unigram: 1.0, bigram: 0.5, extra: 0.7, char: 0.22 } as const;
const CHAR_NGRAMS = [3, 4] as const;
/** The embedder yields to the event loop this often so a huge batch never stalls lock heartbeats (docs/lancedb.md#a-frozen-holder-loses-the-lock). */
const YIELD_EVERY = 32;

/**
 * The default embedder: offline, deterministic, no model download. Each text becomes a sparse bag
 * of features — stemmed word unigrams, adjacent word pairs, and character 3/4-grams of each word —
 * weighted with sublinear term frequency (1 + ln tf), hashed with a sign bit into `dim` buckets
 * (signed hashing keeps collisions unbiased) and L2-normalised, so cosine similarity measures shared
 * vocabulary, shared word parts and shared word order. Character n-grams are what let it match
 * "Postgres" with "PostgreSQL" or "serializing" with "Serialization", which BM25 on whole stems misses.
 */
export class LocalEmbedder implements Embedder {
  readonly kind = 'local' as const;
  readonly id: string;
  readonly maxBatchSize = 256;

  constructor(readonly dim: number = LOCAL_DEFAULT_DIM) {
    if (!Number.isInteger(dim) || dim < 16 || dim > 4096) throw new ValidationError('dim', `the local embedder supports 16..4096 dimensions, got ${dim}`);
    this.id = localEmbedderId(dim);
  }

  async embed(texts: string[], options: EmbedOptions = {}): Promise<number[][]> {
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i++) {
      if (options.signal?.aborted) throw new CancelledError('embedding');
      if (i > 0 && i % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
      out.push(this.embedOne(texts[i]!));
    }
    return out;
  }

  /** Synchronous embedding of one text (the async `embed` is this plus yielding). */
  embedOne(text: string): number[] {
    return this.hashed(extractFeatures(text));
  }

  /**
   * A query's embedding with each feature weighted by its rarity in the store (`stats`): stored
   * vectors stay as they are (no re-embedding when the statistics move), and the cosine becomes a
   * sum over shared features in which a rare word counts more than "really" or a name on every
   * line, as in BM25. LoCoMo dev, vector-only hit@5 (BENCHMARKS.md §6): turns 0.367 → 0.425,
   * observations 0.533 → 0.539, observations + 15k distractors 0.466 → 0.450 (the statistics are
   * the whole store's, there mostly distractors); without hashing the same weighting reaches 0.56 on
   * turns: 384 buckets shared by ~200 features per text are what holds it back.
   */
  embedQuery(text: string, stats: FeatureStatistics | undefined): number[] {
    return this.hashed(extractFeatures(text), stats);
  }

  private hashed(features: FeatureBag, stats?: FeatureStatistics): number[] {
    const v = new Array<number>(this.dim).fill(0);
    for (const [key, { weight, tf }] of features) {
      const h = fmix32(fnv1a(key));
      const index = h % this.dim;
      const sign = fmix32(h ^ 0x9e3779b9) & 1 ? 1 : -1;
      v[index]! += sign * weight * (1 + Math.log(tf)) * (stats ? stats.idfOfHash(h) : 1);
    }
    return normalizeInPlace(v);
  }
}

/** 2^19 counters (2 MB): at 100k short memories, ~500k distinct features share them with few collisions. */
const STAT_BITS = 19;

/**
 * How many texts contain each local-embedder feature, counted in hashed buckets (a collision only
 * makes a rare feature look a little more common), for {@link LocalEmbedder.embedQuery}.
 */
export class FeatureStatistics {
  readonly counts = new Uint32Array(1 << STAT_BITS);
  docs = 0;

  static of(texts: Iterable<string>): FeatureStatistics {
    const s = new FeatureStatistics();
    for (const t of texts) s.add(t);
    return s;
  }

  add(text: string): void {
    this.docs++;
    for (const key of extractFeatures(text).keys()) this.counts[fmix32(fnv1a(key)) >>> (32 - STAT_BITS)]!++;
  }

  /** BM25's idf, ln(1 + (N − n + 0.5) / (n + 0.5)), of the feature with this hash. */
  idfOfHash(h: number): number {
    const n = Math.min(this.docs, this.counts[h >>> (32 - STAT_BITS)]!);
    return Math.log(1 + (this.docs - n + 0.5) / (n + 0.5));
  }

  idf(key: string): number {
    return this.idfOfHash(fmix32(fnv1a(key)));
  }
}

export function localEmbedderId(dim: number): string {
  return `local:${LOCAL_FEATURES_VERSION}@${dim}`;
}

/** Parses `local:<version>@<dim>`; undefined for other embedders' ids. */
export function parseLocalEmbedderId(id: string): { version: string; dim: number } | undefined {
  const m = /^local:([a-z0-9]+)@(\d+)$/.exec(id);
  return m ? { version: m[1]!, dim: Number(m[2]) } : undefined;
}

type FeatureBag = Map<string, { weight: number; tf: number }>;

function add(bag: FeatureBag, key: string, weight: number): void {
  const f = bag.get(key);
  if (f) {
    f.tf++;
    if (weight > f.weight) f.weight = weight;
  } else {
    bag.set(key, { weight, tf: 1 });
  }
}

function addCharGrams(bag: FeatureBag, t: Token, scale: number): void {
  if (t.stop || t.word.length < 3 || !/\p{L}/u.test(t.word)) return;
  const padded = `<${t.word}>`;
  for (const n of CHAR_NGRAMS) {
    for (let i = 0; i + n <= padded.length; i++) add(bag, 'c:' + padded.slice(i, i + n), WEIGHTS.char * scale);
  }
}

/** The weighted features of a text (exported for tests and diagnostics). */
export function extractFeatures(text: string): FeatureBag {
  const { tokens, extras } = analyze(text);
  const bag: FeatureBag = new Map();
  let previous: Token | undefined;
  for (const t of tokens) {
    if (t.stop) continue;
    add(bag, 'w:' + t.stem, WEIGHTS.unigram);
    addCharGrams(bag, t, 1);
    if (previous) add(bag, `b:${previous.stem} ${t.stem}`, WEIGHTS.bigram);
    previous = t;
  }
  for (const t of extras) {
    if (t.stop) continue;
    add(bag, 'w:' + t.stem, WEIGHTS.extra);
    addCharGrams(bag, t, WEIGHTS.extra);
  }
  if (bag.size === 0) {
    // Only stop words or symbols ("it is what it is", "¯\\_(ツ)_/¯"): fall back to the stop words and the
    // raw characters, so every non-empty text gets a non-zero vector (a zero vector has no cosine).
    for (const t of tokens) add(bag, 'w:' + t.word, WEIGHTS.unigram);
    const folded = foldText(text).trim();
    const padded = `<${folded}>`;
    for (let i = 0; i + 3 <= padded.length; i++) add(bag, 'c:' + padded.slice(i, i + 3), WEIGHTS.char);
  }
  return bag;
}

/** FNV-1a over UTF-16 code units: fast, stable, and identical on every platform. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's finalizer: spreads FNV's weak low bits before taking the bucket and the sign. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
