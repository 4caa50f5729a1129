import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { CachingEmbedder } from '../../src/core/embedding/cachingEmbedder';
import { EmbeddingAuthError, EmbeddingModelNotFoundError, EmbeddingRequestError, EmbeddingTimeoutError } from '../../src/core/embedding/errors';
import { createEmbedder } from '../../src/core/embedding/factory';
import { OpenAICompatibleEmbedder, type ChunkReport } from '../../src/core/embedding/openaiEmbedder';
import { CancelledError, DimensionMismatchError } from '../../src/core/errors';
import { MemoryService } from '../../src/core/memoryService';
import { deferCleanup, tempDir } from '../helpers/tempStore';

const KEY = 'sk-test-0123456789abcdefSECRET';

interface Seen { auth?: string; body: { model: string; input: string[]; dimensions?: number } }
type Handler = (req: Seen, res: ServerResponse, n: number) => void | Promise<void>;

/** A stand-in for POST /v1/embeddings on 127.0.0.1, port 0. */
async function stub(t: TestContext, handler: Handler): Promise<{ baseUrl: string; requests: Seen[] }> {
  const requests: Seen[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    if (req.method !== 'POST' || req.url !== '/v1/embeddings') { res.writeHead(404).end(JSON.stringify({ error: { message: `no route ${req.url}` } })); return; }
    const seen: Seen = { auth: req.headers.authorization, body: JSON.parse(raw) };
    requests.push(seen);
    await handler(seen, res, requests.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, requests };
}

/** A deterministic vector that encodes the text's length and first char, so order can be checked. */
function vectorFor(text: string, dim: number): number[] {
  return Array.from({ length: dim }, (_, i) => (i === 0 ? text.length : i === 1 ? text.charCodeAt(0) : Math.sin(text.length + i)));
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function embeddings(input: string[], dim: number, shuffle = false) {
  const data = input.map((text, index) => ({ object: 'embedding', index, embedding: vectorFor(text, dim) }));
  if (shuffle) data.reverse();
  return { object: 'list', model: 'stub', data };
}

const noKey = (e: Error) => !e.message.includes(KEY) && !e.message.includes('SECRET');

test('happy path: key, model and dimensions are sent; vectors come back in input order, normalised; a service runs on it', async (t) => {
  const { baseUrl, requests } = await stub(t, (req, res) => reply(res, 200, embeddings(req.body.input, 16, true)));
  const e = new OpenAICompatibleEmbedder({ baseUrl, model: 'text-embedding-3-small', dimensions: 16, apiKey: KEY });
  assert.equal(e.id, 'openai:text-embedding-3-small@16');
  const out = await e.embed(['a', 'bbb', 'cc']);
  assert.equal(requests.length, 1);
  assert.equal(requests[0]!.auth, `Bearer ${KEY}`);
  assert.deepEqual(requests[0]!.body.input, ['a', 'bbb', 'cc']);
  assert.equal(requests[0]!.body.model, 'text-embedding-3-small');
  assert.equal(requests[0]!.body.dimensions, 16);
  const lengths = out.map((v) => v[0]! / v[1]! * 'a'.charCodeAt(0));
  assert.ok(Math.abs(out[1]![0]! / out[1]![1]! - 3 / 98) < 1e-9 && Math.abs(out[0]![0]! / out[0]![1]! - 1 / 97) < 1e-9, `order kept: ${lengths}`);
  for (const v of out) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-9);

  const memory = await MemoryService.open({ dir: tempDir(t), embedding: { kind: 'openai', baseUrl, model: 'text-embedding-3-small', dimensions: 16, apiKey: KEY }, vectorIndex: { auto: false } });
  deferCleanup(t, () => memory.close());
  assert.equal(memory.memoryStore.meta.embedder, 'openai:text-embedding-3-small@16');
  const { id } = await memory.store({ text: 'Stub-embedded memory about invoices' });
  assert.deepEqual((await memory.recall('invoices')).results.map((r) => r.id), [id]);
});

test('without configured dimensions one probe request learns them, and no dimensions field is sent', async (t) => {
  const { baseUrl, requests } = await stub(t, (req, res) => reply(res, 200, embeddings(req.body.input, 12)));
  const e = await createEmbedder({ kind: 'openai', baseUrl, model: 'nomic-embed-text' });
  assert.equal(e.dim, 12);
  assert.equal(e.id, 'openai:nomic-embed-text@12');
  assert.equal(requests.length, 1);
  assert.equal(requests[0]!.body.dimensions, undefined);
});

test('401 names the key problem without the key, and is not retried', async (t) => {
  const { baseUrl, requests } = await stub(t, (_req, res) => reply(res, 401, { error: { message: `Incorrect API key provided: ${KEY}` } }));
  const e = new OpenAICompatibleEmbedder({ baseUrl, model: 'm', dimensions: 8, apiKey: KEY });
  await assert.rejects(e.embed(['x']), (err: Error) => {
    assert.ok(err instanceof EmbeddingAuthError);
    assert.equal((err as EmbeddingAuthError).code, 'E_EMBED_AUTH');
    assert.match(err.message, /rejected the API key \(HTTP 401/);
    assert.match(err.message, /MEMORY_LANE_EMBEDDING_API_KEY/);
    assert.ok(noKey(err), err.message);
    return true;
  });
  assert.equal(requests.length, 1);
});

test('404 says the model or the base URL is wrong', async (t) => {
  const { baseUrl } = await stub(t, (_req, res) => reply(res, 404, { error: { message: 'model "nomic-embed-txt" not found, try pulling it first' } }));
  await assert.rejects(new OpenAICompatibleEmbedder({ baseUrl, model: 'nomic-embed-txt', dimensions: 8 }).embed(['x']), (err: Error) =>
    err instanceof EmbeddingModelNotFoundError && /nomic-embed-txt/.test(err.message) && /end in \/v1/.test(err.message));
  await assert.rejects(new OpenAICompatibleEmbedder({ baseUrl: baseUrl.replace('/v1', ''), model: 'm', dimensions: 8 }).embed(['x']), EmbeddingModelNotFoundError);
});

test('a wrong dimension from the endpoint is a DimensionMismatchError naming both', async (t) => {
  const { baseUrl } = await stub(t, (req, res) => reply(res, 200, embeddings(req.body.input, 8)));
  await assert.rejects(new OpenAICompatibleEmbedder({ baseUrl, model: 'small', dimensions: 16 }).embed(['x']), (err: Error) => {
    assert.ok(err instanceof DimensionMismatchError);
    assert.equal((err as DimensionMismatchError).code, 'E_DIMENSION');
    assert.equal((err as DimensionMismatchError).expected, 16);
    assert.equal((err as DimensionMismatchError).actual, 8);
    assert.match(err.message, /dimension 8, but dimension 16 was expected/);
    return true;
  });
  // A store made with 16 dimensions, opened with a model that gives 8: flagged for re-embedding, never mixed.
  const dir = tempDir(t);
  const big = await MemoryService.open({ dir, embedding: { kind: 'local', dim: 16 }, vectorIndex: { auto: false } });
  await big.close();
  const memory = await MemoryService.open({ dir, embedding: { kind: 'openai', baseUrl, model: 'small', dimensions: 8 }, vectorIndex: { auto: false } });
  deferCleanup(t, () => memory.close());
  assert.equal(memory.embedderStatus.needsReembed, true);
  assert.equal(memory.embedderStatus.active, 'local:fh1@16');
});

test('a slow endpoint times out after the configured retries with a clear error', async (t) => {
  const { baseUrl, requests } = await stub(t, async (req, res) => {
    await new Promise((r) => setTimeout(r, 3000));
    if (!res.destroyed) reply(res, 200, embeddings(req.body.input, 8));
  });
  const e = new OpenAICompatibleEmbedder({ baseUrl, model: 'm', dimensions: 8, timeoutMs: 150, retries: 1 });
  const started = Date.now();
  await assert.rejects(e.embed(['x']), (err: Error) => err instanceof EmbeddingTimeoutError && /did not answer within 150 ms \(2 attempts\)/.test(err.message));
  assert.ok(Date.now() - started < 2000, `gave up in ${Date.now() - started} ms`);
  assert.equal(requests.length, 2);
  const ac = new AbortController();
  const pending = new OpenAICompatibleEmbedder({ baseUrl, model: 'm', dimensions: 8, timeoutMs: 10_000 }).embed(['y'], { signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(pending, CancelledError);
});

test('429 and 5xx are retried with backoff (Retry-After honoured); other 4xx are not', async (t) => {
  const { baseUrl, requests } = await stub(t, (req, res, n) => {
    if (n === 1) return reply(res, 429, { error: { message: 'rate limited' } }, { 'retry-after': '0' });
    if (n === 2) return reply(res, 503, { error: 'overloaded' });
    return reply(res, 200, embeddings(req.body.input, 8));
  });
  const out = await new OpenAICompatibleEmbedder({ baseUrl, model: 'm', dimensions: 8 }).embed(['x']);
  assert.equal(out.length, 1);
  assert.equal(requests.length, 3);
  const bad = await stub(t, (_req, res) => reply(res, 400, { error: { message: 'unsupported encoding' } }));
  await assert.rejects(new OpenAICompatibleEmbedder({ baseUrl: bad.baseUrl, model: 'm', dimensions: 8 }).embed(['x']), (err: Error) =>
    err instanceof EmbeddingRequestError && /HTTP 400: unsupported encoding/.test(err.message));
  assert.equal(bad.requests.length, 1);
});

test('a huge batch is split into several requests of at most maxBatchSize, order preserved, duplicates sent once', async (t) => {
  const { baseUrl, requests } = await stub(t, (req, res) => reply(res, 200, embeddings(req.body.input, 8)));
  const e = new CachingEmbedder(new OpenAICompatibleEmbedder({ baseUrl, model: 'm', dimensions: 8, maxBatchSize: 64 }));
  const texts = Array.from({ length: 1000 }, (_, i) => 'x'.repeat(1 + (i % 500)));
  const out = await e.embed(texts);
  assert.equal(out.length, 1000);
  assert.ok(requests.every((r) => r.body.input.length <= 64));
  assert.equal(requests.reduce((s, r) => s + r.body.input.length, 0), 500, 'the 500 distinct texts, each sent once');
  assert.equal(requests.length, Math.ceil(500 / 64));
  out.forEach((v, i) => assert.ok(Math.abs(v[0]! / v[1]! - (1 + (i % 500)) / 120) < 1e-9, `vector ${i} belongs to its text`));
});

test('a text longer than the model context is chunked, embedded and averaged, and reported', async (t) => {
  const { baseUrl, requests } = await stub(t, (req, res) => {
    if (req.body.input.some((s) => s.length > 300)) return reply(res, 400, { error: { message: "This model's maximum context length is 100 tokens" } });
    return reply(res, 200, embeddings(req.body.input, 8));
  });
  const e = new OpenAICompatibleEmbedder({ baseUrl, model: 'm', dimensions: 8 });
  const reports: ChunkReport[] = [];
  e.onChunked = (r) => reports.push(...r);
  const long = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
  const out = await e.embed(['short one', long, 'short two']);
  assert.equal(out.length, 3);
  for (const v of out) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-9);
  assert.equal(reports.length, 1);
  assert.equal(reports[0]!.index, 1);
  assert.ok(reports[0]!.chunks >= 3, JSON.stringify(reports));
  const refused = requests.filter((r) => r.body.input.some((s) => s.length > 300)).length;
  assert.ok(refused <= 3, `the chunk size is halved per refusal, not retried blindly (${refused} refusals in ${requests.length} requests)`);
  const before = requests.length;
  await e.embed([long]);
  assert.equal(requests.length, before + 1, 'the learned input limit is reused: one request, no refusal');
});
