import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CachingEmbedder } from '../../src/core/embedding/cachingEmbedder';
import { cosine, type Embedder } from '../../src/core/embedding/embedder';
import { LOCAL_DEFAULT_DIM, LocalEmbedder, parseLocalEmbedderId } from '../../src/core/embedding/localEmbedder';
import { splitText } from '../../src/core/embedding/openaiEmbedder';
import { analyze, stem } from '../../src/core/embedding/textFeatures';
import { CancelledError } from '../../src/core/errors';

test('the light stemmer conflates inflections, British spellings and common derivations', () => {
  const same = [
    ['deploying', 'deployed', 'deploys', 'deployment'],
    ['optimise', 'optimize', 'optimizing', 'optimization'],
    ['migrate', 'migration', 'migrated'],
    ['serialize', 'serialization', 'serializing'],
    ['dependencies', 'dependency'],
    ['configuration', 'configure'],
    ['retries', 'retry'],
    ['caching', 'cache', 'cached'],
  ];
  for (const group of same) assert.equal(new Set(group.map(stem)).size, 1, `${group.join(', ')} → ${group.map(stem).join(', ')}`);
  assert.equal(stem('user'), 'user');
  assert.equal(stem('status'), 'status');
  assert.equal(stem('api'), 'api');
});

test('analysis splits identifiers, joins open compounds and expands developer abbreviations', () => {
  const words = (text: string) => { const a = analyze(text); return [...a.tokens, ...a.extras].map((t) => t.word); };
  assert.deepEqual(analyze('getUserById').tokens.map((t) => t.word), ['get', 'user', 'by', 'id']);
  assert.ok(words('getUserById').includes('getuserbyid'));
  assert.ok(words('node_modules cache').includes('node') && words('node_modules cache').includes('modules'));
  assert.ok(words('the front-end bundle').includes('frontend'));
  assert.ok(analyze('a hot fix').extras.some((t) => t.stem === stem('hotfix')));
  assert.ok(words('k8s staging').includes('kubernetes'));
  assert.ok(words('the CI pipeline').includes('continuous'));
  assert.ok(words('Café déjà vu').includes('cafe'));
});

test('the local embedder is deterministic, unit length and of its declared dimension', async () => {
  const e = new LocalEmbedder();
  assert.equal(e.dim, LOCAL_DEFAULT_DIM);
  assert.equal(e.id, `local:fh1@${LOCAL_DEFAULT_DIM}`);
  assert.deepEqual(parseLocalEmbedderId(e.id), { version: 'fh1', dim: LOCAL_DEFAULT_DIM });
  const [a, b] = await e.embed(['The user prefers tabs over spaces', 'The user prefers tabs over spaces']);
  assert.deepEqual(a, b);
  assert.equal(a!.length, LOCAL_DEFAULT_DIM);
  assert.ok(Math.abs(Math.hypot(...a!) - 1) < 1e-9);
  assert.equal(new LocalEmbedder(64).embedOne('hello world').length, 64);
});

test('the local embedder ranks shared stems, word parts and compounds above unrelated text', () => {
  const e = new LocalEmbedder();
  const sim = (x: string, y: string) => cosine(e.embedOne(x), e.embedOne(y));
  const pairs: Array<[string, string, string]> = [
    ['Postgres migration for billing', 'The team decided to move the billing service from MySQL to PostgreSQL', 'Prefer functional React components with hooks'],
    ['keep alive for web sockets', 'The websocket server dropped connections until keepalive pings were enabled', 'Stripe handles card payments'],
    ['docker file multi stage', 'The Dockerfile for the API uses a multi-stage build', 'Timezone bugs in the report scheduler'],
  ];
  for (const [q, related, unrelated] of pairs) {
    assert.ok(sim(q, related) > sim(q, unrelated) + 0.1, `${q}: ${sim(q, related).toFixed(3)} vs ${sim(q, unrelated).toFixed(3)}`);
  }
});

test('texts without content words still get a non-zero vector', () => {
  const e = new LocalEmbedder();
  for (const t of ['it is what it is', '¯\\_(ツ)_/¯', '!!!', '42']) {
    const v = e.embedOne(t);
    assert.ok(v.some((x) => x !== 0), t);
  }
});

test('embedding is cancellable and yields on large batches', async () => {
  const e = new LocalEmbedder();
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(e.embed(['x'], { signal: ac.signal }), CancelledError);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  await e.embed(Array.from({ length: 2000 }, (_, i) => `memory number ${i} about deployments and databases`));
  clearInterval(timer);
  assert.ok(ticks > 0, 'the event loop ran during a 2000-text batch');
});

test('the caching wrapper de-duplicates, batches by the inner batch size and stays bounded', async () => {
  const calls: number[] = [];
  const inner: Embedder = {
    id: 'fake@4', dim: 4, kind: 'local', maxBatchSize: 3,
    async embed(texts) { calls.push(texts.length); return texts.map((t) => [t.length, 1, 0, 0]); },
  };
  const cache = new CachingEmbedder(inner, { maxBytes: 4 * 4 * 5 });
  const out = await cache.embed(['a', 'bb', 'a', 'ccc', 'dddd', 'eeeee', 'bb']);
  assert.deepEqual(out.map((v) => v[0]), [1, 2, 1, 3, 4, 5, 2]);
  assert.deepEqual(calls, [3, 2]);
  await cache.embed(['a', 'bb']);
  assert.deepEqual(calls, [3, 2], 'second call is served from the cache');
  assert.ok(cache.hits >= 2);
  await cache.embed(['f', 'g', 'h']);
  assert.ok(cache.size <= 5, `bounded to 5 entries, has ${cache.size}`);
});

test('long texts are split on sentence or word boundaries under the limit', () => {
  const text = Array.from({ length: 50 }, (_, i) => `Sentence number ${i} is here.`).join(' ');
  const parts = splitText(text, 100);
  assert.ok(parts.length > 5);
  assert.ok(parts.every((p) => p.length <= 100));
  assert.equal(parts.join(''), text);
  assert.deepEqual(splitText('short', 100), ['short']);
  assert.equal(splitText('x'.repeat(250), 100).join(''), 'x'.repeat(250));
});
