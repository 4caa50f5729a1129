import { CancelledError, DimensionMismatchError, ValidationError } from '../errors';
import { OpenAiClient, type OpenAiFailure } from '../llm/openAiClient';
import type { Logger } from '../log';
import { estimateTokens, type UsageSink } from '../usage/tokens';
import { normalizeInPlace, type EmbedOptions, type Embedder } from './embedder';
import { EmbeddingAuthError, EmbeddingModelNotFoundError, EmbeddingRequestError, EmbeddingTimeoutError } from './errors';

export interface OpenAICompatibleConfig {
  /** e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1` (Ollama), `http://localhost:1234/v1` (LM Studio). */
  baseUrl: string;
  model: string;
  /**
   * Vector length. Sent as the `dimensions` request field when `sendDimensions` is true (OpenAI's
   * text-embedding-3 models shorten their vectors on request); every response is checked against it.
   * Leave undefined to learn it from the first response (`createEmbedder` probes once).
   */
  dimensions?: number;
  /** Default: true when `dimensions` is set. Older models and some servers reject the field. */
  sendDimensions?: boolean;
  /** Sent as `Authorization: Bearer …`; never logged, never part of an error message. */
  apiKey?: string;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  /** Retries after a 408/409/429, a 5xx, a network error or a timeout (default 3), with the SDK's jittered exponential backoff (0.5 s doubling to 8 s; `Retry-After` up to 60 s wins). */
  retries?: number;
  /** Texts per request (default 64). */
  maxBatchSize?: number;
  /** Characters of one input sent at most; longer texts are split into chunks whose vectors are averaged (default 24000 ≈ 6k tokens). */
  maxInputChars?: number;
  logger?: Logger;
}

/** What one embed call had to do to texts that were too long (reported, never silent). */
export interface ChunkReport {
  /** Index of the text in the `embed` call. */
  index: number;
  chars: number;
  chunks: number;
}

const MIN_CHUNK_CHARS = 256;
/**
 * A full batch of 64 vectors of 3072 floats is about 4 MB of JSON (some 20 bytes per float); the
 * cap leaves room for larger batches and models while still refusing a server that never stops.
 */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/**
 * Calls an OpenAI-compatible `POST {baseUrl}/embeddings` (OpenAI, Azure-style proxies, Ollama,
 * LM Studio, vLLM, …) through the shared `OpenAiClient`. Errors name what to fix (key, model, URL,
 * dimension) and never include the key. Texts longer than the model's context are split into
 * chunks and their vectors averaged, and the caller is told (`onChunked`, the log).
 */
export class OpenAICompatibleEmbedder implements Embedder {
  readonly kind = 'openai' as const;
  readonly maxBatchSize: number;
  private _dim: number | undefined;
  private readonly timeoutMs: number;
  private maxInputChars: number;
  private readonly client: OpenAiClient;
  /** Called whenever texts had to be chunked; the service surfaces it in its log. */
  onChunked: ((reports: ChunkReport[]) => void) | undefined;
  /** Called with each request's tokens (the endpoint's `usage`, else estimated); the service records them in the token ledger. */
  onUsage: UsageSink | undefined;

  constructor(private readonly config: OpenAICompatibleConfig) {
    if (typeof config.baseUrl !== 'string' || !/^https?:\/\//i.test(config.baseUrl)) throw new ValidationError('embedding.baseUrl', `must be an http(s) URL, got ${JSON.stringify(config.baseUrl)}`);
    if (typeof config.model !== 'string' || !config.model.trim()) throw new ValidationError('embedding.model', 'must name the embedding model, e.g. "text-embedding-3-small" or "nomic-embed-text"');
    if (config.dimensions !== undefined && (!Number.isInteger(config.dimensions) || config.dimensions <= 0)) throw new ValidationError('embedding.dimensions', `must be a positive integer, got ${config.dimensions}`);
    this._dim = config.dimensions;
    this.timeoutMs = config.timeoutMs ?? 30_000;
    this.maxBatchSize = Math.max(1, config.maxBatchSize ?? 64);
    this.maxInputChars = Math.max(MIN_CHUNK_CHARS, config.maxInputChars ?? 24_000);
    this.client = new OpenAiClient({
      baseUrl: config.baseUrl,
      ...(config.apiKey ? { apiKey: config.apiKey } : {}),
      timeoutMs: this.timeoutMs,
      retries: config.retries ?? 3,
      maxReplyBytes: MAX_REPLY_BYTES,
      ...(config.logger ? { logger: config.logger } : {}),
    });
  }

  /** Requests sent, retries included (for diagnostics and the batching test). */
  get requests(): number {
    return this.client.requests;
  }

  get id(): string {
    return `openai:${this.config.model}@${this.dim}`;
  }

  /** Throws until known: configure `dimensions` or call `probeDimension()` first (the factory does). */
  get dim(): number {
    if (this._dim === undefined) throw new ValidationError('embedding.dimensions', 'is unknown until the endpoint has answered once; call probeDimension() or configure it');
    return this._dim;
  }

  get model(): string {
    return this.config.model;
  }

  /** Without credentials or query: this is what stats and the views show. */
  get baseUrl(): string {
    return this.client.endpoint;
  }

  /** Learns the vector length from one tiny request when `dimensions` was not configured. */
  async probeDimension(options: EmbedOptions = {}): Promise<number> {
    if (this._dim === undefined) {
      const [v] = await this.request(['dimension probe'], options);
      this._dim = v!.length;
    }
    return this._dim;
  }

  async embed(texts: string[], options: EmbedOptions = {}): Promise<number[][]> {
    if (texts.length === 0) return [];
    // Long texts become several inputs; their vectors are averaged back into one per text.
    const pieces: string[] = [];
    const owner: number[] = [];
    const reports: ChunkReport[] = [];
    texts.forEach((text, i) => {
      const chunks = splitText(text, this.maxInputChars);
      if (chunks.length > 1) reports.push({ index: i, chars: text.length, chunks: chunks.length });
      for (const c of chunks) { pieces.push(c); owner.push(i); }
    });
    const vectors: number[][] = [];
    for (let i = 0; i < pieces.length; i += this.maxBatchSize) {
      vectors.push(...await this.embedPieces(pieces.slice(i, i + this.maxBatchSize), options, reports, owner.slice(i, i + this.maxBatchSize)));
    }
    if (reports.length) {
      this.client.log.warn(`embedding: ${reports.length} text(s) longer than the model's input were split into chunks and averaged (${reports.map((r) => `#${r.index}: ${r.chars} chars → ${r.chunks} chunks`).join(', ')})`);
      this.onChunked?.(reports);
    }
    const sums: number[][] = texts.map(() => new Array<number>(vectors[0]!.length).fill(0));
    vectors.forEach((v, j) => { const s = sums[owner[j]!]!; for (let d = 0; d < v.length; d++) s[d]! += v[d]!; });
    return sums.map(normalizeInPlace);
  }

  /**
   * One batch. A "context length" refusal means some input is still too long for this model:
   * halve the chunk size (remembered for later calls) and embed each offending piece in chunks.
   */
  private async embedPieces(pieces: string[], options: EmbedOptions, reports: ChunkReport[], owners: number[]): Promise<number[][]> {
    try {
      return await this.request(pieces, options);
    } catch (err) {
      if (!(err instanceof ContextLengthError)) throw err;
      const longest = Math.max(...pieces.map((p) => p.length));
      if (longest <= MIN_CHUNK_CHARS) throw new EmbeddingRequestError(`The embedding model refused even ${MIN_CHUNK_CHARS}-character inputs as too long: ${err.message}`, 400, { cause: err });
      this.maxInputChars = Math.max(MIN_CHUNK_CHARS, Math.floor(Math.min(this.maxInputChars, longest) / 2));
      const out: number[][] = [];
      for (let i = 0; i < pieces.length; i++) {
        const chunks = splitText(pieces[i]!, this.maxInputChars);
        if (chunks.length > 1) {
          const owner = owners[i]!;
          const existing = reports.find((r) => r.index === owner);
          if (existing) existing.chunks += chunks.length - 1;
          else reports.push({ index: owner, chars: pieces[i]!.length, chunks: chunks.length });
        }
        const parts = await this.embedPieces(chunks, options, reports, chunks.map(() => owners[i]!));
        const sum = new Array<number>(parts[0]!.length).fill(0);
        for (const p of parts) for (let d = 0; d < p.length; d++) sum[d]! += p[d]!;
        out.push(normalizeInPlace(sum));
      }
      return out;
    }
  }

  /** One request (the client retries transient failures); returns one validated vector per input. */
  private async request(inputs: string[], options: EmbedOptions): Promise<number[][]> {
    if (options.signal?.aborted) throw new CancelledError('embedding request');
    const sendDimensions = this.config.sendDimensions ?? this.config.dimensions !== undefined;
    const result = await this.client.embeddings({ model: this.config.model, input: inputs, ...(sendDimensions && this._dim ? { dimensions: this._dim } : {}) }, options.signal);
    const sink = options.usage ?? this.onUsage;
    if (sink) {
      // A failed request is a call without tokens (nothing is reported for it).
      const usage = result.ok ? result.usage : undefined;
      const tokens = result.ok ? usage?.promptTokens ?? inputs.reduce((n, t) => n + estimateTokens(t), 0) : 0;
      sink({ purpose: 'embed', provider: 'openai-compatible', model: this.config.model, in: tokens, out: 0, calls: Math.max(1, result.attempts), source: result.ok && !usage ? 'estimate' : 'usage', rows: result.ok ? inputs.length : 0 });
    }
    if (!result.ok) throw this.failureError(result.failure, result.attempts);
    return this.parse(result.value, inputs.length);
  }

  /** What to fix, in this layer's error classes. */
  private failureError(failure: OpenAiFailure, attempts: number): Error {
    const at = this.client.endpoint;
    switch (failure.kind) {
      case 'cancelled': return new CancelledError('embedding request');
      case 'timeout': return new EmbeddingTimeoutError(this.timeoutMs, at, attempts);
      case 'network': return new EmbeddingRequestError(`Cannot reach the embedding endpoint ${at}: ${failure.reason}${attemptsNote(attempts)}`);
      case 'too-large': return new EmbeddingRequestError(`The embedding endpoint ${at} sent a reply larger than ${failure.limit} bytes; refused`);
      case 'invalid-json': return new EmbeddingRequestError(`The embedding endpoint ${at} returned something that is not JSON: ${failure.sample}`);
      case 'http': {
        const { status, detail } = failure;
        if (status === 401 || status === 403) return new EmbeddingAuthError(status, at, detail);
        if (status === 404) return new EmbeddingModelNotFoundError(this.config.model, at, detail);
        if (isContextLengthError(status, detail)) return new ContextLengthError(detail);
        return failure.retryable
          ? new EmbeddingRequestError(`The embedding endpoint ${at} answered HTTP ${status}${detail ? `: ${detail}` : ''}${attemptsNote(attempts)}`, status)
          : new EmbeddingRequestError(`The embedding endpoint ${at} refused the request (HTTP ${status}${detail ? `: ${detail}` : ''})`, status);
      }
    }
  }

  private dimensionError(actual: number): DimensionMismatchError {
    const err = new DimensionMismatchError(this._dim!, actual, 'embedding');
    err.message = `The embedding model "${this.config.model}" at ${this.client.endpoint} returned vectors of dimension ${actual}, but dimension ${this._dim} was expected. `
      + `Set the embedding dimensions to ${actual} (a store whose vectors have another dimension must then be re-embedded), or choose a model that produces ${this._dim}.`;
    return err;
  }

  private parse(reply: unknown, expected: number): number[][] {
    const data = (reply as { data?: Array<{ embedding?: unknown; index?: number }> } | undefined)?.data;
    if (!Array.isArray(data) || data.length !== expected) {
      throw new EmbeddingRequestError(`The embedding endpoint ${this.client.endpoint} returned ${Array.isArray(data) ? data.length : 'no'} embeddings for ${expected} inputs`);
    }
    const ordered = [...data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    return ordered.map((d, i) => {
      const e = d.embedding;
      if (!Array.isArray(e) || e.length === 0 || e.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
        throw new EmbeddingRequestError(`The embedding endpoint ${this.client.endpoint} returned an invalid embedding at index ${i} (expected an array of finite numbers; base64 encoding is not supported)`);
      }
      this._dim ??= e.length;
      if (e.length !== this._dim) throw this.dimensionError(e.length);
      return normalizeInPlace(e as number[]);
    });
  }
}

/** Internal: the request was refused because an input exceeds the model's context. */
class ContextLengthError extends Error {}

function isContextLengthError(status: number, detail: string): boolean {
  return (status === 400 || status === 413 || status === 422 || status === 500) && /context length|context_length|maximum context|too many tokens|too long|input length|exceeds the (max|limit)|token limit/i.test(detail);
}

/** Splits on paragraph, then sentence, then word boundaries near the limit; never mid-word unless a word is longer than the limit. */
export function splitText(text: string, maxChars: number): string[] {
  if (text.length <= maxChars) return [text];
  const out: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars);
    let cut = Math.max(window.lastIndexOf('\n\n'), window.lastIndexOf('. '), window.lastIndexOf('\n'));
    if (cut < maxChars * 0.5) cut = window.lastIndexOf(' ');
    if (cut < maxChars * 0.5) cut = maxChars - 1;
    out.push(rest.slice(0, cut + 1));
    rest = rest.slice(cut + 1);
  }
  if (rest.trim()) out.push(rest);
  return out;
}

function attemptsNote(attempts: number): string {
  return attempts > 1 ? ` (after ${attempts} attempts)` : '';
}
