// Playwright checks of the real workbench with Memory Lane loaded: what a person sees and clicks.
// scripts/e2e/run.mjs opens the workbench in headless chromium and runs these cases in order, in the
// same throw-away store the extension-host cases used. Other processes are the bundled CLI, started
// from here; failpoints make them hold the store lock at an exact point.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Locator, Page } from 'playwright-core';
import { consolidationUiCases } from './consolidate.ui';

export interface UiContext {
  log(message: string): void;
  /** Saves a PNG under test-results/e2e/ and returns its path (`clip` for a part of the page). */
  screenshot(name: string, options?: { clip?: { x: number; y: number; width: number; height: number } }): Promise<string>;
  /** The store folder every window of this run uses (MEMORY_LANE_DB). */
  storePath: string;
  repoRoot: string;
}

export interface UiCase {
  name: string;
  run(page: Page, ctx: UiContext): Promise<void>;
}

const activityBarItem = (page: Page): Locator =>
  page.locator('.part.activitybar .action-item .action-label[aria-label^="Memory Lane"]');
export const paneHeader = (page: Page, title: RegExp): Locator => page.locator('.part.sidebar .pane-header', { hasText: title });
const statusItem = (page: Page, text: string | RegExp = 'Memory Lane'): Locator => page.locator('.part.statusbar .statusbar-item', { hasText: text });
export const locksView = (page: Page): Locator => page.locator('.part.sidebar .pane', { has: page.locator('.pane-header', { hasText: /locks & upgrades/i }) });
export const treeRow = (page: Page, text: string | RegExp): Locator => locksView(page).locator('.monaco-list-row', { hasText: text });

export async function expectVisible(locator: Locator, what: string, timeout?: number): Promise<void> {
  try {
    await locator.first().waitFor({ state: 'visible', ...(timeout ? { timeout } : {}) });
  } catch {
    throw new Error(`not visible: ${what}`);
  }
}

/** Opens the command palette, checks the command with this label is listed, and runs the top match. */
export async function runFromPalette(page: Page, label: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await expectVisible(input, 'the command palette');
  await input.fill(`>${label}`);
  await expectVisible(page.locator('.quick-input-list .monaco-list-row', { hasText: label }), `"${label}" in the command palette`);
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden' });
}

/** The README pictures: the side bar and status bar, not the empty editor area. */
export const SIDE = { x: 0, y: 0, width: 820, height: 800 };
const SIDEBAR_WIDTH = 560;

/** Drags the side bar's edge so the views' descriptions (holder, progress bar, waits) fit. */
async function widenSideBar(page: Page): Promise<void> {
  const box = await page.locator('.part.sidebar').boundingBox();
  if (!box || box.width >= SIDEBAR_WIDTH) return;
  const edge = box.x + box.width;
  await page.mouse.move(edge + 1, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + SIDEBAR_WIDTH, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
}

/** Collapses the Memories view so the Locks & Upgrades view gets the side bar's height. */
export async function collapseMemories(page: Page): Promise<void> {
  const header = paneHeader(page, /^memories/i).first();
  if ((await header.getAttribute('aria-expanded')) === 'true') await header.click();
}

async function photograph(page: Page, ctx: UiContext, name: string): Promise<void> {
  await page.mouse.move(1200, 300); // no hover tooltip in the picture
  ctx.log(`screenshot: ${await ctx.screenshot(`${name}.png`)}`);
  await ctx.screenshot(`media-${name}.png`, { clip: SIDE });
}

/** The bundled CLI as another process on the run's store (Node of the harness, not of the editor). */
function startCli(ctx: UiContext, args: string[], env: Record<string, string> = {}): { child: ChildProcess; waitFor(re: RegExp): Promise<void> } {
  const child = spawn(process.execPath, [join(ctx.repoRoot, 'dist', 'cli.js'), '--db', ctx.storePath, ...args], {
    env: { ...process.env, LANCEDB_LOG: 'error', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return {
    child,
    waitFor: (re) => new Promise((resolve, reject) => {
      const timer = setInterval(() => {
        if (re.test(stderr)) { clearInterval(timer); resolve(); }
        else if (child.exitCode !== null) { clearInterval(timer); reject(new Error(`the CLI exited (${child.exitCode}) before ${re}: ${stderr}`)); }
      }, 20);
    }),
  };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

let holder: ChildProcess | undefined;

/** Stores `texts` through the bundled MCP server as an MCP client named `name` (an agent outside VS Code). */
async function storeThroughMcp(ctx: UiContext, name: string, texts: string[]): Promise<void> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StdioClientTransport({
    command: process.execPath,
    args: [join(ctx.repoRoot, 'dist', 'mcp.js'), '--db', ctx.storePath],
    env: { ...process.env, LANCEDB_LOG: 'error', MEMORY_LANE_FAILPOINTS: '' } as Record<string, string>,
    stderr: 'ignore',
  }));
  try {
    for (const text of texts) {
      const r = await client.callTool({ name: 'memory_store', arguments: { text, force: true } }) as { isError?: boolean; content?: Array<{ text?: string }> };
      if (r.isError) throw new Error(`memory_store through MCP failed: ${r.content?.map((c) => c.text).join('')}`);
    }
  } finally {
    await client.close();
  }
}

const memoriesPane = (page: Page): Locator => page.locator('.part.sidebar .pane', { has: page.locator('.pane-header', { hasText: /^memories/i }) });

export const uiCases: UiCase[] = [
  {
    name: 'the activity bar shows the Memory Lane container',
    async run(page) {
      await expectVisible(activityBarItem(page), 'Memory Lane in the activity bar');
    },
  },
  {
    name: 'opening the container shows the Locks & Upgrades and Memories views',
    async run(page, ctx) {
      await activityBarItem(page).first().click();
      await expectVisible(page.locator('.part.sidebar .title-label', { hasText: /memory lane/i }), 'the Memory Lane side bar title');
      await expectVisible(paneHeader(page, /locks & upgrades/i), 'the Locks & Upgrades view');
      await expectVisible(paneHeader(page, /memories/i), 'the Memories view');
      await expectVisible(page.locator('.part.sidebar', { hasText: 'No writer holds the store lock' }), 'the locks view welcome text');
      // The extension-host cases left memories in this store: the Memories view lists them by scope.
      await expectVisible(page.locator('.part.sidebar .monaco-list-row', { hasText: /global|This workspace/ }), 'a scope in the Memories view');
      await widenSideBar(page);
      await page.mouse.move(1200, 300);
      await page.waitForTimeout(500);
      ctx.log(`screenshot: ${await ctx.screenshot('memory-lane-container.png')}`);
    },
  },
  {
    name: 'the status bar shows the lock monitor with an accessible label',
    async run(page) {
      const item = statusItem(page, 'Memory Lane: idle');
      await expectVisible(item, 'the "Memory Lane: idle" status-bar item');
      const label = (await item.first().locator('[aria-label]').first().getAttribute('aria-label')) ?? (await item.first().getAttribute('aria-label'));
      if (!label?.includes('Memory Lane lock monitor')) throw new Error(`status-bar item's aria-label is ${JSON.stringify(label)}`);
    },
  },
  {
    name: 'clicking the status-bar item opens the lock monitor',
    async run(page) {
      await page.keyboard.press('Control+Shift+E'); // switch the side bar to the Explorer first
      await expectVisible(page.locator('.part.sidebar .title-label', { hasText: /explorer/i }), 'the Explorer');
      await statusItem(page, 'Memory Lane: idle').first().click();
      await expectVisible(paneHeader(page, /locks & upgrades/i), 'the Locks & Upgrades view after the click');
    },
  },
  {
    name: 'while another process holds the lock, the status bar names it and the Locks & Upgrades view shows the holder',
    async run(page, ctx) {
      const cli = startCli(ctx, ['store', '--text', 'a CLI write that hangs while holding the store lock'], { MEMORY_LANE_FAILPOINTS: 'lock.afterAcquire=hang' });
      holder = cli.child;
      await cli.waitFor(/\[failpoint\] lock\.afterAcquire/);
      const pid = cli.child.pid!;
      await collapseMemories(page);
      await expectVisible(statusItem(page, `held by pid ${pid}`), `"held by pid ${pid}" in the status bar`, 5000);
      await expectVisible(treeRow(page, `Lock: held by pid ${pid}`), 'the holder row in the Locks & Upgrades view', 5000);
      await page.waitForTimeout(1200); // "held 1.x s" in the row
      await photograph(page, ctx, 'lock-held-by-other-process');
    },
  },
  {
    name: 'the status bar changes to "waiting" (warning background past the threshold) while this window waits for that lock',
    async run(page, ctx) {
      if (!holder) throw new Error('needs the holder of the previous case');
      await runFromPalette(page, 'Memory Lane: Run Maintenance');
      const waiting = statusItem(page, /Memory Lane: waiting \d+s/);
      await expectVisible(waiting, '"waiting" in the status bar', 5000);
      await expectVisible(page.locator('.part.statusbar .statusbar-item.warning-kind', { hasText: /Memory Lane: waiting/ }), 'the warning background of the waiting item', 5000);
      await expectVisible(treeRow(page, 'This window is waiting for the lock'), 'the waiting row in the Locks & Upgrades view', 5000);
      await page.waitForTimeout(1100); // the live seconds tick
      await photograph(page, ctx, 'lock-waiting');
      await waiting.first().hover();
      await expectVisible(page.locator('.monaco-hover', { hasText: 'last waits' }).or(page.locator('.monaco-hover', { hasText: 'has waited' })), 'the lock monitor tooltip', 5000);
      ctx.log(`screenshot: ${await ctx.screenshot('lock-waiting-tooltip.png')}`);
      await ctx.screenshot('media-lock-waiting-tooltip.png', { clip: { x: 0, y: 360, width: 820, height: 440 } });
      // The holder dies: its pid is gone, so this window takes the lock over at once and the wait ends.
      await stop(holder);
      holder = undefined;
      await expectVisible(statusItem(page, 'Memory Lane: idle'), 'the status bar idle again', 15_000);
    },
  },
  {
    name: 'the command palette starts the upgrade and the Locks & Upgrades view shows its progress, then the finished run',
    async run(page, ctx) {
      const file = join(tmpdir(), `ml-ui-legacy-${process.pid}.jsonl`);
      writeFileSync(file, Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: `ui-${i}`, text: `Legacy note ${i}: the team decided to rotate the on-call schedule every ${i % 7 + 1} weeks. It started in spring.`, category: 'decision' })).join('\n') + '\n');
      const seeded = spawnSync(process.execPath, [join(ctx.repoRoot, 'dist', 'cli.js'), '--db', ctx.storePath, '--json', 'import', file, '--format', 'jsonl'], { encoding: 'utf8', env: { ...process.env, LANCEDB_LOG: 'error' } });
      if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr}`);
      ctx.log(`seeded ${JSON.parse(seeded.stdout).imported} legacy memories`);
      await runFromPalette(page, 'Memory Lane: Upgrade Memories');
      // The harness pauses every upgrade for 3 s after its third batch (600 of 3000 rows).
      const row = treeRow(page, /Upgrade: (enrich|write)/).filter({ hasText: /[1-9]\d?%/ });
      await expectVisible(row, 'the upgrade row with its progress bar', 20_000);
      await expectVisible(statusItem(page, /upgrade \d+%/), 'the upgrade percentage in the status bar', 5000);
      await photograph(page, ctx, 'upgrade-progress');
      await expectVisible(treeRow(page, /upgraded 3\d{3} of 3\d{3}/), 'the finished run under Last upgrades', 60_000);
      await page.waitForTimeout(300);
      await photograph(page, ctx, 'upgrade-finished');
    },
  },
  {
    name: 'the Memories view lists memories by scope and category and opens one as a read-only document',
    async run(page, ctx) {
      const memories = paneHeader(page, /^memories/i).first();
      if ((await memories.getAttribute('aria-expanded')) !== 'true') await memories.click();
      const locks = paneHeader(page, /locks & upgrades/i).first();
      if ((await locks.getAttribute('aria-expanded')) === 'true') await locks.click();
      const pane = page.locator('.part.sidebar .pane', { has: page.locator('.pane-header', { hasText: /^memories/i }) });
      await expectVisible(pane.locator('.monaco-list-row', { hasText: 'This workspace' }), 'the workspace scope', 10_000);
      // The same memory is also under "Stored recently": fold that away, so the row below is the one under its category.
      const recent = pane.locator('.monaco-list-row', { hasText: 'Stored recently' }).first();
      if ((await recent.getAttribute('aria-expanded')) === 'true') await recent.click();
      // The upgrade's last writes refresh the view (once a second); a click during a refresh is lost.
      await page.waitForTimeout(1500);
      await pane.locator('.monaco-list-row', { hasText: /^preferences/ }).first().click();
      const memory = pane.locator('.monaco-list-row', { hasText: /indentation|two-space/i }).first();
      await expectVisible(memory, 'the memory stored by the extension-host case');
      await memory.click();
      await expectVisible(page.locator('.editor-group-container .monaco-editor', { hasText: 'Abstract (L0)' }), 'the read-only memory document', 10_000);
      await page.waitForTimeout(300);
      ctx.log(`screenshot: ${await ctx.screenshot('memories-view.png')}`);
      await ctx.screenshot('media-memories-view.png');
    },
  },
  {
    name: 'the Memories view lists what agents stored in the last 24 h under "Stored recently", by writer, and Keep marks one reviewed',
    async run(page, ctx) {
      await storeThroughMcp(ctx, 'mcp-e2e-agent', [
        'The API returns dates as ISO 8601 strings in UTC; the web client formats them.',
        'Run the integration tests with --runInBand: they share one database.',
      ]);
      // Another process committed: the view hears it through the store watcher, no refresh needed.
      const pane = memoriesPane(page);
      const expand = async (row: Locator) => { if ((await row.first().getAttribute('aria-expanded')) === 'false') await row.first().click(); };
      const recent = pane.locator('.monaco-list-row', { hasText: 'Stored recently' });
      await expectVisible(recent, 'the Stored recently node', 10_000);
      const group = pane.locator('.monaco-list-row', { hasText: 'mcp · mcp-e2e-agent 1.0.0' });
      // The view refreshes when the MCP server's commits are noticed; a refresh that lands while the
      // node is being expanded can leave it collapsed, so keep it expanded until the group shows.
      for (const deadline = Date.now() + 20_000; !(await group.first().isVisible()) && Date.now() < deadline;) {
        await expand(recent);
        await page.waitForTimeout(500);
      }
      await expectVisible(group, 'the MCP client\'s group under Stored recently', 1000);
      await expand(group);
      // Everything else collapsed, so the picture shows the review node and its groups.
      for (const other of await pane.locator('.monaco-list-row[aria-level="1"][aria-expanded="true"]').all()) {
        if (!/Stored recently/.test(await other.innerText())) await other.click();
      }
      await expectVisible(pane.locator('.monaco-list-row', { hasText: /^lm-tool · / }), 'the LM tools\' group (the extension-host cases stored through them)');
      // The MCP server's commits refresh the view (once a second): an action clicked on a row that is being
      // replaced reaches the command without its row (VS Code drops stale tree handles), so let it settle.
      await page.waitForTimeout(2000);
      const row = pane.locator('.monaco-list-row', { hasText: 'ISO 8601' }).first();
      await expectVisible(row, 'the MCP client\'s memory');
      await row.hover();
      const keep = row.locator('.action-label[aria-label="Keep Memory"]');
      await expectVisible(keep, 'the inline Keep action on an unreviewed memory');
      await expectVisible(row.locator('.action-label[aria-label="Edit Memory…"]'), 'the inline Edit action');
      await expectVisible(row.locator('.action-label[aria-label="Forget Memory"]'), 'the inline Forget action');
      ctx.log(`screenshot: ${await ctx.screenshot('stored-recently.png')}`);
      await ctx.screenshot('media-stored-recently.png', { clip: SIDE });
      await keep.click();
      // Kept: the row leaves the "to review" state (the view refreshes within a second).
      await expectVisible(pane.locator('.monaco-list-row', { hasText: 'ISO 8601' }).filter({ hasNotText: 'to review' }), 'the kept memory without "to review"', 10_000);
    },
  },
  ...consolidationUiCases,
];
