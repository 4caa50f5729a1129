// The upgrader as a separate process, with a bench-only strategy switch: `two-phase` is the
// product's UpgradeRun (enrich with no lock, write bounded batches through the store's queue);
// `naive` is the docs/lessons.md#no-llm-call-under-the-lock baseline (lock, LLM call, one-row write, release — per entry).
// Runs until done, until `stopFile` exists, or `maxMs`; reports lock acquisitions and hold times,
// progress over time and peak memory.
import { existsSync } from 'node:fs';
import { errorMessage } from '../../src/core/errors';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { createUpgradeRun, LocalEnricher, type Enricher } from '../../src/core/upgrade';
import { emit, workerArgs } from '../../test/helpers/workers';
import { naiveUpgrade } from '../lib/naiveUpgrade';
import { SimulatedLlmEnricher } from '../lib/simulatedLlm';

interface Args {
  dir: string;
  strategy: 'two-phase' | 'naive';
  enricher: 'local' | 'llm';
  llmLatencyMs?: number;
  llmConcurrency?: number;
  batchSize?: number;
  stopFile?: string;
  maxMs?: number;
}

export interface UpgraderLockEvent {
  operation: string;
  at: number;
  waitedMs: number;
  heldMs?: number;
}

async function main(): Promise<void> {
  const a = workerArgs<Args>();
  let peakRss = process.memoryUsage().rss;
  // What the process held at its peak: a JS heap far below RSS means native memory (LanceDB).
  let atPeak: NodeJS.MemoryUsage = process.memoryUsage();
  const rssTimeline: Array<{ at: number; mb: number }> = [];
  let ticks = 0;
  const rssTimer = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss > peakRss) { peakRss = m.rss; atPeak = m; }
    if (ticks++ % 10 === 0) rssTimeline.push({ at: Date.now(), mb: Math.round(m.rss / 2 ** 20) });
  }, 100);
  const store = await MemoryStore.open(a.dir, { create: false });
  const lock: UpgraderLockEvent[] = [];
  store.lock.onEvent((e) => {
    if (e.type === 'acquired') lock.push({ operation: e.operation, at: e.at, waitedMs: e.waitedMs });
    else if (e.type === 'released' && lock.length) lock[lock.length - 1]!.heldMs = e.heldMs;
  });
  const maintenance: Array<{ at: number; ms: number; reason?: string }> = [];
  store.onMaintenance((m) => maintenance.push({ at: Date.now(), ms: m.ms, ...(m.reason ? { reason: m.reason } : {}) }));
  const enricher: Enricher = a.enricher === 'llm' ? new SimulatedLlmEnricher(a.llmLatencyMs ?? 200, a.llmConcurrency ?? 8) : new LocalEnricher();
  const controller = new AbortController();
  const progress: Array<{ at: number; written: number; phase?: string }> = [];
  const startedAt = Date.now();
  const stopTimer = setInterval(() => {
    if ((a.stopFile && existsSync(a.stopFile)) || (a.maxMs !== undefined && Date.now() - startedAt >= a.maxMs)) controller.abort(new Error('window over'));
  }, 50);
  emit({ type: 'started', pid: process.pid, at: startedAt });
  let summary: Record<string, unknown>;
  try {
    if (a.strategy === 'two-phase') {
      const run = createUpgradeRun(store, { enricher, signal: controller.signal, ...(a.batchSize ? { batchSize: a.batchSize } : {}) });
      let lastPhase = '';
      run.onProgress((p) => {
        if (p.phase !== lastPhase || p.written !== progress[progress.length - 1]?.written) progress.push({ at: p.at, written: p.written, ...(p.phase !== lastPhase ? { phase: p.phase } : {}) });
        lastPhase = p.phase;
      });
      const r = await run.run();
      summary = { upgraded: r.upgraded, candidates: r.candidates, scanned: r.scanned, failed: r.failed.length, failedSample: r.failed.slice(0, 3), batches: r.batches, cancelled: r.cancelled, aborted: r.aborted, concurrentWrites: r.concurrentWrites, fallbacks: r.fallbacks, ms: r.ms };
    } else {
      const r = await naiveUpgrade(store, { enricher, signal: controller.signal, onWritten: (written) => progress.push({ at: Date.now(), written }) });
      summary = { upgraded: r.upgraded, candidates: r.candidates, scanned: r.scanned, failed: r.failed.length, failedSample: r.failed.slice(0, 3), batches: r.upgraded, cancelled: controller.signal.aborted, ms: r.ms };
    }
  } catch (err) {
    summary = { error: errorMessage(err) };
    process.exitCode = 3;
  }
  clearInterval(stopTimer);
  const endedAt = Date.now();
  await store.close();
  clearInterval(rssTimer);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  emit({
    type: 'result',
    strategy: a.strategy,
    enricher: enricher.provider,
    startedAt,
    endedAt,
    summary,
    progress,
    lock,
    maintenance,
    acquisitions: store.lock.acquisitions,
    peakRssBytes: peakRss,
    memoryAtPeak: atPeak,
    rssTimeline,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  });
}

main().catch((err) => { emit({ type: 'fatal', message: String(err?.stack ?? err) }); process.exit(1); });
