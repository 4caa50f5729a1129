// Lock handoff: how long the store lock lies free between one holder's release and the next
// holder's acquisition, with P processes that all want it all the time.
// `npm run bench:lock-handoff [-- --processes 4 --seconds 10 --hold 5]` (bench/workers/lockCycler.ts).
// Protocol: P processes take the lock in a loop for the given seconds, each holding it `hold` ms;
// every holding's acquire and release time is collected; the gap is the time from a release to the
// next acquisition by any process. Run it on two builds back to back, alternating, to compare them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker } from '../test/helpers/workers';
import { benchWorker, numberArg, summarize, writeFigures } from './lib/env';


async function main(): Promise<void> {
  const processes = numberArg('processes', 4);
  const durationMs = numberArg('seconds', 10) * 1000;
  const holdMs = numberArg('hold', 5);
  const dir = mkdtempSync(join(tmpdir(), 'ml-bench-handoff-'));
  try {
    const goFile = join(dir, 'go');
    const workers = Array.from({ length: processes }, () => startWorker(benchWorker('lockCycler'), { dir, goFile, durationMs, holdMs }));
    await Promise.all(workers.map((w) => w.waitFor((m) => m.type === 'ready' || m.type === 'fatal', 60_000)));
    writeFileSync(goFile, '');
    await Promise.all(workers.map((w) => w.exited));
    const done = workers.map((w) => (w.messages as any[]).find((m) => m.type === 'done'));
    if (done.some((d) => !d)) throw new Error(`a cycler failed: ${workers.map((w) => w.stderr()).join('\n').slice(-2000)}`);
    const all = done.flatMap((d) => d.holdings as Array<[number, number, number]>).sort((x, y) => x[0] - y[0]);
    const gaps = all.slice(1).map((h, i) => h[0] - all[i]![1]);
    const result = {
      processes, durationMs, holdMs,
      holdings: all.length,
      perProcess: done.map((d) => d.holdings.length),
      gapMs: summarize(gaps.map((g) => Math.round(g * 100) / 100)),
      waitMs: summarize(all.map((h) => Math.round(h[2] * 100) / 100)),
      load: loadavg()[0],
    };
    console.log(JSON.stringify(result));
    writeFigures(result);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
