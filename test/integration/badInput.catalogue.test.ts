import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryService } from '../../src/core/memoryService';
import { META_FILE } from '../../src/core/store/storeMeta';
import { cli } from '../helpers/cli';
import { exportFingerprint } from '../helpers/fingerprint';
import { callTool, connectMcp } from '../helpers/mcp';
import { deferCleanup, tempDir } from '../helpers/tempStore';

const fingerprint = exportFingerprint;

/** A fingerprint without what a successful recall counts (injected_count, last_injected_at, the revision): bookkeeping, not content. */
function withoutRecallCounters(fingerprint: string): string {
  return fingerprint.split('\n').map((l) => {
    const { rev: _r, ...rest } = JSON.parse(l);
    const { injected_count: _i, last_injected_at: _l, ...metadata } = rest.metadata ?? {};
    return JSON.stringify({ ...rest, metadata });
  }).sort().join('\n');
}

async function seededStore(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = tempDir(t);
  const service = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  await service.store({ id: 'keep-1', text: 'The staging deploy runs before production', scope: 'project:api' });
  await service.store({ id: 'keep-2', text: 'Prefers tabs over spaces', category: 'preferences' });
  await service.close();
  return dir;
}

const injection = "'; DELETE FROM memories WHERE '1'='1'; --";

test('bad input catalogue: the CLI refuses each with exit 1 and a reason naming the problem; the store is unchanged and valid', async (t) => {
  const dir = await seededStore(t);
  const before = await fingerprint(dir);
  const cases: Array<[string, string[], RegExp]> = [
    ['empty text', ['store', '--text', ''], /text/],
    ['whitespace text', ['store', '--text', '   \n\t '], /text: must not be empty/],
    ['terminal escape in text', ['store', '--text', 'evil \u001b[31mred'], /control character/],
    ['importance not a number', ['store', '--text', 'x', '--importance', 'high'], /--importance must be a number from 0 to 1/],
    ['importance out of range', ['store', '--text', 'x', '--importance', '1.5'], /--importance must be a number from 0 to 1/],
    ['importance NaN', ['store', '--text', 'x', '--importance', 'NaN'], /--importance/],
    ['filter injection in scope', ['store', '--text', 'x', '--scope', injection], /is not a scope/],
    ['unknown category', ['store', '--text', 'x', '--category', 'gossip'], /unknown category/],
    ['limit zero', ['recall', 'x', '--limit', '0'], /--limit must be an integer from 1 to 50/],
    ['limit fractional', ['list', '--limit', '2.5'], /--limit must be an integer/],
    ['scope injection in recall', ['recall', 'x', '--scope', injection], /is not a scope/],
    ['category injection in list', ['list', '--category', injection], /unknown category/],
    ['path traversal as id', ['get', '../../../etc/passwd'], /No memory with id/],
    ['injection as id', ['get', injection], /No memory with id|must not/],
    ['update missing id', ['update', 'no-such-memory-id', '--importance', '0.2'], /No memory with id/],
    ['update with nothing to change', ['update', 'keep-1'], /nothing to change/],
    ['short id prefix', ['update', 'keep', '--importance', '0.2'], /prefix|No memory/],
    ['forget with both id and query', ['forget', 'keep-1', '--query', 'x'], /either an id or --query/],
    ['import a missing file', ['import', '/nonexistent/file.jsonl'], /ENOENT|no such file/],
    ['export into the store folder', ['export', join(dir, 'memories.lance', 'x.jsonl')], /inside the store folder/],
    ['unknown command', ['frobnicate'], /unknown command/],
    ['unknown option', ['store', '--text', 'x', '--colour', 'red'], /unknown option/],
  ];
  for (const [name, args, reason] of cases) {
    const r = await cli(['--db', dir, ...args, '--json']);
    assert.equal(r.code, 1, `${name}: exit ${r.code}; stdout ${r.stdout}`);
    assert.match(r.stderr, reason, `${name}: stderr was ${r.stderr}`);
    assert.ok(r.json?.error?.message, `${name}: --json must still print {error} on stdout, got ${r.stdout}`);
  }
  assert.equal(await fingerprint(dir), before, 'no refused call changed anything');
  // Injection text as a query is just a query: it runs and changes no memory (it may count what it returned).
  const q = await cli(['--db', dir, 'recall', injection, '--json']);
  assert.equal(q.code, 0, q.stderr);
  const preview = await cli(['--db', dir, 'forget', '--query', 'tabs', '--json']);
  assert.equal(preview.json.deleted, 0);
  assert.equal(withoutRecallCounters(await fingerprint(dir)), withoutRecallCounters(before));
  const verify = await cli(['--db', dir, 'verify', '--json']);
  assert.equal(verify.json.ok, true);
});

test('bad input catalogue: MCP tools answer bad arguments with a tool error naming the field; the store is unchanged', async (t) => {
  const dir = await seededStore(t);
  const before = await fingerprint(dir);
  const { client, close } = await connectMcp(dir);
  deferCleanup(t, close);
  const cases: Array<[string, string, Record<string, unknown>, RegExp]> = [
    ['no text', 'memory_store', {}, /text/],
    ['text of the wrong type', 'memory_store', { text: 42 }, /text/],
    ['1.1 MiB text', 'memory_store', { text: 'x'.repeat(1_150_000) }, /text.*(limit|bytes)/],
    ['NUL in text', 'memory_store', { text: 'a\u0000b' }, /text/],
    ['importance as a string', 'memory_store', { text: 'x', importance: 'high' }, /importance/],
    ['importance out of range', 'memory_store', { text: 'x', importance: -1 }, /importance/],
    ['scope injection', 'memory_store', { text: 'x', scope: injection }, /scope/],
    ['category injection', 'memory_recall', { query: 'x', category: injection }, /category/],
    ['scopes not a list', 'memory_recall', { query: 'x', scopes: 'global' }, /scopes/],
    ['limit too big', 'memory_list', { limit: 100000 }, /limit/],
    ['negative offset', 'memory_list', { offset: -5 }, /offset/],
    ['update unknown id', 'memory_update', { id: 'does-not-exist', importance: 0.1 }, /E_NOT_FOUND/],
    ['forget with neither id nor query', 'memory_forget', {}, /either id or query/],
  ];
  for (const [name, tool, args, reason] of cases) {
    const r = (await client.callTool({ name: tool, arguments: args }).catch((e: Error) => ({ isError: true, content: [{ text: e.message }] }))) as { isError?: boolean; content: Array<{ text?: string }> };
    assert.equal(r.isError, true, `${name}: expected a tool error`);
    assert.match(r.content.map((c) => c.text).join(' '), reason, name);
  }
  await close();
  assert.equal(await fingerprint(dir), before, 'no refused call changed anything');
  const again = await connectMcp(dir);
  const ok = await callTool(again.client, 'memory_recall', { query: injection });
  assert.ok(Array.isArray(ok.results));
  await again.close();
  assert.equal(withoutRecallCounters(await fingerprint(dir)), withoutRecallCounters(before));
});

test('bad input catalogue: import files that are empty, binary or malformed are reported by line, the rest imported, nothing else touched', async (t) => {
  const dir = await seededStore(t);
  const files = tempDir(t);
  const write = (name: string, content: string | Buffer) => { const p = join(files, name); writeFileSync(p, content); return p; };
  const empty = await cli(['--db', dir, 'import', write('empty.jsonl', ''), '--json']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.json.imported, 0);
  const binary = await cli(['--db', dir, 'import', write('blob.jsonl', Buffer.from([0, 159, 146, 150, 10, 255, 0, 1, 10])), '--json']);
  assert.equal(binary.json.imported, 0);
  assert.ok(binary.json.malformed.length >= 1);
  const mixed = await cli(['--db', dir, 'import', write('mixed.jsonl', ['{"text":"good line one"}', '{broken', '{"text": 42}', '{"text":"good line two","importance":7}', '{"text":"good line three"}'].join('\n')), '--json']);
  assert.equal(mixed.json.imported, 2, JSON.stringify(mixed.json));
  assert.deepEqual(mixed.json.malformed.map((m: { line: number }) => m.line), [2, 3, 4]);
  const again = await cli(['--db', dir, 'import', join(files, 'mixed.jsonl'), '--json']);
  assert.equal(again.json.imported, 0);
  assert.equal(again.json.existing, 2);
  const verify = await cli(['--db', dir, 'verify', '--json']);
  assert.equal(verify.json.ok, true);
  assert.equal(verify.json.rows, 4);
});

test('bad input catalogue: a store folder that is a file, from a future schema, or reached through a symlink into the store is handled clearly', async (t) => {
  const root = tempDir(t);
  const file = join(root, 'a-file');
  writeFileSync(file, 'not a store');
  const r1 = await cli(['--db', file, 'stats', '--json']);
  assert.equal(r1.code, 1);
  assert.match(r1.json.error.message, /is a file, not a folder/);

  const dir = await seededStore(t);
  const meta = JSON.parse(readFileSync(join(dir, META_FILE), 'utf8'));
  writeFileSync(join(dir, META_FILE), JSON.stringify({ ...meta, schemaVersion: 7 }));
  const r2 = await cli(['--db', dir, 'store', '--text', 'x', '--json']);
  assert.equal(r2.code, 1);
  assert.equal(r2.json.error.code, 'E_STORE_VERSION');
  writeFileSync(join(dir, META_FILE), JSON.stringify(meta));

  const outside = join(root, 'out');
  mkdirSync(outside);
  symlinkSync(join(dir, 'memories.lance'), join(outside, 'link-into-store'));
  const r3 = await cli(['--db', dir, 'export', join(outside, 'link-into-store', 'x.jsonl'), '--json']);
  assert.equal(r3.code, 1);
  assert.match(r3.json.error.message, /inside the store folder/);
  const verify = await cli(['--db', dir, 'verify', '--json']);
  assert.equal(verify.json.ok, true);
});
