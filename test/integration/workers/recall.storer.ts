// An agent storing memories from another process while this one builds the vector index:
// stores `count` memories, each carrying a unique marker word, and reports each one once stored.
import { MemoryService } from '../../../src/core/memoryService';
import { emit, workerArgs } from '../../helpers/workers';

interface Args { dir: string; count: number; scope: string; prefix: string }

async function main(): Promise<void> {
  const a = workerArgs<Args>();
  const memory = await MemoryService.open({ dir: a.dir, create: false, defaultScopes: [a.scope], vectorIndex: { auto: false } });
  for (let i = 0; i < a.count; i++) {
    const marker = `${a.prefix}${i}q`;
    const r = await memory.store({ text: `Concurrent memory ${marker} written while the vector index builds.`, force: true });
    emit({ stored: r.id, marker });
  }
  await memory.close();
  emit({ done: true });
}

main().catch((err) => { process.stderr.write(`storer failed: ${(err as Error).stack}\n`); process.exit(1); });
