// What every benchmark shares: where results go, what the machine was and how loaded it was,
// percentiles, temp folders, and fixtures a suite run builds once and several benchmarks copy.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../test/helpers/repo';

/** `--quick` (or BENCH_QUICK=1) shrinks every size for development; figures are then not comparable. */
export const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';

/** Full-size results are committed; quick (development) results go to .cache and never into BENCHMARKS.md. */
export const RESULTS_DIR = QUICK ? join(repoRoot(), '.cache', 'bench-results-quick') : join(repoRoot(), 'bench', 'results');

/** Where the bundled worker scripts are (bench/workers/*.ts → <outdir>/bench/workers/*.js). */
export function benchWorker(name: string): string {
  return join(__dirname, 'workers', `${name}.js`);
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function packageVersion(name: string): string {
  try {
    return String(JSON.parse(readFileSync(join(repoRoot(), 'node_modules', name, 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGB: number;
  freeMemoryGB: number;
  node: string;
  platform: string;
  versions: Record<string, string>;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    memoryGB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGB: Math.round(freemem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    versions: Object.fromEntries(['@lancedb/lancedb', 'apache-arrow', 'proper-lockfile', 'p-queue'].map((n) => [n, packageVersion(n)])),
  };
}

export interface LoadReport {
  /** os.loadavg() when the benchmark started and ended: 1, 5 and 15 minute averages. */
  atStart: number[];
  atEnd: number[];
  /** The 1-minute load average sampled every few seconds while the benchmark ran. */
  oneMinute: { min: number; mean: number; max: number; samples: number };
  /** Load per core above 1 means other work (e.g. other engineers' test suites) competed for the CPUs. */
  perCoreMean: number;
}

/** Samples the machine load while a benchmark runs, so every figure can be read against it. */
export class LoadSampler {
  private readonly atStart = loadavg().map(round2);
  private readonly samples: number[] = [loadavg()[0]!];
  private readonly timer: NodeJS.Timeout;

  constructor(everyMs = 2000) {
    this.timer = setInterval(() => this.samples.push(loadavg()[0]!), everyMs);
    this.timer.unref();
  }

  /** The load during a part of the run (call at its end to mark it). */
  mark(): number {
    return round2(loadavg()[0]!);
  }

  stop(): LoadReport {
    clearInterval(this.timer);
    this.samples.push(loadavg()[0]!);
    const mean = this.samples.reduce((s, x) => s + x, 0) / this.samples.length;
    return {
      atStart: this.atStart,
      atEnd: loadavg().map(round2),
      oneMinute: { min: round2(Math.min(...this.samples)), mean: round2(mean), max: round2(Math.max(...this.samples)), samples: this.samples.length },
      perCoreMean: round2(mean / cpus().length),
    };
  }
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  return {
    n: values.length,
    p50: round1(percentile(values, 50)),
    p95: round1(percentile(values, 95)),
    p99: round1(percentile(values, 99)),
    max: round1(Math.max(...values)),
    mean: round1(values.reduce((s, x) => s + x, 0) / values.length),
  };
}

export const round1 = (x: number) => Math.round(x * 10) / 10;
export const round2 = (x: number) => Math.round(x * 100) / 100;
export const round3 = (x: number) => Math.round(x * 1000) / 1000;
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A target from docs/architecture.md#targets and whether this run met it. `cause` says why not (or what qualifies a pass). */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
  cause?: string;
}

export interface BenchResult {
  name: string;
  title: string;
  /** Development sizes (--quick): not comparable, never in BENCHMARKS.md. */
  quick: boolean;
  startedAt: string;
  durationS: number;
  machine: MachineInfo;
  load: LoadReport;
  parameters: Record<string, unknown>;
  figures: Record<string, unknown>;
  targets: TargetCheck[];
  notes: string[];
}

/**
 * Writes bench/results/<name>.json (or BENCH_RESULT, for a side-by-side run of two builds) atomically
 * (a half-written file must not end up in BENCHMARKS.md).
 */
export function writeResult(result: BenchResult): string {
  const path = process.env.BENCH_RESULT ?? join(RESULTS_DIR, `${result.name}.json`);
  mkdirSync(join(path, '..'), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(result, null, 2) + '\n');
  renameSync(tmp, path);
  return path;
}

/** A numeric `--name value` argument of a standalone benchmark, or `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** A comma-separated numeric `--name a,b,c` argument of a benchmark, or `fallback`. */
export function numberListArg(name: string, fallback: readonly number[]): number[] {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return [...fallback];
  const values = (process.argv[i + 1] ?? '').split(',').map(Number);
  if (!values.length || values.some((v) => !Number.isFinite(v) || v <= 0)) throw new Error(`--${name} takes positive numbers separated by commas, got "${process.argv[i + 1] ?? ''}"`);
  return values;
}

/**
 * Writes a standalone benchmark's figures to BENCH_RESULT, else to `defaultPath` (nothing when
 * neither is given), atomically like {@link writeResult}.
 */
export function writeFigures(figures: unknown, defaultPath?: string): string | undefined {
  const path = process.env.BENCH_RESULT ?? defaultPath;
  if (!path) return undefined;
  mkdirSync(join(path, '..'), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(figures, null, 2) + '\n');
  renameSync(tmp, path);
  return path;
}

/** Temp folders of one benchmark process, removed when it ends (also on failure). */
export class Scratch {
  readonly root = mkdtempSync(join(tmpdir(), 'ml-bench-'));
  private n = 0;

  dir(name: string): string {
    const d = join(this.root, `${++this.n}-${name}`);
    mkdirSync(d, { recursive: true });
    return d;
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/**
 * A fixture store built once per suite run and copied by each benchmark that needs it (the suite
 * runner passes BENCH_FIXTURES; a benchmark run alone builds its own). Copies are cheap next to
 * embedding and inserting 100k rows again.
 */
export async function fixtureStore(name: string, scratch: Scratch, build: (dir: string) => Promise<void>): Promise<{ template: string; built: boolean; buildMs: number }> {
  const shared = process.env.BENCH_FIXTURES;
  const root = shared ?? join(scratch.root, 'fixtures');
  const template = join(root, name);
  const done = join(root, `${name}.done`);
  if (existsSync(done)) return { template, built: false, buildMs: Number(readFileSync(done, 'utf8')) || 0 };
  rmSync(template, { recursive: true, force: true });
  mkdirSync(template, { recursive: true });
  const started = Date.now();
  await build(template);
  const buildMs = Date.now() - started;
  writeFileSync(done, String(buildMs));
  return { template, built: true, buildMs };
}

/** Copies a closed store folder (no process may have it open for writing). */
export function copyStore(template: string, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  cpSync(template, dir, { recursive: true });
}

/** Runs a benchmark's body with the shared bookkeeping and writes its result file. */
export async function runBenchmark(
  name: string,
  title: string,
  body: (ctx: { scratch: Scratch; load: LoadSampler; parameters: Record<string, unknown>; notes: string[] }) => Promise<{ figures: Record<string, unknown>; targets: TargetCheck[] }>,
): Promise<void> {
  const scratch = new Scratch();
  const load = new LoadSampler();
  const startedAt = new Date();
  const parameters: Record<string, unknown> = {};
  const notes: string[] = [];
  log(`${name}: started (load ${loadavg().map(round2).join(' / ')} on ${cpus().length} cores)`);
  try {
    const { figures, targets } = await body({ scratch, load, parameters, notes });
    const result: BenchResult = {
      name,
      title,
      quick: QUICK,
      startedAt: startedAt.toISOString(),
      durationS: round1((Date.now() - startedAt.getTime()) / 1000),
      machine: machineInfo(),
      load: load.stop(),
      parameters,
      figures,
      targets,
      notes,
    };
    log(`${name}: done in ${result.durationS} s → ${writeResult(result)}`);
  } catch (err) {
    log(`${name}: FAILED: ${(err as Error)?.stack ?? String(err)}`);
    process.exitCode = 1;
  } finally {
    scratch.remove();
  }
}
