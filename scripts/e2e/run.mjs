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
//   5. Chat phase: chat turned on (chat.disableAIFeatures false) and, beside Memory Lane, the test-only
//      extension test/e2e/chat-model-stub, which registers a local chat model; the Playwright cases of
//      out/test/e2e/chat.ui.js send @memory requests through the chat view (see runChatUiChecks).
//   6. Packaged-VSIX phase: `npm run package -- --target linux-x64` (or the VSIX scripts/test.mjs packaged
//      just before, named by MEMORY_LANE_E2E_VSIX), `code-server --install-extension` into a fresh profile,
//      and a plain window (no development path) in which the installed extension must activate.
//   7. test-results/e2e-summary.json = { passed, failed, cases }: one entry per named case.
//
// Usage: node scripts/e2e/run.mjs [--build] [--skip-vsix] [--verbose] [--keep] [--update-media]
//   --build    rebuild dist/ and out/ first (scripts/test.mjs has already built them)
//   --skip-vsix  leave out the packaged-VSIX phase (it rebuilds dist/ for production)
//   --verbose  echo the extension host's log and the browser console
//   --keep     keep the run folder (user data, logs) under .cache/vscode-e2e/runs/
//   --update-media  copy the README's screenshots (media-*.png of the UI cases) into media/
// TEST_OUTDIR (default out/) is where the bundled tests are, as for scripts/test.mjs.
//
// Every window of the run uses a throw-away store (MEMORY_LANE_DB in code-server's environment, which
// the extension host inherits), never ~/.memory-lane/store. The failpoint upgrade.afterBatch.3 pauses
// every upgrade after its third batch for 3 s, so the UI case can photograph an upgrade in progress and
// the extension-host case's concurrent writers surely overlap the upgrade (src/core/failpoints.ts);
// consolidate.beforeWrite pauses each consolidation step 1.5 s, so its "merging" run node can be read.
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { installExtension, startCodeServer, workbenchUrl, writeUserSettings } from './code-server.mjs';
import { chromiumArgs, chromiumPath, paths, repoRoot } from './config.mjs';
import { ensureVSCodeServer } from './setup.mjs';

const { values: opts } = parseArgs({ options: {
  build: { type: 'boolean', default: false },
  'skip-vsix': { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  keep: { type: 'boolean', default: false },
  'update-media': { type: 'boolean', default: false },
} });

const T0 = Date.now();
const log = (msg) => console.log(`[e2e ${((Date.now() - T0) / 1000).toFixed(1)}s] ${msg}`);
const resultsDir = join(paths.results, 'e2e');
const summaryFile = join(paths.results, 'e2e-summary.json');
const hostResultsFile = join(resultsDir, 'extension-host.json');
const testOut = join(repoRoot, process.env.TEST_OUTDIR || 'out');
const testsModule = join(testOut, 'test', 'e2e', 'index.js');
const uiModule = join(testOut, 'test', 'e2e', 'workbench.ui.js');
const chatUiModule = join(testOut, 'test', 'e2e', 'chat.ui.js');
const chatModelStub = join(repoRoot, 'test', 'e2e', 'chat-model-stub');
const mediaDir = join(repoRoot, 'media');
const UPGRADE_PAUSE_FAILPOINT = 'upgrade.afterBatch.3=pause:3000';
const CONSOLIDATE_PAUSE_FAILPOINT = 'consolidate.beforeWrite=pause:1500';
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
  const built = existsSync(testsModule) && existsSync(uiModule) && existsSync(chatUiModule) && existsSync(join(repoRoot, 'dist', 'extension.js'));
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

const screenshotter = (page) => async (name, options = {}) => {
  const file = join(resultsDir, name);
  await page.screenshot({ path: file, ...options });
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

/**
 * Phase 2 (test/e2e/workbench.ui.ts) and phase 3 (test/e2e/chat.ui.ts): Playwright cases against a
 * fresh window with the extension(s) of `extensionDevelopmentPath` loaded.
 */
async function runUiChecks(browser, server, storePath, { suite = 'workbench UI', cases = () => createRequire(import.meta.url)(uiModule).uiCases, extensionDevelopmentPath = repoRoot, shotPrefix = '' } = {}) {
  const uiCases = cases();
  const { context, page } = await newPage(browser);
  const screenshot = screenshotter(page);
  try {
    await page.goto(workbenchUrl(server, { extensionDevelopmentPath }));
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    log(`workbench open; running the ${suite} cases`);
    for (const [i, uiCase] of uiCases.entries()) {
      const t0 = Date.now();
      const notes = []; // printed under the case's result line
      try {
        await uiCase.run(page, { log: (m) => notes.push(m), screenshot, storePath, repoRoot });
        record(suite, uiCase.name, true, Date.now() - t0);
      } catch (e) {
        const shot = await screenshot(`${shotPrefix}failure-${i + 1}.png`).catch(() => undefined);
        record(suite, uiCase.name, false, Date.now() - t0, `${e.message}${shot ? `\nscreenshot: ${shot}` : ''}`);
      }
      for (const note of notes) console.log(`      ${note}`);
    }
    await screenshot(`${shotPrefix}workbench.png`);
  } finally {
    await context.close();
  }
}

/**
 * Phase 3: @memory through the chat view. The workbench runs a participant only with a chat model
 * (the extension host throws "Language model unavailable" otherwise) and shows the chat view only with
 * chat.disableAIFeatures off; offline and signed out, the model comes from the test-only extension
 * test/e2e/chat-model-stub. Both extensions load from one development folder that links to each:
 * given two `extensionDevelopmentPath` entries, code-server 4.139.1 loads only the last one.
 */
async function runChatUiChecks(browser, server, runDir, storePath) {
  const devDir = join(runDir, 'chat-extensions');
  mkdirSync(devDir, { recursive: true });
  symlinkSync(repoRoot, join(devDir, 'memory-lane'), 'dir');
  symlinkSync(chatModelStub, join(devDir, 'chat-model-stub'), 'dir');
  writeUserSettings(runDir, { 'chat.disableAIFeatures': false });
  try {
    await runUiChecks(browser, server, storePath, {
      suite: 'chat UI',
      cases: () => createRequire(import.meta.url)(chatUiModule).chatUiCases,
      extensionDevelopmentPath: devDir,
      shotPrefix: 'chat-',
    });
  } finally {
    writeUserSettings(runDir);
  }
}

/** Runs one named case of a phase whose cases depend on each other: the first failure skips the rest. */
async function step(suite, name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    record(suite, name, true, Date.now() - t0);
    return true;
  } catch (e) {
    record(suite, name, false, Date.now() - t0, e.message);
    return false;
  }
}

/** Phase 3: what a user installs. The VSIX is built, installed like a person would, and must activate. */
async function runVsixChecks(browser, install, runDir) {
  const suite = 'packaged VSIX';
  const vsix = join(runDir, 'memory-lane.vsix');
  const stateDir = join(runDir, 'vsix-profile');
  let extensionDir;
  const packaged = await step(suite, 'npm run package produces a linux-x64 VSIX', () => {
    // scripts/test.mjs has packaged (and content-checked) it already: install that very file.
    const prebuilt = process.env.MEMORY_LANE_E2E_VSIX;
    if (prebuilt) {
      if (!existsSync(prebuilt)) throw new Error(`MEMORY_LANE_E2E_VSIX names no file: ${prebuilt}`);
      copyFileSync(prebuilt, vsix);
      return;
    }
    const logFile = join(resultsDir, 'package.log');
    const out = openSync(logFile, 'w');
    const r = spawnSync('npm', ['run', 'package', '--', '--target', 'linux-x64', '--out', vsix], { cwd: repoRoot, stdio: ['ignore', out, out] });
    closeSync(out);
    if (r.status !== 0 || !existsSync(vsix)) throw new Error(`npm run package failed (exit ${r.status}); see ${logFile}`);
  });
  const installed = packaged && await step(suite, 'the VSIX installs and carries dist/, media/ and the LanceDB native binary, but no sources or tests', () => {
    const extensions = installExtension(install, stateDir, vsix);
    const folder = readdirSync(extensions).find((name) => name.startsWith('memory-lane.memory-lane-'));
    if (!folder) throw new Error(`no memory-lane folder in ${extensions}`);
    extensionDir = join(extensions, folder);
    const has = (p) => existsSync(join(extensionDir, p));
    const missing = ['dist/extension.js', 'dist/cli.js', 'dist/mcp.js', 'media/memory-lane.svg', 'package.json', 'LICENSE.txt',
      'node_modules/@lancedb/lancedb/package.json', 'node_modules/@lancedb/lancedb-linux-x64-gnu/lancedb.linux-x64-gnu.node',
      'node_modules/apache-arrow/package.json'].filter((p) => !has(p));
    const unwanted = ['src', 'test', 'out', 'bench', 'scripts', '.cache', 'node_modules/typescript', 'node_modules/esbuild'].filter(has);
    if (missing.length || unwanted.length) throw new Error(`missing: ${missing.join(', ') || '-'}; unwanted: ${unwanted.join(', ') || '-'}`);
  });
  if (!installed) return;
  let server;
  try {
    await step(suite, 'the installed extension activates in a plain window: the lock monitor is in the status bar', async () => {
      server = await startCodeServer(install, { stateDir, folder: join(runDir, 'workspace'), logFile: join(resultsDir, 'code-server-vsix.log'), env: { MEMORY_LANE_DB: join(runDir, 'vsix-store') } });
      const { context, page } = await newPage(browser);
      try {
        await page.goto(workbenchUrl(server));
        await page.locator('.part.statusbar .statusbar-item', { hasText: 'Memory Lane: idle' }).first().waitFor({ timeout: 60_000 });
        await page.locator('.part.activitybar .action-item .action-label[aria-label^="Memory Lane"]').first().waitFor();
        await screenshotter(page)('installed-vsix.png');
      } finally {
        await context.close();
      }
    });
  } finally {
    await server?.stop();
  }
}

/** The README's pictures: the UI cases save them as test-results/e2e/media-<name>.png. */
function updateMedia() {
  for (const name of readdirSync(resultsDir).filter((n) => n.startsWith('media-') && n.endsWith('.png'))) {
    copyFileSync(join(resultsDir, name), join(mediaDir, name.slice('media-'.length)));
    log(`media/${name.slice('media-'.length)} updated`);
  }
}

async function main() {
  rmSync(resultsDir, { recursive: true, force: true });
  rmSync(summaryFile, { force: true });
  mkdirSync(resultsDir, { recursive: true });

  const install = ensureVSCodeServer();
  ensureBuilt();
  const runDir = join(paths.runs, `${Date.now()}-${process.pid}`);
  const storePath = join(runDir, 'store');
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
      env: { MEMORY_LANE_E2E_RESULTS: hostResultsFile, MEMORY_LANE_DB: storePath, MEMORY_LANE_FAILPOINTS: `${UPGRADE_PAUSE_FAILPOINT};${CONSOLIDATE_PAUSE_FAILPOINT}` },
    });
    log(`code-server ${install.version} on ${server.origin}`);
    browser = await chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs], headless: true });
    await runExtensionHostTests(browser, server);
    await runUiChecks(browser, server, storePath);
    await runChatUiChecks(browser, server, runDir, storePath);
    if (opts['update-media']) updateMedia();
    if (!opts['skip-vsix']) await runVsixChecks(browser, install, runDir);
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
