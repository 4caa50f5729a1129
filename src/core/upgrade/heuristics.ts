import { LEGACY_CATEGORY_MAP, type Category } from '../store/schema';

/**
 * Pure text heuristics behind the `local` enricher: cleaning, sentence splitting and truncation that
 * work for any language (Intl.Segmenter, never a regex on `.`), and rule-based categories.
 */

// Control characters except tab and newline, zero-width spaces and the BOM. ZWJ (U+200D) stays: it
// holds emoji sequences together.
const JUNK = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b\u2060\ufeff]/g;

/** Normalises whitespace and removes invisible junk; keeps line structure (lists stay lists). */
export function cleanText(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(JUNK, '')
    .split('\n')
    .map((line) => line.replace(/[\t\u00a0 ]+/g, ' ').trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

// A fixed locale keeps results identical on every machine (a rerun must produce the same fields).
const sentenceSegmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
const wordSegmenter = new Intl.Segmenter('en', { granularity: 'word' });
const graphemeSegmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

const BULLET = /^\s*(?:[-*•·‣▪–—]|\d{1,3}[.)]|[a-z][.)])\s+/u;

/** Index ≤ `at` that does not split a surrogate pair. */
function safeCut(text: string, at: number): number {
  if (at >= text.length) return text.length;
  const code = text.charCodeAt(at);
  return code >= 0xdc00 && code <= 0xdfff ? at - 1 : at;
}

/**
 * Sentences of the first `scanChars` of the text (enough for an abstract and an overview; a 1 MiB
 * memory is not segmented whole). Lines are separate units so a bulleted list yields its items.
 */
export function sentences(text: string, scanChars = 4000, max = 16): string[] {
  const head = text.slice(0, safeCut(text, scanChars));
  const out: string[] = [];
  for (const line of head.split('\n')) {
    const unit = line.replace(BULLET, '').trim();
    if (!unit) continue;
    for (const { segment } of sentenceSegmenter.segment(unit)) {
      const s = segment.trim();
      if (s) out.push(s);
      if (out.length >= max) return out;
    }
  }
  return out;
}

/**
 * Shortens to at most `maxChars` UTF-16 units, cutting at a word boundary when there is one in the
 * last 40% (languages without spaces are cut between words by ICU's dictionary, or at a grapheme),
 * never inside a surrogate pair or a grapheme cluster (emoji, combining marks), and marks the cut
 * with "…".
 */
export function truncateAtBoundary(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const budget = Math.max(1, maxChars - 1);
  let wordCut = 0;
  for (const { index, segment } of wordSegmenter.segment(text.slice(0, safeCut(text, budget + 64)))) {
    if (index + segment.length > budget) break;
    wordCut = index + segment.length;
  }
  let cut = wordCut;
  if (cut < budget * 0.6) {
    cut = 0;
    for (const { index, segment } of graphemeSegmenter.segment(text.slice(0, safeCut(text, budget + 16)))) {
      if (index + segment.length > budget) break;
      cut = index + segment.length;
    }
  }
  const kept = text.slice(0, cut).replace(/[\s,;:–—-]+$/u, '');
  return kept + '…';
}

interface Rule {
  category: Category;
  test: RegExp;
}

// Order matters: the first rule that matches wins. English cues only; other languages keep the
// row's own (mapped) category, which is the honest answer of a heuristic.
const RULES: Rule[] = [
  { category: 'preferences', test: /\b(prefers?|preferred|preference|likes?|dislikes?|loves?|hates?|favou?rite|would rather|rather than|instead of|always use|never use)\b/i },
  { category: 'profile', test: /\b(my name is|i am an? |i'm an? |i work (as|at|on|for)|i live in|years old|my (role|job|title|team) is|the user (is|works|lives)|user's name)\b/i },
  { category: 'events', test: /\b(decided|decision|agreed|we chose|chose to|switched to|migrated to|released|deployed|shipped|meeting|deadline|yesterday|today|tomorrow|\d{4}-\d{2}-\d{2})\b/i },
  { category: 'cases', test: /\b(error|bug|fix(ed|es)?|crash(ed|es)?|fail(ed|s|ure)?|workaround|solved|resolved|exception|stack ?trace|timeout)\b/i },
  { category: 'patterns', test: /\b(whenever|every time|usually|tends? to|pattern|rule of thumb|best practice|convention|as a rule)\b/i },
  { category: 'entities', test: /^\p{Lu}[\p{L}\p{N}_.-]*(\s+\p{Lu}[\p{L}\p{N}_.-]*)*\s+(is|are|was|has|uses|runs)\b/u },
];

const GENERIC = new Set(['', 'other', 'cases', 'memory', 'general', 'note']);

/**
 * Category of a memory: a specific category the row already has is kept (mapped from legacy names:
 * `fact` → entities, `decision` → events, …); a generic one is refined by rules over the text.
 * Returns whether a rule decided, for the confidence.
 */
export function resolveCategory(text: string, current: string): { category: Category; byRule: boolean } {
  const normalized = current.trim().toLowerCase();
  const mapped = LEGACY_CATEGORY_MAP[normalized];
  if (mapped && !GENERIC.has(normalized)) return { category: mapped, byRule: false };
  const head = text.slice(0, 2000);
  for (const rule of RULES) if (rule.test.test(head)) return { category: rule.category, byRule: true };
  return { category: mapped ?? 'cases', byRule: false };
}
