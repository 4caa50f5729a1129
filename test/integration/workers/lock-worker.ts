// A separate process whose first store-lock acquisition fails at writing the owner record
// (MEMORY_LANE_FAILPOINTS="lock.writeOwner=once:throw:…"), then stays alive as a leaked lock would.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_DIR, StoreLock } from '../../../src/core/concurrency/storeLock';
import { emit, workerArgs } from '../../helpers/workers';

const args = workerArgs<{ dir: string; stayMs: number }>();

async function main(): Promise<void> {
  const lock = new StoreLock(args.dir, { staleMs: 2000 });
  let firstError: string | undefined;
  try {
    const lease = await lock.acquire('first write', 1000);
    await lease.release();
  } catch (err) {
    firstError = (err as Error).message;
  }
  emit({ firstError, lockDirLeft: existsSync(join(args.dir, LOCK_DIR)), heldHere: lock.isHeldHere });
  // Alive, as the leaking process was: proper-lockfile would keep refreshing a leaked lock now.
  await new Promise((r) => setTimeout(r, args.stayMs));
  try {
    const again = await lock.acquire('second write', 5000);
    await again.release();
    emit({ second: 'acquired' });
  } catch (err) {
    emit({ second: (err as Error).message });
  }
}

main().catch((err) => { emit({ fatal: String(err?.stack ?? err) }); process.exit(1); });
