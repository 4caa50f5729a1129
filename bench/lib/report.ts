// Renders BENCHMARKS.md from bench/results/*.json: the targets of docs/architecture.md#targets with met / not met and
// the cause, then one table per benchmark with each figure beside its baseline, and the machine
// load every figure was measured under.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../test/helpers/repo';
import type { ScenarioFigures } from '../contention';
import type { RunFigures } from '../crossProcess';
import type { ModeFigures, SizeFigures } from '../recall';
import type { StoreState } from '../storage';
import type { UpgradeFigures } from '../upgrade';
import { QUICK, RESULTS_DIR, type BenchResult, type Summary } from './env';
import { withLocomoSection } from './locomoReport';

export interface SuiteRecord {
  startedAt: string;
  quick: boolean;
  benchmarks: Array<{ name: string; seconds: number; exitCode: number }>;
  totalS: number;
  loadAtStart: number[];
  loadAtEnd: number[];
}

const ORDER = ['contention', 'crossProcess', 'recall', 'storage', 'upgrade'];
const SUITE_FILE = 'suite.json';

export function writeSuiteRecord(record: SuiteRecord): void {
  writeFileSync(join(RESULTS_DIR, SUITE_FILE), JSON.stringify(record, null, 2) + '\n');
}

function read<T>(file: string): T | undefined {
  const path = join(RESULTS_DIR, file);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}

const ms = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x} ms`);
const pcts = (s: Summary) => `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)} / ${ms(s.max)}`;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const yes = (met: boolean) => (met ? '✅ met' : '❌ not met');

function loadLine(r: BenchResult): string {
  const l = r.load;
  return `Machine load while it ran (1-min load average on ${r.machine.cpus} cores): mean ${l.oneMinute.mean} (min ${l.oneMinute.min}, max ${l.oneMinute.max}), ${l.perCoreMean} per core; started ${r.startedAt.replace('T', ' ').slice(0, 19)} UTC, took ${r.durationS} s.`;
}

function contention(r: BenchResult): string[] {
  const sc = (r.figures.scenarios ?? []) as ScenarioFigures[];
  const p = r.parameters as { plugin?: { ratePerS?: number }; legacyRows?: number; simulatedLlm?: { latencyMs: number; concurrency: number } };
  const out = [
    `A plugin process writes ${p.plugin?.ratePerS} times a second (new memories and recall-counter patches, open loop) while another process upgrades ${p.legacyRows} legacy memories. The same store and data for both designs; the naive baseline is the upgrader of docs/lessons.md#no-llm-call-under-the-lock (lock → LLM call → one-row write → release, per entry). Simulated LLM: ${p.simulatedLlm?.latencyMs} ms per entry, concurrency ${p.simulatedLlm?.concurrency}.`,
    '',
    '| upgrader | enrichment | plugin write p50 / p95 / p99 / max, idle | … during the upgrade | **p99 during / idle** | plugin writes failed | plugin lock wait p99 / max, during | upgrader lock hold p50 / p95 / max | upgrader lock acquisitions | upgraded rows, rows/s | share of LLM-bound rate |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of sc) {
    out.push(`| ${s.strategy} | ${s.enricher === 'llm' ? 'simulated LLM' : 'local'} | ${pcts(s.plugin.idle)} | ${pcts(s.plugin.during)} | **×${s.plugin.p99Ratio}** | ${s.plugin.during.failed} of ${s.plugin.during.n} | ${ms(s.plugin.lockWaitDuring.p99)} / ${ms(s.plugin.lockWaitDuring.max)}${s.plugin.lockTimeoutsDuring ? ` (${s.plugin.lockTimeoutsDuring} ended at the deadline)` : ''} | ${ms(s.upgrader.lockHold.p50)} / ${ms(s.upgrader.lockHold.p95)} / ${ms(s.upgrader.lockHold.max)} | ${s.upgrader.upgradeAcquisitions} | ${s.upgrader.upgraded} in ${(s.upgrader.ranMs / 1000).toFixed(1)} s${s.upgrader.stoppedByWindow ? ' (window)' : ''}, ${s.upgrader.rowsPerS} | ${s.upgrader.shareOfLlmBound !== undefined ? `${Math.round(s.upgrader.shareOfLlmBound * 100)}% of ${s.upgrader.llmBoundRowsPerS}/s` : '–'} |`);
  }
  const failures = sc.filter((s) => s.plugin.failureSample.length);
  if (failures.length) {
    out.push('', 'Plugin write failures (first distinct messages):');
    for (const s of failures) out.push(`- ${s.name}: ${s.plugin.failureSample.map((f) => `\`${f.replace(/`/g, "'")}\``).join('; ')}`);
  }
  out.push('', 'Where the plugin\'s time went (during the upgrade): its own commit (lock hold) p50 idle → during, and its own store maintenance (compaction every ~100 of its commits; its writes queue behind it):');
  for (const s of sc) out.push(`- ${s.name}: own lock hold p50 ${ms(s.plugin.lockHoldIdle.p50)} → ${ms(s.plugin.lockHoldDuring.p50)}, p99 ${ms(s.plugin.lockHoldIdle.p99)} → ${ms(s.plugin.lockHoldDuring.p99)}; lock wait p50 ${ms(s.plugin.lockWaitIdle.p50)} → ${ms(s.plugin.lockWaitDuring.p50)}; own maintenance ${s.plugin.maintenanceIdle.length} run(s) idle [${s.plugin.maintenanceIdle.join(', ')} ms], ${s.plugin.maintenanceDuring.length} during [${s.plugin.maintenanceDuring.join(', ')} ms]; upgrader maintenance [${s.upgrader.maintenance.map((m) => m.ms).join(', ')} ms].`);
  out.push('', 'The slowest 1% of plugin writes during the upgrade, and what held the lock meanwhile:');
  for (const s of sc) out.push(`- ${s.name}: ${s.plugin.slowestDuring.map((w) => `${ms(w.ms)}${w.overlapped.length ? ` (${[...new Set(w.overlapped)].join('; ')})` : ' (no other holder: own queue and commit)'}`).join(', ')}.`);
  out.push('', `Load per scenario (1-min average at the end of the idle window / of the upgrade): ${sc.map((s) => `${s.name} ${s.load.idle} / ${s.load.during}`).join('; ')}.`);
  return out;
}

function crossProcess(r: BenchResult): string[] {
  const runs = (r.figures.runs ?? []) as RunFigures[];
  const out = [
    `Each process starts all its stores at once (10% of them share client ids across processes: the same memory stored by several windows), plus ${(r.parameters as { incrementsPerProcess?: number }).incrementsPerProcess} recall-counter increments on shared rows. **lock** = MemoryService.store through the queue and lock; **no lock** = the baseline writing straight into LanceDB (time-boxed).`,
    '',
    '| P × C | writes | acknowledged | failed | unanswered | lost | duplicated ids | counter increments landed / acknowledged | acknowledged/s | store latency p50 / p95 / p99 / max | lock acquisitions per process | lock wait p50 / max, hold p50 / max (rows per commit p50) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const x of runs) {
    out.push(`| ${x.processes} × ${x.perProcess} | ${x.mode === 'lock' ? 'project lock' : 'no lock (baseline)'} | ${x.acknowledged} / ${x.attempted} | ${x.failed} | ${x.pending}${x.timedOut ? ' (time box)' : ''} | ${x.lost} | ${x.duplicatedIds}${x.extraCopies ? ` (+${x.extraCopies} rows)` : ''} | ${x.increments.landed} / ${x.increments.acknowledged} | ${x.acknowledgedPerS} | ${pcts(x.latency)} | ${x.lockAcquisitionsPerProcess ? x.lockAcquisitionsPerProcess.join(', ') : '–'} | ${x.lock ? `${ms(x.lock.wait.p50)} / ${ms(x.lock.wait.max)}, ${ms(x.lock.hold.p50)} / ${ms(x.lock.hold.max)} (${x.lock.rowsPerCommit.p50})` : '–'} |`);
  }
  const errs = runs.filter((x) => x.errorSample.length);
  if (errs.length) {
    out.push('', 'Errors seen (first distinct messages):');
    for (const x of errs) out.push(`- ${x.processes} × ${x.perProcess} ${x.mode}: ${x.errorSample.map((e) => `\`${e.replace(/`/g, "'")}\``).join('; ')}`);
  }
  return out;
}

function recall(r: BenchResult): string[] {
  const sizes = (r.figures.sizes ?? []) as SizeFigures[];
  const cell = (m: ModeFigures | undefined) => (m ? `${ms(m.latency.p50)} / ${ms(m.latency.p95)}` : '–');
  const out = [
    'One `MemoryService.recall` end to end (query embedding, search with the scope prefilter, fusion, ranking) for each labelled query; recall@5 on the labelled set hidden among the distractors. The product builds the ANN index in the background from 20k rows, so **bold** marks the state a store of that size normally runs in.',
    '',
    '| memories | ANN index | vector p50 / p95 | FTS p50 / p95 | hybrid p50 / p95 | recall@5 vector / FTS / hybrid | index build |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const s of sizes) {
    for (const state of ['flat', 'ann'] as const) {
      const f = s[state];
      const bold = (t: string) => (s.productDefault === state ? `**${t}**` : t);
      out.push(`| ${s.rows.toLocaleString('en')} | ${bold(state === 'ann' ? 'IVF_HNSW_SQ' : 'none (brute force)')} | ${cell(f.vector)} | ${cell(f.fts)} | ${bold(cell(f.hybrid))} | ${f.vector?.recallAt5} / ${f.fts?.recallAt5} / ${f.hybrid?.recallAt5} | ${state === 'ann' ? (s.annBuild.ms !== undefined ? ms(s.annBuild.ms) : s.annBuild.kind) : '–'} |`);
    }
  }
  return out;
}

function storage(r: BenchResult): string[] {
  const f = r.figures as { written: number; writeMs: number; writesPerS: number; writeLatency: Summary; writeLatencyPerThousand: Array<{ writes: string; p50: number; p95: number; max: number }>; automaticMaintenance: { runs: number; ms: Summary }; states: StoreState[]; bulkBaseline: StoreState };
  const out = [
    `${f.written} memories written one at a time (one commit each) in ${(f.writeMs / 1000).toFixed(0)} s (${f.writesPerS}/s; write p50 / p95 / p99 / max ${pcts(f.writeLatency)}); the store's automatic maintenance ran ${f.automaticMaintenance.runs} times (p50 ${ms(f.automaticMaintenance.ms.p50)}, max ${ms(f.automaticMaintenance.ms.max)} under the lock).`,
    '',
    '| state | rows | on disk | × raw data | raw data | versions | fragments | write p50 / p95 | recall p50 / p95 |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of [...f.states, f.bulkBaseline]) {
    out.push(`| ${s.label}${s.maintenanceMs !== undefined ? ` (maintenance took ${ms(s.maintenanceMs)})` : ''} | ${s.rows} | ${mb(s.diskBytes)} | ${s.ratioToRaw}× | ${mb(s.rawBytes)} | ${s.versions} | ${s.fragments} | ${s.writeLatency ? `${ms(s.writeLatency.p50)} / ${ms(s.writeLatency.p95)}` : '–'} | ${s.recallLatency ? `${ms(s.recallLatency.p50)} / ${ms(s.recallLatency.p95)}` : '–'} |`);
  }
  out.push('', `Single-write latency as the store grew (p50 / p95 / max per 1000 writes): ${f.writeLatencyPerThousand.map((b) => `${b.writes}: ${b.p50} / ${b.p95} / ${b.max} ms`).join('; ')}.`);
  return out;
}

function upgrade(r: BenchResult): string[] {
  const sizes = (r.figures.sizes ?? []) as UpgradeFigures[];
  const rss: string[] = [];
  const out = [
    'The product\'s two-phase upgrader with local enrichment in a process of its own, nothing else writing.',
    '',
    '| legacy memories | upgraded | whole run | rows/s | rows/s without scan and final maintenance | scan | final maintenance | batches (= lock acquisitions) | lock hold p50 / p95 / max | peak RSS (sampled / kernel max) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of sizes) {
    rss.push(`- ${s.rows.toLocaleString('en')}: peak ${s.peakRssMB} MB with ${s.heapUsedMBAtPeak} MB of JS heap (the rest is native, LanceDB); peak reached ${peakWhere(s)}; lock hold p50 per tenth of the batches: ${s.holdP50ByTenth.join(', ')} ms; maintenance under the lock: ${s.maintenanceMs.join(', ')} ms.`);
    out.push(`| ${s.rows.toLocaleString('en')} | ${s.upgraded} (${s.failed} failed) | ${(s.ms / 1000).toFixed(1)} s | ${s.rowsPerS} | ${s.enrichAndWriteRowsPerS} | ${ms(s.scanMs)} | ${s.finalMaintenanceMs !== undefined ? ms(s.finalMaintenanceMs) : '–'} | ${s.batches} | ${ms(s.lockHold.p50)} / ${ms(s.lockHold.p95)} / ${ms(s.lockHold.max)} | ${s.peakRssMB} / ${s.maxRssMB} MB |`);
  }
  out.push('', ...rss);
  return out;
}

function peakWhere(s: UpgradeFigures): string {
  const top = [...s.rssTimeline].sort((a, b) => b.mb - a.mb)[0];
  return top ? `at ${top.s} s of ${(s.ms / 1000).toFixed(0)} s (${top.during})` : 'unknown';
}

const SECTIONS: Record<string, { heading: string; render: (r: BenchResult) => string[] }> = {
  contention: { heading: '1. Contention: the plugin writes while another process upgrades', render: contention },
  crossProcess: { heading: '2. Cross-process writes', render: crossProcess },
  recall: { heading: '3. Recall latency and quality', render: recall },
  storage: { heading: '4. Storage after 10k single writes', render: storage },
  upgrade: { heading: '5. Upgrade throughput', render: upgrade },
};

/** Writes BENCHMARKS.md (quick runs: .cache/BENCHMARKS.quick.md) and returns its path. */
export function writeReport(suite?: SuiteRecord): string {
  const results = ORDER.map((n) => read<BenchResult>(`${n}.json`)).filter((r): r is BenchResult => !!r);
  const last = suite ?? read<SuiteRecord>(SUITE_FILE);
  const m = results[0]?.machine;
  const lines: string[] = [
    '# Benchmarks',
    '',
    'Measured by `npm run bench` (sources in [bench/](bench/), raw figures with parameters and machine details in [bench/results/](bench/results/)). Each benchmark can also run alone: `npm run bench:contention`, `bench:cross-process`, `bench:recall`, `bench:storage`, `bench:upgrade`. Figures are medians, percentiles and ratios measured in the same run; percentiles are nearest-rank.',
    '',
  ];
  if (m) lines.push(`Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGB} GB, Node ${m.node} (${m.platform}); ${Object.entries(m.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  if (last) {
    lines.push(`Last full suite run: ${last.startedAt.replace('T', ' ').slice(0, 16)} UTC, **${(last.totalS / 60).toFixed(1)} minutes** (${last.benchmarks.map((b) => `${b.name} ${b.seconds} s${b.exitCode ? ' FAILED' : ''}`).join(', ')}); load average at start ${last.loadAtStart.join(' / ')}, at end ${last.loadAtEnd.join(' / ')}.`);
    const suiteEnd = Date.parse(last.startedAt) + last.totalS * 1000;
    const later = results.filter((r) => Date.parse(r.startedAt) > suiteEnd);
    if (later.length) lines.push(`Run alone after it (figures below are from these runs): ${later.map((r) => `${r.name} at ${r.startedAt.slice(11, 16)} UTC`).join(', ')}.`);
  }
  lines.push('', '> **Read the absolute numbers against the machine load.** These runs shared the 2 cores with other test suites (see the load line under each benchmark: a load of 4 on 2 cores means each process got about half the CPU time it asked for). Ratios measured within one run (idle vs during, lock vs no lock) are the robust figures.', '');

  lines.push('## Targets (docs/architecture.md#targets)', '', '| target | measured | result | cause / comment |', '|---|---|---|---|');
  for (const r of results) {
    for (const t of r.targets) lines.push(`| ${t.target} | ${t.measured} | ${yes(t.met)} | ${t.cause ?? (t.met ? '' : 'see "What the figures say" below')} |`);
  }
  const findings = join(repoRoot(), 'bench', 'FINDINGS.md');
  if (existsSync(findings)) lines.push('', readFileSync(findings, 'utf8').trim());
  // The ANN section is hand-written from its own benchmark (npm run bench:ann), which the suite does not run.
  const ann = join(repoRoot(), 'bench', 'ANN.md');
  if (existsSync(ann)) lines.push('', readFileSync(ann, 'utf8').trim());

  for (const name of ORDER) {
    const r = results.find((x) => x.name === name);
    if (!r) continue;
    const section = SECTIONS[name]!;
    lines.push('', `## ${section.heading}`, '', ...section.render(r), '', `_${loadLine(r)}_`);
    if (r.notes.length) lines.push('', ...r.notes.map((n) => `- ${n}`));
  }
  const path = QUICK ? join(repoRoot(), '.cache', 'BENCHMARKS.quick.md') : join(repoRoot(), 'BENCHMARKS.md');
  // The LoCoMo section comes from its own benchmark (npm run bench:locomo), which the suite does not run.
  writeFileSync(path, withStandaloneSections(withLocomoSection(lines.join('\n') + '\n'), path));
  return path;
}

const STANDALONE_BEGIN = '<!-- standalone:begin';
const STANDALONE_END = '<!-- standalone:end -->';

/**
 * Sections of benchmarks the suite does not run (each measured by its own script, figures written by
 * hand with their protocol) live between the standalone markers; regenerating the report keeps them.
 */
function withStandaloneSections(report: string, path: string): string {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const begin = current.indexOf(STANDALONE_BEGIN);
  const end = current.indexOf(STANDALONE_END);
  if (begin < 0 || end < begin) return report;
  return report.trimEnd() + '\n\n' + current.slice(begin, end + STANDALONE_END.length) + '\n';
}
