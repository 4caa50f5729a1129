// Playwright cases of @memory in the real chat view: what a person types and reads. scripts/e2e/run.mjs
// runs them in their own window, after the other UI cases and on the same store, with chat turned on
// (chat.disableAIFeatures false) and a test-only extension (test/e2e/chat-model-stub) that registers a
// local chat model. Without a model the workbench never runs a participant: the extension host answers
// "Language model unavailable" before the handler is called (runChatUiChecks in scripts/e2e/run.mjs).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import type { UiCase, UiContext } from './workbench.ui';

interface StoredMemory { id: string; text: string; scope: string; category: string }

const chatView = (page: Page): Locator => page.locator('.part.auxiliarybar');
const chatInput = (page: Page): Locator => chatView(page).locator('.interactive-input-part .monaco-editor').first();
/** The answers in the chat view (the list is virtual: only the rows in view are in the page). */
const responses = (page: Page): Locator => chatView(page).locator('.interactive-item-container.interactive-response');

async function expectVisible(locator: Locator, what: string, timeout?: number): Promise<void> {
  try {
    await locator.first().waitFor({ state: 'visible', ...(timeout ? { timeout } : {}) });
  } catch {
    throw new Error(`not visible: ${what}`);
  }
}

function cli(ctx: UiContext, args: string[]): unknown {
  const r = spawnSync(process.execPath, [join(ctx.repoRoot, 'dist', 'cli.js'), '--db', ctx.storePath, '--json', ...args], { encoding: 'utf8', env: { ...process.env, LANCEDB_LOG: 'error' } });
  if (r.status !== 0) throw new Error(`memory-lane ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Types `text` into the chat input and sends it; resolves with the last answer once it has `expected`
 * (its last part). VS Code 1.139 folds what an answer streamed before its last part (here the memory
 * list, before the model's summary) under "Completed N steps": that is unfolded.
 */
async function ask(page: Page, text: string, expected: string | RegExp): Promise<Locator> {
  await chatInput(page).click({ force: true }); // the placeholder's decorations cover the textarea
  await page.keyboard.type(text);
  await page.keyboard.press('Escape'); // the @ / slash-command completion list
  await page.keyboard.press('Enter');
  const answer = responses(page).last();
  await expectVisible(answer.filter({ hasText: expected }), `the answer to "${text}" with ${expected}`, 20_000);
  await page.waitForTimeout(500); // the folding happens when the answer is complete
  const folded = answer.getByText(/^Completed \d+ steps/);
  if (await folded.count()) {
    await folded.first().click();
    await page.waitForTimeout(300);
  }
  return answer;
}

/** The README picture: the chat view, widened, and the edge of the editor beside it. */
const CHAT = { x: 760, y: 0, width: 520, height: 800 };
const CHAT_WIDTH = 500; // wider, and the chat view adds its Sessions list beside the conversation

async function widenChatView(page: Page): Promise<void> {
  const box = await chatView(page).boundingBox();
  if (!box || box.width >= CHAT_WIDTH) return;
  await page.mouse.move(box.x - 1, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width - CHAT_WIDTH, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
}

let released: StoredMemory | undefined;

export const chatUiCases: UiCase[] = [
  {
    name: 'with a chat model registered, the chat view opens with it selected in the model picker',
    async run(page) {
      await page.keyboard.press('Control+Alt+I'); // Chat: Open Chat
      await expectVisible(chatInput(page), 'the chat input in the secondary side bar', 20_000);
      await expectVisible(chatView(page).locator('.interactive-input-part', { hasText: 'E2E Stub' }), 'the stub model in the model picker', 20_000);
      await widenChatView(page);
    },
  },
  {
    name: '@memory /recall typed in the chat view reaches the participant, which answers with the memory\'s id, scope and buttons (and the model\'s summary)',
    async run(page, ctx) {
      // The extension-host cases stored this one through @memory /remember, in this workspace's scope.
      const { items } = cli(ctx, ['list', '--writer', 'participant', '--limit', '500']) as { items: StoredMemory[] };
      released = items.find((m) => m.text.includes('release train leaves on Tuesdays'));
      if (!released) throw new Error(`no release-train memory by the participant in ${ctx.storePath}: ${items.map((m) => m.text).join(' | ')}`);
      // The request carries the model the picker selected; /recall asks it for a summary citing the ids.
      const answer = await ask(page, '@memory /recall when does the release train leave', `The stub model read memory ${released.id}`);
      await expectVisible(answer.getByText(`${released.id} · workspace · ${released.category}`), `"${released.id} · workspace · ${released.category}" in the answer`);
      const text = await answer.innerText();
      if (!/by participant · @memory/.test(text)) throw new Error(`the answer does not name the writer:\n${text}`);
      for (const button of ['Open', 'Edit…', 'Forget…']) await expectVisible(answer.getByRole('button', { name: button }), `the ${button} button`);
      ctx.log(`recalled ${released.id} (${released.scope})`);
      await page.mouse.move(200, 400); // no hover in the picture
      await page.waitForTimeout(300);
      ctx.log(`screenshot: ${await ctx.screenshot('participant-answer.png')}`);
      await ctx.screenshot('media-participant-answer.png', { clip: CHAT });
    },
  },
  {
    name: '@memory /stats typed in the chat view answers with the counts per scope, this workspace\'s marked',
    async run(page, ctx) {
      if (!released) throw new Error('needs the memory of the previous case');
      const answer = await ask(page, '@memory /stats', /awaiting review/);
      const text = await answer.innerText();
      const total = (cli(ctx, ['list', '--limit', '1']) as { total: number }).total;
      if (!new RegExp(`\\b${total} memories\\b`).test(text)) throw new Error(`the answer does not count ${total} memories:\n${text}`);
      if (!text.includes(`${released.scope} (this workspace)`)) throw new Error(`the answer does not mark ${released.scope} as this workspace:\n${text}`);
      ctx.log(`screenshot: ${await ctx.screenshot('participant-stats.png')}`);
    },
  },
];
