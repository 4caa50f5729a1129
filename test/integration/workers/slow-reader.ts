// Another process whose read of the latest version lasts seconds (a recall on a slow laptop, a big
// page): it reads the version that is latest when it starts, pauses (while the test prunes), then
// reads the same version again. `leased: false` reads the same way without the store's lease.
import * as lancedb from '@lancedb/lancedb';
import { MEMORIES_TABLE } from '../../../src/core/store/schema';
import { MemoryStore } from '../../../src/core/store/memoryStore';
import { emit, workerArgs } from '../../helpers/workers';

const args = workerArgs<{ dir: string; pauseMs: number; leased: boolean }>();

async function main(): Promise<void> {
  const store = await MemoryStore.open(args.dir, { create: false, maintenance: { auto: false } });
  let rows = 0;
  let errors: string | undefined;
  const read = async () => {
    // What one long query does inside LanceDB: it opens the latest version once and reads it to the end.
    const version = await store.table.version();
    const table = await (await lancedb.connect(args.dir)).openTable(MEMORIES_TABLE, undefined, { version });
    try {
      rows = (await table.query().select(['id']).toArray()).length;
      emit({ reading: true, version });
      await new Promise((res) => setTimeout(res, args.pauseMs));
      return (await table.query().toArray()).length;
    } finally {
      table.close();
    }
  };
  try {
    rows = args.leased ? await store.reading('slow test read', read) : await read();
  } catch (err) {
    errors = (err as Error).message;
  }
  await store.close();
  emit({ done: true, rows, errors });
}

main().catch((err) => { emit({ fatal: String(err?.stack ?? err) }); process.exit(1); });
