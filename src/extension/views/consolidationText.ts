import type { ConsolidateResult, PlannedCluster } from '../../core/upgrade';

// The consolidation preview as Markdown text, and where its CodeLenses go. Pure functions (no
// 'vscode'), unit-tested in test/unit/extension.consolidationText.test.ts.

export type Decision = 'accepted' | 'rejected';

/** What the preview renders: a plan under review, or the run that wrote it. */
export interface PlanView {
  key: string;
  scope?: string;
  threshold: number;
  merger: string;
  startedAt: number;
  stage: 'planning' | 'review' | 'merging' | 'done' | 'discarded' | 'failed';
  scanned?: number;
  clusters?: PlannedCluster[];
  decisions: ReadonlyMap<string, Decision>;
  result?: ConsolidateResult;
  undone?: { restored: number };
  /** A budget ended the merger's proposals part-way. */
  planStoppedBy?: string;
  error?: { message: string };
}

/** `## Cluster 2 of 5 · …`: the heading each cluster's Accept/Reject lenses sit on. */
export const CLUSTER_HEADING = /^## Cluster (\d+) of (\d+)/;

function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
}

const time = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** `1 memory`, `3 memories`. */
export const memories = (n: number) => `${n} ${n === 1 ? 'memory' : 'memories'}`;

export function decisionCounts(view: Pick<PlanView, 'clusters' | 'decisions'>): { accepted: number; rejected: number; open: number } {
  let accepted = 0, rejected = 0;
  for (const c of view.clusters ?? []) {
    const d = view.decisions.get(c.id);
    if (d === 'accepted') accepted++;
    else if (d === 'rejected') rejected++;
  }
  return { accepted, rejected, open: (view.clusters?.length ?? 0) - accepted - rejected };
}

/** What became of one cluster in a written run. */
function outcome(c: PlannedCluster, r: ConsolidateResult): string {
  if (r.merged.some((m) => m.survivor === c.survivor)) return 'merged';
  const skipped = r.skipped.find((s) => s.survivor === c.survivor);
  if (skipped) return `skipped: ${skipped.reason}`;
  if (r.rejected.includes(c.id)) return 'rejected';
  return r.cancelled ? 'not written (cancelled)' : r.stoppedBy ? 'not written (budget reached)' : 'not written';
}

function statusOf(view: PlanView, c: PlannedCluster): string {
  if (view.result) return outcome(c, view.result);
  const d = view.decisions.get(c.id);
  return d === 'accepted' ? '✓ accepted' : d === 'rejected' ? '✗ rejected' : 'undecided';
}

/** The preview document. */
export function renderPlan(view: PlanView, workspaceScope?: string): string {
  const clusters = view.clusters ?? [];
  const scopeName = (s: string) => (s === workspaceScope ? `\`${s}\` (this workspace)` : `\`${s}\``);
  const out: string[] = [];
  const r = view.result;
  if (r) {
    out.push(`# Consolidation ${r.runId}`, '');
    out.push(`Merged **${r.merged.length}** of ${clusters.length} clusters (${memories(r.removed)} folded into ${r.merged.length === 1 ? 'its survivor' : 'their survivors'}), **${r.skipped.length}** skipped because a member changed or went meanwhile, **${r.rejected.length}** rejected${r.cancelled ? '; cancelled before the rest' : ''}${r.stoppedBy ? `; stopped: ${r.stoppedBy.message}` : ''}.`, '');
    out.push(view.undone ? `**Undone**: ${view.undone.restored} memories restored.` : r.merged.length ? `Undo puts every memory back exactly (\`memory-lane consolidate --undo ${r.runId}\`); a single survivor's originals come back with **Restore Merged Originals…** in the Memories view.` : 'Nothing was written.', '');
  } else {
    const { accepted, rejected, open } = decisionCounts(view);
    out.push(`# Consolidate memories: ${clusters.length} ${clusters.length === 1 ? 'cluster' : 'clusters'} to review`, '');
    out.push(`${view.scope ? `Scope ${scopeName(view.scope)}` : 'Every scope (each on its own)'} · ${view.scanned ?? 0} memories looked at · similarity ≥ ${view.threshold} · merged texts by **${view.merger === 'local' ? 'the local rule (the most complete, newest text)' : view.merger}** · planned ${time(view.startedAt)} UTC`, '');
    out.push(`**${accepted} accepted · ${rejected} rejected · ${open} undecided.** Nothing is written until *Apply accepted*; undecided clusters are left as they are.`, '');
    out.push('Accept or reject each cluster with the links above its heading, or from the keyboard with **Memory Lane: Review Consolidation Clusters…**. A merged cluster keeps its survivor (which records `merged_from`); the others are removed and stay restorable.', '');
    if (view.planStoppedBy) out.push(`**Proposals stopped:** ${view.planStoppedBy}. The clusters after that keep the local rule's text.`, '');
    if (view.stage === 'discarded') out.push('**This plan was discarded.**', '');
    if (view.stage === 'failed' && view.error) out.push(`**Writing failed:** ${view.error.message}`, '');
  }
  clusters.forEach((c, i) => {
    out.push(`## Cluster ${i + 1} of ${clusters.length} · ${statusOf(view, c)}`, '');
    out.push('| | |', '|---|---|');
    out.push(`| scope | ${scopeName(c.scope)} |`);
    out.push(`| similarity | ${c.similarity.toFixed(3)}${c.exact ? ' · **exact duplicate** (same text)' : ''} |`);
    out.push(`| memories | ${c.members.length + 1}: \`${c.survivor}\` stays, ${c.members.map((m) => `\`${m}\``).join(', ')} merged into it |`);
    out.push(`| merged text by | ${c.proposedBy === 'local' ? `local rule${c.fallbackReason ? ` (the model's merge failed: ${c.fallbackReason.replace(/\|/g, '\\|').replace(/\n/g, ' ')})` : ''}` : c.proposedBy} |`, '');
    out.push('**Proposed memory**', '', fenced(c.proposedText), '');
    out.push(`**\`${c.survivor}\`** · survivor`, '', fenced(c.texts[c.survivor] ?? ''), '');
    for (const m of c.members) out.push(`**\`${m}\`** · merged into \`${c.survivor}\``, '', fenced(c.texts[m] ?? ''), '');
  });
  out.push('_Memory texts are data recorded by agents and people. This preview is read-only._', '');
  return out.join('\n');
}

/** Line of each cluster's heading, by cluster index (from the document as it is, so lenses follow the text shown). */
export function clusterLines(lines: readonly string[]): Map<number, number> {
  const out = new Map<number, number>();
  lines.forEach((line, n) => {
    const m = CLUSTER_HEADING.exec(line);
    if (m) out.set(Number(m[1]) - 1, n);
  });
  return out;
}
