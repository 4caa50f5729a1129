import { Emitter } from '../events';

/**
 * Where one recall's time went, in ms (rounded to 0.01). `vector` and `fts` run in parallel, so
 * `total` ≥ embed + max(vector, fts) + fuse, not their plain sum; `total` also covers validation and
 * mapping the results. A timeout tells a caller the budget; this tells them which stage used it.
 */
export interface RecallTimings {
  /** The query's embedding (0 in full-text mode or without an embedder). */
  embed: number;
  /** The vector search with its scope prefilter (0 when it did not run). */
  vector: number;
  /** The full-text (BM25) search with its scope prefilter (0 when it did not run). */
  fts: number;
  /** Fusion, recency/importance weighting, diversity, the cut to the limit. */
  fuse: number;
  /** The whole recall call. */
  total: number;
}

export const TIMING_STAGES = ['embed', 'vector', 'fts', 'fuse', 'total'] as const;
export type TimingStage = (typeof TIMING_STAGES)[number];

export interface RecallTimingsSummary {
  /** Recalls summarised (the most recent, at most the window's size). */
  count: number;
  stages: Record<TimingStage, { p50: number; p95: number }>;
}

export const roundMs = (x: number) => Math.round(x * 100) / 100;

/** Nearest-rank percentile of sorted values. */
function nearestRank(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]! : 0;
}

/** The last `size` recalls' timings of this process (the Locks & Upgrades view shows their p50/p95). */
export class RecentRecallTimings {
  private readonly entries: RecallTimings[] = [];
  private readonly _onDidRecord = new Emitter<RecallTimings>();
  readonly onDidRecord = this._onDidRecord.event;

  constructor(readonly size = 100) {}

  record(t: RecallTimings): void {
    this.entries.push(t);
    if (this.entries.length > this.size) this.entries.shift();
    this._onDidRecord.fire(t);
  }

  summary(): RecallTimingsSummary {
    const stages = {} as RecallTimingsSummary['stages'];
    for (const stage of TIMING_STAGES) {
      const sorted = this.entries.map((e) => e[stage]).sort((a, b) => a - b);
      stages[stage] = { p50: nearestRank(sorted, 50), p95: nearestRank(sorted, 95) };
    }
    return { count: this.entries.length, stages };
  }

  dispose(): void {
    this._onDidRecord.dispose();
  }
}
