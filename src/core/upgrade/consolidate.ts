import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ExclusiveJobLock, type JobLease } from '../concurrency/jobLock';
import { CONSOLIDATE_DEFAULTS } from '../defaults';
import { cosine } from '../embedding/embedder';
import { CancelledError, errorMessage, ValidationError } from '../errors';
import { appendJsonLines, readJsonLines } from '../durableAppend';
import { failpoint } from '../failpoints';
import { componentLogger, nullLogger, type Logger } from '../log';
import { resolveWriter } from '../provenance';
import type { MemoryStore } from '../store/memoryStore';
import type { MemoryPatch } from '../store/patch';
import type { MemoryRecord } from '../store/schema';
import { sqlInList, sqlString } from '../store/sql';
import { normalizedText } from '../store/health';
import { validateText, validateVector } from '../store/validation';
import { TokenLedger } from '../usage/tokenLedger';
import { tokenCost, TokenMeter } from '../usage/tokens';
import { SpendGuard, type BudgetStop, type UpgradeBudget } from './budget';
import type { EmbedFn } from './job';
import { LOCAL_MERGER_NAME, type ConsolidationMerger, type MergeUsage } from './merger';

/** Name of the per-store job lock of consolidation (one at a time; an upgrade may run beside it: every write is conditional). */
export const CONSOLIDATE_JOB = 'consolidate';
export const CONSOLIDATION_DIR = 'consolidations';

export interface ConsolidateProgress {
  runId: string;
  phase: 'planning' | 'merging' | 'done';
  /** Memories read by the planner so far. */
  scanned: number;
  clustersTotal: number;
  /** Clusters settled: merged, skipped or rejected. */
  clustersDone: number;
  merged: number;
  skipped: number;
  tokens?: { in: number; out: number };
  calls?: number;
  /** The run's budget, when one is set, and the cost so far at its price. */
  budget?: UpgradeBudget;
  cost?: number;
  at?: number;
}

export interface PlanOptions {
  /** Only this scope (default: every scope; clusters never cross scopes). */
  scope?: string;
  /** Cosine similarity a pair needs (default 0.8). */
  threshold?: number;
  /** Share of the shorter memory's content words the other must contain too (default 0.5). */
  minOverlap?: number;
  /**
   * Never merge two memories (other than exact duplicates) whose numbers differ or of which only one
   * is negated ("port 6380" / "port 5433", "deleted" / "never deleted"): they state different facts
   * however similar they look (default true; bench/consolidate.ts measures both).
   */
  factGuard?: boolean;
  /**
   * Writes each cluster's `proposedText` (default: the local rule, the survivor's text). A merger that
   * calls a model spends within `budget`; clusters past it keep the local proposal and the plan says `stoppedBy`.
   */
  merger?: ConsolidationMerger;
  budget?: UpgradeBudget;
  signal?: AbortSignal;
  onProgress?: (p: ConsolidateProgress) => void;
  logger?: Logger;
}

export interface ConsolidateOptions extends PlanOptions {
  dryRun?: boolean;
  /** Clusters written per step (default 50): one conditional delete and one patch commit each. */
  batchClusters?: number;
  /** Apply this reviewed plan (from planConsolidation, possibly through JSON) instead of planning again; its proposals are written as they are. */
  plan?: PlannedCluster[];
  /** Ids of the clusters to apply; the others are reported in `rejected`. An id not in the plan is an error. */
  onlyClusters?: string[];
  /** Continue this run (its journal, so one undo covers both parts; merges it paid for and did not write are reused). */
  resume?: string;
  /** The store's embedder: needed when a proposed text differs from the survivor's (its vector is computed again). */
  embed?: EmbedFn;
}

export interface PlannedCluster {
  /** Stable: a hash of the scope, the sorted member ids and the survivor id. */
  id: string;
  scope: string;
  /** The memory that stays: the most complete text (longest), then the newest. */
  survivor: string;
  /** The memories merged into it (deleted; restorable with `consolidate --undo` or `--restore`). */
  members: string[];
  /** Lowest similarity of the pairs that joined the cluster (1 for exact duplicates). */
  similarity: number;
  /** Every member has the survivor's text (after normalising case, spaces and punctuation). */
  exact: boolean;
  texts: Record<string, string>;
  /** Revision of each memory as planned: the write's expect conditions (a memory changed since is not merged). */
  revs: Record<string, number>;
  /** The merged memory's text (the survivor's text under the local rule). */
  proposedText: string;
  /** `local`, or the merger's name, e.g. `openai-compatible/<model>`. */
  proposedBy: 'local' | string;
  /** The merger failed for this cluster and the local rule stands in; why. */
  fallbackReason?: string;
}

export interface PlanResult {
  /** The planning pass (progress events and the ledger's run id of a merger's spend). */
  runId: string;
  scanned: number;
  clusters: PlannedCluster[];
  /** A merger's spend, when it called a model. */
  tokens?: { in: number; out: number; estimated?: boolean };
  calls?: number;
  budget?: UpgradeBudget | null;
  stoppedBy?: BudgetStop;
  cost?: number;
}

export interface ConsolidateResult {
  runId: string;
  dryRun: boolean;
  scanned: number;
  clusters: PlannedCluster[];
  merged: Array<{ id: string; survivor: string; members: string[]; proposedBy: string }>;
  /** Clusters left as they were because a member or the survivor changed or went meanwhile. */
  skipped: Array<{ id: string; survivor: string; members: string[]; reason: string }>;
  /** Ids of planned clusters not in `onlyClusters`: left as they are. */
  rejected: string[];
  /** Memories removed (merged into a survivor). */
  removed: number;
  exactDuplicates: number;
  /** Stopped by the signal after whole steps; `--resume RUN_ID` (or a new run) continues. */
  cancelled: boolean;
  /** Clusters of the plan not settled when the run stopped (cancelled or stopped by a budget). */
  pending: number;
  /** This run continued an earlier one (`resume`). */
  resumed: boolean;
  ms: number;
  tokens?: { in: number; out: number; estimated?: boolean };
  calls?: number;
  budget?: UpgradeBudget | null;
  /** A budget stopped the run after whole clusters; a rerun continues (same budget semantics and message as the upgrade). */
  stoppedBy?: BudgetStop;
  cost?: number;
  /** Dry run with a model merger: what the merges would spend (nothing was), as the upgrade's dry run forecasts. */
  estimate?: { tokens: { in: number; out: number }; calls: number; clusters: number; method: 'measured' | 'estimate'; cost?: number };
}

export interface UndoResult {
  runId: string;
  restored: number;
  /** Survivors changed after the merge: kept as they are, their originals restored beside them. */
  changedSince: string[];
  clusters: number;
}

const STOP = new Set(['the', 'and', 'for', 'with', 'that', 'this', 'are', 'was', 'has', 'have', 'its', 'not', 'but', 'over', 'from', 'into', 'than', 'then', 'they', 'their', 'there', 'every', 'instead']);

function contentWords(text: string): string[] {
  return [...new Set(normalizedText(text).split(' ').filter((w) => w.length >= 3 && !STOP.has(w)))];
}

// Cardinals only: ordinals and "once" are as often adverbs ("run it first") as values.
const NUMBER_WORDS = new Set(['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'fifteen', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'ninety', 'hundred', 'thousand', 'million']);
const NEGATIONS = new Set(['not', 'no', 'never', 'none', 'nothing', 'nobody', 'neither', 'nor', 'without', 'cannot', 'dont', 'doesnt', 'didnt', 'isnt', 'arent', 'wasnt', 'werent', 'wont', 'shouldnt', 'mustnt', 'cant', 'couldnt']);

/** What two memories must agree on to say the same thing: their numbers, and whether they are negated. */
function factKey(text: string): string {
  const words = normalizedText(text.replace(/n't\b/gi, 'nt')).split(' ');
  const numbers = [...new Set(words.filter((w) => /\d/.test(w) || NUMBER_WORDS.has(w)))].sort();
  return `${words.some((w) => NEGATIONS.has(w)) ? '!' : ''}${numbers.join(' ')}`;
}

/** The stable id of a cluster: what it merges, into what, in which scope. */
export function clusterId(scope: string, survivor: string, members: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify([scope, [...members].sort(), survivor])).digest('hex').slice(0, 24);
}

const textHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);

/** What the planner keeps of each memory while it scans: no text, no vector (bounded memory at any store size). */
interface ScanEntry {
  id: string;
  rev: number;
  words: Uint32Array;
  norm: string;
  facts: string;
}

/** Memories per page when the planner fetches vectors or texts by id. */
const FETCH_PAGE = 256;

/**
 * Finds clusters of memories in one scope that say the same thing: vector similarity at or above
 * `threshold` AND word overlap at or above `minOverlap` (the vector alone merges memories that are
 * merely on the same topic), or the same normalised text. Reads only; takes no lock.
 *
 * Memory stays bounded: one streamed scan (one pinned version, no vectors, texts reduced to word
 * ids and a hash) finds the pairs that share enough words through an inverted index; only the
 * memories in such pairs have their vectors read, and only cluster members their texts, page by page.
 */
export async function planConsolidation(store: MemoryStore, options: PlanOptions = {}): Promise<PlanResult> {
  const threshold = options.threshold ?? CONSOLIDATE_DEFAULTS.threshold;
  const minOverlap = options.minOverlap ?? CONSOLIDATE_DEFAULTS.minOverlap;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 1)) throw new ValidationError('threshold', `must be a number in (0, 1], got ${threshold}`);
  if (typeof minOverlap !== 'number' || !(minOverlap >= 0 && minOverlap <= 1)) throw new ValidationError('minOverlap', `must be a number in [0, 1], got ${minOverlap}`);
  const factGuard = options.factGuard ?? true;
  const runId = randomUUID();
  const log = componentLogger(options.logger ?? nullLogger, 'consolidate');
  const progress = (scanned: number, clustersTotal: number) => options.onProgress?.({ runId, phase: 'planning', scanned, clustersTotal, clustersDone: 0, merged: 0, skipped: 0, at: Date.now() });

  // ---- scan: ids, revisions, word ids and a text hash per memory, by scope
  const vocabulary = new Map<string, number>();
  const byScope = new Map<string, Map<string, ScanEntry>>();
  let scanned = 0;
  const pin = await store.pinCurrentVersion('consolidation plan');
  try {
    let query = store.table.query().select(['id', 'scope', 'rev', 'text']);
    if (options.scope) query = query.where(`scope = ${sqlString(options.scope, 'scope')}`);
    for await (const batch of query as AsyncIterable<{ numRows: number; getChild(name: string): { get(i: number): unknown } | null }>) {
      const [ids, scopes, revs, texts] = ['id', 'scope', 'rev', 'text'].map((c) => batch.getChild(c));
      for (let i = 0; i < batch.numRows; i++) {
        const id = ids?.get(i), scope = scopes?.get(i), text = texts?.get(i);
        if (typeof id !== 'string' || typeof scope !== 'string' || typeof text !== 'string') continue;
        const rev = Number(revs?.get(i) ?? 0);
        let rows = byScope.get(scope);
        if (!rows) byScope.set(scope, rows = new Map());
        const seen = rows.get(id);
        if (seen && seen.rev >= rev) continue; // a duplicate id: the newest revision counts (verify reports it)
        if (!seen) scanned++;
        const words = contentWords(text).map((w) => {
          let n = vocabulary.get(w);
          if (n === undefined) vocabulary.set(w, n = vocabulary.size);
          return n;
        });
        rows.set(id, { id, rev, words: Uint32Array.from(words), norm: textHash(normalizedText(text)), facts: factKey(text) });
      }
      progress(scanned, 0);
      if (options.signal?.aborted) break;
    }
  } finally {
    await pin.release();
  }
  if (options.signal?.aborted) throw new CancelledError('consolidation plan');

  // ---- pairs: shared words first (inverted index), then the vectors of the pairs that share enough
  const groups: Array<{ scope: string; ids: string[]; similarity: number }> = [];
  for (const [scope, map] of byScope) {
    const rows = [...map.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    map.clear();
    const n = rows.length;
    const parent = Int32Array.from({ length: n }, (_, i) => i);
    const find = (i: number): number => { while (parent[i] !== i) { parent[i] = parent[parent[i]!]!; i = parent[i]!; } return i; };
    const minSim = new Map<number, number>();
    const join = (i: number, j: number, sim: number) => {
      const a = find(i), b = find(j);
      if (a === b) return;
      parent[b] = a;
      minSim.set(a, Math.min(minSim.get(a) ?? 1, minSim.get(b) ?? 1, sim));
      minSim.delete(b);
    };
    const exactFirst = new Map<string, number>();
    rows.forEach((r, i) => { const f = exactFirst.get(r.norm); if (f === undefined) exactFirst.set(r.norm, i); else join(f, i, 1); });
    exactFirst.clear();
    const postings = new Map<number, number[]>();
    rows.forEach((r, i) => { for (const w of r.words) { let l = postings.get(w); if (!l) postings.set(w, l = []); l.push(i); } });
    // A word in most memories says nothing about sameness.
    const common = Math.max(50, n * 0.05);
    const shared = new Uint32Array(n);
    const touched: number[] = [];
    const pairs: number[] = [];
    for (let i = 0; i < n; i++) {
      for (const w of rows[i]!.words) {
        const list = postings.get(w)!;
        if (list.length > common) continue;
        for (const j of list) if (j > i) { if (shared[j] === 0) touched.push(j); shared[j]++; }
      }
      for (const j of touched) {
        const small = Math.min(rows[i]!.words.length, rows[j]!.words.length);
        if (small > 0 && shared[j]! / small >= minOverlap && (!factGuard || rows[i]!.facts === rows[j]!.facts)) pairs.push(i, j);
        shared[j] = 0;
      }
      touched.length = 0;
    }
    postings.clear();
    if (pairs.length) {
      const need = [...new Set(pairs)].map((i) => rows[i]!.id);
      const vectors = new Map<string, Float32Array>();
      for (let k = 0; k < need.length; k += FETCH_PAGE) {
        if (options.signal?.aborted) throw new CancelledError('consolidation plan');
        const page = await store.rows(`id IN ${sqlInList(need.slice(k, k + FETCH_PAGE))}`, { columns: ['id', 'vector'] });
        for (const r of page) vectors.set(String(r.id), Float32Array.from(r.vector as ArrayLike<number>));
      }
      for (let p = 0; p < pairs.length; p += 2) {
        const i = pairs[p]!, j = pairs[p + 1]!;
        const a = vectors.get(rows[i]!.id), b = vectors.get(rows[j]!.id);
        if (!a || !b) continue; // deleted since the scan
        const sim = cosine(a as unknown as number[], b as unknown as number[]);
        if (sim >= threshold) join(i, j, sim);
      }
    }
    const members = new Map<number, number[]>();
    for (let i = 0; i < n; i++) { const r = find(i); let l = members.get(r); if (!l) members.set(r, l = []); l.push(i); }
    for (const [root, list] of members) {
      if (list.length < 2) continue;
      groups.push({ scope, ids: list.map((i) => rows[i]!.id), similarity: Math.round((minSim.get(root) ?? 1) * 1000) / 1000 });
    }
  }

  // ---- clusters: the members' texts and revisions as they are now, the survivor, the proposal
  const clusters: PlannedCluster[] = [];
  for (let k = 0; k < groups.length; ) {
    const page: typeof groups = [];
    let ids = 0;
    while (k < groups.length && (page.length === 0 || ids + groups[k]!.ids.length <= FETCH_PAGE)) { ids += groups[k]!.ids.length; page.push(groups[k++]!); }
    const current = await store.getMany(page.flatMap((g) => g.ids));
    for (const g of page) {
      const recs = g.ids.map((id) => current.get(id)).filter((r): r is MemoryRecord => !!r && r.scope === g.scope);
      if (recs.length < 2) continue; // deleted or moved since the scan
      const c = clusterOf(g.scope, recs, g.similarity);
      if (c) clusters.push(c);
    }
  }
  clusters.sort((a, b) => (a.survivor < b.survivor ? -1 : 1));
  progress(scanned, clusters.length);
  const plan: PlanResult = { runId, scanned, clusters };
  const merger = options.merger;
  if (merger && merger.name !== LOCAL_MERGER_NAME) {
    const spend = new SpendGuard(store.stateDir, options.budget, spenderOf(merger), log, () => runId);
    await proposeWithMerger(clusters, merger, spend, options.signal ?? new AbortController().signal, log);
    await spend.finishStop();
    Object.assign(plan, spend.resultFields());
  }
  return plan;
}

function clusterOf(scope: string, recs: MemoryRecord[], similarity: number): PlannedCluster | undefined {
  recs.sort((a, b) => b.text.length - a.text.length || b.updated_at - a.updated_at || (a.id < b.id ? -1 : 1));
  const survivor = recs[0]!;
  const members = recs.slice(1).map((r) => r.id);
  return {
    id: clusterId(scope, survivor.id, members),
    scope,
    survivor: survivor.id,
    members,
    similarity,
    exact: recs.every((r) => normalizedText(r.text) === normalizedText(survivor.text)),
    texts: Object.fromEntries(recs.map((r) => [r.id, r.text])),
    revs: Object.fromEntries(recs.map((r) => [r.id, r.rev])),
    proposedText: survivor.text,
    proposedBy: LOCAL_MERGER_NAME,
  };
}

function spenderOf(merger: ConsolidationMerger) {
  const slash = merger.name.indexOf('/');
  return slash > 0 ? { purpose: 'consolidate' as const, provider: merger.name.slice(0, slash), model: merger.name.slice(slash + 1) } : { purpose: 'consolidate' as const, provider: merger.name };
}

const textsOf = (c: PlannedCluster) => [c.survivor, ...c.members].map((id) => c.texts[id] ?? '');

/**
 * Asks the merger for each cluster that needs it (exact duplicates need none), within the budget:
 * the allowance is checked before each round, so a budget stops between whole clusters. A merge that
 * fails leaves the local proposal with `fallbackReason`. Returns the clusters merged by the model.
 */
async function proposeWithMerger(clusters: PlannedCluster[], merger: ConsolidationMerger, spend: SpendGuard, signal: AbortSignal, log: Logger, round = 4): Promise<PlannedCluster[]> {
  const todo = clusters.filter((c) => !c.exact && c.proposedBy === LOCAL_MERGER_NAME && !c.fallbackReason);
  const done: PlannedCluster[] = [];
  const estimate = (c: PlannedCluster) => merger.estimate?.(textsOf(c)) ?? { in: 0, out: 0 };
  const spender = spenderOf(merger);
  for (let i = 0; i < todo.length && !signal.aborted && !spend.stoppedBy; ) {
    let chunk = todo.slice(i, i + round);
    chunk = chunk.slice(0, await spend.allowance(chunk, estimate));
    if (chunk.length === 0) break;
    i += chunk.length;
    await Promise.all(chunk.map(async (c) => {
      const record = (u: MergeUsage | undefined, ok: boolean) => spend.meter.record({ ...spender, in: u?.in ?? 0, out: u?.out ?? 0, calls: u?.calls ?? 1, source: u?.source ?? 'estimate', rows: ok ? 1 : 0 });
      try {
        const r = await merger.merge(textsOf(c), signal);
        const text = validateText(r.text, 'merged text');
        record(r.usage ?? merger.estimate?.(textsOf(c)), true);
        c.proposedText = text;
        c.proposedBy = merger.name;
      } catch (err) {
        const usage = (err as { usage?: MergeUsage }).usage;
        if (signal.aborted) {
          // Cancelled in flight: no fallback reason, but what the merger says it spent is counted.
          if (usage) record(usage, false);
          return;
        }
        record(usage, false);
        c.fallbackReason = errorMessage(err);
        log.warn(`cluster ${c.id}: the merger ${merger.name} failed (${c.fallbackReason}); the local rule keeps ${c.survivor}'s text`);
      }
      done.push(c);
    }));
    await spend.recordSpend();
  }
  return done;
}

/** The dry run's forecast: tokens per cluster measured by the ledger for this merger, else its estimate rule. */
async function estimateMerges(clusters: PlannedCluster[], merger: ConsolidationMerger, spend: SpendGuard): Promise<NonNullable<ConsolidateResult['estimate']>> {
  const asked = clusters.filter((c) => !c.exact);
  const measured = await spend.measuredPerUnit();
  let tin = 0, tout = 0;
  for (const c of asked) {
    const e = measured ?? merger.estimate?.(textsOf(c)) ?? { in: 0, out: 0 };
    tin += e.in;
    tout += e.out;
  }
  const tokens = { in: Math.round(tin), out: Math.round(tout) };
  const cost = tokenCost(tokens.in + tokens.out, spend.budget?.pricePer1k);
  return { tokens, calls: asked.length, clusters: asked.length, method: measured ? 'measured' : 'estimate', ...(cost !== undefined ? { cost } : {}) };
}

type JournalLine =
  | { runId: string; kind: 'cluster'; id?: string; survivor: MemoryRecord; members: MemoryRecord[] }
  | { runId: string; kind: 'proposal'; id: string; h: string; text: string; by: string }
  | { runId: string; kind: 'merged'; id?: string; survivor: string; rev: number }
  | { runId: string; kind: 'skipped'; id: string; reason: string }
  | { runId: string; kind: 'restored'; id: string; survivor: string; survivorRev?: number; at: number }
  | { runId: string; kind: 'undone'; at: number }
  /** Every step of the run so far is settled (merged or put back); appended when a run ends, however it ends. */
  | { runId: string; kind: 'closed'; at: number };

function journalPath(dir: string, runId: string): string {
  if (typeof runId !== 'string' || !/^[0-9a-f-]{36}$/i.test(runId)) throw new ValidationError('runId', `must be the id a consolidation printed, got ${JSON.stringify(runId)}`);
  return join(dir, CONSOLIDATION_DIR, `${runId}.jsonl`);
}

async function readJournal(path: string): Promise<JournalLine[] | undefined> {
  const journal = await readJsonLines(path, { missing: 'undefined' });
  return journal?.records.map((r) => r.value as JournalLine); // a torn tail is skipped
}

/** A reviewed plan from outside (a preview's JSON): the shape is checked and each id recomputed, so a cluster cannot say one thing and merge another. */
function validatePlan(plan: unknown): PlannedCluster[] {
  if (!Array.isArray(plan)) throw new ValidationError('plan', 'must be the clusters of planConsolidation()');
  const seen = new Set<string>();
  return plan.map((c: PlannedCluster, i) => {
    const at = `plan[${i}]`;
    if (!c || typeof c !== 'object' || typeof c.scope !== 'string' || typeof c.survivor !== 'string' || !Array.isArray(c.members) || c.members.length === 0 || c.members.some((m) => typeof m !== 'string')) throw new ValidationError(at, 'must have scope, survivor and members');
    if (c.id !== clusterId(c.scope, c.survivor, c.members)) throw new ValidationError(`${at}.id`, `${JSON.stringify(c.id)} is not the id of this cluster (scope, survivor and members changed?)`);
    for (const id of [c.survivor, ...c.members]) {
      if (seen.has(id)) throw new ValidationError(at, `memory ${id} is in more than one cluster`);
      seen.add(id);
      if (!c.revs || !Number.isInteger(c.revs[id])) throw new ValidationError(`${at}.revs`, `has no revision for ${id}`);
    }
    validateText(c.proposedText, `${at}.proposedText`);
    return { ...c, texts: c.texts ?? {}, proposedBy: typeof c.proposedBy === 'string' ? c.proposedBy : LOCAL_MERGER_NAME };
  });
}

/**
 * Merges each planned cluster into its survivor, in bounded steps (docs/consolidation.md). Per
 * step: a merger that calls a model writes the step's proposals first, within the budget (a budget
 * stops the run between whole clusters); the clusters' full rows go to the journal (fsync'd:
 * `consolidations/<runId>.jsonl`, what undo and restore read); the members are deleted on the
 * condition that each is still at the revision the plan read; then the survivor gets the proposed
 * text (re-embedded) and `merged_from` on the same condition. A cluster whose member or survivor
 * changed or went meanwhile is put back exactly as it was and reported skipped: a concurrent edit
 * is never lost and never merged away.
 */
export async function consolidate(store: MemoryStore, options: ConsolidateOptions = {}): Promise<ConsolidateResult> {
  const started = Date.now();
  const log = componentLogger(options.logger ?? nullLogger, 'consolidate');
  const signal = options.signal ?? new AbortController().signal;
  const runId = options.resume ?? randomUUID();
  const journal = journalPath(store.stateDir, runId);
  const earlier = options.resume ? await readJournal(journal) : undefined;
  if (options.resume && !earlier) throw new ValidationError('resume', `no consolidation ${options.resume} was run on this store`);
  if (earlier?.some((l) => l.kind === 'undone')) throw new ValidationError('resume', `consolidation ${runId} was undone; start a new one`);
  const supplied = options.plan ? validatePlan(options.plan) : undefined;
  // A reviewed plan is written as the person saw it: its proposals are not asked again.
  const merger = !supplied && options.merger && options.merger.name !== LOCAL_MERGER_NAME ? options.merger : undefined;
  const spend = new SpendGuard(store.stateDir, options.budget, merger ? spenderOf(merger) : undefined, log, () => runId);
  if ((merger || supplied?.some((c) => c.proposedText !== c.texts[c.survivor])) && !options.embed && !options.dryRun) {
    throw new ValidationError('embed', 'a merged text that differs from the survivor\'s needs the store\'s embedder (options.embed) for its new vector');
  }
  const counts = { scanned: 0, clustersDone: 0, merged: 0, skipped: 0 };
  const emit = (phase: ConsolidateProgress['phase'], clustersTotal: number) => {
    const t = spend.meter.totals;
    const cost = spend.cost;
    options.onProgress?.({ runId, phase, ...counts, clustersTotal, ...(t.calls ? { tokens: { in: t.in, out: t.out }, calls: t.calls } : {}), ...(spend.budget ? { budget: spend.budget } : {}), ...(cost !== undefined ? { cost } : {}), at: Date.now() });
  };

  let lease: JobLease | undefined;
  if (!options.dryRun) {
    lease = await new ExclusiveJobLock(store.stateDir, CONSOLIDATE_JOB, {
      logger: log,
      onCompromised: (reason) => log.warn(`another process took over the consolidation job (${reason}); this run stops after the step in flight`),
    }).tryAcquire(`consolidate (run ${runId})`);
  }
  try {
    if (!options.dryRun) await recoverUnfinished(store, log);
    const planned = supplied
      ? { scanned: 0, clusters: supplied }
      : await planConsolidation(store, { ...(options.scope ? { scope: options.scope } : {}), ...(options.threshold !== undefined ? { threshold: options.threshold } : {}), ...(options.minOverlap !== undefined ? { minOverlap: options.minOverlap } : {}), ...(options.factGuard !== undefined ? { factGuard: options.factGuard } : {}), signal, onProgress: (p) => { counts.scanned = p.scanned; emit('planning', p.clustersTotal); }, ...(options.logger ? { logger: options.logger } : {}) });
    counts.scanned = planned.scanned;
    const only = options.onlyClusters ? new Set(options.onlyClusters) : undefined;
    if (only) {
      const known = new Set(planned.clusters.map((c) => c.id));
      const unknown = [...only].filter((id) => !known.has(id));
      if (unknown.length) throw new ValidationError('onlyClusters', `${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a cluster of the plan`);
    }
    const rejected = only ? planned.clusters.filter((c) => !only.has(c.id)).map((c) => c.id) : [];
    let todo = only ? planned.clusters.filter((c) => only.has(c.id)) : planned.clusters;
    const alreadyMerged = new Set(earlier?.filter((l) => l.kind === 'merged' && l.id).map((l) => (l as { id: string }).id));
    todo = todo.filter((c) => !alreadyMerged.has(c.id));
    // Merges an interrupted part of this run paid for and did not write, by cluster and texts.
    const paid = new Map<string, { h: string; text: string; by: string }>();
    for (const l of earlier ?? []) if (l.kind === 'proposal') paid.set(l.id, l);

    const result: ConsolidateResult = {
      runId, dryRun: options.dryRun === true, scanned: planned.scanned, clusters: planned.clusters, merged: [], skipped: [], rejected,
      removed: 0, exactDuplicates: planned.clusters.filter((c) => c.exact).reduce((n, c) => n + c.members.length, 0), cancelled: false,
      pending: 0, resumed: !!options.resume, ms: 0,
    };
    counts.clustersDone = rejected.length;
    const total = planned.clusters.length;
    if (options.dryRun || todo.length === 0) {
      if (options.dryRun && merger) result.estimate = await estimateMerges(todo, merger, spend);
      emit('done', total);
      return { ...result, ...spend.resultFields(), ms: Date.now() - started };
    }
    await fs.mkdir(join(store.stateDir, CONSOLIDATION_DIR), { recursive: true });
    const writer = resolveWriter({ kind: 'consolidate' })!;
    const step = Math.max(1, options.batchClusters ?? CONSOLIDATE_DEFAULTS.batchClusters);
    let next = 0;
    for (; next < todo.length; ) {
      if (signal.aborted || lease?.compromised) { result.cancelled = true; break; }
      let batch = todo.slice(next, next + step);
      emit('merging', total);
      if (merger) {
        for (const c of batch) {
          const p = paid.get(c.id);
          if (p && p.h === textHash(textsOf(c).join('\u0000'))) { c.proposedText = p.text; c.proposedBy = p.by; }
        }
        const asked = await proposeWithMerger(batch, merger, spend, signal, log);
        const fresh = asked.filter((c) => c.proposedBy !== LOCAL_MERGER_NAME);
        if (fresh.length) await appendJsonLines(journal, fresh.map((c) => JSON.stringify({ runId, kind: 'proposal', id: c.id, h: textHash(textsOf(c).join('\u0000')), text: c.proposedText, by: c.proposedBy } satisfies JournalLine)));
        if (signal.aborted) { result.cancelled = true; break; }
        if (spend.stoppedBy) {
          // Whole clusters only: those the budget let the merger write go now, the rest wait for a rerun.
          const unasked = new Set(batch.filter((c) => !c.exact && c.proposedBy === LOCAL_MERGER_NAME && !c.fallbackReason).map((c) => c.id));
          batch = batch.filter((c) => !unasked.has(c.id));
          if (batch.length === 0) break;
        }
      }
      next += batch.length;
      await writeStep(store, batch, { runId, journal, writer, embed: options.embed, result, log });
      counts.merged = result.merged.length;
      counts.skipped = result.skipped.length;
      counts.clustersDone = rejected.length + counts.merged + counts.skipped;
      emit('merging', total);
      if (spend.stoppedBy) break;
    }
    result.pending = todo.length - next;
    await appendJsonLines(journal, [JSON.stringify({ runId, kind: 'closed', at: Date.now() } satisfies JournalLine)]);
    await spend.recordSpend();
    await spend.finishStop();
    emit('done', total);
    log.info(`run ${runId}: ${result.merged.length} clusters merged (${result.removed} memories), ${result.skipped.length} skipped, ${rejected.length} rejected${result.pending ? `, ${result.pending} left` : ''}${spend.stoppedBy ? ` — ${spend.stoppedBy.message}` : ''}`);
    return { ...result, ...spend.resultFields(), ms: Date.now() - started };
  } finally {
    await lease?.release();
  }
}

/** One step's writes: journal, conditional deletes, conditional survivor patches, and putting skipped clusters back. */
async function writeStep(store: MemoryStore, batch: PlannedCluster[], ctx: { runId: string; journal: string; writer: NonNullable<ReturnType<typeof resolveWriter>>; embed: EmbedFn | undefined; result: ConsolidateResult; log: Logger }): Promise<void> {
  const { runId, journal, writer, result } = ctx;
  const skip = (c: PlannedCluster, reason: string) => result.skipped.push({ id: c.id, survivor: c.survivor, members: c.members, reason });
  // The rows as they are now: the journal keeps exactly these, and a cluster already changed is skipped before any write.
  const current = await store.getMany(batch.flatMap((c) => [c.survivor, ...c.members]));
  const ready: PlannedCluster[] = [];
  for (const c of batch) {
    const moved = [c.survivor, ...c.members].find((id) => current.get(id)?.rev !== c.revs[id]);
    if (moved === undefined) ready.push(c);
    else skip(c, `${moved === c.survivor ? `the survivor ${moved}` : moved} was ${current.has(moved) ? 'changed' : 'deleted'} meanwhile`);
  }
  if (ready.length === 0) return;
  const retexted = ready.filter((c) => c.proposedText !== current.get(c.survivor)!.text);
  const vectors = new Map<string, number[]>();
  if (retexted.length) {
    if (!ctx.embed) throw new ValidationError('embed', 'a merged text that differs from the survivor\'s needs the store\'s embedder (options.embed)');
    const meter = new TokenMeter();
    let out: number[][];
    try {
      out = await ctx.embed(retexted.map((c) => c.proposedText), undefined, meter.record);
    } finally {
      // The new vectors' tokens (a remote embedder) go to the ledger under this run, also those of a
      // request that failed; the budget is the merges'.
      const pending = meter.takePending();
      if (pending.length) await new TokenLedger(store.stateDir).append(pending, { runId }).catch((err) => ctx.log.warn(`could not record the embedding calls in the token ledger: ${errorMessage(err)}`));
    }
    retexted.forEach((c, i) => vectors.set(c.id, validateVector(out[i], store.dim, 'embedding of the merged text')));
  }
  await appendJsonLines(journal, ready.map((c) => JSON.stringify({ runId, kind: 'cluster', id: c.id, survivor: current.get(c.survivor)!, members: c.members.map((m) => current.get(m)!) } satisfies JournalLine)));
  await failpoint('consolidate.beforeWrite');
  const expectRev = Object.fromEntries(ready.flatMap((c) => c.members.map((m) => [m, c.revs[m]!])));
  const deleted = await store.delete(ready.flatMap((c) => c.members), { priority: 'background', label: `consolidate: ${ready.length} clusters`, expectRev });
  await failpoint('consolidate.afterDelete');
  const status = new Map(deleted.map((d) => [d.id, d.status]));
  const whole = ready.filter((c) => c.members.every((m) => status.get(m) === 'deleted'));
  const patches: MemoryPatch[] = whole.map((c) => {
    const before = current.get(c.survivor)!;
    const earlierMerged = Array.isArray(before.metadata.merged_from) ? (before.metadata.merged_from as unknown[]).filter((x): x is string => typeof x === 'string') : [];
    const vector = vectors.get(c.id);
    return {
      id: c.survivor,
      ...(vector ? { set: { text: c.proposedText, vector } } : {}),
      metadata: {
        merged_from: [...new Set([...earlierMerged, ...c.members])],
        consolidated: { runId, at: writer.at, by: c.proposedBy, cluster: c.id },
        // A new text makes the upgrader's summaries of the old one wrong (as an edit does).
        ...(vector ? { l0_abstract: null, l1_overview: null, l2_content: null } : {}),
      },
      expect: { rev: c.revs[c.survivor]! },
      history: { writer, at: writer.at, fields: [...(vector ? ['text', 'vector'] : []), 'merged_from', 'consolidated'] },
    };
  });
  const patched = patches.length ? await store.patch(patches, { priority: 'background', label: `consolidate: ${whole.length} survivors` }) : [];
  const survivorStatus = new Map(patched.map((p) => [p.id, p]));
  const outcome: JournalLine[] = [];
  for (const c of ready) {
    const p = survivorStatus.get(c.survivor);
    if (p?.status === 'applied') {
      outcome.push({ runId, kind: 'merged', id: c.id, survivor: c.survivor, rev: p.rev! });
      result.merged.push({ id: c.id, survivor: c.survivor, members: c.members, proposedBy: c.proposedBy });
      result.removed += c.members.length;
      continue;
    }
    const changed = c.members.find((m) => status.get(m) !== 'deleted');
    const reason = changed
      ? `${changed} was ${status.get(changed) === 'missing' ? 'deleted' : status.get(changed) === 'stale' ? 'changed' : 'not writable'} meanwhile`
      : `the survivor ${c.survivor} was ${p?.status === 'missing' ? 'deleted' : 'changed'} meanwhile`;
    // Put the cluster back exactly: the members this step deleted return with their revisions.
    const back = c.members.filter((m) => status.get(m) === 'deleted').map((m) => current.get(m)!);
    if (back.length) await store.restore(back, { label: 'consolidate: restore a skipped cluster' });
    skip(c, reason);
    outcome.push({ runId, kind: 'skipped', id: c.id, reason });
  }
  await appendJsonLines(journal, outcome.map((m) => JSON.stringify(m)));
}

async function journalFiles(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(join(dir, CONSOLIDATION_DIR))).filter((f) => /^[0-9a-f-]{36}\.jsonl$/i.test(f)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** True when the journal's last line says the run closed (read from the file's tail, not the whole journal). */
async function endsClosed(path: string): Promise<boolean> {
  const handle = await fs.open(path, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 512);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    const last = buf.toString('utf8').trimEnd().split('\n').at(-1) ?? '';
    return last.includes('"kind":"closed"');
  } finally {
    await handle.close();
  }
}

/**
 * Settles the steps of runs killed mid-step: a step's clusters are in the journal without a
 * `merged` or `skipped` line. A survivor that carries the cluster's `consolidated` mark was merged
 * (the missing `merged` line is written now); otherwise the members the step may have deleted are
 * restored exactly from the journal, and the cluster waits for the next run. Runs under the
 * consolidation job lock, so no live run is mid-step; journals that end closed are not read.
 */
async function recoverUnfinished(store: MemoryStore, log: Logger, onlyRun?: string): Promise<number> {
  let recovered = 0;
  for (const f of await journalFiles(store.stateDir)) {
    const runId = f.slice(0, -'.jsonl'.length);
    if (onlyRun && runId !== onlyRun) continue;
    const path = join(store.stateDir, CONSOLIDATION_DIR, f);
    if (await endsClosed(path)) continue;
    const lines = (await readJournal(path)) ?? [];
    if (lines.some((l) => l.kind === 'undone')) {
      await appendJsonLines(path, [JSON.stringify({ runId, kind: 'closed', at: Date.now() } satisfies JournalLine)]);
      continue;
    }
    const settled = new Set(lines.flatMap((l) => (l.kind === 'merged' || l.kind === 'skipped') && l.id ? [l.id] : []));
    const open = lines.filter((l): l is Extract<JournalLine, { kind: 'cluster' }> => l.kind === 'cluster' && !!l.id && !settled.has(l.id));
    const out: JournalLine[] = [];
    for (const c of open) {
      const survivor = await store.get(c.survivor.id);
      const mark = survivor?.metadata.consolidated as { runId?: string; cluster?: string } | undefined;
      if (survivor && mark?.runId === runId && mark.cluster === c.id) {
        out.push({ runId, kind: 'merged', id: c.id!, survivor: survivor.id, rev: survivor.rev });
        continue;
      }
      const present = await store.getMany(c.members.map((m) => m.id));
      const missing = c.members.filter((m) => !present.has(m.id));
      if (missing.length) await store.restore(missing, { label: `consolidate: put back a step of run ${runId} that stopped midway` });
      out.push({ runId, kind: 'skipped', id: c.id!, reason: 'the run stopped in the middle of this step; put back as it was' });
    }
    out.push({ runId, kind: 'closed', at: Date.now() });
    await appendJsonLines(path, out.map((l) => JSON.stringify(l)));
    if (open.length) log.warn(`run ${runId} had stopped in the middle of a step: ${open.length} clusters settled (${out.filter((l) => l.kind === 'merged').length} were merged, the others put back)`);
    recovered += open.length;
  }
  return recovered;
}

/**
 * Puts a consolidation back: each merged cluster's members are restored exactly (id, text, vector,
 * revision, metadata) and the survivor returns to its state before the merge — unless it changed
 * after the merge, in which case it is kept as it is (that change is someone's write) and only the
 * members come back beside it. Idempotent: restoring what exists changes nothing.
 */
export async function undoConsolidation(store: MemoryStore, runId: string, options: { logger?: Logger } = {}): Promise<UndoResult> {
  const path = journalPath(store.stateDir, runId);
  if (!(await readJournal(path))) throw new ValidationError('runId', `no consolidation ${runId} was run on this store`);
  const log = componentLogger(options.logger ?? nullLogger, 'consolidate');
  const lease = await new ExclusiveJobLock(store.stateDir, CONSOLIDATE_JOB, { logger: log }).tryAcquire(`undo consolidation ${runId}`);
  try {
    await recoverUnfinished(store, log, runId);
    return await undoLocked(store, runId, path, options.logger);
  } finally {
    await lease.release();
  }
}

async function undoLocked(store: MemoryStore, runId: string, path: string, logger: Logger | undefined): Promise<UndoResult> {
  const lines = (await readJournal(path))!;
  const clusters = new Map<string, { survivor: MemoryRecord; members: MemoryRecord[] }>();
  const mergedRev = new Map<string, number>();
  const restoredAlone = new Set<string>();
  for (const l of lines) {
    if (l.kind === 'cluster') clusters.set(l.survivor.id, { survivor: l.survivor, members: l.members });
    else if (l.kind === 'merged') mergedRev.set(l.survivor, l.rev);
    else if (l.kind === 'restored') {
      restoredAlone.add(l.id);
      if (l.survivorRev !== undefined) mergedRev.set(l.survivor, l.survivorRev);
    }
  }
  const result: UndoResult = { runId, restored: 0, changedSince: [], clusters: 0 };
  const survivors = [...mergedRev.keys()];
  for (let i = 0; i < survivors.length; i += 100) {
    const ids = survivors.slice(i, i + 100);
    // The merged survivor goes only while nobody changed it after the merge; then its original returns.
    const gone = await store.delete(ids, { priority: 'background', label: 'undo consolidation', expectRev: Object.fromEntries(ids.map((id) => [id, mergedRev.get(id)!])) });
    const back: MemoryRecord[] = [];
    for (const d of gone) {
      const c = clusters.get(d.id)!;
      result.clusters++;
      if (d.status === 'deleted') back.push(c.survivor);
      else if (d.status === 'stale') {
        result.changedSince.push(d.id);
        await store.patch([{ id: d.id, metadata: { merged_from: null, consolidated: null } }], { priority: 'background', label: 'undo consolidation' });
      }
      back.push(...c.members.filter((m) => !restoredAlone.has(m.id)));
    }
    const restored = await store.restore(back, { label: 'undo consolidation' });
    result.restored += restored.filter((r) => r.status === 'inserted').length;
    const failed = restored.filter((r) => r.status === 'failed' || r.status === 'conflict');
    if (failed.length) logger?.warn(`undo ${runId}: ${failed.length} memories could not be restored (${failed.map((f) => f.id).join(', ')}); the journal keeps them`);
  }
  await appendJsonLines(path, [JSON.stringify({ runId, kind: 'undone', at: Date.now() } satisfies JournalLine), JSON.stringify({ runId, kind: 'closed', at: Date.now() } satisfies JournalLine)]);
  return result;
}

/**
 * Brings one merged memory back exactly as it was before the merge (from the journal of the run
 * that merged it), and takes it out of its survivor's `merged_from`. The survivor keeps its text.
 */
export async function restoreOriginal(store: MemoryStore, memoryId: string, options: { logger?: Logger } = {}): Promise<{ restored: string; survivor: string; runId: string }> {
  if (typeof memoryId !== 'string' || !memoryId.trim()) throw new ValidationError('memoryId', `must be the id of a merged memory, got ${JSON.stringify(memoryId)}`);
  const dir = join(store.stateDir, CONSOLIDATION_DIR);
  const files = await journalFiles(store.stateDir);
  // The newest merge of this memory wins: a memory restored and merged again comes from its last run.
  let found: { runId: string; at: number; member: MemoryRecord; survivor: string; survivorRev: number; undone: boolean; restored: boolean } | undefined;
  let survivorOf: { runId: string; members: string[] } | undefined;
  for (const f of files) {
    const lines = (await readJournal(join(dir, f))) ?? [];
    const runId = f.slice(0, -'.jsonl'.length);
    const undone = lines.some((l) => l.kind === 'undone');
    const merged = new Map<string, number>();
    const restored = new Set<string>();
    for (const l of lines) {
      if (l.kind === 'merged') merged.set(l.survivor, l.rev);
      else if (l.kind === 'restored') { restored.add(l.id); if (l.survivorRev !== undefined) merged.set(l.survivor, l.survivorRev); }
    }
    for (const l of lines) {
      if (l.kind !== 'cluster' || !merged.has(l.survivor.id)) continue;
      if (l.survivor.id === memoryId && !undone) survivorOf = { runId, members: l.members.map((m) => m.id) };
      const member = l.members.find((m) => m.id === memoryId);
      if (!member) continue;
      const at = l.survivor.updated_at;
      if (!found || at >= found.at) found = { runId, at, member, survivor: l.survivor.id, survivorRev: merged.get(l.survivor.id)!, undone, restored: restored.has(memoryId) };
    }
  }
  if (!found) {
    if (survivorOf) throw new ValidationError('memoryId', `${memoryId} is the survivor of consolidation ${survivorOf.runId}, not a merged memory; restore its members (${survivorOf.members.join(', ')}) one by one, or undo the run`);
    throw new ValidationError('memoryId', `${memoryId} was never merged by a consolidation on this store`);
  }
  if (found.undone || found.restored || await store.get(memoryId)) throw new ValidationError('memoryId', `${memoryId} is already restored${found.undone ? ` (consolidation ${found.runId} was undone)` : ''}`);
  const [back] = await store.restore([found.member], { label: `restore ${memoryId} from consolidation ${found.runId}` });
  if (back?.status !== 'inserted') throw new ValidationError('memoryId', `${memoryId} could not be restored (${back?.status ?? 'no result'}); the journal of ${found.runId} keeps it`);
  let survivorRev: number | undefined;
  const survivor = await store.get(found.survivor);
  if (survivor) {
    const list = Array.isArray(survivor.metadata.merged_from) ? (survivor.metadata.merged_from as unknown[]).filter((x) => x !== memoryId) : [];
    const [p] = await store.patch([{ id: found.survivor, metadata: { merged_from: list.length ? list : null } }], { priority: 'background', label: `restore ${memoryId}` });
    // Undo may still put the survivor back while nobody else changed it: it expects this revision now.
    if (p?.status === 'applied' && survivor.rev === found.survivorRev) survivorRev = p.rev;
  }
  await appendJsonLines(journalPath(store.stateDir, found.runId), [JSON.stringify({ runId: found.runId, kind: 'restored', id: memoryId, survivor: found.survivor, ...(survivorRev !== undefined ? { survivorRev } : {}), at: Date.now() } satisfies JournalLine)]);
  options.logger?.info(`restored ${memoryId} (merged into ${found.survivor} by ${found.runId})`);
  return { restored: memoryId, survivor: found.survivor, runId: found.runId };
}
