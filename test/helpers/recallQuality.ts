import type { MemoryService } from '../../src/core/memoryService';
import type { RecallMode } from '../../src/core/retrieval/hybridSearch';
import labelled from '../fixtures/recall-quality.json';

/**
 * The labelled recall set (test/fixtures/recall-quality.json) and how recall@k is scored on it,
 * shared by the quality and perf tests and by the recall benchmark (bench/recall.ts), so every
 * figure is the same measure.
 */
export type QueryKind = 'keyword' | 'stem' | 'paraphrase';

export interface LabelledSet {
  memories: Array<{ id: string; text: string; category: string }>;
  queries: Array<{ kind: QueryKind; q: string; expected: string[] }>;
}

// Bundled by esbuild, so tests and benchmarks run from their output folder without the source tree.
export const labelledSet = labelled as LabelledSet;

/** One query in one mode: the share of its expected memories among the top k, and the recall's latency. */
export interface RecallScore {
  q: string;
  kind: QueryKind;
  mode: RecallMode;
  /** The mode that actually ran (hybrid degrades when an index or the embedder is missing). */
  ran: RecallMode;
  recall: number;
  ms: number;
}

/** Runs every labelled query in every mode (uncounted recalls) and scores recall@k. */
export async function scoreRecall(memory: MemoryService, options: { k: number; modes: RecallMode[]; queries?: LabelledSet['queries'] }): Promise<RecallScore[]> {
  const scores: RecallScore[] = [];
  for (const q of options.queries ?? labelledSet.queries) {
    for (const mode of options.modes) {
      const started = performance.now();
      const { results, mode: ran } = await memory.recall(q.q, { limit: options.k, mode, count: false });
      const ms = performance.now() - started;
      const ids = results.map((r) => r.id);
      scores.push({ q: q.q, kind: q.kind, mode, ran, recall: q.expected.filter((e) => ids.includes(e)).length / q.expected.length, ms });
    }
  }
  return scores;
}

/** Mean recall@k over the scores of one mode, optionally of one query kind. */
export function meanRecall(scores: readonly RecallScore[], mode: RecallMode, kind?: QueryKind): number {
  const picked = scores.filter((s) => s.mode === mode && (kind === undefined || s.kind === kind));
  return picked.length ? picked.reduce((sum, s) => sum + s.recall, 0) / picked.length : 0;
}

/** Deterministic filler memories made of the labelled set's vocabulary, so queries meet realistic distractors. */
export function fillerTexts(n: number, seed = 12345): string[] {
  const words = labelledSet.memories.flatMap((m) => m.text.replace(/[.;,:()]/g, '').split(/\s+/)).filter((w) => w.length > 2);
  let state = seed;
  const rnd = () => { state = (state * 1103515245 + 12345) % 2 ** 31; return state / 2 ** 31; };
  return Array.from({ length: n }, () => Array.from({ length: 8 + Math.floor(rnd() * 16) }, () => words[Math.floor(rnd() * words.length)]).join(' ') + '.');
}
