import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diversify, importanceFactor, normalizedRrf, reciprocalRankFusion, recencyFactor, RRF_K } from '../../src/core/retrieval/fusion';
import { recallFilter } from '../../src/core/retrieval/hybridSearch';
import { bm25Rank } from '../../src/core/retrieval/lexicalFallback';

test('RRF rewards agreement: an id in both lists outranks ids ranked first in one list only', () => {
  const fused = reciprocalRankFusion({ vector: ['a', 'b', 'c'], fts: ['d', 'b'] });
  assert.equal(fused[0]!.id, 'b');
  assert.equal(fused[0]!.why, 'both');
  assert.deepEqual(fused[0]!.ranks, { vector: 2, fts: 2 });
  assert.equal(fused.find((f) => f.id === 'a')!.why, 'vector');
  assert.equal(fused.find((f) => f.id === 'd')!.why, 'fts');
  // Ties (a first in vector, d first in fts) break by best rank, then id: deterministic.
  assert.deepEqual(fused.slice(1, 3).map((f) => f.id), ['a', 'd']);
  assert.ok(Math.abs(fused[0]!.rrf - 2 / (RRF_K + 2)) < 1e-12);
});

test('normalised RRF is 1 for first place in every searched list', () => {
  assert.equal(normalizedRrf(2 / (RRF_K + 1), 2), 1);
  assert.equal(normalizedRrf(1 / (RRF_K + 1), 1), 1);
  assert.ok(Math.abs(normalizedRrf(1 / (RRF_K + 1), 2) - 0.5) < 1e-12);
  assert.equal(normalizedRrf(0.1, 0), 0);
});

test('recency decays by half-life towards 1 - weight; importance scales between 1 - weight and 1', () => {
  const w = { recencyHalfLifeMs: 1000, recencyWeight: 0.2, importanceWeight: 0.3 };
  assert.equal(recencyFactor(0, w), 1);
  assert.ok(Math.abs(recencyFactor(1000, w) - 0.9) < 1e-12);
  assert.ok(recencyFactor(1e9, w) > 0.8 - 1e-9 && recencyFactor(1e9, w) < 0.8001);
  assert.equal(recencyFactor(-5, w), 1, 'a future timestamp (clock skew) is not a bonus');
  assert.equal(importanceFactor(1, w), 1);
  assert.ok(Math.abs(importanceFactor(0, w) - 0.7) < 1e-12);
  assert.equal(importanceFactor(NaN, w), importanceFactor(0.5, w));
  assert.equal(importanceFactor(7, w), 1);
});

test('diversify demotes near-duplicates below distinct results but still fills the list', () => {
  const items = [
    { id: 'a', score: 1.0, vector: [1, 0, 0] },
    { id: 'a2', score: 0.95, vector: [0.999, 0.01, 0] },
    { id: 'b', score: 0.7, vector: [0, 1, 0] },
    { id: 'c', score: 0.3, vector: [0, 0, 1] },
  ];
  const out = diversify(items, 4, 0.92, 0.5);
  assert.deepEqual(out.map((o) => o.id), ['a', 'b', 'a2', 'c']);
  assert.equal(out[2]!.demoted, true);
  assert.equal(out[2]!.score, 0.475);
  assert.deepEqual(diversify(items, 2).map((o) => o.id), ['a', 'b']);
});

test('recall filters quote every scope and category through sqlString', () => {
  assert.equal(recallFilter(["workspace:o'brien", 'global'], ['cases']), "scope IN ('workspace:o''brien', 'global') AND category IN ('cases')");
  assert.equal(recallFilter(undefined, undefined), undefined);
  assert.equal(recallFilter([], undefined), 'false');
});

test('the no-index BM25 fallback ranks by shared stems and ignores stop words', () => {
  const docs = [
    { id: '1', text: 'Deploying the API to staging' },
    { id: '2', text: 'The cat sat on the mat' },
    { id: '3', text: 'API deployment happens on Fridays; deploy carefully' },
  ];
  const top = bm25Rank('deploy api', docs, 5);
  assert.deepEqual(top.map((t) => t.id).sort(), ['1', '3']);
  assert.deepEqual(bm25Rank('the of and', docs, 5), []);
});
