// Opens a store in a folder it may read but not write (run as an unprivileged user by the test).
import { MemoryStore } from '../../../src/core/store/memoryStore';
import { emit, workerArgs } from '../../helpers/workers';
import { vec } from '../../helpers/tempStore';

async function main(): Promise<void> {
  const { dir } = workerArgs<{ dir: string }>();
  const store = await MemoryStore.open(dir, { dim: 8, maintenance: { auto: false } });
  const read = (await store.get('kept'))?.text;
  let error: unknown;
  try {
    await store.insert([{ id: 'new', text: 'cannot be written', vector: vec(2) }]);
  } catch (err) {
    const e = err as Error & { code?: string };
    error = { code: e.code, message: e.message };
  }
  emit({ read, error });
  store.dispose();
}
main().catch((err) => { emit({ fatal: String(err?.stack ?? err) }); process.exit(1); });
