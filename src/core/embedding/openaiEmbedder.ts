import { CancelledError, DimensionMismatchError, ValidationError, errorMessage } from '../errors';
import { nullLogger, type Logger } from '../log';
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
  /** Retries after a 429, a 5xx, a network error or a timeout (default 3), with exponential backoff. */
  retries?: number;
  /** First backoff in ms (default 500), doubled per retry, jittered, capped at 20 s; `Retry-After` wins when given. */
  backoffMs?: number;
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
 * Calls an OpenAI-compatible `POST {baseUrl}/embeddings` (OpenAI, Azure-style proxies, Ollama,
 * LM Studio, vLLM, …) with Node's global fetch. Errors name what to fix (key, model, URL,
 * dimension) and never include the key. Texts longer than the model's context are split into
 * chunks and their vectors averaged, and the caller is told (`onChunked`, the log).
 */
export class OpenAICompatibleEmbedder implements Embedder {
  readonly kind = 'openai' as const;
  readonly maxBatchSize: number;
  private _dim: number | undefined;
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private maxInputChars: number;
  private readonly log: Logger;
  /** Requests sent (for diagnostics and the batching test). */
  requests = 0;
  /** Called whenever texts had to be chunked; the service surfaces it in its log. */
  onChunked: ((reports: ChunkReport[]) => void) | undefined;

  constructor(private readonly config: OpenAICompatibleConfig) {
    if (typeof config.baseUrl !== 'string' || !/^https?:\/\//i.test(config.baseUrl)) throw new ValidationError('embedding.baseUrl', `must be an http(s) URL, got ${JSON.stringify(config.baseUrl)}`);
    if (typeof config.model !== 'string' || !config.model.trim()) throw new ValidationError('embedding.model', 'must name the embedding model, e.g. "text-embedding-3-small" or "nomic-embed-text"');
    if (config.dimensions !== undefined && (!Number.isInteger(config.dimensions) || config.dimensions <= 0)) throw new ValidationError('embedding.dimensions', `must be a positive integer, got ${config.dimensions}`);
    this.endpoint = config.baseUrl.replace(/\/+$/, '') + '/embeddings';
    this._dim = config.dimensions;
    this.timeoutMs = config.timeoutMs ?? 30_000;
    this.retries = Math.max(0, config.retries ?? 3);
    this.backoffMs = config.backoffMs ?? 500;
    this.maxBatchSize = Math.max(1, config.maxBatchSize ?? 64);
    this.maxInputChars = Math.max(MIN_CHUNK_CHARS, config.maxInputChars ?? 24_000);
    this.log = config.logger ?? nullLogger;
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

  get baseUrl(): string {
    return this.config.baseUrl;
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
      this.log.warn(`embedding: ${reports.length} text(s) longer than the model's input were split into chunks and averaged (${reports.map((r) => `#${r.index}: ${r.chars} chars → ${r.chunks} chunks`).join(', ')})`);
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

  /** One HTTP request with timeout and retries; returns one validated vector per input. */
  private async request(inputs: string[], options: EmbedOptions): Promise<number[][]> {
    const sendDimensions = this.config.sendDimensions ?? this.config.dimensions !== undefined;
    const body = JSON.stringify({ model: this.config.model, input: inputs, encoding_format: 'float', ...(sendDimensions && this._dim ? { dimensions: this._dim } : {}) });
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.config.apiKey) headers.authorization = `Bearer ${this.config.apiKey}`;
    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted) throw new CancelledError('embedding request');
      const timeout = AbortSignal.timeout(this.timeoutMs);
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      let retryAfterMs: number | undefined;
      let failure: Error;
      try {
        this.requests++;
        const res = await fetch(this.endpoint, { method: 'POST', headers, body, signal });
        const text = await res.text();
        if (res.ok) return this.parse(text, inputs.length);
        const detail = errorDetail(text);
        if (res.status === 401 || res.status === 403) throw new EmbeddingAuthError(res.status, this.config.baseUrl, detail);
        if (res.status === 404) throw new EmbeddingModelNotFoundError(this.config.model, this.config.baseUrl, detail);
        if (isContextLengthError(res.status, detail)) throw new ContextLengthError(detail);
        if (res.status !== 429 && res.status < 500) throw new EmbeddingRequestError(`The embedding endpoint ${this.config.baseUrl} refused the request (HTTP ${res.status}${detail ? `: ${detail}` : ''})`, res.status);
        retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
        failure = new EmbeddingRequestError(`The embedding endpoint ${this.config.baseUrl} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`, res.status);
      } catch (err) {
        if (options.signal?.aborted) throw new CancelledError('embedding request');
        if (err instanceof EmbeddingAuthError || err instanceof EmbeddingModelNotFoundError || err instanceof ContextLengthError || err instanceof DimensionMismatchError) throw err;
        if (err instanceof EmbeddingRequestError && err.status !== undefined && err.status !== 429 && err.status < 500) throw err;
        if (err instanceof EmbeddingRequestError && err.status === undefined) throw err; // malformed response: retrying will not help
        if (timeout.aborted) {
          failure = new EmbeddingTimeoutError(this.timeoutMs, this.config.baseUrl, attempt + 1);
        } else if (!(err instanceof EmbeddingRequestError)) {
          failure = new EmbeddingRequestError(`Cannot reach the embedding endpoint ${this.config.baseUrl}: ${networkReason(err)}`, undefined, { cause: err });
        } else {
          failure = err;
        }
      }
      if (attempt >= this.retries) {
        throw failure instanceof EmbeddingTimeoutError ? new EmbeddingTimeoutError(this.timeoutMs, this.config.baseUrl, attempt + 1) : failure;
      }
      const backoff = retryAfterMs ?? Math.min(20_000, this.backoffMs * 2 ** attempt) * (0.75 + Math.random() * 0.5);
      this.log.debug(`embedding request failed (${errorMessage(failure)}); retry ${attempt + 1}/${this.retries} in ${Math.round(backoff)} ms`);
      await sleep(backoff, options.signal);
    }
  }

  private dimensionError(actual: number): DimensionMismatchError {
    const err = new DimensionMismatchError(this._dim!, actual, 'embedding');
    err.message = `The embedding model "${this.config.model}" at ${this.config.baseUrl} returned vectors of dimension ${actual}, but dimension ${this._dim} was expected. `
      + `Set the embedding dimensions to ${actual} (a store whose vectors have another dimension must then be re-embedded), or choose a model that produces ${this._dim}.`;
    return err;
  }

  private parse(text: string, expected: number): number[][] {
    let json: { data?: Array<{ embedding?: unknown; index?: number }> };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw new EmbeddingRequestError(`The embedding endpoint ${this.config.baseUrl} returned something that is not JSON: ${text.slice(0, 120)}`);
    }
    const data = json?.data;
    if (!Array.isArray(data) || data.length !== expected) {
      throw new EmbeddingRequestError(`The embedding endpoint ${this.config.baseUrl} returned ${Array.isArray(data) ? data.length : 'no'} embeddings for ${expected} inputs`);
    }
    const ordered = [...data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    return ordered.map((d, i) => {
      const e = d.embedding;
      if (!Array.isArray(e) || e.length === 0 || e.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
        throw new EmbeddingRequestError(`The embedding endpoint ${this.config.baseUrl} returned an invalid embedding at index ${i} (expected an array of finite numbers; base64 encoding is not supported)`);
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

/** The server's own error message, shortened; servers put it in `error.message`, `error`, `detail` or `message`. */
function errorDetail(body: string): string {
  let msg = body;
  try {
    const j = JSON.parse(body) as { error?: { message?: string } | string; detail?: string; message?: string };
    msg = (typeof j.error === 'object' ? j.error?.message : j.error) ?? j.detail ?? j.message ?? body;
  } catch { /* not JSON: use the text */ }
  return String(msg).replace(/\s+/g, ' ').replace(/(sk|Bearer)[-_ ][A-Za-z0-9_-]{8,}/g, '$1-…').trim().slice(0, 300);
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.min(20_000, Math.max(0, seconds * 1000));
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.min(20_000, Math.max(0, at - Date.now())) : undefined;
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ? `${cause.code}${cause.message ? ` (${cause.message})` : ''}` : errorMessage(err);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(new CancelledError('embedding request')); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
