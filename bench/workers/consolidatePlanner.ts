// One planning pass in a process of its own, so its peak memory (maxRSS) is the planner's alone:
// `mode: 'plan'` runs planConsolidation; `mode: 'loadAll'` reads every row with its vector into
// records, as the first planner did, for comparison. Prints { ms, maxRssMB, baseRssMB, clusters }.
import { localEmbedderId, LOCAL_DEFAULT_DIM } from '../../src/core/embedding/localEmbedder';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { fromRawRow } from '../../src/core/store/schema';
import { planConsolidation } from '../../src/core/upgrade';
import { emit, workerArgs } from '../../test/helpers/workers';

interface Args { dir: string; mode: 'plan' | 'loadAll' }

async function main(): Promise<void> {
  const { dir, mode } = workerArgs<Args>();
  const store = await MemoryStore.open(dir, { dim: LOCAL_DEFAULT_DIM, embedder: localEmbedderId(LOCAL_DEFAULT_DIM), create: false, maintenance: { auto: false } });
  await store.count();
  const baseRssMB = process.resourceUsage().maxRSS / 1024;
  const t0 = performance.now();
  let clusters = 0;
  if (mode === 'plan') clusters = (await planConsolidation(store)).clusters.length;
  else clusters = (await store.rows(undefined)).map(fromRawRow).length;
  const ms = performance.now() - t0;
  await store.close();
  emit({ mode, ms: Math.round(ms), baseRssMB: Math.round(baseRssMB), maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), clusters });
}

main().catch((err) => { console.error(err); process.exit(1); });
