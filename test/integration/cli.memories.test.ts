import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { cli, CLI_PATH } from '../helpers/cli';
import { deferCleanup, tempDir } from '../helpers/tempStore';

test('cli store, get, recall, update, list, forget: the whole life of a memory through real processes', async (t) => {
  const db = join(tempDir(t), 'store');
  const stored = await cli(['--db', db, 'store', '--text', 'The payments service retries webhooks three times with backoff', '--scope', 'project:payments', '--category', 'cases', '--importance', '0.8', '--json']);
  assert.equal(stored.code, 0, stored.stderr);
  assert.equal(stored.json.stored, true);
  const id: string = stored.json.id;
  await cli(['--db', db, 'store', '--text', 'Prefers dark mode in every editor', '--category', 'preferences', '--json']);

  const dup = await cli(['--db', db, 'store', '--text', 'Prefers dark mode in every editor', '--category', 'preferences', '--json']);
  assert.equal(dup.code, 0);
  assert.equal(dup.json.stored, false);
  assert.ok(dup.json.duplicateOf);

  const got = await cli(['--db', db, 'get', id.slice(0, 8), '--json']);
  assert.equal(got.json.id, id);
  assert.equal(got.json.scope, 'project:payments');
  assert.equal(got.json.importance, 0.8);

  const recalled = await cli(['--db', db, 'recall', 'how', 'are', 'webhooks', 'retried', '--scope', 'project:payments', '--json']);
  assert.equal(recalled.code, 0, recalled.stderr);
  assert.equal(recalled.json.results[0].id, id);
  assert.ok(recalled.json.results[0].score > 0);

  const updated = await cli(['--db', db, 'update', id, '--text', 'The payments service retries webhooks five times with backoff', '--json']);
  assert.equal(updated.json.text, 'The payments service retries webhooks five times with backoff');
  assert.equal(updated.json.rev > got.json.rev, true);

  const listed = await cli(['--db', db, 'list', '--json']);
  assert.equal(listed.json.total, 2);
  const scoped = await cli(['--db', db, 'list', '--scope', 'project:payments', '--json']);
  assert.deepEqual(scoped.json.items.map((m: { id: string }) => m.id), [id]);
  const human = await cli(['--db', db, 'list']);
  assert.match(human.stdout, /^id\s+scope\s+category\s+state\s+writer\s+memory/m);
  assert.match(human.stdout, /1–2 of 2/);

  const candidates = await cli(['--db', db, 'forget', '--query', 'dark mode editor', '--json']);
  assert.equal(candidates.json.deleted, 0);
  assert.equal(candidates.json.confirmed, false);
  const deleted = await cli(['--db', db, 'forget', '--query', 'dark mode editor', '--yes', '--json']);
  assert.equal(deleted.json.deleted, 1);
  const gone = await cli(['--db', db, 'forget', id, '--json']);
  assert.deepEqual(gone.json, { deleted: 1, ids: [id] });
  const empty = await cli(['--db', db, 'list', '--json']);
  assert.equal(empty.json.total, 0);
});

test('cli import of each format, then upgrade with plain progress lines on a non-terminal stderr', async (t) => {
  const root = tempDir(t);
  const db = join(root, 'store');
  const jsonl = join(root, 'memories.jsonl');
  writeFileSync(jsonl, ['{"text":"Uses pnpm workspaces","category":"fact"}', '{"text":"Deploys on Fridays are banned","importance":0.9}'].join('\n'));
  const graph = join(root, 'graph.jsonl');
  writeFileSync(graph, [
    JSON.stringify({ type: 'entity', name: 'Ada', entityType: 'person', observations: ['Leads the API team', 'Prefers written design docs'] }),
    JSON.stringify({ type: 'relation', from: 'Ada', to: 'API', relationType: 'leads' }),
  ].join('\n'));
  const a = await cli(['--db', db, 'import', jsonl, '--json']);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.json.format, 'jsonl');
  assert.equal(a.json.imported, 2);
  const b = await cli(['--db', db, 'import', graph, '--format', 'mcp-memory', '--json']);
  assert.equal(b.code, 0, b.stderr);
  assert.ok(b.json.imported >= 1);
  const legacy = await cli(['--db', db, 'list', '--legacy', '--json']);
  assert.equal(legacy.json.total, a.json.imported + b.json.imported);

  const dry = await cli(['--db', db, 'upgrade', '--dry-run', '--json']);
  assert.equal(dry.json.dryRun, true);
  assert.equal((await cli(['--db', db, 'list', '--legacy', '--json'])).json.total, legacy.json.total, 'a dry run writes nothing');
  const up = await cli(['--db', db, 'upgrade', '--batch-size', '2', '--json']);
  assert.equal(up.code, 0, up.stderr);
  assert.equal(up.json.upgraded, legacy.json.total);
  assert.match(up.stderr, /upgrade: done — \d+\/\d+ written/);
  assert.equal(up.stdout.trim().startsWith('{'), true, 'progress never goes to stdout');
  assert.equal((await cli(['--db', db, 'list', '--legacy', '--json'])).json.total, 0);

  const backup = join(root, 'backup.jsonl');
  assert.equal((await cli(['--db', db, 'export', backup, '--json'])).code, 0);
  const restored = await cli(['--db', join(root, 'restored'), 'import', backup, '--json']);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(restored.json.format, 'backup');
  assert.equal(restored.json.imported, legacy.json.total);
});

test('`memory-lane mcp` serves the same tools over stdio as the bundled MCP entry point', async (t) => {
  const db = join(tempDir(t), 'store');
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI_PATH, '--db', db, 'mcp'], env: { ...(process.env as Record<string, string>), LANCEDB_LOG: 'error' }, stderr: 'pipe' });
  const client = new Client({ name: 'cli-mcp-test', version: '0' });
  await client.connect(transport);
  deferCleanup(t, () => client.close());
  const tools = (await client.listTools()).tools.map((x) => x.name).sort();
  assert.deepEqual(tools, ['memory_forget', 'memory_list', 'memory_recall', 'memory_stats', 'memory_store', 'memory_update']);
  const r = (await client.callTool({ name: 'memory_store', arguments: { text: 'stored through memory-lane mcp' } })) as unknown as { structuredContent: { stored: boolean } };
  assert.equal(r.structuredContent.stored, true);
});
