import type { MemoryRecord } from './schema';

/** The column the full-text index is on (schema v2; before, it was on `text`). */
export const SEARCH_TEXT_COLUMN = 'search_text';

/**
 * What the full-text index reads for a memory (the `search_text` column): its text, the context the
 * caller gave with it (the turn or message just before it), and the day it was written. Derived at
 * every write from the record (schema.ts `toRawRow`), never edited on its own, so it cannot drift
 * from the text; the memory's `text` stays verbatim and is all a recall returns.
 *
 * Why each part (LoCoMo dev split, hit@5, BENCHMARKS.md §6 changes 3 and 3b):
 * - the context: most turns that answer a question answer the turn before them ("Who performed?"
 *   → "It was Matt Patterson", after "What concert was it?");
 * - the date: questions name the day or month they ask about ("What did Melanie paint on October
 *   13, 2023?"), and distractor memories share the words but not the day.
 * Together, turns hybrid 0.576 → 0.697 (FTS-only 0.584 → 0.699); the date alone, observations
 * 0.605 → 0.626 and observations among 15k distractors 0.520 → 0.580.
 */
export function searchTextOf(record: Pick<MemoryRecord, 'text' | 'context' | 'created_at'>): string {
  const parts = [record.text];
  if (record.context) parts.push(record.context);
  const day = dayText(record.created_at);
  if (day) parts.push(day);
  return parts.join('\n');
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** `13 October 2023` (UTC): the words a question names a day with, in any of its usual orders. */
export function dayText(epochMs: number): string | undefined {
  if (!Number.isFinite(epochMs) || epochMs <= 0) return undefined;
  const d = new Date(epochMs);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}
