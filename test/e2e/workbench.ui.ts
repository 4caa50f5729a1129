// Playwright checks of the real workbench with Memory Lane loaded: what a person sees and clicks.
// scripts/e2e/run.mjs opens the workbench in headless chromium and runs these cases in order.
import type { Locator, Page } from 'playwright-core';

export interface UiContext {
  log(message: string): void;
  /** Saves a PNG of the whole page under test-results/e2e/ and returns its path. */
  screenshot(name: string): Promise<string>;
}

export interface UiCase {
  name: string;
  run(page: Page, ctx: UiContext): Promise<void>;
}

const activityBarItem = (page: Page): Locator =>
  page.locator('.part.activitybar .action-item .action-label[aria-label^="Memory Lane"]');
const paneHeader = (page: Page, title: RegExp): Locator => page.locator('.part.sidebar .pane-header', { hasText: title });
const statusItem = (page: Page): Locator => page.locator('.part.statusbar .statusbar-item', { hasText: 'Memory Lane: idle' });

async function expectVisible(locator: Locator, what: string): Promise<void> {
  try {
    await locator.first().waitFor({ state: 'visible' });
  } catch {
    throw new Error(`not visible: ${what}`);
  }
}

/** Opens the command palette, checks the command with this label is listed, and runs the top match. */
async function runFromPalette(page: Page, label: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await expectVisible(input, 'the command palette');
  await input.fill(`>${label}`);
  await expectVisible(page.locator('.quick-input-list .monaco-list-row', { hasText: label }), `"${label}" in the command palette`);
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden' });
}

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
      await page.mouse.move(640, 400); // no hover tooltip in the picture
      await page.waitForTimeout(1000);
      ctx.log(`screenshot: ${await ctx.screenshot('memory-lane-container.png')}`);
    },
  },
  {
    name: 'the status bar shows the lock monitor with an accessible label',
    async run(page) {
      const item = statusItem(page);
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
      await statusItem(page).first().click();
      await expectVisible(paneHeader(page, /locks & upgrades/i), 'the Locks & Upgrades view after the click');
    },
  },
  {
    name: 'the command palette runs Memory Lane: Upgrade Memories, which says it is not yet available',
    async run(page, ctx) {
      await runFromPalette(page, 'Memory Lane: Upgrade Memories');
      // Headless, the workbench files the message in the notification centre without a toast: look there.
      await runFromPalette(page, 'Notifications: Show Notifications');
      await expectVisible(page.locator('.notifications-center', { hasText: 'upgrading memories is not yet available' }), 'the "not yet available" notification');
      ctx.log(`screenshot: ${await ctx.screenshot('upgrade-not-yet-available.png')}`);
    },
  },
];
