// End-to-end cases of what the upgrader's LLM work shows and of Consolidate Memories… in a real
// extension host: the Locks & Upgrades run node's tokens against the budget (an upgrade through a
// stub OpenAI-compatible endpoint on 127.0.0.1 that reports `usage`), and the consolidation
// preview — its CodeLenses accept one cluster and reject another, and the store then shows exactly
// that — with the run node, Undo, the per-memory restore and a consolidation held by another process.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { PlannedConsolidation } from '../../src/extension/commands/consolidationCommands';
import type { LockNode } from '../../src/extension/views/locksTree';
import { personWriter } from '../../src/extension/writers';
import { startStubLlm } from '../fixtures/upgrade/stubLlm';
import { api, cli, scratch, until } from './host';
import { legacyJsonl } from './processes';
import { test } from './runner';

const settings = () => vscode.workspace.getConfiguration('memoryLane');
const setAll = async (values: Record<string, unknown>) => {
  for (const [k, v] of Object.entries(values)) await settings().update(k, v, vscode.ConfigurationTarget.Global);
};
const unset = (values: Record<string, unknown>) => setAll(Object.fromEntries(Object.keys(values).map((k) => [k, undefined])));
const all = (nodes: LockNode[]): LockNode[] => nodes.flatMap((n) => [n, ...all(n.children ?? [])]);
const n = (x: number) => x.toLocaleString('en-US');

// --------------------------------------------------------------------------- tokens of an upgrade

test('an upgrade through an LLM endpoint shows tokens in/out, calls, rate and the spend against the budget in its run node', async () => {
  const stub = await startStubLlm({ usage: true });
  const llm = { 'enrichment.provider': 'openai-compatible', 'enrichment.endpoint': stub.url, 'enrichment.model': 'stub-model', 'upgrade.batchSize': 10, 'upgrade.tokenBudget': 1_000_000, 'upgrade.pricePer1kTokens': 0.5 };
  try {
    await cli().run(['--json', 'import', legacyJsonl(scratch, 'legacy-tokens', 40), '--format', 'jsonl']);
    await setAll(llm);
    const run = Promise.resolve(vscode.commands.executeCommand<{ upgraded: number; calls: number; tokens: { in: number; out: number }; cost?: number }>('memoryLane.upgrade', { quiet: true }));
    // The harness pauses every upgrade 3 s after its third batch: the live node is read then.
    const live = await until('the running upgrade\'s tokens row', () => {
      const node = api().locksSnapshot().find((x) => x.id.startsWith('upgrade:') && x.id !== 'upgrade:other');
      const row = node?.children?.find((c) => c.id.endsWith(':tokens'));
      return node && row && / [1-9][\d,]* calls/.test(row.description ?? '') && { node, row };
    }, 20_000);
    assert.match(live.row.description ?? '', /^[\d,]+ in · [\d,]+ out · [\d,]+ calls(?: · [\d,]+\/s)? · \d+% of 1,000,000 · cost [\d.]+$/);
    assert.match(live.node.description ?? '', /[\d,]+\/1,000,000 tokens$/, `the run row itself shows the spend against the budget: ${live.node.description}`);
    const result = await run;
    assert.ok(result && result.upgraded >= 40 && result.calls === result.upgraded, JSON.stringify(result));
    assert.ok(stub.requests.length >= 40);
    const finished = api().locksSnapshot().find((x) => x.id === 'history:')?.children?.[0];
    const tokens = finished?.children?.find((c) => c.id.endsWith(':tokens'));
    const spent = result.tokens.in + result.tokens.out;
    assert.equal(tokens?.description, `${n(result.tokens.in)} in · ${n(result.tokens.out)} out · ${n(result.calls)} calls · ${Math.round((spent / 1_000_000) * 100)}% of 1,000,000 · cost ${result.cost}`);
    assert.match(tokens!.tooltip ?? '', /Budget: token budget 1,000,000/);
  } finally {
    await unset(llm);
    await stub.close();
  }
}, 60_000);

// ------------------------------------------------------------------------------- consolidation

const SCOPE = 'e2e-consolidate';

/**
 * Two clusters (a paraphrased pair, an exact duplicate pair: the same text under two ids, as two
 * processes storing at one moment leave it) and a distinct memory, in their own scope. Written as the
 * person's own (reviewed), so they don't crowd "Stored recently" for the UI cases that follow.
 */
async function seedClusters(prefix: string, scope = SCOPE): Promise<Record<string, string>> {
  const service = await api().service();
  const ids: Record<string, string> = {};
  const put = async (key: string, text: string) => { ids[key] = (await service.store({ id: `${prefix}-${key}`, text, scope, category: 'decision', force: true, writer: personWriter() })).id; };
  await put('deployA', 'The team deploys the billing service to production every Tuesday afternoon after the stand-up.');
  await put('deployB', 'Every Tuesday afternoon, after the stand-up, the team deploys the billing service to production.');
  await put('tabsA', 'Alice prefers tabs over spaces in every repository of the e2e project.');
  await put('tabsB', 'Alice prefers tabs over spaces in every repository of the e2e project.');
  await put('distinct', 'The staging database is refreshed from a production snapshot every night at 02:00 UTC.');
  return ids;
}

let planned: PlannedConsolidation | undefined;
let ids: Record<string, string> = {};
let runId = '';

test('Consolidate Memories… plans with progress and opens a preview listing each cluster with its members, similarity and proposed text', async () => {
  ids = await seedClusters('c1');
  planned = await vscode.commands.executeCommand<PlannedConsolidation>('memoryLane.consolidate', { scope: SCOPE });
  assert.ok(planned, 'the command returns the plan');
  assert.equal(planned.scanned, 5);
  assert.equal(planned.clusters.length, 2, JSON.stringify(planned.clusters.map((c) => [c.survivor, c.members])));
  const doc = await until('the preview in the editor', () => vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === planned!.uri)?.document, 5000);
  const text = doc.getText();
  assert.match(text, /^# Consolidate memories: 2 clusters to review/);
  assert.match(text, /\*\*0 accepted · 0 rejected · 2 undecided\.\*\*/);
  for (const c of planned.clusters) {
    for (const id of [c.survivor, ...c.members]) assert.ok(text.includes(`\`${id}\``), `member ${id} is listed`);
    assert.ok(text.includes(c.proposedText), 'the proposed merged text is shown');
    assert.ok(text.includes(c.similarity.toFixed(3)));
  }
  assert.match(text, /exact duplicate/);
  assert.ok(!text.includes(ids.distinct!), 'the distinct memory is in no cluster');
  const review = await until('the plan in the Locks & Upgrades view', () => api().locksSnapshot().find((x) => x.id === `consolidate-review:${planned!.key}`), 3000);
  assert.match(review.label, /Consolidation: 2 clusters to review/);
});

test('the preview\'s CodeLenses accept one cluster and reject the other; applying writes exactly that, reported with an Undo', async () => {
  assert.ok(planned, 'needs the plan of the previous case');
  const uri = vscode.Uri.parse(planned.uri);
  const lenses = async () => (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri)) ?? [];
  const click = async (title: RegExp, line?: number) => {
    const lens = (await lenses()).find((l) => title.test(l.command?.title ?? '') && (line === undefined || l.range.start.line === line));
    assert.ok(lens?.command, `a lens ${title} ${line ?? ''}: ${JSON.stringify((await lenses()).map((l) => [l.range.start.line, l.command?.title]))}`);
    await vscode.commands.executeCommand(lens.command.command, ...(lens.command.arguments ?? []));
  };
  const doc = await vscode.workspace.openTextDocument(uri);
  const headings = () => doc.getText().split('\n').map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('## Cluster '));
  const exact = planned.clusters.findIndex((c) => c.exact);
  const paraphrase = 1 - exact;
  assert.ok(exact >= 0, 'one cluster is the exact duplicate');
  // Accept the paraphrased pair, reject the exact duplicates (a person may want both texts kept).
  await click(/Accept$/, headings()[paraphrase]![1]);
  await until('the preview re-rendered with the decision', () => headings()[paraphrase]![0].includes('✓ accepted'), 3000);
  await click(/Reject$/, headings()[exact]![1]);
  await until('the second decision shown', () => headings()[exact]![0].includes('✗ rejected'), 3000);
  assert.match(doc.getText(), /\*\*1 accepted · 1 rejected · 0 undecided\.\*\*/);
  const apply = (await lenses()).find((l) => /Apply 1 accepted/.test(l.command?.title ?? ''));
  assert.ok(apply?.command, 'the top lens applies the accepted count');
  const result = await vscode.commands.executeCommand<{ runId: string; merged: Array<{ survivor: string; members: string[] }>; rejected: string[]; skipped: unknown[] }>(apply.command.command, ...(apply.command.arguments ?? []), { quiet: true });
  assert.ok(result, 'apply returns the result');
  runId = result.runId;
  const accepted = planned.clusters[paraphrase]!, rejected = planned.clusters[exact]!;
  assert.deepEqual(result.merged.map((m) => m.survivor), [accepted.survivor]);
  assert.deepEqual(result.rejected, [rejected.id]);
  assert.deepEqual(result.skipped, []);
  // The store shows exactly that outcome.
  const store = (await api().service()).memoryStore;
  const survivor = await store.get(accepted.survivor);
  assert.deepEqual(survivor?.metadata.merged_from, accepted.members);
  assert.equal(survivor?.text, accepted.proposedText);
  for (const m of accepted.members) assert.equal(await store.get(m), undefined, `${m} was merged away`);
  for (const id of [rejected.survivor, ...rejected.members, ids.distinct!]) {
    const kept = await store.get(id);
    assert.ok(kept, `${id} is untouched`);
    assert.equal(kept.metadata.merged_from, undefined);
  }
  await until('the preview shows the written run', () => doc.getText().startsWith(`# Consolidation ${runId}`), 3000);
  assert.match(headings()[exact]![0], /rejected/);
  assert.match(headings()[paraphrase]![0], /merged/);
  const row = api().locksSnapshot().find((x) => x.id === 'consolidations:')?.children?.[0];
  assert.equal(row?.id, `consolidation-run:${runId}`);
  assert.match(row!.label, /merged 1 of 2 clusters/);
  assert.match(row!.description ?? '', /done · 1 memory folded · 0 skipped · 1 rejected · local/);
  assert.ok((await lenses()).some((l) => /Undo this consolidation/.test(l.command?.title ?? '')));
});

test('a merged survivor is marked in the Memories view and Restore Merged Originals puts its members back', async () => {
  assert.ok(planned && runId, 'needs the run of the previous case');
  const accepted = planned.clusters.find((c) => !c.exact)!;
  const scope = await until('the scope in the Memories view', async () => (await api().memoriesChildren()).find((x) => x.kind === 'scope' && x.scope === SCOPE), 5000);
  const rows = (await Promise.all((await api().memoriesChildren(scope)).map((c) => api().memoriesChildren(c)))).flat();
  const survivor = rows.find((r) => r.kind === 'memory' && r.memory.id === accepted.survivor);
  assert.ok(survivor, 'the survivor is listed');
  const item = api().memoriesItem(survivor);
  assert.match(String(item.contextValue), /\.merged$/, 'the row offers Restore Merged Originals');
  assert.match(String(item.description), new RegExp(`merged ${accepted.members.length + 1}`));
  const r = await vscode.commands.executeCommand<{ restored: number }>('memoryLane.restoreMerged', survivor, { quiet: true });
  assert.equal(r?.restored, accepted.members.length);
  const store = (await api().service()).memoryStore;
  for (const m of accepted.members) assert.equal((await store.get(m))?.text, accepted.texts[m]);
});

test('Undo Consolidation restores what the run merged', async () => {
  assert.ok(runId);
  const r = await vscode.commands.executeCommand<{ restored: number; clusters: number }>('memoryLane.undoConsolidation', runId, { quiet: true });
  assert.equal(r?.clusters, 1);
  assert.match(api().locksSnapshot().find((x) => x.id === 'consolidations:')?.children?.[0]?.description ?? '', /^undone/);
  assert.ok(all(api().locksSnapshot()).every((x) => !x.id.startsWith('consolidate:')), 'nothing runs any more');
});

test('a consolidation writing in another process shows as its job lock in the Locks & Upgrades view', async () => {
  await seedClusters('c2');
  const other = cli().start(['consolidate', '--scope', SCOPE], { MEMORY_LANE_FAILPOINTS: 'consolidate.beforeWrite=pause:3000' });
  try {
    await other.waitFor(/\[failpoint\] consolidate\.beforeWrite/);
    const row = await until('the other consolidation in the view', () => api().locksSnapshot().find((x) => x.id === 'consolidate:other'), 3000);
    assert.match(row.label, new RegExp(`Consolidation running in pid ${other.pid}`));
  } finally {
    const r = await other.exited;
    assert.equal(r.code, 0, r.stderr);
  }
  await until('the other consolidation gone from the view', () => !api().locksSnapshot().some((x) => x.id === 'consolidate:other'), 5000);
}, 30_000);

test('with an LLM merger the plan proposes the model\'s text, and the review and run nodes show its tokens against the budget', async () => {
  const stub = await startStubLlm({ usage: true });
  const llm = { 'enrichment.provider': 'openai-compatible', 'enrichment.endpoint': stub.url, 'enrichment.model': 'stub-model', 'upgrade.tokenBudget': 1_000_000 };
  const scope = 'e2e-consolidate-llm';
  try {
    await setAll(llm);
    await seedClusters('c3', scope);
    const plan = await vscode.commands.executeCommand<PlannedConsolidation>('memoryLane.consolidate', { scope, noPreview: true });
    assert.equal(plan?.clusters.length, 2);
    const merged = plan.clusters.find((c) => !c.exact)!, exact = plan.clusters.find((c) => c.exact)!;
    assert.equal(merged.proposedBy, 'openai-compatible/stub-model');
    assert.match(merged.proposedText, / \[merged 2\]$/, 'the model\'s text is proposed');
    assert.equal(exact.proposedBy, 'local', 'exact duplicates are never sent to a model');
    assert.equal(stub.requests.length, 1);
    const review = api().locksSnapshot().find((x) => x.id === `consolidate-review:${plan.key}`);
    const tokens = review?.children?.find((c) => c.id.endsWith(':tokens'));
    assert.match(tokens?.description ?? '', /^[1-9][\d,]* in · [1-9][\d,]* out · 1 calls(?: · [\d,]+\/s)? · \d+% of 1,000,000$/, JSON.stringify(review));
    await vscode.commands.executeCommand('memoryLane.decideCluster', plan.key, '*', 'accepted');
    const applying = Promise.resolve(vscode.commands.executeCommand<{ runId: string; merged: unknown[] }>('memoryLane.applyConsolidation', plan.key, { quiet: true }));
    // The harness pauses each consolidation step 1.5 s before it writes: the run node is read then.
    const live = await until('the merging run node', () => api().locksSnapshot().find((x) => x.id === `consolidate:${plan.key}`), 5000);
    assert.equal(live.label, 'Consolidation: merging');
    assert.match(live.description ?? '', /^[▰▱]{10} \d+% · \d\/2 clusters · \d merged · \d skipped · [\d,]+\/1,000,000 tokens$/);
    assert.equal(live.command?.command, 'memoryLane.cancelConsolidation', 'a click cancels it');
    assert.match(live.children?.find((c) => c.id.endsWith(':tokens'))?.description ?? '', / 1 calls/);
    const result = await applying;
    assert.equal(result?.merged.length, 2);
    assert.equal((await (await api().service()).memoryStore.get(merged.survivor))?.text, merged.proposedText, 'the survivor now says the merged text');
    const row = api().locksSnapshot().find((x) => x.id === 'consolidations:')?.children?.[0];
    assert.equal(row?.id, `consolidation-run:${result.runId}`);
    assert.match(row!.description ?? '', /· openai-compatible\/stub-model$/);
    assert.match(row!.children?.find((c) => c.id.endsWith(':tokens'))?.description ?? '', /^[1-9][\d,]* in · [1-9][\d,]* out · 1 calls.* · \d+% of 1,000,000$/);
  } finally {
    await unset(llm);
    await stub.close();
  }
});

// ------------------------------------------------------------------------ the vscode.lm merger

test('the vscode.lm merger writes the merged text with the model, counts its tokens with countTokens, and refuses a failure as a MergeError', async () => {
  let prompt = '';
  const model = (reply: string | Error) => ({
    id: 'fake-merger', vendor: 'e2e', family: 'fake', name: 'Fake merger',
    countTokens: async (text: string | vscode.LanguageModelChatMessage) => (typeof text === 'string' ? text.split(/\s+/).filter(Boolean).length : 0),
    sendRequest: async (messages: vscode.LanguageModelChatMessage[]) => {
      prompt = messages.map((m) => m.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('')).join('\n');
      if (reply instanceof Error) throw reply;
      return { text: (async function* () { yield reply.slice(0, 5); yield reply.slice(5); })(), stream: (async function* () { /* unused */ })() } as unknown as vscode.LanguageModelChatResponse;
    },
  }) as never;
  const merger = api().createLanguageModelMerger(model('  Alice prefers tabs, in every repository.  '));
  assert.equal(merger.name, 'vscode-lm/e2e/fake');
  const texts = ['Alice prefers tabs over spaces.', 'In every repository Alice uses tabs.'];
  const r = await merger.merge(texts, new AbortController().signal);
  assert.equal(r.text, 'Alice prefers tabs, in every repository.');
  for (const t of texts) assert.ok(prompt.includes(t), 'every memory is in the prompt');
  const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
  assert.deepEqual(r.usage, { in: words(prompt), out: words(r.text), calls: 1, source: 'countTokens' });
  assert.ok(merger.estimate(texts).in > 0);
  const failing = api().createLanguageModelMerger(model(new Error('model unavailable')));
  await assert.rejects(failing.merge(texts, new AbortController().signal), (err: Error & { code?: string }) => err.code === 'E_MERGE' && /model unavailable/.test(err.message));
});
