#!/usr/bin/env node
// Screenshot of a running workbench (e.g. the URL `npm start` prints) with the Memory Lane container
// opened, taken in headless chromium. Used to check `npm start` and to refresh media/screenshot.png.
// Usage: node scripts/e2e/screenshot.mjs URL OUT.png
import { chromium } from 'playwright-core';
import { chromiumArgs, chromiumPath } from './config.mjs';

const [url, out] = process.argv.slice(2);
if (!url || !out) {
  console.error('usage: node scripts/e2e/screenshot.mjs URL OUT.png');
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs], headless: true });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(60_000);
  await page.goto(url);
  const item = page.locator('.part.activitybar .action-item .action-label[aria-label^="Memory Lane"]').first();
  await item.click();
  await page.locator('.part.sidebar .pane-header', { hasText: /locks & upgrades/i }).first().waitFor();
  await page.locator('.part.statusbar .statusbar-item', { hasText: 'Memory Lane' }).first().waitFor();
  await page.mouse.move(640, 400); // no hover tooltip in the picture
  await page.waitForTimeout(1000);
  await page.screenshot({ path: out });
  console.log(`saved ${out}`);
} finally {
  await browser.close();
}
