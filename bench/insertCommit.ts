// Lock hold of an insert-only commit (a group of agents' stores, an import batch) on a store that
// already holds memories: `npm run bench:insert-commit [-- --rows 10000 --commits 200 --batch 50]`.
// Protocol: one process, a fresh store seeded with `rows` memories (one maintenance, so the id
// BTREE exists), then `commits` inserts of `batch` fresh ids each, one commit apiece; the commit's
// own duration (CommitEvent.ms: under the lock, from the first read to the commit) and the whole
// insert call are recorded. Run it on two builds back to back, alternating, to compare them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../src/core/store/memoryStore';
import { numberArg, percentile, writeFigures } from './lib/env';

const rows = numberArg('rows', 10_000);
const commits = numberArg('commits', 200);
const batch = numberArg('batch', 50);
const dim = 384;

function vector(seed: number): number[] {
  let x = seed * 2654435761 % 2 ** 32;
  return Array.from({ length: dim }, () => { x = (x * 1664525 + 1013904223) % 2 ** 32; return x / 2 ** 32 - 0.5; });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ml-bench-insert-'));
  try {
    const store = await MemoryStore.open(dir, { dim, maintenance: { auto: false } });
    for (let i = 0; i < rows; i += 500) {
      await store.insert(Array.from({ length: Math.min(500, rows - i) }, (_, k) => ({ id: `seed-${i + k}`, text: `seed memory ${i + k}`, vector: vector(i + k) })), { priority: 'background' });
    }
    await store.optimize('bench setup');
    const commitMs: number[] = [];
    const callMs: number[] = [];
    store.onCommit((e) => commitMs.push(e.ms));
    for (let c = 0; c < commits; c++) {
      const t0 = performance.now();
      await store.insert(Array.from({ length: batch }, (_, k) => ({ id: `new-${c}-${k}`, text: `fresh memory ${c}.${k}`, vector: vector(1e6 + c * batch + k) })));
      callMs.push(performance.now() - t0);
    }
    await store.close();
    const result = { rows, commits, batch, commitMs: { p50: percentile(commitMs, 50), p95: percentile(commitMs, 95) }, callMs: { p50: percentile(callMs, 50), p95: percentile(callMs, 95) } };
    console.log(JSON.stringify(result));
    writeFigures(result);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
