export { DEFAULT_RANKING_WEIGHTS, RRF_K, diversify, importanceFactor, normalizedRrf, reciprocalRankFusion, recencyFactor, type FusedEntry, type RankingWeights, type Why } from './fusion';
export { HybridSearch, recallFilter, type HybridHit, type HybridQuery, type HybridResult, type RecallMode } from './hybridSearch';
export { bm25Rank } from './lexicalFallback';
export { RecallBookkeeper, type BookkeepingFlush, type RecallBookkeeperOptions } from './recallBookkeeper';
export { VectorIndexBuilder, type VectorIndexEvent, type VectorIndexOptions, type VectorIndexState } from './vectorIndex';
