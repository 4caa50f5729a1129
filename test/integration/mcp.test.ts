import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryService } from '../../src/core/memoryService';
import { callTool, connectMcp } from '../helpers/mcp';
import { cli } from '../helpers/cli';
import { repoRoot } from '../helpers/repo';
import { deferCleanup, tempDir } from '../helpers/tempStore';

test('MCP server: every tool works through the SDK client over stdio', async (t) => {
  const db = tempDir(t);
  const { client, close } = await connectMcp(db);
  deferCleanup(t, close);
  const tools = (await client.listTools()).tools.map((x) => x.name).sort();
  assert.deepEqual(tools, ['memory_forget', 'memory_list', 'memory_recall', 'memory_stats', 'memory_store', 'memory_update']);

  const stored = await callTool(client, 'memory_store', { text: 'The API deploys to staging with GitHub Actions before production', scope: 'project:api', category: 'cases', importance: 0.8 });
  assert.equal(stored.stored, true);
  await callTool(client, 'memory_store', { text: 'Prefers tabs over spaces', category: 'preferences' });
  const dup = await callTool(client, 'memory_store', { text: 'Prefers tabs over spaces', category: 'preferences' });
  assert.equal(dup.stored, false);
  assert.ok(dup.duplicateOf);

  const recalled = await callTool(client, 'memory_recall', { query: 'how do we deploy the API', scope: 'project:api' });
  assert.equal(recalled.results[0].id, stored.id);

  const updated = await callTool(client, 'memory_update', { id: stored.id.slice(0, 8), importance: 0.3 });
  assert.equal(updated.memory.importance, 0.3);
  assert.equal(updated.memory.id, stored.id);

  const listed = await callTool(client, 'memory_list', { scope: 'global' });
  assert.equal(listed.total, 1);

  const stats = await callTool(client, 'memory_stats', {});
  assert.equal(stats.rows, 2);
  assert.deepEqual(stats.byScope, { 'project:api': 1, global: 1 });

  const preview = await callTool(client, 'memory_forget', { query: 'tabs spaces' });
  assert.equal(preview.deleted, 0);
  assert.ok(preview.candidates.length >= 1);
  const gone = await callTool(client, 'memory_forget', { id: stored.id });
  assert.equal(gone.deleted, 1);
  assert.equal((await callTool(client, 'memory_stats', {})).rows, 1);
});

test('MCP server: invalid arguments get a tool error naming the field, and the server keeps serving', async (t) => {
  const db = tempDir(t);
  const { client, close } = await connectMcp(db);
  deferCleanup(t, close);
  const bad = async (name: string, args: Record<string, unknown>, field: RegExp) => {
    const r = (await client.callTool({ name, arguments: args }).catch((e: Error) => ({ isError: true, content: [{ text: e.message }] }))) as { isError?: boolean; content: Array<{ text?: string }> };
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} should fail`);
    assert.match(r.content.map((c) => c.text).join(' '), field);
  };
  await bad('memory_store', {}, /text/);
  await bad('memory_store', { text: 'x', importance: 7 }, /importance/);
  await bad('memory_store', { text: 'x', scope: "x' OR 1=1" }, /scope/);
  await bad('memory_store', { text: '   ' }, /text/);
  await bad('memory_recall', { query: 'x', limit: 0 }, /limit/);
  await bad('memory_update', { id: 'nope-nope-nope', importance: 0.5 }, /E_NOT_FOUND|No memory/);
  await bad('memory_list', { category: 'gossip' }, /category/);
  assert.equal((await callTool(client, 'memory_store', { text: 'still serving' })).stored, true);
});

test('MCP server: user mistakes are E_INVALID tool errors naming the problem (forget with neither id nor query was E_INTERNAL)', async (t) => {
  const db = tempDir(t);
  const { client, close } = await connectMcp(db);
  deferCleanup(t, close);
  const refusal = async (name: string, args: Record<string, unknown>) => {
    const r = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: Array<{ text?: string }> };
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} should be refused`);
    return r.content.map((c) => c.text).join('\n');
  };
  assert.equal(await refusal('memory_forget', {}), 'E_INVALID: give either id or query, not both or neither');
  assert.equal(await refusal('memory_forget', { id: 'abcdefgh', query: 'tabs' }), 'E_INVALID: give either id or query, not both or neither');
  assert.equal(await refusal('memory_update', { id: 'abcdefgh' }), 'E_INVALID: nothing to change: give text, importance, category or scope');
  // The schema's own checks speak the same words, not the SDK's "MCP error -32602: Input validation error".
  assert.equal(await refusal('memory_recall', { query: 'x', limit: 0 }), 'E_INVALID: limit: must be an integer from 1 to 50, got 0');
  assert.equal(await refusal('memory_store', {}), 'E_INVALID: text: is required');
  assert.match(await refusal('memory_recall', { query: 'x', scopes: ['global'] }), /^E_INVALID: scopes: is not expected here; expected one of query, limit, scope,/);
  assert.equal(await refusal('memory_list', { limit: 101 }), 'E_INVALID: limit: must be an integer from 1 to 100, got 101');
  assert.equal(await refusal('memory_forget', { query: 'x', limit: 21 }), 'E_INVALID: limit: must be an integer from 1 to 20, got 21');
  assert.match(await refusal('memory_store', { text: 'x', scope: "x' OR 1=1" }), /^E_INVALID: scope: .* is not a scope/);
});

test('MCP tools/list and package.json\'s languageModelTools agree on names, limits and parameters of every tool they share', async (t) => {
  const db = tempDir(t);
  const { client, close } = await connectMcp(db);
  deferCleanup(t, close);
  type Schema = { type?: string; properties?: Record<string, Record<string, unknown>>; required?: string[] };
  const mcp = new Map((await client.listTools()).tools.map((tool) => [tool.name, tool.inputSchema as Schema]));
  const lm = new Map((JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')).contributes.languageModelTools as Array<{ name: string; inputSchema: Schema }>).map((tool) => [tool.name, tool.inputSchema]));
  const shared = [...lm.keys()].filter((name) => mcp.has(name));
  assert.deepEqual(shared, [...lm.keys()], 'every Language Model tool is also an MCP tool');
  assert.deepEqual([...mcp.keys()].filter((name) => !lm.has(name)), ['memory_stats'], 'MCP alone has memory_stats');
  // Where the adapters differ by design: an MCP client confirms a forget by query with confirm: true.
  const onlyMcp: Record<string, string[]> = { memory_forget: ['confirm'] };
  const limits = (schema: Record<string, unknown>) => Object.fromEntries(Object.entries(schema).filter(([key]) => key !== 'description'));
  for (const name of shared) {
    const a = mcp.get(name)!, b = lm.get(name)!;
    assert.deepEqual(Object.keys(a.properties!).filter((key) => !onlyMcp[name]?.includes(key)), Object.keys(b.properties!), `${name}: parameter names`);
    assert.deepEqual(a.required ?? [], b.required ?? [], `${name}: required parameters`);
    for (const key of Object.keys(b.properties!)) assert.deepEqual(limits(a.properties![key]!), limits(b.properties![key]!), `${name}.${key}: type, limits, default and values`);
  }
  assert.equal(lm.get('memory_list')!.properties!.limit!.maximum, 100);
  assert.equal(lm.get('memory_forget')!.properties!.limit!.maximum, 20);
});

test('four MCP servers storing concurrently while `memory-lane upgrade` runs: every acknowledged store is found and verify is ok', async (t) => {
  const db = tempDir(t);
  const seed = await MemoryService.open({ dir: db, vectorIndex: { auto: false } });
  const texts = Array.from({ length: 1500 }, (_, i) => `legacy memory number ${i} about topic ${i % 37} and detail ${(i * 7) % 101}`);
  const vectors = await seed.configuredEmbedder.embed(texts);
  await seed.memoryStore.insert(texts.map((text, i) => ({ id: `legacy-${i}`, text, vector: vectors[i]! })), { priority: 'background' });
  await seed.close();

  const servers = await Promise.all([0, 1, 2, 3].map(() => connectMcp(db)));
  deferCleanup(t, () => Promise.all(servers.map((s) => s.close())));
  const upgrade = cli(['--db', db, 'upgrade', '--json'], { timeoutMs: 240_000 });
  deferCleanup(t, () => upgrade.catch(() => undefined));
  const acknowledged: string[] = [];
  await Promise.all(servers.map(async (s, si) => {
    await Promise.all(Array.from({ length: 5 }, async (_, worker) => {
      for (let k = 0; k < 10; k++) {
        const r = await callTool(s.client, 'memory_store', { id: `mcp-${si}-${worker}-${k}`, text: `server ${si} worker ${worker} note ${k}: distinct fact ${si * 1000 + worker * 100 + k}`, force: true });
        if (r.stored) acknowledged.push(r.id);
      }
    }));
  }));
  const up = await upgrade;
  assert.equal(up.code, 0, up.stderr);
  // New memories stored during the run are legacy too: the upgrader may take some of them as well.
  assert.ok(up.json.upgraded >= 1500, `upgraded ${up.json.upgraded}`);
  assert.deepEqual(up.json.failed, []);
  assert.equal(acknowledged.length, 200);
  const check = await MemoryService.open({ dir: db, vectorIndex: { auto: false }, create: false });
  deferCleanup(t, () => check.close());
  const seeded = await check.memoryStore.getMany(texts.map((_, i) => `legacy-${i}`));
  assert.equal([...seeded.values()].filter((m) => typeof m.metadata.l0_abstract === 'string').length, 1500, 'every seeded legacy memory is upgraded');
  const found = await check.memoryStore.getMany(acknowledged);
  assert.equal(found.size, 200, 'an acknowledged store is missing');
  const verify = await cli(['--db', db, 'verify', '--json']);
  assert.equal(verify.json.ok, true, JSON.stringify(verify.json));
  assert.equal(verify.json.rows, 1700);
  t.diagnostic(`upgrade: ${up.json.upgraded} rows in ${up.json.ms} ms, ${up.json.concurrentWrites ?? 0} concurrent writes seen`);
});
