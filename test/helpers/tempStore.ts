import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { MemoryStore, type MemoryStoreOptions } from '../../src/core/store/memoryStore';

export const TEST_DIM = 8;

/** A fresh temp folder removed when the test ends. */
export function tempDir(t: TestContext | { after(fn: () => unknown): void }, prefix = 'ml-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function openTempStore(t: TestContext, options: MemoryStoreOptions = {}): Promise<{ store: MemoryStore; dir: string }> {
  const dir = tempDir(t);
  const store = await MemoryStore.open(dir, { dim: TEST_DIM, embedder: 'test', ...options });
  t.after(() => store.close());
  return { store, dir };
}

/** A deterministic small vector for a number, so tests need no embedder. */
export function vec(seed: number, dim = TEST_DIM): number[] {
  return Array.from({ length: dim }, (_, i) => Math.sin(seed * 7.31 + i * 1.7));
}
