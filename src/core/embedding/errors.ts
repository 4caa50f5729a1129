import { MemoryLaneError } from '../errors';

/**
 * Errors of the embedding layer. Like every core error they carry a stable `code` for the CLI,
 * the MCP server and the extension, and never contain an API key (docs/architecture.md#secrets).
 * A vector of the wrong length is the core's `DimensionMismatchError` (code `E_DIMENSION`).
 */

/** 401/403: the endpoint refused the key. Nothing to retry; the user must fix the key. */
export class EmbeddingAuthError extends MemoryLaneError {
  constructor(readonly status: number, readonly endpoint: string, detail: string) {
    super('E_EMBED_AUTH', `The embedding endpoint ${endpoint} rejected the API key (HTTP ${status}${detail ? `: ${detail}` : ''}). `
      + 'Check that the API key is set (VS Code keeps it in SecretStorage; the CLI and MCP server read MEMORY_LANE_EMBEDDING_API_KEY) and is valid for this endpoint.');
  }
}

/** 404: the model is unknown to the endpoint, or the base URL does not point at an OpenAI-compatible API. */
export class EmbeddingModelNotFoundError extends MemoryLaneError {
  constructor(readonly model: string, readonly endpoint: string, detail: string) {
    super('E_EMBED_MODEL', `The embedding endpoint ${endpoint} answered 404 for model ${JSON.stringify(model)}${detail ? ` (${detail})` : ''}. `
      + 'Either the model name is wrong (for Ollama, pull it first) or the base URL is wrong: it should end in /v1, e.g. http://localhost:11434/v1.');
  }
}

/** The endpoint did not answer in time (after the configured retries). */
export class EmbeddingTimeoutError extends MemoryLaneError {
  constructor(readonly timeoutMs: number, readonly endpoint: string, readonly attempts: number) {
    super('E_EMBED_TIMEOUT', `The embedding endpoint ${endpoint} did not answer within ${timeoutMs} ms (${attempts} attempt${attempts === 1 ? '' : 's'}). Is the server running and reachable? Raise the timeout for slow local models.`);
  }
}

/** Any other failed request: network errors, 4xx, 5xx/429 after retries, malformed responses. */
export class EmbeddingRequestError extends MemoryLaneError {
  constructor(message: string, readonly status?: number, options?: { cause?: unknown }) {
    super('E_EMBED_REQUEST', message, options);
  }
}

/** An embed function handed back a different number of vectors than it was given texts. */
export class EmbedderReplyError extends MemoryLaneError {
  constructor(expected: number, got: unknown) {
    super('E_EMBED_REPLY', `the embedder returned ${Array.isArray(got) ? got.length : 'no'} vectors for ${expected} texts`);
  }
}

/** Checks an embed function's reply: one vector per text (the vectors themselves are validated by the store). */
export function expectOneVectorPerText(vectors: unknown, texts: number): asserts vectors is unknown[] {
  if (!Array.isArray(vectors) || vectors.length !== texts) throw new EmbedderReplyError(texts, vectors);
}

/**
 * The store's vectors were made by another embedder than the configured one. Mixing vector spaces
 * would make recall silently wrong, so writes are refused until the upgrader re-embeds the store.
 */
export class EmbedderMismatchError extends MemoryLaneError {
  readonly needsReembed = true;
  constructor(readonly storeEmbedder: string, readonly storeDim: number, readonly configured: string, readonly configuredDim: number) {
    super('E_EMBEDDER_MISMATCH', `This store's vectors were made by embedder "${storeEmbedder}" (dimension ${storeDim}), but the configured embedder is "${configured}" (dimension ${configuredDim}). `
      + 'Re-embed the store with the upgrader, or switch the embedding setting back to the store\'s embedder.');
  }
}
