// Runs one upgrade in its own process and reports, as JSON lines: phase changes, every lock
// acquisition of this process with the upgrade phase it happened in, progress, and the result.
import { BusyError, errorMessage } from '../../../src/core/errors';
import { MemoryStore } from '../../../src/core/store/memoryStore';
import { createUpgradeRun, OpenAiCompatibleEnricher, type UpgradeBudget } from '../../../src/core/upgrade';
import { emit, workerArgs } from '../../helpers/workers';

interface Args {
  dir: string;
  batchSize?: number;
  windowSize?: number;
  llm?: { url: string; model: string };
  budget?: UpgradeBudget;
}

async function main(): Promise<void> {
  const args = workerArgs<Args>();
  const store = await MemoryStore.open(args.dir, { dim: 8, create: false });
  let phase = 'open';
  const acquisitions: Array<{ phase: string; operation: string; at: number }> = [];
  store.lock.onEvent((e) => { if (e.type === 'acquired') acquisitions.push({ phase, operation: e.operation, at: e.at }); });
  const enricher = args.llm ? new OpenAiCompatibleEnricher({ baseUrl: args.llm.url, model: args.llm.model, timeoutMs: 2000, retries: 0, concurrency: 4 }) : undefined;
  const run = createUpgradeRun(store, { batchSize: args.batchSize ?? 100, windowSize: args.windowSize ?? 500, ...(enricher ? { enricher } : {}), ...(args.budget ? { budget: args.budget } : {}) });
  run.onProgress((p) => {
    if (p.phase !== phase) emit({ type: 'phase', phase: p.phase, at: p.at, batches: p.batches, written: p.written });
    phase = p.phase;
  });
  emit({ type: 'started', pid: process.pid, at: Date.now() });
  try {
    const result = await run.run();
    emit({ type: 'result', result, acquisitions, lockAcquisitions: store.lock.acquisitions, at: Date.now() });
  } catch (err) {
    if (err instanceof BusyError) emit({ type: 'busy', message: err.message, holder: err.holder });
    else emit({ type: 'error', message: errorMessage(err) });
    process.exitCode = 3;
  }
  await store.close();
}

void main();
