// Another process's background spend: appends one record to a store's token ledger, as a run in
// another process (an upgrade of another window, a consolidation) does after each of its batches.
import { randomUUID } from 'node:crypto';
import { TokenLedger } from '../../../src/core/usage';
import { emit, workerArgs } from '../../helpers/workers';

async function main(): Promise<void> {
  const { dir, tokens } = workerArgs<{ dir: string; tokens: number }>();
  await new TokenLedger(dir).append([{ purpose: 'consolidate', provider: 'openai-compatible', model: 'stub-model', in: tokens, out: 0, calls: 1, source: 'usage', rows: 1 }], { runId: randomUUID() });
  emit({ type: 'appended', tokens, pid: process.pid });
}

void main();
