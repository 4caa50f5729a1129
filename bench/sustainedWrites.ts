// Sustained writes: one process storing memories at a steady rate for minutes, with no upgrade or
// other writer, as a busy agent does. `npm run bench:sustained [-- --rate 50 --minutes 10]`.
// Protocol: MemoryService.store({ text, force }) at interactive priority (validation, local
// embedding, one queued insert each), open loop: a store starts every 1/rate s whether or not the
// previous one finished, so a stall shows as latency. Every 10 s window: the worst and p50 store
// latency, stores finished, and the store's table versions, fragments and bytes on disk against
// the raw size of the rows (same measure as bench/storage.ts). Product defaults otherwise
// (automatic maintenance, the ANN index built in the background from 20k rows, as in the extension
// and the MCP server); `--no-vector-index` leaves the ANN index out (the CLI's setting), `--off-lock`
// runs maintenance beside the writes (`maintenance.offLock`). Result: bench/results/sustainedWrites.json.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryService } from '../src/core/memoryService';
import { listVersionsSafely } from '../src/core/store/maintenance';
import { fillerTexts } from '../test/helpers/recallQuality';
import { numberArg, percentile, RESULTS_DIR, writeFigures } from './lib/env';

const du = (dir: string): number => readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? du(join(dir, e.name)) : statSync(join(dir, e.name), { throwIfNoEntry: false })?.size ?? 0), 0);
const round1 = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const rate = numberArg('rate', 50);
  const minutes = numberArg('minutes', 10);
  const windowMs = 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'ml-bench-sustained-'));
  const texts = fillerTexts(Math.ceil(rate * minutes * 60 * 1.05) + 100);
  try {
    const vectorIndex = !process.argv.includes('--no-vector-index');
    const offLock = process.argv.includes('--off-lock');
    const memory = await MemoryService.open({ dir, vectorIndex: { auto: vectorIndex }, ...(offLock ? { storeOptions: { maintenance: { offLock: true } } } : {}) });
    const vectorEvents: string[] = [];
    memory.onVectorIndex((e) => { if (e.kind !== 'skipped') vectorEvents.push(`${e.kind}${'ms' in e ? ` in ${e.ms} ms` : ''}${'rows' in e ? ` at ${e.rows} rows` : ''}`); });
    const store = memory.memoryStore;
    let maintenance: Array<{ at: number; ms: number; reason?: string; underLock?: boolean }> = [];
    store.onMaintenance((m) => maintenance.push({ at: Date.now(), ms: m.ms, reason: m.reason, underLock: m.underLock }));
    const windows: unknown[] = [];
    let lat: number[] = [];
    let failed = 0;
    let rawBytesPerRow = 0;
    const started = Date.now();
    const end = started + minutes * 60_000;
    let issued = 0;
    const inFlight = new Set<Promise<void>>();
    const timer = setInterval(() => {
      // Catch up to the schedule if the event loop was late: open loop.
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      while (issued < due && Date.now() < end) {
        const i = issued++;
        const t0 = performance.now();
        const p = memory.store({ text: `${texts[i % texts.length]} (${i})`, scope: 'global', force: true })
          .then(() => { lat.push(performance.now() - t0); }, () => { failed++; lat.push(performance.now() - t0); })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    }, Math.max(1, Math.floor(1000 / rate / 2)));
    let nextWindow = started + windowMs;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, Math.max(0, nextWindow - Date.now())));
      const rows = await store.count();
      if (!rawBytesPerRow && rows > 0) {
        const sample = await store.rows(undefined);
        rawBytesPerRow = sample.slice(0, 200).reduce((n, r: any) => n + ['id', 'text', 'category', 'scope', 'metadata'].reduce((m, k) => m + Buffer.byteLength(String(r[k] ?? ''), 'utf8'), 0) + 384 * 4 + 4 * 8, 0) / Math.min(200, sample.length);
      }
      const versions = (await listVersionsSafely(store.table)).length;
      const fragments = (await store.table.stats()).fragmentStats.numFragments;
      const vectorSegments = (await store.table.listIndices()).find((i) => i.columns.includes('vector'))?.numSegments;
      const disk = du(dir);
      const w = {
        t: Math.round((nextWindow - started) / 1000),
        stores: lat.length,
        worstMs: round1(Math.max(0, ...lat)),
        p50Ms: round1(percentile(lat, 50)),
        p99Ms: round1(percentile(lat, 99)),
        inFlight: inFlight.size,
        rows,
        versions,
        fragments,
        ...(vectorSegments !== undefined ? { vectorSegments } : {}),
        ...(vectorEvents.length ? { vectorIndex: vectorEvents.splice(0) } : {}),
        diskMB: round1(disk / 2 ** 20),
        ratioToRaw: rawBytesPerRow ? round1(disk / (rows * rawBytesPerRow)) : undefined,
        maintenance: maintenance.map((m) => `${m.ms} ms${m.underLock ? ' (under the lock)' : ''}`),
        load: round1(loadavg()[0]),
      };
      windows.push(w);
      console.error(JSON.stringify(w));
      lat = [];
      maintenance = [];
      nextWindow += windowMs;
    }
    clearInterval(timer);
    await Promise.all([...inFlight]);
    await memory.close();
    const result = { rate, minutes, windowMs, vectorIndex, offLock, issued, failed, startedAt: new Date(started).toISOString(), windows };
    writeFigures(result, join(RESULTS_DIR, 'sustainedWrites.json'));
    console.log(JSON.stringify({ issued, failed, windows: windows.length }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
