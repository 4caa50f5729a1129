// The consolidation preview as a person uses it in the workbench: Consolidate Memories… from the
// palette, a scope from the quick pick, the preview's CodeLenses clicked (accept one cluster, reject
// the other), Apply, and the summary with Undo. Takes the README's pictures of the preview and the result.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { collapseMemories, expectVisible, paneHeader, treeRow, type UiCase, type UiContext } from './workbench.ui';

const SCOPE = 'project:ui-consolidate';

function seed(ctx: UiContext): void {
  const file = join(tmpdir(), `ml-ui-consolidate-${process.pid}.jsonl`);
  const rows = [
    ['ui-c-1', 'The release checklist lives on the team wiki and must be followed for every tagged version.'],
    ['ui-c-2', 'For every tagged version, follow the release checklist that lives on the team wiki.'],
    ['ui-c-3', 'Code review needs one approval from the owning team before a merge to main.'],
    ['ui-c-4', 'Code review needs one approval from the owning team before a merge to main.'],
    ['ui-c-5', 'The nightly job exports usage metrics to the analytics bucket at 03:00.'],
  ];
  writeFileSync(file, rows.map(([id, text]) => JSON.stringify({ id, text, scope: SCOPE, category: 'decision' })).join('\n') + '\n');
  const r = spawnSync(process.execPath, [join(ctx.repoRoot, 'dist', 'cli.js'), '--db', ctx.storePath, '--json', 'import', file, '--format', 'jsonl'], { encoding: 'utf8', env: { ...process.env, LANCEDB_LOG: 'error' } });
  if (r.status !== 0) throw new Error(`seeding failed: ${r.stderr}`);
}

/** A CodeLens link by its exact title (the codicon before it has no text). */
const spaced = (text: string) => text.replace(/ /g, '\\s');
const lens = (page: Page, title: string): Locator => page.locator('.codelens-decoration a').filter({ hasText: new RegExp(`^\\W*${spaced(title)}$`) });
// Monaco renders a line's spaces as no-break spaces: \s matches both.
const heading = (page: Page, n: number, state: string): Locator => page.locator('.editor-group-container .view-line', { hasText: new RegExp(spaced(`## Cluster ${n} of 2 · ${state}`)) });

async function focusLocks(page: Page): Promise<void> {
  // Alone (or first), the window may still be loading the extension.
  await expectVisible(page.locator('.part.statusbar .statusbar-item', { hasText: 'Memory Lane' }), 'the extension\'s status-bar item', 60_000);
  // Clicking the container's icon while it is open would close the side bar: only when it is not.
  if (!(await page.locator('.part.sidebar .title-label', { hasText: /memory lane/i }).first().isVisible())) {
    await page.locator('.part.activitybar .action-item .action-label[aria-label^="Memory Lane"]').first().click();
  }
  await expectVisible(paneHeader(page, /locks & upgrades/i), 'the Locks & Upgrades view');
  await collapseMemories(page);
  const locks = paneHeader(page, /locks & upgrades/i).first();
  if ((await locks.getAttribute('aria-expanded')) !== 'true') await locks.click();
}

export const consolidationUiCases: UiCase[] = [
  {
    name: 'Consolidate Memories… from the palette plans one scope and opens the preview with Accept/Reject CodeLenses per cluster',
    async run(page, ctx) {
      seed(ctx);
      await focusLocks(page);
      // The command's own quick pick replaces the palette in the same widget (runFromPalette waits for it to close).
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await expectVisible(input, 'the command palette');
      await input.fill('>Memory Lane: Consolidate Memories…');
      await expectVisible(page.locator('.quick-input-list .monaco-list-row', { hasText: 'Consolidate Memories…' }), '"Consolidate Memories…" in the command palette');
      await page.keyboard.press('Enter');
      await expectVisible(page.locator('.quick-input-widget input[placeholder^="Nothing is written"]'), 'the scope quick pick', 10_000);
      await expectVisible(page.locator('.quick-input-list .monaco-list-row', { hasText: 'Every scope' }), 'the "Every scope" choice');
      await input.fill(SCOPE);
      await expectVisible(page.locator('.quick-input-list .monaco-list-row', { hasText: SCOPE }), `${SCOPE} in the quick pick`);
      await page.keyboard.press('Enter');
      await expectVisible(page.locator('.editor-group-container .view-line', { hasText: new RegExp(spaced('# Consolidate memories: 2 clusters to review')) }), 'the preview in the editor', 20_000);
      await expectVisible(lens(page, 'Apply 0 accepted'), 'the Apply lens at the top', 10_000);
      await expectVisible(lens(page, 'Accept'), 'an Accept lens on the first cluster');
      await expectVisible(treeRow(page, 'Consolidation: 2 clusters to review'), 'the plan in the Locks & Upgrades view', 10_000);
      await page.mouse.move(1200, 700);
      ctx.log(`screenshot: ${await ctx.screenshot('consolidation-preview.png')}`);
      await ctx.screenshot('media-consolidation-preview.png');
    },
  },
  {
    name: 'clicking Accept on one cluster and Reject on the other, then Apply, merges only the accepted one and offers Undo',
    async run(page, ctx) {
      await lens(page, 'Accept').first().click();
      await expectVisible(heading(page, 1, '✓ accepted'), 'cluster 1 accepted in the preview', 10_000);
      // The second cluster is further down: the keyboard route a screen-reader user takes — find its
      // heading, then *Show CodeLens Commands for Current Line* and pick Reject.
      const editor = page.locator('.editor-group-container .monaco-editor').first();
      await editor.click({ position: { x: 300, y: 300 } });
      await page.keyboard.press('Control+F');
      const find = page.locator('.editor-group-container .find-widget textarea, .editor-group-container .find-widget input').first();
      await expectVisible(find, 'the find widget');
      await find.fill('## Cluster 2 of 2');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.fill('>Show CodeLens Commands for Current Line');
      await expectVisible(page.locator('.quick-input-list .monaco-list-row', { hasText: /CodeLens Commands/i }), 'the CodeLens command in the palette');
      await page.keyboard.press('Enter');
      const reject = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Reject' });
      await expectVisible(reject, 'the cluster\'s Reject lens in the quick pick', 15_000);
      await reject.first().click();
      await expectVisible(heading(page, 2, '✗ rejected'), 'cluster 2 rejected in the preview', 10_000);
      await page.keyboard.press('Control+Home');
      await lens(page, 'Apply 1 accepted').first().click();
      // The summary: a toast, or (once the toast has hidden itself) the notification centre's entry.
      const summary = page.locator('.notification-list-item', { hasText: /merged\s1\scluster.*1\srejected/ });
      await expectVisible(page.locator('.editor-group-container .view-line', { hasText: /#\sConsolidation\s[0-9a-f-]{36}/ }), 'the preview showing the written run', 20_000);
      if (!(await summary.first().isVisible())) {
        await page.keyboard.press('F1');
        await page.locator('.quick-input-widget input').fill('>Notifications: Show Notifications');
        await expectVisible(page.locator('.quick-input-list .monaco-list-row', { hasText: 'Show Notifications' }), 'Show Notifications in the palette');
        await page.keyboard.press('Enter');
      }
      await expectVisible(summary, 'the summary notification', 10_000);
      await expectVisible(summary.locator('.monaco-button', { hasText: 'Undo' }), 'its Undo action');
      await expectVisible(treeRow(page, /merged 1 of 2 clusters/), 'the finished run in the Locks & Upgrades view', 10_000);
      await page.mouse.move(1200, 300);
      ctx.log(`screenshot: ${await ctx.screenshot('consolidation-applied.png')}`);
      await ctx.screenshot('media-consolidation-applied.png');
    },
  },
];
