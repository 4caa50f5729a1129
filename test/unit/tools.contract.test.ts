import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ValidationError, errorCode } from '../../src/core/errors';
import { MEMORY_TOOLS, TOOL_LIMITS, checkToolInput, toolInputSchema, toolsFor, type ToolAdapter, type ToolName } from '../../src/core/tools/contract';
import { manifestDrift, manifestTools } from '../../src/core/tools/languageModelTools';
import type { ValueSchema } from '../../src/core/tools/inputSchema';
import { repoRoot } from '../helpers/repo';

const root = repoRoot();
const readManifest = () => JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** What a call of `name` throws, or undefined when the contract accepts it. */
function refusal(name: ToolName, input: unknown, adapter: ToolAdapter): Error | undefined {
  try {
    checkToolInput(name, input, adapter);
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

test('package.json\'s languageModelTools are exactly what the tool contract generates', () => {
  assert.deepEqual(manifestDrift(readManifest().contributes.languageModelTools), []);
  assert.deepEqual(readManifest().contributes.languageModelTools, manifestTools());
});

test('the manifest check names each way an altered copy of package.json drifts from the contract', () => {
  const tools = structuredClone(readManifest().contributes.languageModelTools) as Array<{ name: string; modelDescription: string; inputSchema: { properties: Record<string, ValueSchema> } }>;
  const list = tools.find((t) => t.name === 'memory_list')!;
  list.inputSchema.properties.limit!.maximum = 500;
  const recall = tools.find((t) => t.name === 'memory_recall')!;
  recall.inputSchema.properties.scopes = { type: 'array', items: { type: 'string' } };
  delete recall.inputSchema.properties.scope;
  tools.find((t) => t.name === 'memory_store')!.modelDescription += ' Edited by hand.';
  const drift = manifestDrift(tools.filter((t) => t.name !== 'memory_update'));
  assert.ok(drift.includes('languageModelTools[memory_list].inputSchema.properties.limit.maximum: package.json has 500, the contract 100'), drift.join('\n'));
  assert.ok(drift.some((d) => d.startsWith('languageModelTools[memory_recall].inputSchema.properties.scopes: package.json has {"type":"array"')), drift.join('\n'));
  assert.ok(drift.some((d) => d.startsWith('languageModelTools[memory_recall].inputSchema.properties.scope: package.json has nothing')), drift.join('\n'));
  assert.ok(drift.some((d) => d.startsWith('languageModelTools[memory_store].modelDescription: package.json has')), drift.join('\n'));
  assert.ok(drift.includes('languageModelTools: memory_update is missing'), drift.join('\n'));
  assert.equal(drift.length, 5, drift.join('\n'));
});

test('scripts/generate-manifest-tools.mjs --check fails on an altered package.json, and regenerating repairs only that section', () => {
  const dir = mkdtempSync(join(tmpdir(), 'manifest-tools-'));
  try {
    const text = readFileSync(join(root, 'package.json'), 'utf8');
    const altered = text.replace('"maximum": 100,', '"maximum": 500,');
    assert.notEqual(altered, text, 'the copy must really differ');
    const copy = join(dir, 'package.json');
    writeFileSync(copy, altered);
    const script = (...args: string[]) => spawnSync(process.execPath, ['scripts/generate-manifest-tools.mjs', ...args], { cwd: root, encoding: 'utf8' });
    const check = script('--check', '--manifest', copy);
    assert.equal(check.status, 1, check.stdout + check.stderr);
    assert.match(check.stderr, /memory_list\]\.inputSchema\.properties\.limit\.maximum: package\.json has 500, the contract 100/);
    const ok = script('--check');
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const fix = script('--manifest', copy);
    assert.equal(fix.status, 0, fix.stderr);
    assert.equal(readFileSync(copy, 'utf8'), text, 'regenerated, the copy is package.json again, byte for byte');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a forget with neither id nor query, or both, is the same E_INVALID ValidationError for both adapters', () => {
  for (const adapter of ['lm', 'mcp'] as const) {
    for (const input of [{}, { id: 'abcdefgh', query: 'tabs' }]) {
      const err = refusal('memory_forget', input, adapter);
      assert.ok(err instanceof ValidationError, `${adapter} ${JSON.stringify(input)}: ${String(err)}`);
      assert.equal(errorCode(err), 'E_INVALID');
      assert.equal(err.message, 'give either id or query, not both or neither');
    }
    assert.equal(refusal('memory_forget', { id: 'abcdefgh' }, adapter), undefined);
    assert.equal(refusal('memory_forget', { query: 'tabs', limit: TOOL_LIMITS.forgetByQuery.max }, adapter), undefined);
  }
});

test('every user mistake in a tool call is an E_INVALID ValidationError naming the problem, whichever adapter', () => {
  const cases: Array<[ToolName, unknown, string]> = [
    ['memory_store', null, 'input must be an object, got null'],
    ['memory_store', {}, 'text: is required'],
    ['memory_store', { text: 'x', importance: 7 }, 'importance: must be a number from 0 to 1, got 7'],
    ['memory_recall', { query: 'x', limit: 0 }, `limit: must be an integer from 1 to ${TOOL_LIMITS.recall.max}, got 0`],
    ['memory_recall', { query: 'x', scopes: ['global'] }, 'scopes: is not expected here; expected one of query, limit, scope, category, minScore, full'],
    ['memory_list', { limit: TOOL_LIMITS.list.max + 1 }, `limit: must be an integer from 1 to ${TOOL_LIMITS.list.max}, got ${TOOL_LIMITS.list.max + 1}`],
    ['memory_forget', { query: 'x', limit: TOOL_LIMITS.forgetByQuery.max + 1 }, `limit: must be an integer from 1 to ${TOOL_LIMITS.forgetByQuery.max}, got ${TOOL_LIMITS.forgetByQuery.max + 1}`],
    ['memory_update', { id: 'abcdefgh' }, 'nothing to change: give text, importance, category or scope'],
  ];
  for (const adapter of ['lm', 'mcp'] as const) {
    for (const [name, input, message] of cases) {
      const err = refusal(name, input, adapter);
      assert.ok(err instanceof ValidationError, `${adapter} ${name} ${JSON.stringify(input)}: ${String(err)}`);
      assert.equal(err.message, message, `${adapter} ${name}`);
    }
  }
});

test('the adapters differ only where the contract says so: MCP\'s confirm and memory_stats', () => {
  assert.equal(refusal('memory_forget', { query: 'x', confirm: true }, 'mcp'), undefined);
  assert.match(String(refusal('memory_forget', { query: 'x', confirm: true }, 'lm')), /confirm: is not expected here/, 'VS Code confirms in its own dialog');
  assert.match(String(refusal('memory_stats', {}, 'lm')), /there is no tool "memory_stats"/);
  const lm = new Map(toolsFor('lm').map((t) => [t.name, t]));
  for (const tool of toolsFor('mcp')) {
    if (!lm.has(tool.name)) { assert.equal(tool.only, 'mcp', `${tool.name} is MCP-only only by declaration`); continue; }
    // Descriptions may be worded per adapter; names, types, limits and requirements may not differ.
    const shared = (schema: ValueSchema) => ({
      ...schema,
      properties: Object.fromEntries(Object.entries(schema.properties ?? {}).filter(([key]) => !tool.parameters[key]!.only).map(([key, { description: _, ...rest }]) => [key, rest])),
    });
    assert.deepEqual(shared(toolInputSchema(tool, 'mcp')), shared(toolInputSchema(tool, 'lm')), tool.name);
  }
  assert.deepEqual(MEMORY_TOOLS.map((t) => t.name), ['memory_store', 'memory_recall', 'memory_update', 'memory_forget', 'memory_list', 'memory_stats']);
});
