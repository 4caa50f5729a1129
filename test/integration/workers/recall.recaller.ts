// An agent recalling from another process: runs `recalls` recalls against an existing store and
// reports how many times each memory was returned. Closing the service flushes its bookkeeping.
import { MemoryService } from '../../../src/core/memoryService';
import { emit, workerArgs } from '../../helpers/workers';

interface Args {
  dir: string;
  recalls: number;
  queries: string[];
  limit: number;
  scopes: string[];
}

async function main(): Promise<void> {
  const a = workerArgs<Args>();
  const memory = await MemoryService.open({ dir: a.dir, create: false, defaultScopes: a.scopes, vectorIndex: { auto: false } });
  const returned: Record<string, number> = {};
  const started = Date.now();
  emit({ ready: true });
  for (let i = 0; i < a.recalls; i++) {
    const { results } = await memory.recall(a.queries[i % a.queries.length]!, { limit: a.limit });
    for (const r of results) returned[r.id] = (returned[r.id] ?? 0) + 1;
  }
  const recallMs = Date.now() - started;
  await memory.close();
  emit({ done: true, returned, recallMs, startedAt: started, closedAt: Date.now() });
}

main().catch((err) => { process.stderr.write(`recaller failed: ${(err as Error).stack}\n`); process.exit(1); });
