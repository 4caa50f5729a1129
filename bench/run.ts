// `npm run bench [-- names…] [-- --quick]`: runs the benchmarks one after another, each in its own
// process (clean memory figures, no shared native state), with one fixture folder for the whole
// run (the 10k and 100k stores are built once), then writes BENCHMARKS.md from bench/results/.
// A missed target never fails the run; only a benchmark that crashes does.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { log, QUICK, round1, round2 } from './lib/env';
import { writeReport, writeSuiteRecord, type SuiteRecord } from './lib/report';

const ALL = ['contention', 'crossProcess', 'recall', 'upgrade', 'storage'] as const;
/** The suite must finish within this on the 2-core machine; the storage benchmark gets what is left of it. */
const SUITE_BUDGET_MS = 14.5 * 60_000;

function runOne(name: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(__dirname, `${name}.js`), ...(QUICK ? ['--quick'] : [])], { stdio: ['ignore', 'inherit', 'inherit'], env });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<void> {
  const asked = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const unknown = asked.filter((a) => !(ALL as readonly string[]).includes(a));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; choose from ${ALL.join(', ')}`);
    process.exit(2);
  }
  const names = asked.length ? ALL.filter((n) => asked.includes(n)) : [...ALL];
  const fixtures = mkdtempSync(join(tmpdir(), 'ml-bench-fixtures-'));
  const started = Date.now();
  const record: SuiteRecord = { startedAt: new Date(started).toISOString(), quick: QUICK, benchmarks: [], totalS: 0, loadAtStart: loadavg().map(round2), loadAtEnd: [] };
  log(`suite: ${names.join(', ')}${QUICK ? ' (quick sizes: figures not comparable)' : ''}`);
  try {
    for (const name of names) {
      const t0 = Date.now();
      const code = await runOne(name, { ...process.env, LANCEDB_LOG: process.env.LANCEDB_LOG ?? 'error', BENCH_FIXTURES: fixtures, BENCH_DEADLINE: String(started + SUITE_BUDGET_MS) });
      record.benchmarks.push({ name, seconds: round1((Date.now() - t0) / 1000), exitCode: code });
      if (code !== 0) log(`suite: ${name} exited with ${code}`);
    }
  } finally {
    rmSync(fixtures, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
  record.totalS = round1((Date.now() - started) / 1000);
  record.loadAtEnd = loadavg().map(round2);
  // A partial run (one benchmark) keeps the last full-suite timing in the report.
  if (names.length === ALL.length && !QUICK) writeSuiteRecord(record);
  const path = writeReport(names.length === ALL.length && !QUICK ? record : undefined);
  log(`suite: ${record.totalS} s; report → ${path}`);
  if (record.benchmarks.some((b) => b.exitCode !== 0)) process.exitCode = 1;
}

void main();
