// What the extension-host cases share: the extension under test, its API, the bundled CLI on its
// store, tool calls as a model makes them, and polling for a state to arrive.
import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { MemoryLaneApi } from '../../src/extension/api';
import { Cli } from './processes';

export const extensionId = 'memory-lane.memory-lane';

export function memoryLane(): vscode.Extension<MemoryLaneApi> {
  const ext = vscode.extensions.getExtension<MemoryLaneApi>(extensionId);
  assert.ok(ext, `extension ${extensionId} is not installed in this host`);
  return ext;
}

export const api = (): MemoryLaneApi => memoryLane().exports;
/** The bundled `memory-lane` CLI on `db` (default: this window's store). */
export const cli = (db = api().storePath) => new Cli(join(memoryLane().extensionPath, 'dist', 'cli.js'), db);
/** A throw-away folder for files the cases write (imports, exports, a file where a folder belongs). */
export const scratch = mkdtempSync(join(tmpdir(), 'ml-e2e-'));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export const textOf = (r: vscode.LanguageModelToolResult) => r.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('');
/** Calls a memory tool the way a chat model does (no chat request: no toolInvocationToken). */
export const invoke = async (name: string, input: object) => textOf(await vscode.lm.invokeTool(name, { input, toolInvocationToken: undefined }));
