// Benchmark 5 — upgrade throughput: 10k and 100k legacy memories upgraded with local enrichment by
// the product's two-phase UpgradeRun in a process of its own (nothing else writing): rows/s, lock
// acquisitions and hold times, and the process's peak memory.
import { join } from 'node:path';
import { startWorker } from '../test/helpers/workers';
import { buildCorpusStore } from './lib/corpus';
import { benchWorker, copyStore, fixtureStore, log, QUICK, round1, runBenchmark, summarize, type Summary, type TargetCheck } from './lib/env';
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
  peakRssMB: number;
  maxRssMB: number;
  fixture: { built: boolean; buildMs: number };
}

void runBenchmark('upgrade', 'Upgrade throughput with local enrichment: 10k and 100k legacy memories', async ({ scratch, parameters, notes }) => {
  const sizes = QUICK ? [2000, 5000] : [10_000, 100_000];
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
    const finalMaintenance = (r.maintenance as Array<{ ms: number; reason?: string }>).find((m) => m.reason === 'after upgrade');
    const fig: UpgradeFigures = {
      rows,
      upgraded: r.summary.upgraded,
      failed: r.summary.failed,
      ms: r.summary.ms,
      rowsPerS: round1(r.summary.upgraded / (r.summary.ms / 1000)),
      enrichAndWriteRowsPerS: scanned && last ? round1(last.written / ((last.at - scanned.at) / 1000)) : 0,
      scanMs: scanned ? scanned.at - r.startedAt : 0,
      ...(finalMaintenance ? { finalMaintenanceMs: finalMaintenance.ms } : {}),
      batches: r.summary.batches,
      lockAcquisitions: r.acquisitions,
      lockHold: summarize(lock.map((l) => l.heldMs ?? 0)),
      peakRssMB: Math.round(r.peakRssBytes / 2 ** 20),
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
