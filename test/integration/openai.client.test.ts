import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { inspect } from 'node:util';
import { EmbeddingAuthError, EmbeddingRequestError } from '../../src/core/embedding/errors';
import { OpenAICompatibleEmbedder } from '../../src/core/embedding/openaiEmbedder';
import { errorMessage } from '../../src/core/errors';
import { OpenAiClient } from '../../src/core/llm/openAiClient';
import type { Logger } from '../../src/core/log';
import { EnrichmentError, OpenAiCompatibleEnricher } from '../../src/core/upgrade';

// Not shaped like an OpenAI key (no "sk-"), so only removing the key itself can hide it.
const KEY = 'ml-test-7f3a9c1e5b2d4a6f8e0c-SECRET';

/**
 * An endpoint that gives the key back: the model name picks how. Both `/v1/embeddings` and
 * `/v1/chat/completions` behave the same, so the embedder and the enricher meet the same server.
 */
async function echoingStub(t: TestContext): Promise<{ baseUrl: string; port: number; requests: number }> {
  const state = { baseUrl: '', port: 0, requests: 0 };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    state.requests++;
    const auth = req.headers.authorization ?? '';
    const model = (JSON.parse(raw) as { model: string }).model;
    if (model === 'echo-401') {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `Incorrect API key provided: ${auth.replace(/^Bearer /, '')}` } }));
    } else if (model === 'echo-500') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`upstream failed for request with Authorization: ${auth}`);
    } else if (model === 'echo-200') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`not json; you sent ${auth}`);
    } else {
      req.socket.destroy(); // a connection reset after the request, key and all, went out
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  state.port = (server.address() as AddressInfo).port;
  state.baseUrl = `http://127.0.0.1:${state.port}/v1`;
  return state;
}

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => { lines.push(`${level} ${m}`); };
  return { logger: { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

type Client = 'embedder' | 'enricher';

/** Runs one request that must fail; returns the error and every line either client logged. */
async function fail(client: Client, o: { baseUrl: string; model: string; apiKey?: string }): Promise<{ err: unknown; lines: string[] }> {
  const { logger, lines } = capture();
  const apiKey = o.apiKey ?? KEY;
  try {
    if (client === 'embedder') {
      await new OpenAICompatibleEmbedder({ baseUrl: o.baseUrl, model: o.model, dimensions: 8, apiKey, retries: 1, timeoutMs: 5000, logger }).embed(['a memory']);
    } else {
      await new OpenAiCompatibleEnricher({ baseUrl: o.baseUrl, model: o.model, apiKey, retries: 1, timeoutMs: 5000, logger }).enrich({ id: 'm1', text: 'A memory.', category: 'other' }, new AbortController().signal);
    }
  } catch (err) {
    return { err, lines };
  }
  assert.fail(`the ${client} was expected to fail for ${o.model}`);
}

/** The key, or any line of it, in no message, no string form, no inspected form (causes included), no log line. */
function assertNoKey(err: unknown, lines: string[], key = KEY): void {
  const seen = [errorMessage(err), String(err), inspect(err, { depth: 10 }), JSON.stringify(err), ...lines];
  const pieces = [key, ...key.split('\n'), 'SECRET'];
  for (const text of seen) for (const piece of pieces) assert.ok(!text.includes(piece), `the key (${JSON.stringify(piece)}) leaked into: ${text}`);
}

for (const client of ['embedder', 'enricher'] as const) {
  test(`${client}: a server echoing the key in a 401 or a 500 body gets its message through, the key never`, async (t) => {
    const stub = await echoingStub(t);

    const unauthorized = await fail(client, { baseUrl: stub.baseUrl, model: 'echo-401' });
    assertNoKey(unauthorized.err, unauthorized.lines);
    if (client === 'embedder') assert.ok(unauthorized.err instanceof EmbeddingAuthError, errorMessage(unauthorized.err));
    else assert.ok(unauthorized.err instanceof EnrichmentError && /^HTTP 401 \(check the API key\)/.test(unauthorized.err.reason), errorMessage(unauthorized.err));
    assert.match(errorMessage(unauthorized.err), /Incorrect API key provided: \[redacted\]/, 'the server\'s words are kept');

    const before = stub.requests;
    const broken = await fail(client, { baseUrl: stub.baseUrl, model: 'echo-500' });
    assertNoKey(broken.err, broken.lines);
    assert.equal(stub.requests - before, 2, 'retried once');
    assert.match(errorMessage(broken.err), /HTTP 500: upstream failed for request with Authorization: Bearer \[redacted\] \(after 2 attempts\)/);
    assert.ok(broken.lines.some((l) => /retrying/.test(l)), `the retry is logged: ${broken.lines.join('\n')}`);

    const garbled = await fail(client, { baseUrl: stub.baseUrl, model: 'echo-200' });
    assertNoKey(garbled.err, garbled.lines);
    assert.match(errorMessage(garbled.err), /not JSON|invalid JSON/);
  });

  test(`${client}: network errors never carry the key, even when fetch quotes the request`, async (t) => {
    const stub = await echoingStub(t);

    const reset = await fail(client, { baseUrl: stub.baseUrl, model: 'reset' });
    assertNoKey(reset.err, reset.lines);
    assert.match(errorMessage(reset.err), /cannot reach the (embedding )?endpoint/i);

    // A pasted key with a line break: fetch refuses the header and quotes it whole.
    const twoLines = 'ml-test-first-half-0123\nsecond-half-4567-SECRET';
    const badHeader = await fail(client, { baseUrl: stub.baseUrl, model: 'm', apiKey: twoLines });
    assertNoKey(badHeader.err, badHeader.lines, twoLines);
    assert.match(errorMessage(badHeader.err), /invalid header value/);

    // Credentials in the base URL: fetch refuses the URL and quotes it whole.
    const withCredentials = `http://user:${KEY}@127.0.0.1:${stub.port}/v1`;
    const credentialed = await fail(client, { baseUrl: withCredentials, model: 'm' });
    assertNoKey(credentialed.err, credentialed.lines);
    assert.match(errorMessage(credentialed.err), /cannot reach the (embedding )?endpoint/i);
    if (client === 'embedder') assert.ok(credentialed.err instanceof EmbeddingRequestError);
    else assert.ok(credentialed.err instanceof EnrichmentError && credentialed.err.transport);
  });
}

test('the client reports token usage, sends no Authorization without a key, and ignores OPENAI_* variables meant for other tools', async (t) => {
  const seen: Array<Record<string, string | string[] | undefined>> = [];
  const server = createServer(async (req, res) => {
    for await (const _ of req) { /* drain */ }
    seen.push(req.headers);
    const usage = { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 };
    const body = req.url === '/v1/embeddings'
      ? { object: 'list', data: [{ index: 0, embedding: [0.1, 0.2] }], usage: { prompt_tokens: 3, total_tokens: 3 } }
      : { choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'hi' } }], usage };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  const saved = { key: process.env.OPENAI_API_KEY, org: process.env.OPENAI_ORG_ID, project: process.env.OPENAI_PROJECT_ID };
  process.env.OPENAI_API_KEY = 'ml-env-key-for-another-tool';
  process.env.OPENAI_ORG_ID = 'org-someone-else';
  process.env.OPENAI_PROJECT_ID = 'proj-someone-else';
  t.after(() => {
    for (const [name, value] of [['OPENAI_API_KEY', saved.key], ['OPENAI_ORG_ID', saved.org], ['OPENAI_PROJECT_ID', saved.project]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  const client = new OpenAiClient({ baseUrl, timeoutMs: 5000, retries: 0, maxReplyBytes: 64 * 1024 });
  const chat = await client.chat({ model: 'm', messages: [{ role: 'user', content: 'hello' }] });
  assert.ok(chat.ok);
  assert.deepEqual(chat.usage, { promptTokens: 7, completionTokens: 5, totalTokens: 12 });
  assert.equal(chat.value.content, 'hi');
  const embedded = await client.embeddings({ model: 'e', input: ['x'] });
  assert.ok(embedded.ok);
  assert.deepEqual(embedded.usage, { promptTokens: 3, completionTokens: 0, totalTokens: 3 });
  assert.equal(client.requests, 2);
  for (const headers of seen) {
    assert.equal(headers.authorization, undefined, 'no key configured: no Authorization header, not the environment\'s key');
    assert.equal(headers['openai-organization'], undefined);
    assert.equal(headers['openai-project'], undefined);
  }
});

test('a reply that declares a body over the limit is refused before it is read', async (t) => {
  const server = createServer(async (req, res) => {
    for await (const _ of req) { /* drain */ }
    // Declares 10 MB, then sends a little and stalls: a client that buffers before checking would hang here.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) });
    res.write('{"choices": [');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  const started = Date.now();
  const result = await new OpenAiClient({ baseUrl, timeoutMs: 5000, retries: 1, maxReplyBytes: 256 * 1024 }).chat({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
  assert.deepEqual(result, { ok: false, failure: { kind: 'too-large', limit: 256 * 1024, declared: 10 * 1024 * 1024 }, attempts: 1 });
  assert.ok(Date.now() - started < 2000, `refused in ${Date.now() - started} ms`);
});
