import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { MemoryStore, type MemoryStoreOptions } from '../../src/core/store/memoryStore';
import { fromRawRow, isLegacy, type MemoryRecord } from '../../src/core/store/schema';

export const TEST_DIM = 8;

type HasAfter = TestContext | { after(fn: () => unknown): void };
const cleanups = new WeakMap<object, Array<() => unknown>>();

/**
 * Registers cleanup that runs when the test ends, last registered first (close a server before
 * removing its folder), and keeps going when one step fails.
 */
export function deferCleanup(t: HasAfter, fn: () => unknown): void {
  let stack = cleanups.get(t);
  if (!stack) {
    const fns: Array<() => unknown> = [];
    stack = fns;
    cleanups.set(t, stack);
    t.after(async () => {
      const errors: unknown[] = [];
      for (const f of fns.splice(0).reverse()) {
        try { await f(); } catch (err) { errors.push(err); }
      }
      if (errors.length) throw errors[0];
    });
  }
  stack.push(fn);
}

/** A fresh temp folder removed when the test ends. */
export function tempDir(t: HasAfter, prefix = 'ml-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  deferCleanup(t, () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  return dir;
}

export async function openTempStore(t: TestContext, options: MemoryStoreOptions = {}): Promise<{ store: MemoryStore; dir: string }> {
  const dir = tempDir(t);
  const store = await MemoryStore.open(dir, { dim: TEST_DIM, embedder: 'test', ...options });
  deferCleanup(t, () => store.close());
  return { store, dir };
}

/** A deterministic small vector for a number, so tests need no embedder. */
export function vec(seed: number, dim = TEST_DIM): number[] {
  return Array.from({ length: dim }, (_, i) => Math.sin(seed * 7.31 + i * 1.7));
}

/** Every memory in the store, newest first (optionally only legacy or only upgraded ones). */
export async function storedMemories(store: MemoryStore, filter: { legacy?: boolean } = {}): Promise<MemoryRecord[]> {
  const all = (await store.rows(undefined)).map(fromRawRow).sort((a, b) => b.updated_at - a.updated_at || (a.id < b.id ? -1 : 1));
  return filter.legacy === undefined ? all : all.filter((m) => isLegacy(m) === filter.legacy);
}
