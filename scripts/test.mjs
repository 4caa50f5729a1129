// `npm test`: type check, layering check, build, unit + integration tests (node:test, real LanceDB,
// real child processes), then the end-to-end suite in a real VS Code. Prints one closing line
// "N passed, N failed" over everything. `--no-e2e` / `--only=unit|integration|perf|package|e2e` for local loops.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

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

/**
 * The workflows under .github/workflows/ against GitHub's schema (action-validator), after a
 * self-test that the validator still rejects a broken one: a linter that passes everything would
 * pass ours too.
 */
function lintWorkflows() {
  const validator = 'node_modules/@action-validator/cli/cli.mjs';
  const dir = join('.github', 'workflows');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f)) : [];
  const broken = join(mkdtempSync(join(tmpdir(), 'memory-lane-workflow-')), 'broken.yml');
  writeFileSync(broken, 'name: broken\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    stepz:\n      - run: echo the key is misspelt\n');
  const selfTest = spawnSync(process.execPath, [validator, broken], { encoding: 'utf8' });
  rmSync(dirname(broken), { recursive: true, force: true });
  if (selfTest.status !== 1) { console.error(`✗ action-validator accepted a workflow with a misspelt key (exit ${selfTest.status})`); return false; }
  return step(`workflow lint (${files.length} file${files.length === 1 ? '' : 's'}; a broken one is rejected)`, process.execPath, [validator, ...files]);
}

if (!step('type check', process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'])) fail('type check');
if (!step('layering', process.execPath, ['scripts/check-layers.mjs'])) fail('layering');
if (!step('tool manifest', process.execPath, ['scripts/generate-manifest-tools.mjs', '--check'])) fail('package.json languageModelTools differ from the tool contract');
if (!step('doc references', process.execPath, ['scripts/check-doc-refs.mjs'])) fail('doc references');
if (!lintWorkflows()) fail('GitHub workflows');
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
  // Packaging: the linux-x64 VSIX (the one the e2e installs) and a second target's, each checked by
  // listing its contents (scripts/package-check.mjs). When the registry has no darwin-arm64 binary of
  // the locked LanceDB, that one is a content-check build, never releasable (docs/platforms.md).
  let vsixForE2e;
  if (want('package')) {
    const outDir = join('.cache', 'package', 'test-out');
    rmSync(outDir, { recursive: true, force: true });
    const targets = ['linux-x64', 'darwin-arm64'];
    if (step(`packaging: ${targets.join(' and ')} VSIXes, checked by their contents`, process.execPath,
      ['scripts/package.mjs', ...targets.flatMap((t) => ['--target', t]), '--content-check-fallback', '--out-dir', outDir])) {
      passed += targets.length;
      vsixForE2e = readdirSync(outDir).find((f) => /-linux-x64-[^-]+\.vsix$/.test(f));
      if (vsixForE2e) vsixForE2e = join(process.cwd(), outDir, vsixForE2e);
    } else fail('packaging');
    // The production build replaced dist/; the e2e's first phases load the development build.
    if (want('e2e') && !step('development build of dist/', process.execPath, ['esbuild.config.mjs'])) fail('development build');
  }
  if (want('e2e')) {
    const e2e = 'scripts/e2e/run.mjs';
    if (!existsSync(e2e)) fail('no e2e runner at ' + e2e);
    else {
      const r = spawnSync(process.execPath, [e2e], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...(vsixForE2e ? { MEMORY_LANE_E2E_VSIX: vsixForE2e } : {}) } });
      const summary = existsSync('test-results/e2e-summary.json') ? JSON.parse(readFileSync('test-results/e2e-summary.json', 'utf8')) : undefined;
      if (summary) { passed += summary.passed; failed += summary.failed; }
      if (r.status !== 0 && !(summary && summary.failed > 0)) fail('e2e run did not complete (exit ' + r.status + ')');
    }
  }
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
