import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryService } from '../../src/core/memoryService';
import { deferCleanup, tempDir } from '../helpers/tempStore';
import { runWorker } from '../helpers/workers';

const TOPICS = ['alpha release checklist', 'beta rollout plan', 'gamma incident review', 'delta database migration', 'epsilon cache policy', 'zeta deploy freeze'];

test('1000 recalls from two processes: injected_count sums exactly to what was returned', async (t) => {
  const dir = tempDir(t);
  const setup = await MemoryService.open({ dir, defaultScopes: ['workspace:w1', 'global'], vectorIndex: { auto: false } });
  for (const topic of TOPICS) await setup.store({ text: `Notes on the ${topic}: owners, dates and open questions.` });
  await setup.close();

  const args = { dir, recalls: 500, queries: TOPICS.map((q) => `${q} notes`), limit: 3, scopes: ['workspace:w1', 'global'] };
  const [a, b] = await Promise.all([runWorker('recall.recaller', args), runWorker('recall.recaller', args)]);
  const reports = [a, b].map((messages) => messages.find((m) => m.done));
  const expected: Record<string, number> = {};
  for (const r of reports) for (const [id, n] of Object.entries(r.returned as Record<string, number>)) expected[id] = (expected[id] ?? 0) + n;
  const total = Object.values(expected).reduce((s, n) => s + n, 0);
  assert.ok(total >= 1000, `each recall returned memories (${total} in all)`);

  const check = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  deferCleanup(t, () => check.close());
  const rows = await check.list({ limit: 100 });
  const stored: Record<string, number> = {};
  for (const m of rows.items) if (m.metadata.injected_count !== undefined) stored[m.id] = m.metadata.injected_count;
  assert.deepEqual(stored, expected, 'no count lost or doubled across processes');
  const earliest = Math.min(...reports.map((r) => r.startedAt));
  const latest = Math.max(...reports.map((r) => r.closedAt));
  for (const m of rows.items) {
    const at = m.metadata.last_injected_at!;
    assert.ok(at >= earliest && at <= latest, `last_injected_at ${at} within the run`);
  }
  t.diagnostic(`recalls: 2 × 500 in ${reports.map((r) => r.recallMs).join(' / ')} ms; ${total} memory hand-outs counted in ${Object.keys(expected).length} rows`);
});

test('a burst of recalls is counted in one background patch batch, after recall has returned', async (t) => {
  const memory = await MemoryService.open({ dir: tempDir(t), vectorIndex: { auto: false }, bookkeeping: { debounceMs: 60_000 } });
  deferCleanup(t, () => memory.close());
  const ids: string[] = [];
  for (const topic of TOPICS) ids.push((await memory.store({ text: `Notes on the ${topic}`, scope: 'global' })).id);
  const commits: number[] = [];
  memory.memoryStore.onCommit((c) => commits.push(c.rows));
  await Promise.all(Array.from({ length: 200 }, (_, i) => memory.recall(`${TOPICS[i % TOPICS.length]} notes`, { limit: 2 })));
  assert.equal(commits.length, 0, 'recall did not wait for its bookkeeping write');
  assert.ok((await memory.stats()).bookkeeping.pendingIds > 0);
  await memory.flushBookkeeping();
  assert.equal(commits.length, 1, `one commit for 200 recalls, got ${commits.length}`);
  const counted = (await memory.list()).items.reduce((s, m) => s + (m.metadata.injected_count ?? 0), 0);
  assert.equal(counted, 400);
  const before = (await memory.get(ids[0]!)).updated_at;
  await memory.recall(TOPICS[0]!);
  await memory.flushBookkeeping();
  assert.equal((await memory.get(ids[0]!)).updated_at, before, 'counting a recall is not an edit');
});
