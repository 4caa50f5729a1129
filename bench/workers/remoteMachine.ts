// One "machine" of bench/remote.ts: its own process and MEMORY_LANE_STATE_DIR (own lock), writing
// `count` operations (half stores, half increments of shared rows) `concurrency` at a time.
import { commitConflictsRetried } from '../../src/core/store/commitRetry';
import { MemoryStore } from '../../src/core/store/memoryStore';

interface Args { uri: string; machine: string; shared: string[]; count: number; concurrency: number }
const args = JSON.parse(process.argv[2]!) as Args;

function vector(seed: number): number[] {
  return Array.from({ length: 8 }, (_, i) => Math.sin(seed * 7.31 + i * 1.7));
}

async function main(): Promise<void> {
  const store = await MemoryStore.open(args.uri, { dim: 8, maintenance: { auto: false }, queue: { interactiveDeadlineMs: 300_000 } });
  let commits = 0;
  store.onCommit(() => commits++);
  let failed = 0;
  let next = 0;
  const started = Date.now();
  await Promise.all(Array.from({ length: args.concurrency }, async () => {
    for (let i = next++; i < args.count; i = next++) {
      try {
        if (i % 2 === 0) await store.insert([{ id: `${args.machine}-${i}`, text: `machine ${args.machine} memory ${i}`, vector: vector(i) }]);
        else {
          const [r] = await store.patch([{ id: args.shared[i % args.shared.length]!, increment: { n: 1 } }]);
          if (r!.status !== 'applied') failed++;
        }
      } catch {
        failed++;
      }
    }
  }));
  const ms = Date.now() - started;
  await store.close();
  process.stdout.write(JSON.stringify({ writes: args.count, commits, conflicts: commitConflictsRetried(), failed, ms }) + '\n');
}

main().catch((err) => { console.error(err); process.exit(1); });
