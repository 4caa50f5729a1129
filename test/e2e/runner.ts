// A tiny test runner for the extension host: named cases run in order, each passes or fails on its own,
// and the outcome is written as JSON for scripts/e2e/run.mjs to count. No mocha: nothing to configure,
// nothing to bundle, and the result travels through a file rather than through the host's console.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface CaseResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface RunReport {
  cases: CaseResult[];
  environment: Record<string, unknown>;
}

type TestFn = () => unknown | Promise<unknown>;
const cases: { name: string; fn: TestFn; timeoutMs: number }[] = [];

/** Declares one named case. The name states the behaviour; the body asserts exactly that. */
export function test(name: string, fn: TestFn, timeoutMs = 30_000): void {
  cases.push({ name, fn, timeoutMs });
}

async function withTimeout(fn: TestFn, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([Promise.resolve().then(fn), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every declared case, writes the report to `resultsFile`, and returns it. */
export async function runDeclaredTests(resultsFile: string, environment: Record<string, unknown>): Promise<RunReport> {
  const report: RunReport = { cases: [], environment };
  for (const { name, fn, timeoutMs } of cases) {
    const t0 = Date.now();
    try {
      await withTimeout(fn, timeoutMs);
      report.cases.push({ name, ok: true, ms: Date.now() - t0 });
      console.log(`  ✓ ${name}`);
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      report.cases.push({ name, ok: false, ms: Date.now() - t0, error });
      console.log(`  ✗ ${name}\n${error}`);
    }
  }
  mkdirSync(dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, JSON.stringify(report, null, 2));
  return report;
}
