import { EnrichmentError, type Enricher, type Enrichment, type EnrichmentInput } from './enricher';
import { DEFAULT_REPLY_LIMITS, ENRICHMENT_JSON_SCHEMA, enrichmentMessages, parseEnrichmentReply, type ReplyLimits } from './enrichmentReply';

export interface OpenAiCompatibleEnricherOptions {
  /** e.g. `http://127.0.0.1:11434/v1` or `https://api.openai.com/v1`; `/chat/completions` is appended. */
  baseUrl: string;
  model: string;
  /** From SecretStorage or an environment variable; sent as a bearer token, never logged or put in errors. */
  apiKey?: string;
  /** Per request. */
  timeoutMs?: number;
  /** Extra attempts after a timeout, a network error, 408, 429 or 5xx. */
  retries?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Entries in flight at once. */
  concurrency?: number;
  /** A reply body larger than this is cut off and refused (a runaway model must not exhaust memory). */
  maxReplyBytes?: number;
  /** `json_schema` (strict structured output), `json_object` (older servers), or `none`. */
  structuredOutput?: 'json_schema' | 'json_object' | 'none';
  /**
   * After this many entries in a row failed to reach the endpoint, stop calling it for `cooldownMs`
   * and fail fast (the caller falls back): 10k entries must not each wait out a dead endpoint.
   */
  breakAfterFailures?: number;
  cooldownMs?: number;
  limits?: Partial<ReplyLimits>;
  maxInputChars?: number;
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal.aborted) return reject(signal.reason);
  const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(timer); reject(signal.reason); };
  signal.addEventListener('abort', onAbort, { once: true });
});

/** Enrichment through any OpenAI-compatible `/chat/completions` endpoint (OpenAI, Azure-compatible proxies, Ollama, LM Studio, vLLM…). */
export class OpenAiCompatibleEnricher implements Enricher {
  readonly provider = 'openai-compatible';
  readonly model: string;
  readonly concurrency: number;
  private readonly url: string;
  private readonly o: Required<Omit<OpenAiCompatibleEnricherOptions, 'apiKey' | 'limits'>> & { apiKey?: string; limits: ReplyLimits };
  private consecutiveFailures = 0;
  private openUntil = 0;
  private lastFailure = '';
  /** Requests sent (including retries); for progress and tests. */
  requests = 0;

  constructor(options: OpenAiCompatibleEnricherOptions) {
    if (!/^https?:\/\//i.test(options.baseUrl)) throw new EnrichmentError(`enrichment endpoint ${JSON.stringify(options.baseUrl)} is not an http(s) URL`);
    if (!options.model?.trim()) throw new EnrichmentError('an enrichment model name is required for the openai-compatible provider');
    this.model = options.model;
    this.url = options.baseUrl.replace(/\/+$/, '') + '/chat/completions';
    this.o = {
      baseUrl: options.baseUrl,
      model: options.model,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs ?? 30_000,
      retries: options.retries ?? 2,
      backoffMs: options.backoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 8_000,
      concurrency: options.concurrency ?? 4,
      maxReplyBytes: options.maxReplyBytes ?? 256 * 1024,
      structuredOutput: options.structuredOutput ?? 'json_schema',
      breakAfterFailures: options.breakAfterFailures ?? 5,
      cooldownMs: options.cooldownMs ?? 60_000,
      limits: { ...DEFAULT_REPLY_LIMITS, ...options.limits },
      maxInputChars: options.maxInputChars ?? 12_000,
    };
    this.concurrency = Math.max(1, this.o.concurrency);
  }

  async enrich(input: EnrichmentInput, signal: AbortSignal): Promise<Enrichment> {
    if (this.consecutiveFailures >= this.o.breakAfterFailures && Date.now() < this.openUntil) {
      throw new EnrichmentError(`endpoint skipped after ${this.consecutiveFailures} failures in a row (last: ${this.lastFailure})`);
    }
    let content: string;
    try {
      content = await this.requestWithRetries(input, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof EnrichmentError && err.transport) {
        this.consecutiveFailures++;
        this.lastFailure = err.reason;
        if (this.consecutiveFailures >= this.o.breakAfterFailures) this.openUntil = Date.now() + this.o.cooldownMs;
      }
      throw err;
    }
    this.consecutiveFailures = 0;
    const parsed = parseEnrichmentReply(content, this.o.limits);
    if (!parsed.ok) throw new EnrichmentError(parsed.reason);
    return { ...parsed.value, confidence: parsed.value.confidence ?? 0.7, provider: this.provider, model: this.model };
  }

  private async requestWithRetries(input: EnrichmentInput, signal: AbortSignal): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.requestOnce(input, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        if (!(err instanceof EnrichmentError) || !err.retryable || attempt >= this.o.retries) {
          if (err instanceof EnrichmentError && attempt > 0) throw new EnrichmentError(`${err.reason} (after ${attempt + 1} attempts)`, { transport: err.transport, cause: err });
          throw err;
        }
        const backoff = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** attempt) * (0.5 + Math.random() * 0.5);
        await sleep(Math.min(this.o.maxBackoffMs, Math.max(backoff, err.retryAfterMs ?? 0)), signal);
      }
    }
  }

  private async requestOnce(input: EnrichmentInput, signal: AbortSignal): Promise<string> {
    this.requests++;
    const body: Record<string, unknown> = {
      model: this.model,
      temperature: 0,
      messages: enrichmentMessages(input, this.o.maxInputChars),
    };
    if (this.o.structuredOutput === 'json_schema') {
      body.response_format = { type: 'json_schema', json_schema: { name: 'memory_enrichment', strict: true, schema: ENRICHMENT_JSON_SCHEMA } };
    } else if (this.o.structuredOutput === 'json_object') {
      body.response_format = { type: 'json_object' };
    }
    const timeout = AbortSignal.timeout(this.o.timeoutMs);
    const combined = AbortSignal.any([signal, timeout]);
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}) },
        body: JSON.stringify(body),
        signal: combined,
      });
    } catch (err) {
      if (signal.aborted) throw err;
      if (timeout.aborted) throw new EnrichmentError(`timed out after ${this.o.timeoutMs} ms`, { retryable: true, transport: true });
      throw new EnrichmentError(`cannot reach the endpoint (${networkReason(err)})`, { retryable: true, transport: true });
    }
    let text: string;
    try {
      text = await readCapped(res, this.o.maxReplyBytes);
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof EnrichmentError) throw err;
      if (timeout.aborted) throw new EnrichmentError(`timed out after ${this.o.timeoutMs} ms while reading the reply`, { retryable: true, transport: true });
      throw new EnrichmentError(`reply interrupted (${networkReason(err)})`, { retryable: true, transport: true });
    }
    if (!res.ok) {
      const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
      const detail = errorDetail(text);
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new EnrichmentError(`HTTP ${res.status}${res.status === 401 || res.status === 403 ? ' (check the API key)' : ''}${detail ? `: ${detail}` : ''}`, {
        retryable,
        transport: true,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      });
    }
    let reply: { choices?: Array<{ message?: { content?: unknown; refusal?: unknown }; finish_reason?: string }> };
    try {
      reply = JSON.parse(text) as typeof reply;
    } catch {
      throw new EnrichmentError(`endpoint returned invalid JSON: ${JSON.stringify(text.slice(0, 60))}`);
    }
    const choice = reply?.choices?.[0];
    if (typeof choice?.message?.refusal === 'string' && choice.message.refusal) throw new EnrichmentError(`model refused: ${choice.message.refusal.slice(0, 120)}`);
    if (choice?.finish_reason === 'length') throw new EnrichmentError('reply was cut off at the token limit (finish_reason "length")');
    if (typeof choice?.message?.content !== 'string') throw new EnrichmentError('reply has no choices[0].message.content');
    return choice.message.content;
  }
}

async function readCapped(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new EnrichmentError(`reply too large (${declared} bytes; the limit is ${maxBytes})`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new EnrichmentError(`reply too large (more than ${maxBytes} bytes)`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
}

function errorDetail(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const msg = typeof parsed.error === 'string' ? parsed.error : parsed.error?.message ?? parsed.message;
    if (typeof msg === 'string') return msg.slice(0, 160);
  } catch { /* not JSON */ }
  return body.replace(/\s+/g, ' ').trim().slice(0, 160);
}
