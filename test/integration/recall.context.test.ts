import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli } from '../helpers/cli';
import { callTool, connectMcp } from '../helpers/mcp';
import { deferCleanup, tempDir } from '../helpers/tempStore';

// A memory stored with its context (what it answered) is found by the context's words too, and only
// its own text comes back: through MCP and the CLI, the adapters agents and people use.

test('memory_store with context: found by the context\'s words, returned as its own text only', async (t) => {
  const dir = tempDir(t);
  const mcp = await connectMcp(dir);
  deferCleanup(t, () => mcp.close());
  const text = 'Next Tuesday, once the freeze lifts.';
  const stored = await callTool(mcp.client, 'memory_store', { text, context: 'When does the kiwi mobile app ship?', scope: 'global' });
  assert.equal(stored.stored, true);
  await callTool(mcp.client, 'memory_store', { text: 'The office plants are watered on Fridays.', scope: 'global' });
  const { results } = await callTool(mcp.client, 'memory_recall', { query: 'kiwi mobile app', scope: 'global' });
  assert.equal(results[0]?.id, stored.id, JSON.stringify(results));
  assert.equal(results[0]?.text, text, 'the context is indexed, never returned as the memory');
});

test('memory-lane store --context indexes the context; bad context is refused by name', async (t) => {
  const dir = tempDir(t);
  const ok = await cli(['--db', dir, '--json', 'store', '--text', 'Use the blue staging cluster.', '--context', 'Which cluster should the walrus service deploy to?']);
  assert.equal(ok.code, 0, ok.stderr);
  const recall = await cli(['--db', dir, '--json', 'recall', 'walrus service']);
  assert.equal(JSON.parse(recall.stdout).results[0]?.text, 'Use the blue staging cluster.');
  const bad = await cli(['--db', dir, '--json', 'store', '--text', 'fine text', '--context', 'bell \u0007 inside']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /E_INVALID/);
  assert.match(bad.stdout, /context/);
});
