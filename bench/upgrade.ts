// Benchmark 5 — upgrade throughput: 10k and 100k legacy memories upgraded with local enrichment by
// the product's two-phase UpgradeRun in a process of its own (nothing else writing): rows/s, lock
// acquisitions and hold times, and the process's peak memory.
import { join } from 'node:path';
import { startWorker } from '../test/helpers/workers';
import { buildCorpusStore } from './lib/corpus';
import { benchWorker, copyStore, fixtureStore, log, numberListArg, QUICK, round1, runBenchmark, summarize, type Summary, type TargetCheck } from './lib/env';
import type { UpgraderLockEvent } from './workers/upgrader';

export interface UpgradeFigures {
  rows: number;
  upgraded: number;
  failed: number;
  ms: number;
  rowsPerS: number;
  /** From the end of the scan to the last batch written: Phase 1 and Phase 2, without the scan before and the maintenance after. */
  enrichAndWriteRowsPerS: number;
  scanMs: number;
  finalMaintenanceMs?: number;
  batches: number;
  lockAcquisitions: number;
  lockHold: Summary;
  /** Lock hold p50 in each tenth of the batches: shows how a batch's cost grows as rewritten rows pile up between maintenance runs. */
  holdP50ByTenth: number[];
  /** Maintenance under the lock during and after the run (the store's own every 200 commits, then the run's final one). */
  maintenanceMs: number[];
  peakRssMB: number;
  maxRssMB: number;
  /** At the peak: JS heap used and external/array buffers (the rest of RSS is native, mostly LanceDB). */
  heapUsedMBAtPeak: number;
  /** RSS once a second, and where the run was then ('scan', 'enrich', 'write', 'maintenance'). */
  rssTimeline: Array<{ s: number; mb: number; during: string }>;
  externalMBAtPeak: number;
  fixture: { built: boolean; buildMs: number };
}

void runBenchmark('upgrade', 'Upgrade throughput with local enrichment: 10k and 100k legacy memories', async ({ scratch, parameters, notes }) => {
  const sizes = numberListArg('sizes', QUICK ? [2000, 5000] : [10_000, 100_000]);
  Object.assign(parameters, {
    sizes,
    run: 'createUpgradeRun(store, { enricher: local }) with its defaults (batches of 200, windows of 1000, background priority, maintenance after the run) in a separate process; no other writer',
    corpus: 'the recall benchmark\'s corpus (labelled memories + filler, 384-dim vectors, compacted and indexed): every row is legacy (no smart metadata)',
    memory: 'peak RSS of the upgrader process: sampled every 100 ms, and the kernel\'s maxRSS',
  });
  const out: UpgradeFigures[] = [];
  for (const rows of sizes) {
    const fixture = await fixtureStore(`corpus-${rows}`, scratch, (dir) => buildCorpusStore(dir, rows));
    log(`upgrade: ${rows} rows: fixture ${fixture.built ? `built in ${fixture.buildMs} ms` : 'reused'}`);
    const dir = join(scratch.dir(`upgrade-${rows}`), 'store');
    copyStore(fixture.template, dir);
    const worker = startWorker(benchWorker('upgrader'), { dir, strategy: 'two-phase', enricher: 'local' });
    const r = await worker.waitFor((m) => m.type === 'result' || m.type === 'fatal', 900_000);
    await worker.exited;
    if (r.type === 'fatal' || r.summary.error) throw new Error(`upgrader: ${r.message ?? r.summary.error}\n${worker.stderr().slice(-2000)}`);
    const progress = r.progress as Array<{ at: number; written: number; phase?: string }>;
    const writes = progress.filter((p) => p.written > 0);
    const scanned = progress.find((p) => p.phase === 'enrich');
    const last = writes[writes.length - 1];
    const lock = (r.lock as UpgraderLockEvent[]).filter((l) => l.operation.startsWith('upgrade'));
    const maintenance = (r.lock as UpgraderLockEvent[]).filter((l) => l.operation.startsWith('maintenance'));
    const finalMaintenance = maintenance.find((l) => l.operation === 'maintenance (after upgrade)');
    const tenth = Math.max(1, Math.ceil(lock.length / 10));
    const fig: UpgradeFigures = {
      rows,
      upgraded: r.summary.upgraded,
      failed: r.summary.failed,
      ms: r.summary.ms,
      rowsPerS: round1(r.summary.upgraded / (r.summary.ms / 1000)),
      enrichAndWriteRowsPerS: scanned && last ? round1(last.written / ((last.at - scanned.at) / 1000)) : 0,
      scanMs: scanned ? scanned.at - r.startedAt : 0,
      ...(finalMaintenance ? { finalMaintenanceMs: finalMaintenance.heldMs ?? 0 } : {}),
      batches: r.summary.batches,
      lockAcquisitions: r.acquisitions,
      lockHold: summarize(lock.map((l) => l.heldMs ?? 0)),
      holdP50ByTenth: Array.from({ length: Math.ceil(lock.length / tenth) }, (_, k) => summarize(lock.slice(k * tenth, (k + 1) * tenth).map((l) => l.heldMs ?? 0)).p50),
      maintenanceMs: maintenance.map((l) => l.heldMs ?? 0),
      peakRssMB: Math.round(r.peakRssBytes / 2 ** 20),
      heapUsedMBAtPeak: Math.round(r.memoryAtPeak.heapUsed / 2 ** 20),
      rssTimeline: (r.rssTimeline as Array<{ at: number; mb: number }>).map((x) => ({
        s: round1((x.at - r.startedAt) / 1000),
        mb: x.mb,
        during: maintenance.some((l) => x.at >= l.at && x.at <= l.at + (l.heldMs ?? 0)) ? 'maintenance' : [...progress].reverse().find((p) => p.phase && p.at <= x.at)?.phase ?? 'open',
      })),
      externalMBAtPeak: Math.round((r.memoryAtPeak.external + r.memoryAtPeak.arrayBuffers) / 2 ** 20),
      maxRssMB: Math.round(r.maxRssBytes / 2 ** 20),
      fixture: { built: fixture.built, buildMs: fixture.buildMs },
    };
    out.push(fig);
    log(`upgrade: ${rows} rows: ${fig.upgraded} upgraded in ${fig.ms} ms (${fig.rowsPerS} rows/s), peak RSS ${fig.peakRssMB} MB, lock hold p95 ${fig.lockHold.p95} ms`);
  }
  const targets: TargetCheck[] = [];
  const ten = out.find((f) => f.rows === 10_000);
  if (ten) {
    targets.push({
      target: 'Upgrade (local enrichment) of 10k legacy memories in under 30 s',
      measured: `${round1(ten.ms / 1000)} s (${ten.rowsPerS} rows/s, ${ten.failed} failed)`,
      met: ten.ms < 30_000 && ten.upgraded === 10_000,
    });
  }
  notes.push('ms = the whole run: scan, Phase 1/Phase 2 windows, and the maintenance the run requests after rewriting ≥ 1000 rows.');
  return { figures: { sizes: out }, targets };
});
