import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentGuidance } from '../../src/core/guidance';
import { REQUIRE_APPROVAL_ENV } from '../../src/core/provenance';
import { cli } from '../helpers/cli';
import { callTool, connectMcp } from '../helpers/mcp';
import { deferCleanup, tempDir } from '../helpers/tempStore';

test('MCP initialize carries the agent guidance as instructions; prompts/list and prompts/get serve remember and recall', async (t) => {
  const { client, close } = await connectMcp(tempDir(t));
  deferCleanup(t, close);
  const instructions = client.getInstructions();
  assert.equal(instructions, agentGuidance('mcp'));
  assert.match(instructions!, /start of a task/);
  assert.match(instructions!, /Never store secrets, tokens/);
  assert.match(instructions!, /by id/);
  assert.ok(client.getServerCapabilities()?.prompts, 'the prompts capability is announced');

  const { prompts } = await client.listPrompts();
  assert.deepEqual(prompts.map((p) => p.name), ['remember', 'recall']);
  assert.deepEqual(prompts.find((p) => p.name === 'recall')!.arguments, [{ name: 'topic', description: 'What to recall, in a few words.', required: true }]);

  const recall = await client.getPrompt({ name: 'recall', arguments: { topic: 'release process' } });
  assert.equal(recall.messages.length, 1);
  assert.equal(recall.messages[0]!.role, 'user');
  const recallText = (recall.messages[0]!.content as { type: 'text'; text: string }).text;
  assert.match(recallText, /memory_recall/);
  assert.match(recallText, /about: release process/);
  const remember = await client.getPrompt({ name: 'remember' });
  assert.match((remember.messages[0]!.content as { text: string }).text, /First recall \(memory_recall\)/);

  await assert.rejects(client.getPrompt({ name: 'recall', arguments: {} }), /topic: is required/);
  await assert.rejects(client.getPrompt({ name: 'nope' }), /Prompt nope not found/);
  // The server keeps serving after a refused prompt.
  assert.equal((await callTool(client, 'memory_list', {})).total, 0);
});

test('MCP writes record the client from clientInfo; memory_list shows and filters by writer', async (t) => {
  const db = tempDir(t);
  const x = await connectMcp(db, {}, { client: { name: 'client-x', version: '3.1.4' } });
  deferCleanup(t, x.close);
  const y = await connectMcp(db, {}, { client: { name: 'client-y', version: '0.1.0' } });
  deferCleanup(t, y.close);

  const stored = await callTool(x.client, 'memory_store', { text: 'Client X found that the flaky test needs a fixed seed.' });
  await callTool(y.client, 'memory_store', { text: 'Client Y learned that the docs build with mkdocs.', scope: 'global' });

  const all = await callTool(y.client, 'memory_list', {});
  assert.equal(all.total, 2);
  const mine = all.items.find((m: { id: string }) => m.id === stored.id);
  assert.equal(mine.writer.kind, 'mcp');
  assert.deepEqual(mine.writer.client, { name: 'client-x', version: '3.1.4' });
  assert.equal(mine.writer.pid, x.pid, 'the server process that wrote it');
  assert.equal(mine.history[0].writer.client.name, 'client-x');
  assert.equal(mine.reviewed, false);

  const onlyX = await callTool(y.client, 'memory_list', { writer: 'client-x' });
  assert.deepEqual(onlyX.items.map((m: { id: string }) => m.id), [stored.id]);
  assert.equal((await callTool(y.client, 'memory_list', { writer: 'mcp' })).total, 2);
  assert.equal((await callTool(y.client, 'memory_list', { writer: 'cli' })).total, 0);
  const text = (await y.client.callTool({ name: 'memory_list', arguments: { writer: 'client-x' } })) as { content: Array<{ text: string }> };
  assert.match(text.content[0]!.text, /mcp client-x, unreviewed\)/);

  // An update by Y signs the new text as Y's; the CLI's get shows it.
  await callTool(y.client, 'memory_update', { id: stored.id, text: 'Client X found that the flaky test needs a fixed seed of 42.' });
  const got = await cli(['--db', db, 'get', stored.id, '--json']);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.json.writer.client.name, 'client-y');
  assert.deepEqual(got.json.history.map((h: { writer: { client: { name: string } }; fields: string[] }) => [h.writer.client.name, h.fields]), [['client-x', ['text', 'category', 'scope', 'importance']], ['client-y', ['text']]]);
});

test('MCP with approval required: client B does not recall client A\'s memory until a person keeps it; A recalls it at once', async (t) => {
  const db = tempDir(t);
  const env = { [REQUIRE_APPROVAL_ENV]: '1' };
  const a = await connectMcp(db, env, { client: { name: 'agent-a', version: '1.0.0' } });
  deferCleanup(t, a.close);
  const b = await connectMcp(db, env, { client: { name: 'agent-b', version: '1.0.0' } });
  deferCleanup(t, b.close);

  const { id } = await callTool(a.client, 'memory_store', { text: 'The staging cluster is drained every Friday at 18:00.', scope: 'global' });
  const recalls = async (c: typeof a) => (await callTool(c.client, 'memory_recall', { query: 'when is staging drained', scope: 'global' })).results.some((r: { id: string }) => r.id === id);
  assert.equal(await recalls(a), true, 'its own client recalls it before any review');
  assert.equal(await recalls(b), false, 'held out of another client\'s recall');
  assert.equal((await callTool(b.client, 'memory_list', { writer: 'agent-a' })).total, 1, 'listing still shows it, marked unreviewed');

  const kept = await cli(['--db', db, 'keep', id, '--json']);
  assert.equal(kept.code, 0, kept.stderr);
  assert.deepEqual(kept.json.results, [{ id, status: 'kept' }]);
  assert.equal(await recalls(b), true, 'kept by a person: every agent recalls it');

  const bad = await connectMcp(db, { [REQUIRE_APPROVAL_ENV]: 'sometimes' }).then(() => undefined, (err: Error) => err);
  assert.ok(bad, 'a bad MEMORY_LANE_REQUIRE_APPROVAL stops the server instead of silently serving without approval');
});
