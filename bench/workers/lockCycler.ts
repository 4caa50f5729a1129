// One of P processes of the lock-handoff benchmark: after "go", takes the store lock over and over
// for `durationMs`, holds it `holdMs` (an async pause, like a commit), releases it and, like the
// write queue, steps aside for the courtesy pause when others wait. Reports every holding's
// acquire and release time (ms since the epoch, sub-ms) and its wait.
import { existsSync } from 'node:fs';
import { StoreLock } from '../../src/core/concurrency/storeLock';
import { emit, workerArgs } from '../../test/helpers/workers';

interface Args { dir: string; goFile: string; durationMs: number; holdMs: number }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

async function main(): Promise<void> {
  const a = workerArgs<Args>();
  const lock = new StoreLock(a.dir);
  emit({ type: 'ready' });
  while (!existsSync(a.goFile)) await sleep(2);
  const end = Date.now() + a.durationMs;
  const holdings: Array<[number, number, number]> = [];
  while (Date.now() < end) {
    const asked = now();
    const lease = await lock.acquire('handoff bench', 30_000);
    const acquired = now();
    await sleep(a.holdMs);
    const released = now();
    await lease.release();
    holdings.push([acquired, released, acquired - asked]);
    if (await lock.othersWaiting()) await sleep(lock.courtesyMs);
  }
  emit({ type: 'done', holdings });
  lock.dispose();
}

main().catch((err) => { emit({ type: 'fatal', message: String(err) }); process.exit(1); });
