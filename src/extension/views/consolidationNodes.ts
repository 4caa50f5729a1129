import { hostname } from 'node:os';
import type { StoreLockView } from '../../core/storeActivity';
import { tokenCost } from '../../core/usage';
import { Commands } from '../ids';
import { consolidationUri } from '../consolidationPreview';
import type { ConsolidationController, ConsolidationRecord } from '../upgrade/consolidationController';
import type { LockNode } from './locksTree';
import { memories } from './consolidationText';
import { formatDuration as ms, progressBar } from './progressText';
import { tokensNode } from './tokensNode';

// The consolidation rows of the Locks & Upgrades view: the plan being made or the run being written
// here (phase, clusters done/total, merged/skipped, tokens against the budget; a click cancels),
// plans waiting for review, a consolidation another process writes (its job lock), and the last runs.

const n = (x: number) => x.toLocaleString('en-US');

function tokens(r: ConsolidationRecord): { t: { in: number; out: number }; calls: number } {
  // Proposals are written while planning; writing may spend more (a merge asked only then).
  const planning = r.stage === 'planning';
  const t = { in: (planning ? r.progress?.tokens?.in ?? 0 : (r.planTokens?.in ?? 0) + (r.stage === 'merging' ? r.progress?.tokens?.in ?? 0 : r.result?.tokens?.in ?? 0)),
    out: (planning ? r.progress?.tokens?.out ?? 0 : (r.planTokens?.out ?? 0) + (r.stage === 'merging' ? r.progress?.tokens?.out ?? 0 : r.result?.tokens?.out ?? 0)) };
  const calls = planning ? r.progress?.calls ?? 0 : (r.planCalls ?? 0) + (r.stage === 'merging' ? r.progress?.calls ?? 0 : r.result?.calls ?? 0);
  return { t, calls };
}

function tokenRow(id: string, r: ConsolidationRecord): LockNode[] {
  if (r.merger === 'local' && !r.budget) return [];
  const { t, calls } = tokens(r);
  const elapsed = Math.max(1, (r.finishedAt ?? Date.now()) - r.startedAt) / 1000;
  const rate = calls ? Math.round((t.in + t.out) / elapsed) : undefined;
  return [tokensNode(`${id}:tokens`, t, calls, r.budget, tokenCost(t.in + t.out, r.pricePer1k), rate, r.result?.stoppedBy)];
}

/** The plan or run in progress in this window. */
function runningNode(r: ConsolidationRecord): LockNode {
  const p = r.progress;
  const id = `consolidate:${r.key}`;
  const { t, calls } = tokens(r);
  const spend = calls ? ` · ${n(t.in + t.out)}${r.budget?.tokens ? `/${n(r.budget.tokens)}` : ''} tokens` : '';
  const where = r.scope ?? 'every scope';
  if (r.stage === 'planning') {
    return {
      id, label: 'Consolidation: planning', icon: 'sync~spin', expanded: true,
      description: `${where} · ${n(p?.scanned ?? 0)} memories looked at${p?.clustersTotal ? ` · ${n(p.clustersTotal)} clusters so far` : ''}${spend}`,
      tooltip: `Finding memories that say the same thing (no lock) with **${r.merger}** since ${new Date(r.startedAt).toLocaleTimeString()}. Nothing is written before you review the plan. Click to cancel.`,
      command: { command: Commands.cancelConsolidation, title: 'Cancel Consolidation' },
      children: [
        { id: `${id}:scanned`, label: 'Looked at', description: n(p?.scanned ?? 0), icon: 'search' },
        { id: `${id}:clusters`, label: 'Clusters found', description: n(p?.clustersTotal ?? 0), icon: 'group-by-ref-type' },
        ...tokenRow(id, r),
      ],
    };
  }
  const total = p?.clustersTotal ?? r.clusters?.length ?? 0;
  const done = p?.clustersDone ?? 0;
  const pct = total ? Math.min(100, Math.floor((done / total) * 100)) : 0;
  return {
    id, label: 'Consolidation: merging', icon: 'sync~spin', expanded: true,
    description: `${progressBar(pct)} · ${done}/${total} clusters · ${p?.merged ?? 0} merged · ${p?.skipped ?? 0} skipped${spend}`,
    tooltip: `Writing the accepted clusters of ${where} in steps, each under one short lock; a cluster whose member changed meanwhile is skipped. Click to cancel after the step in flight.`,
    command: { command: Commands.cancelConsolidation, title: 'Cancel Consolidation' },
    children: [
      { id: `${id}:clusters`, label: 'Clusters', description: `${done} of ${total} done`, icon: 'group-by-ref-type' },
      { id: `${id}:merged`, label: 'Merged', description: n(p?.merged ?? 0), icon: 'merge' },
      { id: `${id}:skipped`, label: 'Skipped (changed meanwhile)', description: n(p?.skipped ?? 0), icon: 'debug-step-over' },
      ...tokenRow(id, r),
    ],
  };
}

function reviewNode(r: ConsolidationRecord): LockNode {
  const c = r.clusters ?? [];
  const accepted = c.filter((x) => r.decisions.get(x.id) === 'accepted').length;
  const rejected = c.filter((x) => r.decisions.get(x.id) === 'rejected').length;
  return {
    id: `consolidate-review:${r.key}`,
    label: `Consolidation: ${c.length} ${c.length === 1 ? 'cluster' : 'clusters'} to review`,
    description: `${r.scope ?? 'every scope'} · ${accepted} accepted · ${rejected} rejected`,
    icon: 'checklist',
    tooltip: 'A consolidation plan waits for your decisions; nothing is written yet. Click to open its preview.',
    command: { command: 'vscode.open', title: 'Open Preview', arguments: [consolidationUri(r.key)] },
    children: tokenRow(`consolidate-review:${r.key}`, r),
  };
}

function finishedNode(r: ConsolidationRecord): LockNode {
  const when = new Date(r.startedAt).toLocaleTimeString();
  const x = r.result;
  if (!x) {
    return { id: `consolidation-failed:${r.key}`, label: `${when} consolidation not written`, description: `${r.error?.code ?? ''} ${r.error?.message ?? ''}`.trim(), icon: 'error', severity: 'error' };
  }
  const status = r.undone ? 'undone' : x.cancelled ? 'cancelled' : x.stoppedBy ? 'budget reached' : 'done';
  const skipped = x.skipped.map((s, i) => ({ id: `consolidation-detail:${x.runId}:skipped:${i}`, label: s.survivor, description: s.reason, icon: 'debug-step-over', tooltip: `Cluster of **${s.survivor}** (${s.members.join(', ')}) left as it was: ${s.reason}` }));
  return {
    id: `consolidation-run:${x.runId}`,
    label: `${when} merged ${x.merged.length} of ${r.clusters?.length ?? x.merged.length} clusters`,
    description: `${status} · ${memories(x.removed)} folded · ${x.skipped.length} skipped · ${x.rejected.length} rejected · ${r.merger}`,
    icon: r.undone ? 'discard' : x.skipped.length ? 'warning' : x.cancelled ? 'circle-slash' : 'pass',
    tooltip: `Consolidation run \`${x.runId}\`${r.finishedAt ? ` (${ms(r.finishedAt - r.startedAt)})` : ''}: merged ${x.merged.length} clusters (${x.removed} memories), skipped ${x.skipped.length}, rejected ${x.rejected.length}.${r.undone ? ` Undone: ${r.undone.restored} restored.` : ' Undo restores every memory exactly.'}`,
    ...(skipped.length || r.merger !== 'local' ? { children: [
      ...tokenRow(`consolidation-detail:${x.runId}`, r),
      ...(skipped.length ? [{ id: `consolidation-detail:${x.runId}:skipped`, label: `Skipped (${skipped.length})`, icon: 'debug-step-over', expanded: true, children: skipped }] : []),
    ] } : {}),
  };
}

/** Every consolidation row, in the view's order: in progress (or another process's), to review, last runs. */
export function consolidationNodes(c: ConsolidationController, lockView: StoreLockView): LockNode[] {
  const out: LockNode[] = [];
  if (c.current) out.push(runningNode(c.current));
  else {
    const other = lockView.consolidate;
    if (other?.running && other.holder && !(other.holder.pid === process.pid && other.holder.host === hostname())) {
      const h = other.holder;
      out.push({
        id: 'consolidate:other',
        label: `Consolidation running in pid ${h.pid}${h.host !== hostname() ? ` on ${h.host}` : ''}`,
        description: `${h.label} · ${ms(Date.now() - h.since)}`,
        icon: 'sync~spin',
        tooltip: 'Another process (a window, the CLI) is writing a consolidation of this store; only one writes at a time. Planning elsewhere takes no lock and is not shown.',
      });
    }
  }
  for (const r of c.toReview) out.push(reviewNode(r));
  if (c.history.length) {
    out.push({ id: 'consolidations:', label: `Last consolidations (${c.history.length})`, icon: 'merge', expanded: true, children: c.history.map(finishedNode) });
  }
  return out;
}
