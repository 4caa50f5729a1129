#!/usr/bin/env node
// The end-to-end suite: Memory Lane in a real VS Code, offline.
//
//   1. setup.mjs makes sure code-server (VS Code 1.139.1 on Node 24) and Debian's chromium are installed.
//   2. code-server starts on a free 127.0.0.1 port with a throw-away workspace.
//   3. Extension-host phase: headless chromium opens the workbench as an Extension Development Host
//      (extensionDevelopmentPath = this repository, extensionTestsPath = out/test/e2e/index.js). VS Code
//      calls run() of that module in its real Node extension host; the cases write their outcome to a
//      JSON file, and the workbench reports the end through window.codeAutomationExit(code).
//   4. UI phase: a fresh window with the extension loaded; the Playwright cases of
//      out/test/e2e/workbench.ui.js click through it and save screenshots to test-results/e2e/.
//   5. test-results/e2e-summary.json = { passed, failed, cases }: one entry per named case.
//
// Usage: node scripts/e2e/run.mjs [--build] [--verbose] [--keep]
//   --build    rebuild dist/ and out/ first (scripts/test.mjs has already built them)
//   --verbose  echo the extension host's log and the browser console
//   --keep     keep the run folder (user data, logs) under .cache/vscode-e2e/runs/
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startCodeServer, workbenchUrl } from './code-server.mjs';
import { chromiumArgs, chromiumPath, paths, repoRoot } from './config.mjs';
import { ensureVSCodeServer } from './setup.mjs';

const { values: opts } = parseArgs({ options: {
  build: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  keep: { type: 'boolean', default: false },
} });

const T0 = Date.now();
const log = (msg) => console.log(`[e2e ${((Date.now() - T0) / 1000).toFixed(1)}s] ${msg}`);
const resultsDir = join(paths.results, 'e2e');
const summaryFile = join(paths.results, 'e2e-summary.json');
const hostResultsFile = join(resultsDir, 'extension-host.json');
const testsModule = join(repoRoot, 'out', 'test', 'e2e', 'index.js');
const uiModule = join(repoRoot, 'out', 'test', 'e2e', 'workbench.ui.js');
const EXTENSION_TESTS_TIMEOUT_MS = 180_000;
const UI_STEP_TIMEOUT_MS = 30_000;
const VIEWPORT = { width: 1280, height: 800 };

/** @type {{ suite: string, name: string, ok: boolean, ms: number, error?: string }[]} */
const cases = [];
function record(suite, name, ok, ms, error) {
  cases.push({ suite, name, ok, ms, ...(error ? { error } : {}) });
  console.log(`  ${ok ? '✓' : '✗'} [${suite}] ${name} (${ms} ms)`);
  if (error) console.log(error.split('\n').map((l) => `      ${l}`).join('\n'));
}

function ensureBuilt() {
  const built = existsSync(testsModule) && existsSync(uiModule) && existsSync(join(repoRoot, 'dist', 'extension.js'));
  if (built && !opts.build) return;
  log('building (esbuild --tests)');
  const r = spawnSync(process.execPath, ['esbuild.config.mjs', '--tests'], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('build failed');
}

async function newPage(browser, { onExit } = {}) {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_STEP_TIMEOUT_MS);
  // The smoke-test driver forwards the extension host's log here and reports the end of a test run.
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    if (opts.verbose) console.log(`    [exthost ${type}]`, ...(args ?? []));
  });
  await page.exposeFunction('codeAutomationExit', (code) => onExit?.(code));
  page.on('pageerror', (e) => opts.verbose && console.log(`    [pageerror] ${e.message}`));
  if (opts.verbose) page.on('console', (m) => console.log(`    [browser ${m.type()}] ${m.text()}`));
  return { context, page };
}

const screenshotter = (page) => async (name) => {
  const file = join(resultsDir, name);
  await page.screenshot({ path: file });
  return file;
};

/** Phase 1: the extension-host cases (test/e2e/extension.e2e.ts) in the real Node extension host. */
async function runExtensionHostTests(browser, server) {
  const suite = 'extension host';
  const t0 = Date.now();
  let onExit;
  const exited = new Promise((resolve) => { onExit = resolve; });
  const { context, page } = await newPage(browser, { onExit });
  try {
    await page.goto(workbenchUrl(server, { extensionDevelopmentPath: repoRoot, extensionTestsPath: testsModule }));
    log('workbench open; running the extension-host cases');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), EXTENSION_TESTS_TIMEOUT_MS).unref())]);
    await screenshotter(page)('extension-host.png').catch(() => {});
    const report = existsSync(hostResultsFile) ? JSON.parse(readFileSync(hostResultsFile, 'utf8')) : undefined;
    if (report) {
      const env = report.environment;
      log(`VS Code ${env.vscodeVersion}, extension host on Node ${env.node}, uiKind ${env.uiKind}, remote ${env.remoteName}`);
      for (const c of report.cases) record(suite, c.name, c.ok, c.ms, c.error);
    }
    const failedCases = report?.cases.some((c) => !c.ok);
    if (!report || report.cases.length === 0) {
      record(suite, 'the extension-host cases report their results', false, Date.now() - t0,
        `no results in ${hostResultsFile} (exit code ${code}); rerun with --verbose, see ${server.logFile}`);
    } else if (code !== 0 && !failedCases) {
      record(suite, 'the extension-host run exits cleanly', false, Date.now() - t0, `exit code ${code}`);
    }
  } finally {
    await context.close();
  }
}

/** Phase 2: the Playwright cases (test/e2e/workbench.ui.ts) against a fresh window with the extension. */
async function runUiChecks(browser, server) {
  const suite = 'workbench UI';
  const { uiCases } = createRequire(import.meta.url)(uiModule);
  const { context, page } = await newPage(browser);
  const screenshot = screenshotter(page);
  try {
    await page.goto(workbenchUrl(server, { extensionDevelopmentPath: repoRoot }));
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    log('workbench open; running the UI cases');
    for (const [i, uiCase] of uiCases.entries()) {
      const t0 = Date.now();
      const notes = []; // printed under the case's result line
      try {
        await uiCase.run(page, { log: (m) => notes.push(m), screenshot });
        record(suite, uiCase.name, true, Date.now() - t0);
      } catch (e) {
        const shot = await screenshot(`failure-${i + 1}.png`).catch(() => undefined);
        record(suite, uiCase.name, false, Date.now() - t0, `${e.message}${shot ? `\nscreenshot: ${shot}` : ''}`);
      }
      for (const note of notes) console.log(`      ${note}`);
    }
    await screenshot('workbench.png');
  } finally {
    await context.close();
  }
}

async function main() {
  rmSync(resultsDir, { recursive: true, force: true });
  rmSync(summaryFile, { force: true });
  mkdirSync(resultsDir, { recursive: true });

  const install = ensureVSCodeServer();
  ensureBuilt();
  const runDir = join(paths.runs, `${Date.now()}-${process.pid}`);
  let server, browser;
  const cleanup = async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
    if (!opts.keep) rmSync(runDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => cleanup().then(() => process.exit(130)));
  try {
    server = await startCodeServer(install, {
      stateDir: runDir,
      folder: join(runDir, 'workspace'),
      logFile: join(resultsDir, 'code-server.log'),
      env: { MEMORY_LANE_E2E_RESULTS: hostResultsFile },
    });
    log(`code-server ${install.version} on ${server.origin}`);
    browser = await chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs], headless: true });
    await runExtensionHostTests(browser, server);
    await runUiChecks(browser, server);
  } finally {
    await cleanup();
  }
}

let exitCode = 0;
try {
  await main();
} catch (e) {
  record('harness', 'the end-to-end harness runs', false, Date.now() - T0, e.stack ?? String(e));
}
const passed = cases.filter((c) => c.ok).length;
const failed = cases.length - passed;
mkdirSync(paths.results, { recursive: true });
writeFileSync(summaryFile, JSON.stringify({ passed, failed, cases }, null, 2));
log(`e2e: ${passed} passed, ${failed} failed (screenshots and logs in ${resultsDir})`);
if (failed > 0 || passed === 0) exitCode = 1;
process.exit(exitCode);
