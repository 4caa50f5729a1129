import { CancelledError } from '../errors';
import { OpenAiClient, type OpenAiFailure } from '../llm/openAiClient';
import type { Logger } from '../log';
import { estimateTokens, type UsageSink } from '../usage/tokens';
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
  /** Extra attempts after a timeout, a network error, 408, 409, 429 or 5xx, with the SDK's jittered exponential backoff (0.5 s doubling to 8 s; `Retry-After` up to 60 s wins). */
  retries?: number;
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
  /** Retries are logged at debug; lines never contain the key. */
  logger?: Logger;
}

/** A reply repeats the cleaned text (L2) and adds an abstract, bullets and the JSON keys around them. */
const REPLY_OVERHEAD_CHARS = 400;

/** Enrichment through any OpenAI-compatible `/chat/completions` endpoint (OpenAI, Azure-compatible proxies, Ollama, LM Studio, vLLM…). */
export class OpenAiCompatibleEnricher implements Enricher {
  readonly provider = 'openai-compatible';
  readonly model: string;
  readonly concurrency: number;
  private readonly client: OpenAiClient;
  private readonly o: Required<Omit<OpenAiCompatibleEnricherOptions, 'apiKey' | 'limits' | 'logger'>> & { limits: ReplyLimits };
  private consecutiveFailures = 0;
  private openUntil = 0;
  private lastFailure = '';

  constructor(options: OpenAiCompatibleEnricherOptions) {
    if (!/^https?:\/\//i.test(options.baseUrl)) throw new EnrichmentError(`enrichment endpoint ${JSON.stringify(options.baseUrl)} is not an http(s) URL`);
    if (!options.model?.trim()) throw new EnrichmentError('an enrichment model name is required for the openai-compatible provider');
    this.model = options.model;
    this.o = {
      baseUrl: options.baseUrl,
      model: options.model,
      timeoutMs: options.timeoutMs ?? 30_000,
      retries: options.retries ?? 2,
      concurrency: options.concurrency ?? 4,
      maxReplyBytes: options.maxReplyBytes ?? 256 * 1024,
      structuredOutput: options.structuredOutput ?? 'json_schema',
      breakAfterFailures: options.breakAfterFailures ?? 5,
      cooldownMs: options.cooldownMs ?? 60_000,
      limits: { ...DEFAULT_REPLY_LIMITS, ...options.limits },
      maxInputChars: options.maxInputChars ?? 12_000,
    };
    this.concurrency = Math.max(1, this.o.concurrency);
    this.client = new OpenAiClient({
      baseUrl: options.baseUrl,
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
      timeoutMs: this.o.timeoutMs,
      retries: this.o.retries,
      maxReplyBytes: this.o.maxReplyBytes,
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  /** Requests sent (including retries); for progress and tests. */
  get requests(): number {
    return this.client.requests;
  }

  async enrich(input: EnrichmentInput, signal: AbortSignal, usage?: UsageSink): Promise<Enrichment> {
    if (this.consecutiveFailures >= this.o.breakAfterFailures && Date.now() < this.openUntil) {
      throw new EnrichmentError(`endpoint skipped after ${this.consecutiveFailures} failures in a row (last: ${this.lastFailure})`);
    }
    let content: string;
    try {
      content = await this.request(input, signal, usage);
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

  /** One entry's request (the client retries transient failures); its reply content, or an EnrichmentError saying why not. */
  private async request(input: EnrichmentInput, signal: AbortSignal, usage?: UsageSink): Promise<string> {
    const messages = enrichmentMessages(input, this.o.maxInputChars);
    const result = await this.client.chat({
      model: this.model,
      temperature: 0,
      messages,
      ...(this.o.structuredOutput === 'json_schema' ? { responseFormat: { type: 'json_schema' as const, name: 'memory_enrichment', schema: ENRICHMENT_JSON_SCHEMA } } : {}),
      ...(this.o.structuredOutput === 'json_object' ? { responseFormat: { type: 'json_object' as const } } : {}),
    }, signal);
    if (usage) {
      // Tokens a reply cost are spent whether or not its content turns out usable; a failed request reports none.
      const reply = result.ok && typeof result.value.content === 'string' ? result.value.content : '';
      const u = result.ok ? result.usage : undefined;
      usage({
        purpose: 'enrich', provider: this.provider, model: this.model, calls: Math.max(1, result.attempts),
        in: result.ok ? u?.promptTokens ?? estimateTokens(this.promptChars(messages)) : 0,
        out: result.ok ? u?.completionTokens ?? estimateTokens(reply) : 0,
        source: result.ok && !u ? 'estimate' : 'usage',
        rows: result.ok ? 1 : 0,
      });
    }
    if (!result.ok) throw this.failureError(result.failure, result.attempts);
    const { content, refusal, finishReason } = result.value;
    if (typeof refusal === 'string' && refusal) throw new EnrichmentError(`model refused: ${this.client.redact(refusal.slice(0, 120))}`);
    if (finishReason === 'length') throw new EnrichmentError('reply was cut off at the token limit (finish_reason "length")');
    if (typeof content !== 'string') throw new EnrichmentError('reply has no choices[0].message.content');
    return content;
  }

  /** Characters of what one request sends: the messages, and the reply schema when structured output is on. */
  private promptChars(messages: Array<{ content: string }>): number {
    return messages.reduce((n, m) => n + m.content.length, 0) + (this.o.structuredOutput === 'json_schema' ? JSON.stringify(ENRICHMENT_JSON_SCHEMA).length : 0);
  }

  /** The estimate rule for one entry before it is sent (budgets and the dry run): its prompt, and a reply about as long as its text. */
  estimate(input: EnrichmentInput): { in: number; out: number } {
    return { in: estimateTokens(this.promptChars(enrichmentMessages(input, this.o.maxInputChars))), out: estimateTokens(Math.min(input.text.length, this.o.maxInputChars) + REPLY_OVERHEAD_CHARS) };
  }

  /** `transport`: the endpoint could not be used (counts towards skipping it); `retryable`: a transient kind, already retried by the client. */
  private failureError(failure: OpenAiFailure, attempts: number): Error {
    const after = attempts > 1 ? ` (after ${attempts} attempts)` : '';
    switch (failure.kind) {
      case 'cancelled': return new CancelledError('enrichment request');
      case 'timeout': return new EnrichmentError(`timed out after ${this.o.timeoutMs} ms${after}`, { retryable: true, transport: true });
      case 'network': return new EnrichmentError(`cannot reach the endpoint (${failure.reason})${after}`, { retryable: true, transport: true });
      case 'too-large': return new EnrichmentError(failure.declared === undefined ? `reply too large (more than ${failure.limit} bytes)` : `reply too large (${failure.declared} bytes; the limit is ${failure.limit})`);
      case 'invalid-json': return new EnrichmentError(`endpoint returned invalid JSON: ${JSON.stringify(failure.sample.slice(0, 60))}`);
      case 'http': {
        const { status, detail } = failure;
        return new EnrichmentError(`HTTP ${status}${status === 401 || status === 403 ? ' (check the API key)' : ''}${detail ? `: ${detail}` : ''}${after}`, { retryable: failure.retryable, transport: true });
      }
    }
  }
}
