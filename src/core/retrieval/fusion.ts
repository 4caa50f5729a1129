import { cosine } from '../embedding/embedder';

/**
 * Reciprocal Rank Fusion (Cormack, Clarke & Büttcher, SIGIR 2009): score(d) = Σ 1 / (k + rank).
 *
 * Why RRF and not a weighted sum of scores: the two lists speak different units. BM25 scores are
 * unbounded and shift with the corpus (document count, average length), cosine similarities depend
 * on the embedder (the local hashing embedder puts related memories around 0.2–0.6 and noise around
 * 0.1–0.18; OpenAI's ada-002 puts nearly every pair above 0.7), so any fixed weight is mis-calibrated
 * for one of them and drifts as the store grows or the user switches embedders. RRF uses only ranks, needs no calibration, and rewards a memory both retrievers agree
 * on — exactly the "why: both" case. k = 60 is the paper's value; it keeps the head of each list
 * from dominating.
 */
export const RRF_K = 60;

export type Why = 'vector' | 'fts' | 'both';

export interface FusedEntry {
  id: string;
  /** Raw RRF sum. */
  rrf: number;
  /** 1-based rank in each list the id appeared in. */
  ranks: { vector?: number; fts?: number };
  why: Why;
}

/** Per-list weights of a weighted RRF (default 1 each). */
export interface FusionWeights {
  vector: number;
  fts: number;
}

/** Fuses best-first id lists; the result is sorted by RRF score (ties: better best rank, then id). */
export function reciprocalRankFusion(lists: { vector?: readonly string[]; fts?: readonly string[] }, k = RRF_K, weights: FusionWeights = { vector: 1, fts: 1 }): FusedEntry[] {
  const byId = new Map<string, FusedEntry>();
  for (const source of ['vector', 'fts'] as const) {
    const list = lists[source];
    if (!list) continue;
    const seen = new Set<string>();
    list.forEach((id, i) => {
      if (seen.has(id)) return; // a duplicate row id in one list counts once
      seen.add(id);
      const entry = byId.get(id) ?? { id, rrf: 0, ranks: {}, why: source };
      entry.rrf += weights[source] / (k + i + 1);
      entry.ranks[source] = i + 1;
      entry.why = entry.ranks.vector && entry.ranks.fts ? 'both' : source;
      byId.set(id, entry);
    });
  }
  const best = (e: FusedEntry) => Math.min(e.ranks.vector ?? Infinity, e.ranks.fts ?? Infinity);
  return [...byId.values()].sort((a, b) => b.rrf - a.rrf || best(a) - best(b) || (a.id < b.id ? -1 : 1));
}

/**
 * RRF scaled to (0, 1]: 1 means first in every list that was searched. `listsSearched` is the
 * number of lists (unweighted RRF) or the sum of the searched lists' weights.
 */
export function normalizedRrf(rrf: number, listsSearched: number, k = RRF_K): number {
  return listsSearched > 0 ? Math.min(1, rrf / (listsSearched / (k + 1))) : 0;
}

export interface RankingWeights {
  /** Age at which the recency bonus has halved (default 180 days). */
  recencyHalfLifeMs: number;
  /** Share of the score that depends on recency, 0..1 (default 0.2): a very old memory keeps 80 %. */
  recencyWeight: number;
  /** Share of the score that depends on importance, 0..1 (default 0.3): importance 0 keeps 70 %. */
  importanceWeight: number;
  /** RRF's k (default {@link RRF_K}). */
  rrfK?: number;
  /** Per-retriever weights in the RRF (default 1 each). */
  fusionWeights?: FusionWeights;
}

export const DEFAULT_RANKING_WEIGHTS: RankingWeights = {
  recencyHalfLifeMs: 180 * 24 * 3600 * 1000,
  recencyWeight: 0.2,
  importanceWeight: 0.3,
};

/** 1 for a memory updated now, falling towards 1 − weight as it ages (exponential half-life). */
export function recencyFactor(ageMs: number, w: RankingWeights = DEFAULT_RANKING_WEIGHTS): number {
  const age = Math.max(0, ageMs);
  return 1 - w.recencyWeight * (1 - Math.pow(0.5, age / w.recencyHalfLifeMs));
}

/** 1 for importance 1, 1 − weight for importance 0; out-of-range values are clamped. */
export function importanceFactor(importance: number, w: RankingWeights = DEFAULT_RANKING_WEIGHTS): number {
  const i = Number.isFinite(importance) ? Math.min(1, Math.max(0, importance)) : 0.5;
  return 1 - w.importanceWeight * (1 - i);
}

export interface Diversifiable {
  id: string;
  score: number;
  vector: ArrayLike<number>;
}

/**
 * Greedy MMR-lite: repeatedly takes the best remaining item, where an item whose cosine to an
 * already-taken one is at least `threshold` counts only `demotion` × its score. Near-duplicates are
 * pushed down (they still fill the list if nothing else is left), distinct memories move up.
 * Returns at most `limit` items with their scores as they were ranked (demotion applied).
 */
export function diversify<T extends Diversifiable>(items: readonly T[], limit: number, threshold = 0.92, demotion = 0.5): Array<T & { demoted: boolean }> {
  const pool = [...items];
  const taken: Array<T & { demoted: boolean }> = [];
  while (taken.length < limit && pool.length > 0) {
    let bestIndex = 0;
    let bestScore = -Infinity;
    let bestDemoted = false;
    for (let i = 0; i < pool.length; i++) {
      const c = pool[i]!;
      const dup = taken.some((t) => cosine(t.vector, c.vector) >= threshold);
      const s = dup ? c.score * demotion : c.score;
      if (s > bestScore) { bestScore = s; bestIndex = i; bestDemoted = dup; }
    }
    const [chosen] = pool.splice(bestIndex, 1);
    taken.push({ ...chosen!, score: bestScore, demoted: bestDemoted });
  }
  return taken;
}
