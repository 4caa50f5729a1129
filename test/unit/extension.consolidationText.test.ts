import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsolidateResult, PlannedCluster } from '../../src/core/upgrade';
import { clusterLines, decisionCounts, renderPlan, type Decision, type PlanView } from '../../src/extension/views/consolidationText';

const cluster = (id: string, survivor: string, members: string[], extra: Partial<PlannedCluster> = {}): PlannedCluster => ({
  id, scope: 'workspace:abc', survivor, members, similarity: 0.9312, exact: false, proposedBy: 'local',
  proposedText: `${survivor} text, the longest`,
  texts: Object.fromEntries([survivor, ...members].map((m) => [m, m === survivor ? `${survivor} text, the longest` : `${m} text`])),
  revs: Object.fromEntries([survivor, ...members].map((m) => [m, 1])),
  ...extra,
});

const view = (decisions: Array<[string, Decision]> = [], extra: Partial<PlanView> = {}): PlanView => ({
  key: 'k', threshold: 0.8, merger: 'local', startedAt: Date.UTC(2026, 11, 1, 12, 30), stage: 'review', scanned: 7,
  clusters: [cluster('c1', 'a', ['b']), cluster('c2', 'x', ['y', 'z'], { exact: true, similarity: 1, proposedBy: 'vscode-lm/e2e/fake', proposedText: 'A model wrote ```this``` text' })],
  decisions: new Map(decisions), ...extra,
});

test('the preview lists each cluster with its members, similarity, exactness and proposed text, and the decisions so far', () => {
  const text = renderPlan(view([['c1', 'accepted']]), 'workspace:abc');
  assert.match(text, /^# Consolidate memories: 2 clusters to review\n/);
  assert.match(text, /7 memories looked at · similarity ≥ 0\.8 · merged texts by \*\*the local rule/);
  assert.match(text, /\*\*1 accepted · 0 rejected · 1 undecided\.\*\*/);
  assert.match(text, /## Cluster 1 of 2 · ✓ accepted\n/);
  assert.match(text, /## Cluster 2 of 2 · undecided\n/);
  assert.match(text, /\| similarity \| 0\.931 \|/);
  assert.match(text, /\| similarity \| 1\.000 · \*\*exact duplicate\*\* \(same text\) \|/);
  assert.match(text, /\| scope \| `workspace:abc` \(this workspace\) \|/);
  assert.match(text, /\| memories \| 3: `x` stays, `y`, `z` merged into it \|/);
  assert.match(text, /\| merged text by \| vscode-lm\/e2e\/fake \|/);
  const failed = renderPlan(view([], { clusters: [cluster('c1', 'a', ['b'], { fallbackReason: 'no reply within 60000 ms' })], planStoppedBy: 'token budget 100 reached' }));
  assert.match(failed, /\| merged text by \| local rule \(the model's merge failed: no reply within 60000 ms\) \|/);
  assert.match(failed, /\*\*Proposals stopped:\*\* token budget 100 reached/);
  // A text with backticks cannot close its fence early.
  assert.ok(text.includes('````text\nA model wrote ```this``` text\n````'));
  for (const m of ['y text', 'z text', 'b text']) assert.ok(text.includes(m));
});

test('the CodeLens lines are the cluster headings of the document as shown', () => {
  const lines = renderPlan(view()).split('\n');
  const at = clusterLines(lines);
  assert.deepEqual([...at.keys()], [0, 1]);
  assert.match(lines[at.get(0)!]!, /^## Cluster 1 of 2/);
  assert.match(lines[at.get(1)!]!, /^## Cluster 2 of 2/);
  assert.deepEqual(decisionCounts(view([['c1', 'rejected'], ['c2', 'accepted']])), { accepted: 1, rejected: 1, open: 0 });
});

test('once written, the preview shows each cluster\'s outcome: merged, skipped with its reason, rejected', () => {
  const result = { runId: '11111111-2222-3333-4444-555555555555', merged: [{ survivor: 'a', members: ['b'] }], skipped: [], rejected: ['c2'], removed: 1, cancelled: false } as unknown as ConsolidateResult;
  const text = renderPlan(view([['c1', 'accepted'], ['c2', 'rejected']], { stage: 'done', result }));
  assert.match(text, /^# Consolidation 11111111-2222-3333-4444-555555555555\n/);
  assert.match(text, /Merged \*\*1\*\* of 2 clusters \(1 memory folded into its survivor\), \*\*0\*\* skipped .*\*\*1\*\* rejected\./);
  assert.match(text, /## Cluster 1 of 2 · merged\n/);
  assert.match(text, /## Cluster 2 of 2 · rejected\n/);
  const skipped = renderPlan(view([['c1', 'accepted']], { stage: 'done', result: { ...result, merged: [], skipped: [{ survivor: 'a', members: ['b'], reason: 'b was changed meanwhile' }], rejected: ['c2'] } as unknown as ConsolidateResult }));
  assert.match(skipped, /## Cluster 1 of 2 · skipped: b was changed meanwhile\n/);
  assert.match(skipped, /Nothing was written\./);
});
