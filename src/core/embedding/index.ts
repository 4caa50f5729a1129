export { cosine, normalizeInPlace, type EmbedOptions, type Embedder, type EmbedderInfo, type EmbedderKind } from './embedder';
export { CachingEmbedder, type CachingEmbedderOptions } from './cachingEmbedder';
export { LOCAL_DEFAULT_DIM, LocalEmbedder, localEmbedderId, parseLocalEmbedderId } from './localEmbedder';
export { OpenAICompatibleEmbedder, splitText, type ChunkReport, type OpenAICompatibleConfig } from './openaiEmbedder';
export { createEmbedder, describeEmbedder, embedderConfigFromEnv, embedderFromId, type CreateEmbedderOptions, type EmbedderConfig } from './factory';
export { EmbedderMismatchError, EmbeddingAuthError, EmbeddingModelNotFoundError, EmbeddingRequestError, EmbeddingTimeoutError } from './errors';
