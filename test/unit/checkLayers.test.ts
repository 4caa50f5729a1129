import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { expectOneVectorPerText } from '../../src/core/embedding/errors';
import { repoRoot } from '../helpers/repo';
import { tempDir } from '../helpers/tempStore';

const script = join(repoRoot(), 'scripts', 'check-layers.mjs');

test('the layering check fails on a second lock, a second HTTP client, an ad-hoc error code and vscode in the core, naming each', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'src', 'core', 'store'), { recursive: true });
  writeFileSync(join(dir, 'src', 'core', 'store', 'bad.ts'), [
    "import * as vscode from 'vscode';",
    "import * as lockfile from 'proper-lockfile';",
    "import OpenAI from 'openai';",
    "export async function f() { await fetch('http://127.0.0.1'); throw new MemoryLaneError('E_X', 'x'); }",
  ].join('\n'));
  const run = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8' });
  assert.equal(run.status, 1);
  for (const want of [/must not import 'vscode'/, /only the one lock primitive/, /only the one OpenAI-compatible client/, /not fetch\(\)/, /not new MemoryLaneError/]) assert.match(run.stderr, want);
});

test('the layering check passes on this repository', () => {
  const run = spawnSync(process.execPath, [script], { cwd: repoRoot(), encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
});

test('an embed function that returns the wrong number of vectors is a named embedder error', () => {
  assert.throws(() => expectOneVectorPerText([[1], [2]], 3), (err: Error & { code?: string }) => err.code === 'E_EMBED_REPLY' && /returned 2 vectors for 3 texts/.test(err.message));
  assert.throws(() => expectOneVectorPerText(undefined, 1), /returned no vectors for 1 texts/);
  expectOneVectorPerText([[1]], 1);
});
