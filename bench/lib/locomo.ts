// The LoCoMo retrieval protocol, shared by the benchmark (bench/locomo.ts) and the test on the
// project's own fixture (test/integration/recall.locomo.test.ts), so both measure the same thing:
// - corpora: every dialogue turn ("<speaker>: <text>" plus " [shares a photo: <caption>]") or every
//   observation is one memory, created at its session's date, one scope per conversation; a turn is
//   stored with the words of the turn before it in its session as its context, as an agent storing a
//   conversation turn by turn would give it (MemoryService StoreInput.context);
// - questions: categories 1–4 (5 is adversarial, no answer), one recall each in its conversation's
//   scope, top 10;
// - hit@k: at least one evidence turn in the top k (an observation counts through the turns it points
//   at); R@k: the share of a question's evidence turns covered, averaged.
// The data is CC BY-NC and never enters the repository: everything here takes a path or parsed data.
import { readFileSync } from 'node:fs';
import { LOCAL_DEFAULT_DIM, LocalEmbedder, localEmbedderId } from '../../src/core/embedding/localEmbedder';
import type { MemoryService } from '../../src/core/memoryService';
import type { RecallMode } from '../../src/core/retrieval/hybridSearch';
import { MemoryStore } from '../../src/core/store/memoryStore';

// ------------------------------------------------------------------------------------ the format

export interface LocomoTurn {
  speaker: string;
  dia_id: string;
  text: string;
  blip_caption?: string;
}

export interface LocomoQa {
  question: string;
  answer?: unknown;
  evidence: string[];
  category: number;
}

export interface LocomoConversation {
  sample_id: string;
  /** speaker_a, speaker_b, session_N (turns), session_N_date_time. */
  conversation: Record<string, unknown>;
  /** session_N_observation → speaker → [fact, evidence dia_id or ids]. */
  observation?: Record<string, Record<string, Array<[string, string | string[]]>>>;
  qa: LocomoQa[];
}

export type LocomoCorpus = 'turns' | 'observations';

export function loadLocomo(path: string): LocomoConversation[] {
  const data = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (!Array.isArray(data)) throw new Error(`${path}: expected a JSON array of LoCoMo conversations`);
  return data as LocomoConversation[];
}

/** `1:56 pm on 8 May, 2023` → epoch ms (UTC). */
export function parseSessionDate(text: string): number {
  const m = /^\s*(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})\s*$/i.exec(text);
  if (!m) throw new Error(`unrecognised session date ${JSON.stringify(text)}`);
  const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
  const month = months.indexOf(m[5]!.slice(0, 3).toLowerCase());
  if (month < 0) throw new Error(`unrecognised month in ${JSON.stringify(text)}`);
  const hour = (Number(m[1]) % 12) + (m[3]!.toLowerCase() === 'pm' ? 12 : 0);
  return Date.UTC(Number(m[6]), month, Number(m[4]), hour, Number(m[2]));
}

/** One scope per conversation. */
export function scopeOf(conversation: LocomoConversation): string {
  return `locomo:${conversation.sample_id}`;
}

interface Session { n: number; date: number; turns: LocomoTurn[] }

function sessions(c: LocomoConversation): Session[] {
  const out: Session[] = [];
  for (const [key, value] of Object.entries(c.conversation)) {
    const m = /^session_(\d+)$/.exec(key);
    if (!m || !Array.isArray(value)) continue;
    const date = c.conversation[`session_${m[1]}_date_time`];
    if (typeof date !== 'string') throw new Error(`${c.sample_id}: ${key} has no date`);
    out.push({ n: Number(m[1]), date: parseSessionDate(date), turns: value as LocomoTurn[] });
  }
  return out.sort((a, b) => a.n - b.n);
}

// ------------------------------------------------------------------------------ corpus, questions

export interface ProtocolMemory {
  id: string;
  scope: string;
  text: string;
  createdAt: number;
  /** The dialogue turns this memory stands for (a turn: itself; an observation: its evidence). Empty for distractors. */
  evidence: string[];
  /** A turn's preceding turn in its session (the memory's context); none for a session's first turn, observations and distractors. */
  context?: string;
}

export interface ProtocolQuestion {
  scope: string;
  question: string;
  category: number;
  evidence: string[];
}

/** Evidence as the data writes it, one id per entry; a few entries pack two ("D8:6; D9:17"). */
function evidenceIds(raw: string | string[]): string[] {
  return (Array.isArray(raw) ? raw : [raw]).flatMap((e) => String(e).split(/[;,]/)).map((e) => e.trim()).filter(Boolean);
}

export function buildCorpus(conversations: readonly LocomoConversation[], corpus: LocomoCorpus): ProtocolMemory[] {
  const out: ProtocolMemory[] = [];
  for (const c of conversations) {
    const scope = scopeOf(c);
    for (const s of sessions(c)) {
      if (corpus === 'turns') {
        let previous: string | undefined;
        for (const t of s.turns) {
          const photo = t.blip_caption ? ` [shares a photo: ${t.blip_caption}]` : '';
          const text = `${t.speaker}: ${t.text}${photo}`;
          out.push({ id: `${c.sample_id}/${t.dia_id}`, scope, text, createdAt: s.date, evidence: [t.dia_id], ...(previous ? { context: previous } : {}) });
          // What was said, without the label: "<other speaker>: …" would tie every reply to the
          // other person's name, which questions use to pick a speaker (with the label, turns hybrid
          // hit@5 0.679; with the words alone 0.697, and the mini fixture's hybrid stays at least each side).
          previous = `${t.text}${photo}`;
        }
      } else {
        const bySpeaker = c.observation?.[`session_${s.n}_observation`] ?? {};
        for (const [speaker, facts] of Object.entries(bySpeaker)) {
          facts.forEach(([fact, evidence], i) => {
            if (typeof fact !== 'string' || !fact.trim()) return;
            out.push({ id: `${c.sample_id}/S${s.n}/${speaker}/${i}`, scope, text: fact, createdAt: s.date, evidence: evidenceIds(evidence) });
          });
        }
      }
    }
  }
  return out;
}

/** Categories 1–4 with at least one evidence turn (two questions of the dev split have none: nothing to find). */
export function buildQuestions(conversations: readonly LocomoConversation[]): ProtocolQuestion[] {
  return conversations.flatMap((c) => c.qa
    .filter((q) => q.category >= 1 && q.category <= 4 && typeof q.question === 'string')
    .map((q) => ({ scope: scopeOf(c), question: q.question, category: q.category, evidence: evidenceIds(q.evidence ?? []) }))
    .filter((q) => q.evidence.length > 0));
}

/**
 * Distractors spread evenly over the conversations' scopes (round robin), each dated like one of its
 * scope's sessions in turn, so neither the scope filter nor recency sets them apart from the evidence.
 */
export function distractorMemories(texts: readonly string[], count: number, conversations: readonly LocomoConversation[]): ProtocolMemory[] {
  if (count > texts.length) throw new Error(`asked for ${count} distractors, the file has ${texts.length}`);
  const dates = conversations.map((c) => sessions(c).map((s) => s.date));
  return texts.slice(0, count).map((text, i) => {
    const c = i % conversations.length;
    const round = Math.floor(i / conversations.length);
    const own = dates[c]!;
    return { id: `distractor/${i}`, scope: scopeOf(conversations[c]!), text: String(text), createdAt: own[round % own.length] ?? 0, evidence: [] };
  });
}

// ------------------------------------------------------------------------------------ the store

/**
 * Writes the memories into a new store on disk the way a real one ends up: local-embedder vectors
 * computed outside the lock, inserted through MemoryStore in large background commits, then one
 * maintenance (compaction, id/FTS/scope indexes). Recall then goes through MemoryService.open on it.
 */
export async function buildLocomoStore(dir: string, memories: readonly ProtocolMemory[]): Promise<void> {
  const store = await MemoryStore.open(dir, { dim: LOCAL_DEFAULT_DIM, embedder: localEmbedderId(LOCAL_DEFAULT_DIM), maxBatchRows: 2500, queue: { maxGroupRows: 5000 }, maintenance: { auto: false } });
  try {
    const embedder = new LocalEmbedder(LOCAL_DEFAULT_DIM);
    for (let start = 0; start < memories.length; start += 5000) {
      const part = memories.slice(start, start + 5000);
      const vectors = await embedder.embed(part.map((m) => m.text));
      const res = await store.insert(part.map((m, k) => ({ id: m.id, text: m.text, vector: vectors[k]!, scope: m.scope, created_at: m.createdAt, ...(m.context ? { context: m.context } : {}) })), { priority: 'background', label: 'locomo corpus' });
      const bad = res.find((r) => r.status !== 'inserted');
      if (bad) throw new Error(`corpus row ${bad.id}: ${bad.status}`);
    }
    await store.optimize('locomo corpus');
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------- scoring

export const KS = [5, 10] as const;

export interface QuestionScore {
  hit5: number;
  hit10: number;
  r5: number;
  r10: number;
}

/** Scores one ranked list: `retrieved[i]` = the evidence turns the i-th memory stands for. */
export function scoreRanking(retrieved: ReadonlyArray<readonly string[]>, evidence: readonly string[]): QuestionScore {
  const wanted = new Set(evidence);
  const at = (k: number) => {
    const covered = new Set<string>();
    for (const ev of retrieved.slice(0, k)) for (const e of ev) if (wanted.has(e)) covered.add(e);
    return { hit: covered.size > 0 ? 1 : 0, r: wanted.size ? covered.size / wanted.size : 0 };
  };
  const a5 = at(5);
  const a10 = at(10);
  return { hit5: a5.hit, hit10: a10.hit, r5: a5.r, r10: a10.r };
}

export interface ProtocolFigures {
  questions: number;
  hit5: number;
  hit10: number;
  r5: number;
  r10: number;
  byCategory: Record<string, { questions: number; hit5: number; hit10: number }>;
  /** hit@5 of each question (0 or 1), in question order. */
  perQuestion: number[];
  /** Recall latency per question (ms), for percentiles. */
  latencies: number[];
  /** Recalls that ran in another mode than asked. */
  degraded: number;
}

/** A retriever answers one question with memory ids, best first (at most 10 are scored). */
export type Retriever = (q: ProtocolQuestion) => Promise<{ ids: string[]; ran?: string }>;

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);

export async function evaluate(questions: readonly ProtocolQuestion[], memories: readonly ProtocolMemory[], retrieve: Retriever, expectedMode?: string): Promise<ProtocolFigures> {
  const evidenceOf = new Map(memories.map((m) => [m.id, m.evidence]));
  const scores: Array<QuestionScore & { category: number }> = [];
  const latencies: number[] = [];
  let degraded = 0;
  for (const q of questions) {
    const started = performance.now();
    const { ids, ran } = await retrieve(q);
    latencies.push(performance.now() - started);
    if (expectedMode && ran && ran !== expectedMode) degraded++;
    scores.push({ ...scoreRanking(ids.slice(0, 10).map((id) => evidenceOf.get(id) ?? []), q.evidence), category: q.category });
  }
  const byCategory: ProtocolFigures['byCategory'] = {};
  for (const cat of [...new Set(scores.map((s) => s.category))].sort()) {
    const mine = scores.filter((s) => s.category === cat);
    byCategory[String(cat)] = { questions: mine.length, hit5: mean(mine.map((s) => s.hit5)), hit10: mean(mine.map((s) => s.hit10)) };
  }
  return {
    questions: scores.length,
    hit5: mean(scores.map((s) => s.hit5)),
    hit10: mean(scores.map((s) => s.hit10)),
    r5: mean(scores.map((s) => s.r5)),
    r10: mean(scores.map((s) => s.r10)),
    byCategory,
    perQuestion: scores.map((s) => s.hit5),
    latencies,
    degraded,
  };
}

/** The product's recall in one mode, as an agent calls it (uncounted, so runs do not change the store). */
export function serviceRetriever(memory: MemoryService, mode: RecallMode): Retriever {
  return async (q) => {
    const { results, mode: ran } = await memory.recall(q.question, { limit: 10, scopes: [q.scope], mode, count: false });
    return { ids: results.map((r) => r.id), ran };
  };
}

// ------------------------------------------------------------------------ the BM25 reference

/**
 * NLTK's English stop-word list, the usual one of BM25 baselines. (Lucene's 33-word list keeps
 * pronouns and auxiliaries, which in conversation are noise: turns hit@5 0.501 with it, 0.558 with
 * this one.) A reference only: the product's own analysis lives in src/core/embedding/textFeatures.ts.
 */
export const REFERENCE_STOP_WORDS: ReadonlySet<string> = new Set(('i me my myself we our ours ourselves you you\'re you\'ve you\'ll you\'d your ' +
  'yours yourself yourselves he him his himself she she\'s her hers herself it it\'s its itself they them their theirs themselves what ' +
  'which who whom this that that\'ll these those am is are was were be been being have has had having do does did doing a an the and ' +
  'but if or because as until while of at by for with about against between into through during before after above below to from up ' +
  'down in out on off over under again further then once here there when where why how all any both each few more most other some such ' +
  'no nor not only own same so than too very s t can will just don don\'t should should\'ve now d ll m o re ve y ain aren aren\'t couldn ' +
  'couldn\'t didn didn\'t doesn doesn\'t hadn hadn\'t hasn hasn\'t haven haven\'t isn isn\'t ma mightn mightn\'t mustn mustn\'t needn ' +
  'needn\'t shan shan\'t shouldn shouldn\'t wasn wasn\'t weren weren\'t won won\'t wouldn wouldn\'t').split(' '));

export function referenceTokens(text: string, stopWords: ReadonlySet<string> = REFERENCE_STOP_WORDS): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((t) => !stopWords.has(t));
}

/**
 * Plain Okapi BM25 (k1 1.2, b 0.75, idf = ln(1 + (N − n + 0.5) / (n + 0.5))), lowercase words (split at anything
 * but letters and digits, so "don't" is "don" + "t"), NLTK's English stop words removed, no stemming, statistics per scope — the simplest strong baseline a recall has to
 * beat. Lives only in bench/ (and is used by the test): it is a yardstick, not the product.
 */
export class Bm25Reference {
  private readonly byScope = new Map<string, { docs: Array<{ id: string; tf: Map<string, number>; length: number }>; df: Map<string, number>; avgLength: number }>();

  constructor(memories: readonly ProtocolMemory[], private readonly k1 = 1.2, private readonly b = 0.75, private readonly stopWords: ReadonlySet<string> = REFERENCE_STOP_WORDS) {
    for (const m of memories) {
      let s = this.byScope.get(m.scope);
      if (!s) this.byScope.set(m.scope, (s = { docs: [], df: new Map(), avgLength: 0 }));
      const tokens = referenceTokens(m.text, this.stopWords);
      const tf = new Map<string, number>();
      for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const t of tf.keys()) s.df.set(t, (s.df.get(t) ?? 0) + 1);
      s.docs.push({ id: m.id, tf, length: tokens.length });
    }
    for (const s of this.byScope.values()) s.avgLength = mean(s.docs.map((d) => d.length)) || 1;
  }

  search(scope: string, query: string, k: number): string[] {
    const s = this.byScope.get(scope);
    if (!s) return [];
    const terms = [...new Set(referenceTokens(query, this.stopWords))];
    const n = s.docs.length;
    const scored: Array<{ id: string; score: number }> = [];
    for (const d of s.docs) {
      let score = 0;
      for (const t of terms) {
        const f = d.tf.get(t);
        if (!f) continue;
        const df = s.df.get(t)!;
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        score += idf * ((f * (this.k1 + 1)) / (f + this.k1 * (1 - this.b + (this.b * d.length) / s.avgLength)));
      }
      if (score > 0) scored.push({ id: d.id, score });
    }
    return scored.sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : 1)).slice(0, k).map((x) => x.id);
  }

  retriever(): Retriever {
    return async (q) => ({ ids: this.search(q.scope, q.question, 10) });
  }
}
