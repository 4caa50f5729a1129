import { analyze } from '../embedding/textFeatures';

/**
 * BM25 over a handful of rows, in TypeScript. Used only while a table has no full-text index yet
 * (a new store: the store builds the FTS index in background maintenance after its first commits),
 * so that recall is hybrid from the very first memory instead of silently vector-only.
 */
export function bm25Rank(query: string, docs: ReadonlyArray<{ id: string; text: string }>, limit: number, k1 = 1.2, b = 0.75): Array<{ id: string; score: number }> {
  const queryTerms = [...new Set(analyze(query).tokens.filter((t) => !t.stop).map((t) => t.stem))];
  if (queryTerms.length === 0 || docs.length === 0) return [];
  const termSets = docs.map((d) => {
    const tf = new Map<string, number>();
    const tokens = analyze(d.text).tokens.filter((t) => !t.stop);
    for (const t of tokens) tf.set(t.stem, (tf.get(t.stem) ?? 0) + 1);
    return { id: d.id, tf, length: tokens.length };
  });
  const avgLength = termSets.reduce((s, d) => s + d.length, 0) / termSets.length || 1;
  const df = new Map<string, number>();
  for (const term of queryTerms) df.set(term, termSets.filter((d) => d.tf.has(term)).length);
  const scored = termSets.map((d) => {
    let score = 0;
    for (const term of queryTerms) {
      const f = d.tf.get(term);
      if (!f) continue;
      const n = df.get(term)!;
      const idf = Math.log(1 + (termSets.length - n + 0.5) / (n + 0.5));
      score += idf * ((f * (k1 + 1)) / (f + k1 * (1 - b + (b * d.length) / avgLength)));
    }
    return { id: d.id, score };
  });
  return scored.filter((s) => s.score > 0).sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : 1)).slice(0, limit);
}
