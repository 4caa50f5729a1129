import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ExclusiveJobLock } from '../concurrency/jobLock';
import { cosine } from '../embedding/embedder';
import { ValidationError } from '../errors';
import { appendJsonLines, readJsonLines } from '../durableAppend';
import { failpoint } from '../failpoints';
import { componentLogger, nullLogger, type Logger } from '../log';
import { resolveWriter } from '../provenance';
import type { MemoryStore } from '../store/memoryStore';
import { fromRawRow, type MemoryRecord } from '../store/schema';
import { sqlString } from '../store/sql';
import { normalizedText } from '../store/health';

/** Name of the per-store job lock of consolidation (one at a time; an upgrade may run beside it: every write is conditional). */
export const CONSOLIDATE_JOB = 'consolidate';
export const CONSOLIDATION_DIR = 'consolidations';

export interface ConsolidateOptions {
  /** Only this scope (default: every scope; clusters never cross scopes). */
  scope?: string;
  /** Cosine similarity a pair needs (default 0.8). */
  threshold?: number;
  /** Share of the shorter memory's content words the other must contain too (default 0.5). */
  minOverlap?: number;
  dryRun?: boolean;
  /** Clusters written per step (default 50): one conditional delete and one patch commit each. */
  batchClusters?: number;
  signal?: AbortSignal;
  logger?: Logger;
}

export interface PlannedCluster {
  scope: string;
  /** The memory that stays: the most complete text (longest), then the newest. */
  survivor: string;
  /** The memories merged into it (deleted; restorable with `consolidate --undo`). */
  members: string[];
  /** Lowest similarity of the pairs that joined the cluster (1 for exact duplicates). */
  similarity: number;
  /** Every member has the survivor's text (after normalising case, spaces and punctuation). */
  exact: boolean;
  texts: Record<string, string>;
}

export interface ConsolidateResult {
  runId: string;
  dryRun: boolean;
  scanned: number;
  clusters: PlannedCluster[];
  merged: Array<{ survivor: string; members: string[] }>;
  /** Clusters left as they were because a member or the survivor changed or went meanwhile. */
  skipped: Array<{ survivor: string; members: string[]; reason: string }>;
  /** Memories removed (merged into a survivor). */
  removed: number;
  exactDuplicates: number;
  cancelled: boolean;
  ms: number;
}

export interface UndoResult {
  runId: string;
  restored: number;
  /** Survivors changed after the merge: kept as they are, their originals restored beside them. */
  changedSince: string[];
  clusters: number;
}

const STOP = new Set(['the', 'and', 'for', 'with', 'that', 'this', 'are', 'was', 'has', 'have', 'its', 'not', 'but', 'over', 'from', 'into', 'than', 'then', 'they', 'their', 'there', 'every', 'instead']);


function contentWords(text: string): Set<string> {
  return new Set(normalizedText(text).split(' ').filter((w) => w.length >= 3 && !STOP.has(w)));
}

function containment(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let shared = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const w of small) if (large.has(w)) shared++;
  return shared / small.size;
}

/**
 * Finds clusters of memories in one scope that say the same thing: vector similarity at or above
 * `threshold` AND word overlap at or above `minOverlap` (the vector alone merges memories that are
 * merely on the same topic), or the same normalised text. Reads only; takes no lock. Pairs are
 * drawn from an inverted index of content words, so memories that share no word are never compared.
 */
export async function planConsolidation(store: MemoryStore, options: Pick<ConsolidateOptions, 'scope' | 'threshold' | 'minOverlap'> = {}): Promise<{ scanned: number; clusters: PlannedCluster[]; records: Map<string, MemoryRecord> }> {
  const threshold = options.threshold ?? 0.8;
  const minOverlap = options.minOverlap ?? 0.5;
  if (!(threshold > 0 && threshold <= 1)) throw new ValidationError('threshold', `must be a number in (0, 1], got ${threshold}`);
  const raw = await store.rows(options.scope ? `scope = ${sqlString(options.scope, 'scope')}` : undefined);
  const records = new Map<string, MemoryRecord>();
  for (const r of raw) {
    const rec = fromRawRow(r);
    const seen = records.get(rec.id);
    if (!seen || rec.rev > seen.rev) records.set(rec.id, rec);
  }
  const byScope = new Map<string, MemoryRecord[]>();
  for (const rec of records.values()) byScope.set(rec.scope, [...(byScope.get(rec.scope) ?? []), rec]);
  const clusters: PlannedCluster[] = [];
  for (const [scope, rows] of byScope) {
    rows.sort((a, b) => (a.id < b.id ? -1 : 1));
    const parent = rows.map((_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
    const minSim = new Map<number, number>();
    const join = (i: number, j: number, sim: number) => {
      const a = find(i), b = find(j);
      if (a === b) return;
      parent[b] = a;
      minSim.set(a, Math.min(minSim.get(a) ?? 1, minSim.get(b) ?? 1, sim));
    };
    const norms = rows.map((r) => normalizedText(r.text));
    const exactFirst = new Map<string, number>();
    norms.forEach((n, i) => { const f = exactFirst.get(n); if (f === undefined) exactFirst.set(n, i); else join(f, i, 1); });
    const words = rows.map((r) => contentWords(r.text));
    const index = new Map<string, number[]>();
    words.forEach((ws, i) => { for (const w of ws) index.set(w, [...(index.get(w) ?? []), i]); });
    const common = Math.max(50, rows.length * 0.05);
    const tried = new Set<number>();
    for (const list of index.values()) {
      if (list.length > common) continue; // a word in most memories says nothing about sameness
      for (let x = 0; x < list.length; x++) for (let y = x + 1; y < list.length; y++) {
        const i = list[x]!, j = list[y]!;
        const key = i * rows.length + j;
        if (tried.has(key)) continue;
        tried.add(key);
        if (containment(words[i]!, words[j]!) < minOverlap) continue;
        const sim = cosine(rows[i]!.vector, rows[j]!.vector);
        if (sim >= threshold) join(i, j, sim);
      }
    }
    const groups = new Map<number, number[]>();
    rows.forEach((_, i) => { const r = find(i); groups.set(r, [...(groups.get(r) ?? []), i]); });
    for (const [root, members] of groups) {
      if (members.length < 2) continue;
      const recs = members.map((i) => rows[i]!);
      recs.sort((a, b) => b.text.length - a.text.length || b.updated_at - a.updated_at || (a.id < b.id ? -1 : 1));
      const survivor = recs[0]!;
      clusters.push({
        scope, survivor: survivor.id, members: recs.slice(1).map((r) => r.id),
        similarity: Math.round((minSim.get(root) ?? 1) * 1000) / 1000,
        exact: recs.every((r) => normalizedText(r.text) === normalizedText(survivor.text)),
        texts: Object.fromEntries(recs.map((r) => [r.id, r.text])),
      });
    }
  }
  clusters.sort((a, b) => (a.survivor < b.survivor ? -1 : 1));
  return { scanned: records.size, clusters, records };
}

type JournalLine =
  | { runId: string; kind: 'cluster'; survivor: MemoryRecord; members: MemoryRecord[] }
  | { runId: string; kind: 'merged'; survivor: string; rev: number }
  | { runId: string; kind: 'undone'; at: number };

function journalPath(dir: string, runId: string): string {
  if (!/^[0-9a-f-]{36}$/i.test(runId)) throw new ValidationError('runId', `must be the id a consolidation printed, got ${JSON.stringify(runId)}`);
  return join(dir, CONSOLIDATION_DIR, `${runId}.jsonl`);
}

/**
 * Merges each planned cluster into its survivor, in bounded steps. Per step: the clusters' full rows
 * go to a journal first (fsync'd: `consolidations/<runId>.jsonl`, what undo restores from); then the
 * members are deleted on the condition that each is still at the revision the plan read; then the
 * survivor gets `merged_from` on the same condition. A cluster whose member or survivor changed or
 * went meanwhile is put back exactly as it was (its deleted members restored with their revisions)
 * and reported skipped: a concurrent edit is never lost and never merged away.
 */
export async function consolidate(store: MemoryStore, options: ConsolidateOptions = {}): Promise<ConsolidateResult> {
  const started = Date.now();
  const log = componentLogger(options.logger ?? nullLogger, 'consolidate');
  const runId = randomUUID();
  const plan = await planConsolidation(store, options);
  const result: ConsolidateResult = { runId, dryRun: options.dryRun === true, scanned: plan.scanned, clusters: plan.clusters, merged: [], skipped: [], removed: 0, exactDuplicates: plan.clusters.filter((c) => c.exact).reduce((n, c) => n + c.members.length, 0), cancelled: false, ms: 0 };
  if (options.dryRun || plan.clusters.length === 0) return { ...result, ms: Date.now() - started };
  const lease = await new ExclusiveJobLock(store.dir, CONSOLIDATE_JOB, { logger: log }).tryAcquire(`consolidate (run ${runId})`);
  try {
    await fs.mkdir(join(store.dir, CONSOLIDATION_DIR), { recursive: true });
    const journal = journalPath(store.dir, runId);
    const writer = resolveWriter({ kind: 'consolidate' })!;
    const step = Math.max(1, options.batchClusters ?? 50);
    for (let i = 0; i < plan.clusters.length; i += step) {
      if (options.signal?.aborted) { result.cancelled = true; break; }
      const batch = plan.clusters.slice(i, i + step);
      await appendJsonLines(journal, batch.map((c) => JSON.stringify({ runId, kind: 'cluster', survivor: plan.records.get(c.survivor)!, members: c.members.map((m) => plan.records.get(m)!) } satisfies JournalLine)));
      await failpoint('consolidate.beforeWrite');
      const expectRev = Object.fromEntries(batch.flatMap((c) => c.members.map((m) => [m, plan.records.get(m)!.rev])));
      const deleted = await store.delete(batch.flatMap((c) => c.members), { priority: 'background', label: `consolidate: ${batch.length} clusters`, expectRev });
      const status = new Map(deleted.map((d) => [d.id, d.status]));
      const whole = batch.filter((c) => c.members.every((m) => status.get(m) === 'deleted'));
      const patched = whole.length ? await store.patch(whole.map((c) => ({
        id: c.survivor,
        metadata: { merged_from: c.members, consolidated: { runId, at: writer.at } },
        expect: { rev: plan.records.get(c.survivor)!.rev },
        history: { writer, at: writer.at, fields: ['merged_from', 'consolidated'] },
      })), { priority: 'background', label: `consolidate: ${whole.length} survivors` }) : [];
      const survivorStatus = new Map(patched.map((p) => [p.id, p]));
      const merged: JournalLine[] = [];
      for (const c of batch) {
        const p = survivorStatus.get(c.survivor);
        if (p?.status === 'applied') {
          merged.push({ runId, kind: 'merged', survivor: c.survivor, rev: p.rev! });
          result.merged.push({ survivor: c.survivor, members: c.members });
          result.removed += c.members.length;
          continue;
        }
        const changed = c.members.find((m) => status.get(m) !== 'deleted');
        const reason = changed
          ? `${changed} was ${status.get(changed) === 'missing' ? 'deleted' : status.get(changed) === 'stale' ? 'changed' : 'not writable'} meanwhile`
          : `the survivor ${c.survivor} was ${p?.status === 'missing' ? 'deleted' : 'changed'} meanwhile`;
        // Put the cluster back exactly: the members this step deleted return with their revisions.
        const back = c.members.filter((m) => status.get(m) === 'deleted').map((m) => plan.records.get(m)!);
        if (back.length) await store.restore(back, { label: `consolidate: restore a skipped cluster` });
        result.skipped.push({ survivor: c.survivor, members: c.members, reason });
      }
      if (merged.length) await appendJsonLines(journal, merged.map((m) => JSON.stringify(m)));
    }
  } finally {
    await lease.release();
  }
  log.info(`run ${runId}: ${result.merged.length} clusters merged (${result.removed} memories), ${result.skipped.length} skipped`);
  return { ...result, ms: Date.now() - started };
}

/**
 * Puts a consolidation back: each merged cluster's members are restored exactly (id, text, vector,
 * revision, metadata) and the survivor returns to its state before the merge — unless it changed
 * after the merge, in which case it is kept as it is (that change is someone's write) and only the
 * members come back beside it. Idempotent: restoring what exists changes nothing.
 */
export async function undoConsolidation(store: MemoryStore, runId: string, options: { logger?: Logger } = {}): Promise<UndoResult> {
  const path = journalPath(store.dir, runId);
  const journal = await readJsonLines(path, { missing: 'undefined' });
  if (!journal) throw new ValidationError('runId', `no consolidation ${runId} was run on this store`);
  const clusters = new Map<string, { survivor: MemoryRecord; members: MemoryRecord[] }>();
  const mergedRev = new Map<string, number>();
  for (const { value } of journal.records) { // a torn tail is skipped
    const l = value as JournalLine;
    if (l.kind === 'cluster') clusters.set(l.survivor.id, { survivor: l.survivor, members: l.members });
    else if (l.kind === 'merged') mergedRev.set(l.survivor, l.rev);
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
      back.push(...c.members);
    }
    const restored = await store.restore(back, { label: 'undo consolidation' });
    result.restored += restored.filter((r) => r.status === 'inserted').length;
    const failed = restored.filter((r) => r.status === 'failed' || r.status === 'conflict');
    if (failed.length) options.logger?.warn(`undo ${runId}: ${failed.length} memories could not be restored (${failed.map((f) => f.id).join(', ')}); the journal keeps them`);
  }
  await appendJsonLines(path, [JSON.stringify({ runId, kind: 'undone', at: Date.now() } satisfies JournalLine)]);
  return result;
}
