// Another process exporting the store slowly: it pins one version by iterating a snapshot, pauses
// mid-way (while the test prunes), then reads the rest of that version.
import { MemoryStore } from '../../../src/core/store/memoryStore';
import { emit, workerArgs } from '../../helpers/workers';

const args = workerArgs<{ dir: string; pauseMs: number }>();

async function main(): Promise<void> {
  const store = await MemoryStore.open(args.dir, { create: false, maintenance: { auto: false } });
  let rows = 0;
  let errors: string | undefined;
  try {
    const it = store.snapshot();
    for (let r = await it.next(); !r.done; r = await it.next()) {
      rows++;
      if (rows === 1) {
        emit({ pinned: true });
        await new Promise((res) => setTimeout(res, args.pauseMs));
      }
    }
  } catch (err) {
    errors = (err as Error).message;
  }
  await store.close();
  emit({ done: true, rows, errors });
}

main().catch((err) => { emit({ fatal: String(err?.stack ?? err) }); process.exit(1); });
