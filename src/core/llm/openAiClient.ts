import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, type ClientOptions } from 'openai';
import { errorMessage } from '../errors';
import { nullLogger, type Logger } from '../log';

/**
 * The one HTTP client for OpenAI-compatible endpoints (OpenAI, Ollama, LM Studio, vLLM, proxies),
 * used by the embedder (`POST /embeddings`) and the enricher (`POST /chat/completions`). It is the
 * official `openai` package, configured in one place:
 *
 * - retries, backoff and `Retry-After` are the SDK's (timeouts, connection errors, 408/409/429/5xx);
 * - the timeout is per attempt and covers reading the reply body;
 * - a reply body larger than `maxReplyBytes` is refused while it streams in (a runaway server must not
 *   exhaust memory). The SDK has no such limit: it reads every body whole with `response.text()`, so
 *   this one piece is ours, a `fetch` wrapper that only counts bytes;
 * - every failure becomes one `OpenAiFailure`; callers turn it into their own error class;
 * - the API key is removed from every string that leaves this module: failure details and log lines.
 */
export interface OpenAiClientOptions {
  /** e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1`; the endpoint path is appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …`; without one no Authorization header is sent (local servers). */
  apiKey?: string;
  /** Per attempt, including reading the reply. */
  timeoutMs: number;
  /** Attempts after the first one, for the failures the SDK considers transient. */
  retries: number;
  maxReplyBytes: number;
  logger?: Logger;
}

/** Token counts as the endpoint reported them (absent when it reports none, as some local servers do). */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export type OpenAiFailure =
  /** The endpoint answered with an error status. `retryable`: the SDK retried it until it gave up. `detail` is the server's message, redacted. */
  | { kind: 'http'; status: number; retryable: boolean; detail: string }
  | { kind: 'timeout' }
  /** The request could not be sent or the connection broke; `reason` is redacted. */
  | { kind: 'network'; reason: string }
  | { kind: 'too-large'; limit: number; declared?: number }
  /** A 2xx reply whose body is not JSON; `sample` is redacted. */
  | { kind: 'invalid-json'; sample: string }
  | { kind: 'cancelled' };

export type OpenAiResult<T> =
  | { ok: true; value: T; usage?: TokenUsage; attempts: number }
  | { ok: false; failure: OpenAiFailure; attempts: number };

export interface EmbeddingsRequest {
  model: string;
  input: string[];
  dimensions?: number;
}

export interface ChatRequest {
  model: string;
  messages: Array<{ role: 'system' | 'user'; content: string }>;
  temperature?: number;
  /** Structured output: `json_schema` (strict), `json_object`, or nothing. */
  responseFormat?: { type: 'json_schema'; name: string; schema: Record<string, unknown> } | { type: 'json_object' };
}

export interface ChatReply {
  content: unknown;
  refusal: unknown;
  finishReason: unknown;
}

const REDACTED = '[redacted]';
/** Shorter "keys" are placeholders (Ollama users often send "x"); replacing them would garble every message. */
const MIN_REDACTED_KEY_CHARS = 4;

/** Replaces the key (as sent, JSON-escaped and URL-encoded), bearer tokens, `sk-…` keys and URL credentials. */
export function redactor(apiKey: string | undefined): (text: string) => string {
  const forms = apiKey && apiKey.length >= MIN_REDACTED_KEY_CHARS
    ? [...new Set([apiKey, apiKey.trim(), JSON.stringify(apiKey).slice(1, -1), encodeURIComponent(apiKey)])].filter((f) => f.length >= MIN_REDACTED_KEY_CHARS)
    : [];
  return (text) => {
    let out = text;
    for (const form of forms) out = out.split(form).join(REDACTED);
    return out
      .replace(/\b(Bearer|Basic)\s+(?!\[redacted\])[^\s"',;]+/gi, `$1 ${REDACTED}`)
      .replace(/\bsk-[A-Za-z0-9_-]{8,}/g, REDACTED)
      .replace(/\/\/[^/@\s]+@/g, `//${REDACTED}@`);
  };
}

/** The base URL as errors and views show it: no credentials, no query (where some gateways take a key). */
export function endpointLabel(baseUrl: string): string {
  try {
    const url = new URL(baseUrl);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.href.replace(/\/+$/, '');
  } catch {
    return redactor(undefined)(baseUrl);
  }
}

/** Thrown from inside the reply stream when the body passes the limit; classified as `too-large`. */
class ReplyTooLargeError extends Error {
  constructor(readonly limit: number, readonly declared?: number) {
    super(declared === undefined ? `reply larger than ${limit} bytes` : `reply of ${declared} bytes, larger than ${limit}`);
  }
}

/** Counts the attempts of one call: it rides in the call's fetch options, which the SDK hands to every attempt's fetch. */
const ATTEMPTS = Symbol('memoryLane.attempts');
interface AttemptCounter { n: number }

export class OpenAiClient {
  readonly endpoint: string;
  readonly redact: (text: string) => string;
  /** The logger every caller of this endpoint writes through: redacted. */
  readonly log: Logger;
  /** Requests sent, retries included (diagnostics and tests). */
  requests = 0;
  private readonly sdk: OpenAI;

  constructor(options: OpenAiClientOptions) {
    this.redact = redactor(options.apiKey);
    // Redacted too: callers put it in their messages, and a gateway may carry the key in its path.
    this.endpoint = this.redact(endpointLabel(options.baseUrl));
    this.log = redactingLogger(options.logger ?? nullLogger, this.redact);
    const hasKey = !!options.apiKey;
    this.sdk = new OpenAI({
      baseURL: options.baseUrl.replace(/\/+$/, ''),
      // The SDK refuses to start without a key; a keyless local server gets none on the wire (the header is removed below).
      apiKey: hasKey ? options.apiKey! : 'no-key',
      ...(hasKey ? {} : { defaultHeaders: { Authorization: null } }),
      // Explicit nulls, so OPENAI_ORG_ID, OPENAI_PROJECT_ID, OPENAI_ADMIN_KEY or OPENAI_LOG meant for
      // another tool never reach a third-party endpoint or our logs.
      organization: null,
      project: null,
      adminAPIKey: null,
      webhookSecret: null,
      timeout: options.timeoutMs,
      maxRetries: Math.max(0, options.retries),
      fetch: this.cappedFetch(options.maxReplyBytes),
      logger: sdkLogger(this.log, this.endpoint),
      logLevel: 'info',
    });
  }

  /** `POST {baseUrl}/embeddings` with float vectors; returns the parsed reply for the caller to validate. */
  embeddings(request: EmbeddingsRequest, signal?: AbortSignal): Promise<OpenAiResult<unknown>> {
    return this.call(signal, (requestOptions) => this.sdk.embeddings.create({
      model: request.model,
      input: request.input,
      encoding_format: 'float',
      ...(request.dimensions !== undefined ? { dimensions: request.dimensions } : {}),
    }, requestOptions));
  }

  /** `POST {baseUrl}/chat/completions`, one choice. */
  async chat(request: ChatRequest, signal?: AbortSignal): Promise<OpenAiResult<ChatReply>> {
    const format = request.responseFormat;
    const result = await this.call(signal, (requestOptions) => this.sdk.chat.completions.create({
      model: request.model,
      messages: request.messages,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(format?.type === 'json_schema' ? { response_format: { type: 'json_schema' as const, json_schema: { name: format.name, strict: true, schema: format.schema } } } : {}),
      ...(format?.type === 'json_object' ? { response_format: { type: 'json_object' as const } } : {}),
    }, requestOptions));
    if (!result.ok) return result;
    const choice = (result.value as { choices?: Array<{ message?: { content?: unknown; refusal?: unknown }; finish_reason?: unknown }> } | undefined)?.choices?.[0];
    return { ...result, value: { content: choice?.message?.content, refusal: choice?.message?.refusal, finishReason: choice?.finish_reason } };
  }

  private async call(signal: AbortSignal | undefined, send: (requestOptions: OpenAI.RequestOptions) => PromiseLike<unknown>): Promise<OpenAiResult<unknown>> {
    const counter: AttemptCounter = { n: 0 };
    let reply: unknown;
    try {
      reply = await send({ ...(signal ? { signal } : {}), fetchOptions: { [ATTEMPTS]: counter } as OpenAI.RequestOptions['fetchOptions'] });
    } catch (err) {
      return { ok: false, failure: this.classify(err, signal), attempts: counter.n };
    }
    // A server that labels its JSON text/plain gets a string back from the SDK.
    if (typeof reply === 'string') {
      const text = reply;
      try {
        reply = JSON.parse(text);
      } catch {
        return { ok: false, failure: { kind: 'invalid-json', sample: this.redact(text.slice(0, 120)) }, attempts: counter.n };
      }
    }
    const usage = readUsage(reply);
    return { ok: true, value: reply, ...(usage ? { usage } : {}), attempts: counter.n };
  }

  /** The one place that knows the SDK's error types. */
  private classify(err: unknown, signal: AbortSignal | undefined): OpenAiFailure {
    if (signal?.aborted || err instanceof APIUserAbortError) return { kind: 'cancelled' };
    if (err instanceof ReplyTooLargeError) return { kind: 'too-large', limit: err.limit, ...(err.declared !== undefined ? { declared: err.declared } : {}) };
    if (err instanceof APIConnectionTimeoutError) return { kind: 'timeout' };
    if (err instanceof APIConnectionError) return { kind: 'network', reason: this.redact(networkReason(err.cause ?? err)) };
    if (err instanceof APIError && typeof err.status === 'number') {
      const status = err.status;
      return { kind: 'http', status, retryable: status === 408 || status === 409 || status === 429 || status >= 500, detail: this.redact(serverDetail(err)) };
    }
    if (err instanceof SyntaxError) return { kind: 'invalid-json', sample: this.redact(err.message.slice(0, 160)) };
    // A body cut off mid-read, or a request fetch refused to build (a key with a line break in it).
    return { kind: 'network', reason: this.redact(networkReason(err)) };
  }

  /** Global fetch, counting attempts and refusing a reply body past the limit without buffering it. */
  private cappedFetch(maxBytes: number): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
    return async (input, init) => {
      this.requests++;
      const counter = (init as { [ATTEMPTS]?: AttemptCounter } | undefined)?.[ATTEMPTS];
      if (counter) counter.n++;
      const res = await fetch(input, init);
      if (!res.body) return res;
      const declaredHeader = res.headers.get('content-length');
      const declared = declaredHeader === null ? NaN : Number(declaredHeader);
      let total = 0;
      const limiter = new TransformStream<Uint8Array, Uint8Array>({
        start(controller) {
          if (declared > maxBytes) controller.error(new ReplyTooLargeError(maxBytes, declared));
        },
        transform(chunk, controller) {
          total += chunk.byteLength;
          if (total > maxBytes) controller.error(new ReplyTooLargeError(maxBytes));
          else controller.enqueue(chunk);
        },
      });
      return new Response(res.body.pipeThrough(limiter), { status: res.status, statusText: res.statusText, headers: res.headers });
    };
  }
}

/** The server's own message: servers put it in `error.message`, `error`, `detail` or `message`, or send plain text. */
function serverDetail(err: APIError): string {
  const body = err.error as { message?: unknown; detail?: unknown; error?: unknown } | string | undefined;
  let msg: unknown;
  if (typeof body === 'string') msg = body;
  else if (body && typeof body === 'object') {
    const inner = body.error as { message?: unknown } | string | undefined;
    msg = body.message ?? body.detail ?? (typeof inner === 'object' ? inner?.message : inner) ?? JSON.stringify(body);
  } else {
    // Not JSON: the SDK's message is "<status> <body text>", or "<status> status code (no body)".
    msg = err.message.replace(/^\d{3}\s+/, '').replace(/^status code \(no body\)$/, '');
  }
  return (typeof msg === 'string' ? msg : JSON.stringify(msg)).replace(/\s+/g, ' ').trim().slice(0, 300);
}

/** The innermost cause names what went wrong (`ECONNREFUSED`, `UND_ERR_SOCKET`); "fetch failed" says nothing. */
function networkReason(err: unknown): string {
  let deepest = err as { cause?: unknown; code?: unknown; message?: unknown } | undefined;
  for (let i = 0; i < 8 && deepest?.cause && typeof deepest.cause === 'object'; i++) deepest = deepest.cause as typeof deepest;
  const code = typeof deepest?.code === 'string' ? deepest.code : undefined;
  const message = typeof deepest?.message === 'string' ? deepest.message : errorMessage(err);
  return code ? `${code}${message && message !== code ? ` (${message})` : ''}` : message;
}

function readUsage(reply: unknown): TokenUsage | undefined {
  const u = (reply as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown; total_tokens?: unknown } } | undefined)?.usage;
  if (!u || typeof u !== 'object') return undefined;
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return { promptTokens: n(u.prompt_tokens), completionTokens: n(u.completion_tokens), totalTokens: n(u.total_tokens) || n(u.prompt_tokens) + n(u.completion_tokens) };
}

function redactingLogger(base: Logger, redact: (text: string) => string): Logger {
  return {
    trace: (m) => base.trace(redact(m)),
    debug: (m) => base.debug(redact(m)),
    info: (m) => base.info(redact(m)),
    warn: (m) => base.warn(redact(m)),
    error: (m) => base.error(redact(m)),
  };
}

/** The SDK's lines at our levels: its retries at debug (they explain a slow call), one line per request at trace. */
function sdkLogger(log: Logger, endpoint: string): ClientOptions['logger'] {
  const line = (args: unknown[]) => `openai ${endpoint}: ` + args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' ');
  return {
    error: (...args: unknown[]) => log.error(line(args)),
    warn: (...args: unknown[]) => log.warn(line(args)),
    info: (...args: unknown[]) => { const l = line(args); if (/retrying|no more retries/.test(l)) log.debug(l); else log.trace(l); },
    debug: (...args: unknown[]) => log.trace(line(args)),
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
