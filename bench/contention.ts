// Benchmark 1 — contention: a plugin process writes at a steady rate while an upgrader process
// upgrades 10k legacy memories; the project's two-phase upgrader against the naive baseline
// (LLM call inside a per-entry lock), with a simulated LLM and with local enrichment.
// Headline: plugin write p99 during the upgrade / plugin write p99 idle, for each design.
import { join } from 'node:path';
import { startWorker } from '../test/helpers/workers';
import { buildLegacyStore } from './lib/corpus';
import { benchWorker, copyStore, fixtureStore, log, QUICK, round1, round2, runBenchmark, sleep, summarize, type Summary, type TargetCheck } from './lib/env';
import type { PluginLockEvent, PluginOp } from './workers/plugin';
import type { UpgraderLockEvent } from './workers/upgrader';
import { writeFileSync } from 'node:fs';

interface Scenario {
  name: string;
  strategy: 'two-phase' | 'naive';
  enricher: 'llm' | 'local';
  /** Longest the upgrade may run before it is stopped (the rest of the 10k stays legacy). */
  windowMs: number;
}

export interface ScenarioFigures {
  name: string;
  strategy: Scenario['strategy'];
  enricher: Scenario['enricher'];
  plugin: {
    idle: Summary & { failed: number };
    during: Summary & { failed: number };
    /** The headline: p99 during the upgrade / p99 idle. */
    p99Ratio: number;
    byKindDuring: Record<string, Summary>;
    lockWaitIdle: Summary;
    lockWaitDuring: Summary;
    lockHoldIdle: Summary;
    lockHoldDuring: Summary;
    /** Lock waits that ended at the write's deadline (the write failed). Included in lockWait*. */
    lockTimeoutsDuring: number;
    /** The plugin process's own store maintenance (compaction every ~100–200 of its commits), which its writes queue behind. */
    maintenanceIdle: number[];
    maintenanceDuring: number[];
    acquisitionsDuring: number;
    failureSample: string[];
    timerLagP99Ms: number;
    /** The slowest 1% of writes during the upgrade and what held the lock while they waited. */
    slowestDuring: Array<{ ms: number; overlapped: string[] }>;
  };
  upgrader: {
    ranMs: number;
    upgraded: number;
    stoppedByWindow: boolean;
    rowsPerS: number;
    /** Rows per second up to the last write (excludes the tail after it, e.g. the final maintenance). */
    rowsPerSToLastWrite: number;
    llmBoundRowsPerS?: number;
    shareOfLlmBound?: number;
    acquisitions: number;
    upgradeAcquisitions: number;
    lockHold: Summary;
    /** Every hold of the upgrader process, its maintenance included: what another process may wait behind. */
    lockHoldAll: Summary;
    lockWait: Summary;
    maintenance: Array<{ ms: number; reason?: string }>;
    summary: Record<string, unknown>;
  };
  load: { idle: number; during: number };
}

const within = <T extends { at: number }>(xs: T[], from: number, to: number) => xs.filter((x) => x.at >= from && x.at <= to);

/** For the slowest 1% (at least 3) writes: which lock holds overlapped them (upgrader batches or maintenance, the plugin's own maintenance). */
function slowest(ops: PluginOp[], upLock: UpgraderLockEvent[], pluginMaintenance: Array<{ at: number; ms: number }>): Array<{ ms: number; overlapped: string[] }> {
  const top = [...ops].sort((a, b) => b.ms - a.ms).slice(0, Math.max(3, Math.ceil(ops.length / 100)));
  return top.map((o) => {
    const from = o.at;
    const to = o.at + o.ms;
    const overlapped = [
      ...upLock.filter((l) => l.at < to && l.at + (l.heldMs ?? 0) > from).map((l) => `upgrader ${l.operation.startsWith('maintenance') ? l.operation : 'batch'} (held ${l.heldMs} ms)`),
      ...pluginMaintenance.filter((m) => m.at - m.ms < to && m.at > from).map((m) => `plugin's own maintenance (${m.ms} ms)`),
    ];
    // Summarised by kind: "upgrader batch ×14 (≤ 568 ms)".
    const kinds = new Map<string, number[]>();
    for (const x of overlapped) {
      const m = /^(.*) \((?:held )?(\d+) ms\)$/.exec(x);
      const kind = m ? m[1]! : x;
      kinds.set(kind, [...(kinds.get(kind) ?? []), m ? Number(m[2]) : 0]);
    }
    return { ms: Math.round(o.ms), overlapped: [...kinds].map(([k, v]) => (v.length > 1 ? `${k} ×${v.length} (≤ ${Math.max(...v)} ms)` : `${k} (${v[0]} ms)`)) };
  });
}

function opSummary(ops: PluginOp[]): Summary & { failed: number } {
  return { ...summarize(ops.map((o) => o.ms)), failed: ops.filter((o) => !o.ok).length };
}

void runBenchmark('contention', 'Plugin writes while another process upgrades 10k memories: two-phase vs naive', async ({ scratch, load, parameters, notes }) => {
  const rows = QUICK ? 2000 : 10_000;
  const rate = 20;
  const idleMs = QUICK ? 4000 : 15_000;
  const warmupMs = QUICK ? 2000 : 5000;
  const llm = { latencyMs: 200, concurrency: 8 };
  const scenarios: Scenario[] = [
    { name: 'two-phase, simulated LLM', strategy: 'two-phase', enricher: 'llm', windowMs: QUICK ? 8000 : 32_000 },
    { name: 'naive, simulated LLM', strategy: 'naive', enricher: 'llm', windowMs: QUICK ? 6000 : 12_000 },
    { name: 'two-phase, local enrichment', strategy: 'two-phase', enricher: 'local', windowMs: QUICK ? 20_000 : 60_000 },
    { name: 'naive, local enrichment', strategy: 'naive', enricher: 'local', windowMs: QUICK ? 6000 : 12_000 },
  ];
  const only = process.env.BENCH_SCENARIOS?.split(';'); // e.g. BENCH_SCENARIOS='two-phase, local'
  // Development: the two-phase upgrader's rows per batch (default: UpgradeRun's 200).
  const batchSize = Number(process.env.BENCH_UPGRADE_BATCH ?? 0) || undefined;
  if (batchSize) parameters.upgradeBatchSize = batchSize;
  Object.assign(parameters, {
    legacyRows: rows,
    plugin: { ratePerS: rate, mix: 'alternating: store a new memory (insert) / recall counter patch on a random legacy row (increment injected_count, raise last_injected_at); interactive priority; open loop; latency = call into the store until acknowledged (embedding before it, not timed)' },
    idleWindowMs: idleMs,
    pluginWarmupMs: `${warmupMs} (writing at the rate, unmeasured, so the idle window sees the store's working state: fragments piling up and the plugin's own maintenance)`,
    simulatedLlm: { ...llm, how: 'bench-only Enricher: a timer of latencyMs per entry (no CPU), local fields under provider "simulated-llm"' },
    twoPhase: 'createUpgradeRun defaults: batches of 200 rows (one lock acquisition each), Phase 1 windows of 1000 rows, background priority, 20 ms yield between batches, maintenance after ≥1000 rewritten rows',
    naive: 'bench/lib/naiveUpgrade.ts: per entry StoreLock.acquire → read row → enrich (LLM) → one-row conditional mergeInsert → release; entries one at a time (the lock serialises them)',
    scenarios,
    store: '384-dim vectors from the local embedder; legacy rows of test/fixtures/upgrade/legacyStore; compacted and indexed before each scenario (a fresh copy per scenario)',
  });
  const fixture = await fixtureStore(`legacy-${rows}`, scratch, (dir) => buildLegacyStore(dir, rows));
  log(`contention: legacy fixture of ${rows} rows ${fixture.built ? `built in ${fixture.buildMs} ms` : 'reused'}`);

  const results: ScenarioFigures[] = [];
  for (const sc of scenarios) {
    if (only && !only.some((o) => sc.name.includes(o))) continue;
    const dir = scratch.dir(sc.name.replace(/\W+/g, '-'));
    const store = join(dir, 'store');
    copyStore(fixture.template, store);
    const stopFile = join(dir, 'stop-plugin');
    log(`contention: ${sc.name}: plugin idle for ${idleMs} ms`);
    const plugin = startWorker(benchWorker('plugin'), { dir: store, rate, legacyCount: rows, stopFile, tag: 'plugin', warmupMs });
    await plugin.waitFor((m) => m.type === 'ready', 120_000);
    const idleFrom = Date.now();
    await sleep(idleMs);
    const idleTo = Date.now();
    const loadIdle = load.mark();
    log(`contention: ${sc.name}: upgrader starts (window ≤ ${sc.windowMs} ms)`);
    const upgrader = startWorker(benchWorker('upgrader'), { dir: store, strategy: sc.strategy, enricher: sc.enricher, llmLatencyMs: llm.latencyMs, llmConcurrency: llm.concurrency, maxMs: sc.windowMs, ...(batchSize ? { batchSize } : {}) });
    const up = await upgrader.waitFor((m) => m.type === 'result' || m.type === 'fatal', sc.windowMs + 300_000);
    await upgrader.exited;
    if (up.type === 'fatal') throw new Error(`upgrader: ${up.message}\n${upgrader.stderr().slice(-2000)}`);
    const loadDuring = load.mark();
    writeFileSync(stopFile, '');
    const done = await plugin.waitFor((m) => m.type === 'done' || m.type === 'fatal', 120_000);
    await plugin.exited;
    if (done.type === 'fatal') throw new Error(`plugin: ${done.message}\n${plugin.stderr().slice(-2000)}`);

    const ops = done.ops as PluginOp[];
    const pluginLock = done.lock as PluginLockEvent[];
    const idleOps = within(ops, idleFrom, idleTo);
    const duringOps = within(ops, up.startedAt, up.endedAt);
    const upLock = up.lock as UpgraderLockEvent[];
    const upgradeLock = upLock.filter((l) => !l.operation.startsWith('maintenance'));
    const progress = up.progress as Array<{ at: number; written: number }>;
    // The moment the last batch landed (the first progress event with the final count; a later 'done' event repeats it).
    const finalWritten = Math.max(0, ...progress.map((p) => p.written));
    const lastWrite = finalWritten > 0 ? progress.find((p) => p.written === finalWritten) : undefined;
    const upgraded = Number(up.summary.upgraded ?? 0);
    const ranMs = up.endedAt - up.startedAt;
    const llmBound = sc.enricher === 'llm' ? (sc.strategy === 'naive' ? 1 : llm.concurrency) / (llm.latencyMs / 1000) : undefined;
    const idle = opSummary(idleOps);
    const during = opSummary(duringOps);
    const rowsPerSToLastWrite = lastWrite ? round1(lastWrite.written / ((lastWrite.at - up.startedAt) / 1000)) : 0;
    const fig: ScenarioFigures = {
      name: sc.name,
      strategy: sc.strategy,
      enricher: sc.enricher,
      plugin: {
        idle,
        during,
        p99Ratio: idle.p99 > 0 ? round2(during.p99 / idle.p99) : 0,
        byKindDuring: Object.fromEntries(['store', 'counter'].map((k) => [k, summarize(duringOps.filter((o) => o.kind === k).map((o) => o.ms))])),
        lockWaitIdle: summarize(within(pluginLock, idleFrom, idleTo).map((l) => l.waitedMs)),
        lockWaitDuring: summarize(within(pluginLock, up.startedAt, up.endedAt).map((l) => l.waitedMs)),
        lockHoldIdle: summarize(within(pluginLock, idleFrom, idleTo).filter((l) => !l.timedOut).map((l) => l.heldMs ?? 0)),
        lockHoldDuring: summarize(within(pluginLock, up.startedAt, up.endedAt).filter((l) => !l.timedOut).map((l) => l.heldMs ?? 0)),
        lockTimeoutsDuring: within(pluginLock, up.startedAt, up.endedAt).filter((l) => l.timedOut).length,
        maintenanceIdle: within(done.maintenance as Array<{ at: number; ms: number }>, idleFrom, idleTo).map((m) => m.ms),
        maintenanceDuring: within(done.maintenance as Array<{ at: number; ms: number }>, up.startedAt, up.endedAt).map((m) => m.ms),
        acquisitionsDuring: within(pluginLock, up.startedAt, up.endedAt).filter((l) => !l.timedOut).length,
        failureSample: [...new Set(duringOps.filter((o) => !o.ok).map((o) => o.error ?? ''))].slice(0, 3),
        timerLagP99Ms: summarize(ops.map((o) => o.lagMs)).p99,
        slowestDuring: slowest(duringOps, upLock, done.maintenance as Array<{ at: number; ms: number }>),
      },
      upgrader: {
        ranMs,
        upgraded,
        stoppedByWindow: up.summary.cancelled === true,
        rowsPerS: round1(upgraded / (ranMs / 1000)),
        rowsPerSToLastWrite,
        ...(llmBound !== undefined ? { llmBoundRowsPerS: llmBound, shareOfLlmBound: round2(rowsPerSToLastWrite / llmBound) } : {}),
        acquisitions: up.acquisitions,
        upgradeAcquisitions: upgradeLock.length,
        lockHold: summarize(upgradeLock.map((l) => l.heldMs ?? 0)),
        lockHoldAll: summarize(upLock.map((l) => l.heldMs ?? 0)),
        lockWait: summarize(upgradeLock.map((l) => l.waitedMs)),
        maintenance: (up.maintenance as Array<{ ms: number; reason?: string }>).map(({ ms, reason }) => ({ ms, ...(reason ? { reason } : {}) })),
        summary: up.summary,
      },
      load: { idle: loadIdle, during: loadDuring },
    };
    results.push(fig);
    log(`contention: ${sc.name}: plugin p99 idle ${idle.p99} ms → during ${during.p99} ms (×${fig.plugin.p99Ratio}), ${during.failed} failed; upgrader ${upgraded} rows in ${ranMs} ms (${fig.upgrader.rowsPerS} rows/s), hold p95 ${fig.upgrader.lockHold.p95} ms`);
  }

  const targets: TargetCheck[] = [];
  const get = (strategy: string, enricher: string) => results.find((r) => r.strategy === strategy && r.enricher === enricher);
  for (const enricher of ['llm', 'local'] as const) {
    const two = get('two-phase', enricher);
    const naive = get('naive', enricher);
    if (two) {
      targets.push({
        target: `Plugin write p99 during a 10k upgrade ≤ 2× idle p99 (${enricher === 'llm' ? 'simulated LLM' : 'local enrichment'})`,
        measured: `two-phase ×${two.plugin.p99Ratio} (${two.plugin.idle.p99} → ${two.plugin.during.p99} ms)${naive ? `; naive ×${naive.plugin.p99Ratio} (${naive.plugin.idle.p99} → ${naive.plugin.during.p99} ms, ${naive.plugin.during.failed} writes failed)` : ''}`,
        met: two.plugin.p99Ratio <= 2 && two.plugin.during.failed === 0,
      });
      targets.push({
        target: `Lock wait under contention close to the holder's hold time, not a back-off (${enricher === 'llm' ? 'simulated LLM' : 'local enrichment'})`,
        measured: two.upgrader.upgradeAcquisitions === 0
          ? 'not measured: the upgrader wrote no batch within the window'
          : `plugin lock wait p99 ${two.plugin.lockWaitDuring.p99} ms / max ${two.plugin.lockWaitDuring.max} ms vs upgrader hold p99 ${two.upgrader.lockHold.p99} ms / max ${two.upgrader.lockHold.max} ms (${two.upgrader.lockHoldAll.max} ms with its maintenance)${naive ? `; naive: plugin lock wait max ${naive.plugin.lockWaitDuring.max} ms` : ''}`,
        // "Close to the hold time": no wait longer than the longest hold it could have queued behind (a batch or
        // the upgrader's maintenance) plus 100 ms of polling and scheduling.
        met: two.upgrader.upgradeAcquisitions > 0 && two.plugin.lockWaitDuring.max <= two.upgrader.lockHoldAll.max + 100,
      });
    }
  }
  const twoLocal = get('two-phase', 'local');
  if (twoLocal) {
    targets.push({
      target: 'Upgrader throughput while the plugin writes ≥ 1000 rows/s (local enrichment)',
      measured: `${twoLocal.upgrader.rowsPerS} rows/s over the whole run (${twoLocal.upgrader.rowsPerSToLastWrite} rows/s to the last batch)`,
      met: twoLocal.upgrader.rowsPerS >= 1000,
    });
  }
  const twoLlm = get('two-phase', 'llm');
  if (twoLlm) {
    targets.push({
      target: 'Upgrader throughput while the plugin writes ≥ 90% of the LLM-bound rate (concurrency / latency)',
      measured: `${twoLlm.upgrader.rowsPerSToLastWrite} rows/s of ${twoLlm.upgrader.llmBoundRowsPerS} = ${Math.round((twoLlm.upgrader.shareOfLlmBound ?? 0) * 100)}%`,
      met: (twoLlm.upgrader.shareOfLlmBound ?? 0) >= 0.9,
    });
  }
  notes.push('Percentiles are nearest-rank over every plugin write started in the window (failed writes count with the time they took to fail).');
  notes.push('"during" = from the upgrader process starting its run until it ended (including its final maintenance); the naive and LLM runs are stopped at their window, the rest of the 10k rows stay legacy.');
  return { figures: { scenarios: results }, targets };
});
