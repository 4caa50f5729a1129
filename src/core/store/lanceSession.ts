import { Session } from '@lancedb/lancedb';

/**
 * The one LanceDB session of this process: the index and metadata caches every store connection
 * shares, with sizes this product chose.
 *
 * LanceDB's default session caps its index cache at 6 GB and its metadata cache at 1 GB. A store
 * commits a version per write and rebuilds its indexes every few hundred commits, so entries for
 * versions and index files that no query will read again pile up until a cap is reached: a 100k
 * upgrade grew the process to 1.1 GB, none of it JS (BENCHMARKS.md §5). The caps here are sized to
 * hold the live indexes of a 100k-memory store with room to spare (docs/lancedb.md#caches).
 */
export const LANCE_CACHE_BYTES = {
  index: 256 * 2 ** 20,
  metadata: 64 * 2 ** 20,
} as const;

let shared: Session | undefined;

export function lanceSession(): Session {
  shared ??= new Session(BigInt(LANCE_CACHE_BYTES.index), BigInt(LANCE_CACHE_BYTES.metadata));
  return shared;
}
