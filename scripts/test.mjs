// `npm test`: type check, layering check, build, unit + integration tests (node:test, real LanceDB,
// real child processes), then the end-to-end suite in a real VS Code. Prints one closing line
// "N passed, N failed" over everything. `--no-e2e` / `--only=unit|integration|perf|e2e` for local loops.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const only = argv.find((a) => a.startsWith('--only='))?.slice(7);
const skipE2e = argv.includes('--no-e2e') || process.env.MEMORY_LANE_NO_E2E === '1';
const want = (part) => (only ? only === part : part !== 'e2e' || !skipE2e);
// A private TEST_OUTDIR keeps one engineer's build from wiping another's run; the end-to-end runner reads it too.
const testOut = process.env.TEST_OUTDIR || 'out';

function step(name, cmd, args, opts = {}) {
  const t0 = Date.now();
  console.log(`\n▶ ${name}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  console.log(`◀ ${name}: ${r.status === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return r.status === 0;
}
function testFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { if (name !== 'workers' && name !== 'fixtures') out.push(...testFiles(p)); }
    else if (p.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

let passed = 0, failed = 0;

/** Runs node:test on `files` (one at a time: real LanceDB stores and child processes), counts the results, returns the TAP text. */
function nodeTests(name, files, suffix) {
  mkdirSync('test-results', { recursive: true });
  const tap = `test-results/node-test${suffix}${testOut === 'out' ? '' : '-' + testOut.replace(/[^a-z0-9]+/gi, '-')}.tap`;
  step(name, process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=300000',
    '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
    { env: { ...process.env, LANCEDB_LOG: process.env.LANCEDB_LOG ?? 'error' } });
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const p = Number(/^# pass (\d+)/m.exec(text)?.[1] ?? 0), f = Number(/^# fail (\d+)/m.exec(text)?.[1] ?? 0);
  const c = Number(/^# cancelled (\d+)/m.exec(text)?.[1] ?? 0);
  passed += p; failed += f + c;
  if (!text) fail(`${name}: node --test produced no results`);
  return text;
}
const fail = (why) => { failed++; console.error(`✗ ${why}`); };

if (!step('type check', process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'])) fail('type check');
if (!step('layering', process.execPath, ['scripts/check-layers.mjs'])) fail('layering');
if (!step('tool manifest', process.execPath, ['scripts/generate-manifest-tools.mjs', '--check'])) fail('package.json languageModelTools differ from the tool contract');
if (!step('doc references', process.execPath, ['scripts/check-doc-refs.mjs'])) fail('doc references');
if (!step('build', process.execPath, ['esbuild.config.mjs', '--tests'])) { fail('build'); }
else {
  const files = [...(want('unit') ? testFiles(`${testOut}/test/unit`) : []), ...(want('integration') ? testFiles(`${testOut}/test/integration`) : [])];
  if (files.length) nodeTests('unit + integration tests', files, '');
  // Timed tests: generous bounds as assertions; their figures (the t.diagnostic lines) are printed after
  // them. Claims about speed belong in bench/ with their protocol.
  const perf = want('perf') ? testFiles(`${testOut}/test/perf`) : [];
  if (perf.length) {
    const tap = nodeTests('perf tests (generous bounds; figures below)', perf, '-perf');
    const figures = tap.split('\n').filter((l) => /^\s*# (?!Subtest:)/.test(l) && !/^\s*# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(l)).map((l) => l.trim().slice(2));
    console.log(['', 'perf figures:', ...figures.map((f) => `  ${f}`)].join('\n'));
  }
  if (want('e2e')) {
    const e2e = 'scripts/e2e/run.mjs';
    if (!existsSync(e2e)) fail('no e2e runner at ' + e2e);
    else {
      const r = spawnSync(process.execPath, [e2e], { stdio: ['ignore', 'inherit', 'inherit'] });
      const summary = existsSync('test-results/e2e-summary.json') ? JSON.parse(readFileSync('test-results/e2e-summary.json', 'utf8')) : undefined;
      if (summary) { passed += summary.passed; failed += summary.failed; }
      if (r.status !== 0 && !(summary && summary.failed > 0)) fail('e2e run did not complete (exit ' + r.status + ')');
    }
  }
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
