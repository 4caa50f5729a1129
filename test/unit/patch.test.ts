import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyPatch, expectationHolds, isBookkeepingOnly } from '../../src/core/store/patch';
import { planUpserts } from '../../src/core/store/commitPlan';
import type { MemoryRecord } from '../../src/core/store/schema';

const row = (over: Partial<MemoryRecord> = {}): MemoryRecord => ({
  id: 'a', text: 't', vector: [0, 1], category: 'cases', scope: 'global', importance: 0.5,
  created_at: 1, updated_at: 1, rev: 3, metadata: { injected_count: 5, other: 'x' }, ...over,
});

test('applyPatch: undefined never overwrites, null removes a metadata key, unknown keys survive', () => {
  const next = applyPatch(row(), { id: 'a', set: { text: undefined, importance: 0.9 }, metadata: { other: undefined, gone: null, l0_abstract: 'abs' } }, 100);
  assert.equal(next.text, 't');
  assert.equal(next.importance, 0.9);
  assert.equal(next.metadata.other, 'x');
  assert.equal(next.metadata.l0_abstract, 'abs');
  assert.equal('gone' in next.metadata, false);
  assert.equal(next.updated_at, 100);
});

test('applyPatch: increments and raiseTo commute and do not count as an edit', () => {
  const p1 = { id: 'a', increment: { injected_count: 2 } };
  const p2 = { id: 'a', raiseTo: { last_injected_at: 50 }, increment: { access_count: 1 } };
  const ab = applyPatch(applyPatch(row(), p1, 9), p2, 9);
  const ba = applyPatch(applyPatch(row(), p2, 9), p1, 9);
  assert.deepEqual(ab.metadata, ba.metadata);
  assert.equal(ab.metadata.injected_count, 7);
  assert.equal(ab.metadata.access_count, 1);
  assert.equal(ab.updated_at, 1, 'bookkeeping must not move updated_at (recency)');
  assert.equal(isBookkeepingOnly(p1), true);
  assert.equal(applyPatch(row({ metadata: { last_injected_at: 80 } }), p2, 9).metadata.last_injected_at, 80);
});

test('applyPatch does not mutate its input', () => {
  const r = row();
  applyPatch(r, { id: 'a', metadata: { z: 1 }, increment: { injected_count: 1 } }, 2);
  assert.deepEqual(r.metadata, { injected_count: 5, other: 'x' });
});

test('expectationHolds checks rev and text', () => {
  assert.equal(expectationHolds(row(), { id: 'a', expect: { rev: 3, text: 't' } }), true);
  assert.equal(expectationHolds(row(), { id: 'a', expect: { rev: 2 } }), false);
  assert.equal(expectationHolds(row(), { id: 'a', expect: { text: 'other' } }), false);
});

test('planUpserts folds a group in order, sorts rows by id and sets rev to stored + 1 once', () => {
  const current = new Map([['b', row({ id: 'b', rev: 7 })], ['a', row({ id: 'a', rev: 3 })]]);
  const plan = planUpserts([
    { inserts: [], patches: [{ id: 'b', increment: { injected_count: 1 } }, { id: 'a', increment: { injected_count: 1 } }] },
    { inserts: [], patches: [{ id: 'b', increment: { injected_count: 1 } }] },
  ], current, new Set(), 10);
  assert.deepEqual(plan.rows.map((r) => [r.id, r.rev, r.metadata.injected_count]), [['a', 4, 6], ['b', 8, 7]]);
});

test('planUpserts: a second patch expecting the revision both callers read is stale', () => {
  const current = new Map([['a', row()]]);
  const plan = planUpserts([
    { inserts: [], patches: [{ id: 'a', metadata: { m: 1 }, expect: { rev: 3 } }] },
    { inserts: [], patches: [{ id: 'a', metadata: { m: 1 }, expect: { rev: 3 } }] },
  ], current, new Set(), 10);
  assert.deepEqual(plan.results.map(([, , , r]) => r.status), ['applied', 'stale']);
});

test('planUpserts: insert of an existing id is exists/conflict; landed ids are not planned again', () => {
  const current = new Map([['a', row()]]);
  const plan = planUpserts([{ inserts: [row({ rev: 1 }), row({ id: 'c', rev: 1 }), row({ rev: 1, text: 'different' })], patches: [] }], current, new Set(['c']), 10);
  assert.deepEqual(plan.results.map(([, , , r]) => r.status), ['exists', 'conflict']);
  assert.equal(plan.rows.length, 0);
});

test('planUpserts stamps every planned row with the attempt\'s commit token (how a retry knows what landed)', () => {
  const plan = planUpserts([{ inserts: [row({ id: 'n', rev: 1 })], patches: [{ id: 'a', increment: { injected_count: 1 } }] }], new Map([['a', row()]]), new Set(), 10, 'token-1');
  assert.deepEqual(plan.rows.map((r) => r.commit), ['token-1', 'token-1']);
});
