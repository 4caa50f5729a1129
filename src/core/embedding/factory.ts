import { ValidationError } from '../errors';
import type { Logger } from '../log';
import { CachingEmbedder, type CachingEmbedderOptions } from './cachingEmbedder';
import type { EmbedOptions, Embedder, EmbedderInfo } from './embedder';
import { LOCAL_DEFAULT_DIM, LocalEmbedder, parseLocalEmbedderId } from './localEmbedder';
import { OpenAICompatibleEmbedder, type OpenAICompatibleConfig } from './openaiEmbedder';
import { LOCAL_FEATURES_VERSION } from './textFeatures';

/**
 * Which embedder to use. `local` (the default) works offline with no key; `openai` talks to any
 * OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Ollama, LM Studio, vLLM, …).
 */
export type EmbedderConfig =
  | { kind: 'local'; dim?: number }
  | ({ kind: 'openai' } & Omit<OpenAICompatibleConfig, 'logger'>);

export interface CreateEmbedderOptions extends EmbedOptions {
  logger?: Logger;
  /** Cache settings; the cache is always on (it is bounded). */
  cache?: CachingEmbedderOptions;
}

/**
 * Builds the configured embedder wrapped in the LRU cache. For an `openai` embedder without
 * configured `dimensions`, one tiny request learns the vector length (so a new store can be
 * created with it); that request is also the earliest, clearest check of URL, key and model.
 */
export async function createEmbedder(config: EmbedderConfig = { kind: 'local' }, options: CreateEmbedderOptions = {}): Promise<CachingEmbedder> {
  if (!config || typeof config !== 'object') throw new ValidationError('embedding', 'must be an object like { kind: "local" }');
  switch (config.kind) {
    case 'local':
      return new CachingEmbedder(new LocalEmbedder(config.dim ?? LOCAL_DEFAULT_DIM), options.cache);
    case 'openai': {
      const inner = new OpenAICompatibleEmbedder({ ...config, logger: options.logger });
      if (config.dimensions === undefined) await inner.probeDimension({ signal: options.signal });
      return new CachingEmbedder(inner, options.cache);
    }
    default:
      throw new ValidationError('embedding.kind', `unknown embedder kind ${JSON.stringify((config as { kind?: unknown }).kind)}; expected "local" or "openai"`);
  }
}

/**
 * The embedder that made a store's vectors, when it can be rebuilt from its id alone (the local
 * embedder can; a remote model needs its configuration). Lets a store made by the local embedder
 * keep working while the configured embedder is another one and a re-embed is pending.
 */
export function embedderFromId(id: string, options: { cache?: CachingEmbedderOptions } = {}): CachingEmbedder | undefined {
  const local = parseLocalEmbedderId(id);
  if (local && local.version === LOCAL_FEATURES_VERSION) return new CachingEmbedder(new LocalEmbedder(local.dim), options.cache);
  return undefined;
}

/** For `stats()` and the views; contains no key. */
export function describeEmbedder(embedder: Embedder): EmbedderInfo {
  const inner = embedder instanceof CachingEmbedder ? embedder.inner : embedder;
  const info: EmbedderInfo = { id: embedder.id, kind: embedder.kind, dim: embedder.dim };
  if (inner instanceof OpenAICompatibleEmbedder) {
    info.model = inner.model;
    info.baseUrl = inner.baseUrl;
  }
  return info;
}

/**
 * The embedder configuration the CLI and the MCP server read from their environment (the extension
 * reads settings and SecretStorage instead). Unset MEMORY_LANE_EMBEDDING_BASE_URL means local.
 *
 * MEMORY_LANE_EMBEDDING_BASE_URL, MEMORY_LANE_EMBEDDING_MODEL, MEMORY_LANE_EMBEDDING_DIMENSIONS,
 * MEMORY_LANE_EMBEDDING_API_KEY, MEMORY_LANE_EMBEDDING_TIMEOUT_MS.
 */
export function embedderConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EmbedderConfig {
  const baseUrl = env.MEMORY_LANE_EMBEDDING_BASE_URL?.trim();
  if (!baseUrl) return { kind: 'local' };
  const model = env.MEMORY_LANE_EMBEDDING_MODEL?.trim();
  if (!model) throw new ValidationError('MEMORY_LANE_EMBEDDING_MODEL', 'must be set when MEMORY_LANE_EMBEDDING_BASE_URL is set');
  const dims = env.MEMORY_LANE_EMBEDDING_DIMENSIONS?.trim();
  const timeout = env.MEMORY_LANE_EMBEDDING_TIMEOUT_MS?.trim();
  return {
    kind: 'openai',
    baseUrl,
    model,
    ...(dims ? { dimensions: Number(dims) } : {}),
    ...(timeout ? { timeoutMs: Number(timeout) } : {}),
    ...(env.MEMORY_LANE_EMBEDDING_API_KEY ? { apiKey: env.MEMORY_LANE_EMBEDDING_API_KEY } : {}),
  };
}
