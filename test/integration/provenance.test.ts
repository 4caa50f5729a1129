import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ValidationError } from '../../src/core/errors';
import { MemoryService, type MemoryServiceOptions, type RecallOptions } from '../../src/core/memoryService';
import { HISTORY_LIMIT, describeWriter } from '../../src/core/provenance';
import { importFrom, upgradeMemories } from '../../src/core/upgrade';
import { cli } from '../helpers/cli';
import { deferCleanup, tempDir } from '../helpers/tempStore';

async function openService(t: TestContext, options: Partial<MemoryServiceOptions> & { dir?: string } = {}): Promise<MemoryService> {
  const memory = await MemoryService.open({ dir: options.dir ?? tempDir(t), defaultScopes: ['workspace:abc', 'global'], vectorIndex: { auto: false }, ...options });
  deferCleanup(t, () => memory.close());
  return memory;
}

const clientA = { kind: 'mcp' as const, client: { name: 'agent-a', version: '1.0.0' } };
const clientB = { kind: 'mcp' as const, client: { name: 'agent-b', version: '2.0.0' } };

test('every store records its writer (kind from the source, host, pid, time, workspace scope) and a first history entry', async (t) => {
  const memory = await openService(t, { source: 'vscode' });
  const before = Date.now();
  const r = await memory.store({ text: 'The build uses esbuild, not webpack.' });
  const view = await memory.get(r.id);
  assert.equal(view.writer?.kind, 'lm-tool', 'source vscode means the window\'s LM tools');
  assert.equal(view.writer?.host, hostname());
  assert.equal(view.writer?.pid, process.pid);
  assert.equal(view.writer?.scope, 'workspace:abc');
  assert.ok(view.writer!.at >= before && view.writer!.at <= Date.now());
  assert.equal(view.metadata.source, 'vscode', 'the legacy source is still written for older processes');
  assert.deepEqual(view.history?.map((h) => [h.writer.kind, h.fields]), [['lm-tool', ['text', 'category', 'scope', 'importance']]]);
  assert.equal(view.reviewed, false, 'an agent\'s memory waits for review');

  const own = await memory.store({ text: 'Releases are cut on Tuesdays.', writer: { kind: 'participant', client: { name: 'copilot', version: '1.2' } } });
  const ownView = await memory.get(own.id);
  assert.equal(ownView.writer?.kind, 'participant');
  assert.deepEqual(ownView.writer?.client, { name: 'copilot', version: '1.2' });
  assert.match(describeWriter(ownView.metadata), /^participant: copilot 1\.2 \(pid \d+ on .+, workspace:abc, \d{4}-/);
});

test('a caller cannot forge provenance through metadata, and a bad writer is E_INVALID naming the field', async (t) => {
  const memory = await openService(t, { source: 'mcp' });
  for (const key of ['writer', 'history', 'reviewed']) {
    await assert.rejects(memory.store({ text: `forged ${key}`, metadata: { [key]: { kind: 'cli' } } }), (err: unknown) => err instanceof ValidationError && err.field === `metadata.${key}`);
  }
  await assert.rejects(memory.store({ text: 'bad kind', writer: { kind: 'robot' as never } }), (err: unknown) => err instanceof ValidationError && err.field === 'writer.kind');
  await assert.rejects(memory.store({ text: 'bad client', writer: { client: { name: '' } } }), (err: unknown) => err instanceof ValidationError && err.field === 'writer.client.name');
  await assert.rejects(memory.list({ writer: '' }), (err: unknown) => err instanceof ValidationError && err.field === 'writer');
  await assert.rejects(memory.list({ since: -1 }), (err: unknown) => err instanceof ValidationError && err.field === 'since');
  assert.equal((await memory.list()).total, 0, 'nothing was stored');
});

test('history keeps the last 5 changes with the fields each changed; a text change makes the updater the writer', async (t) => {
  const memory = await openService(t, { source: 'cli' });
  const { id } = await memory.store({ text: 'The staging database is Postgres 15.', writer: clientA });
  for (let i = 1; i <= 5; i++) await memory.update(id, { importance: i / 10 }, { writer: { kind: 'cli' } });
  await memory.update(id, { text: 'The staging database is Postgres 16.', category: 'entities' }, { writer: clientB });
  const view = await memory.get(id);
  assert.equal(view.history?.length, HISTORY_LIMIT);
  assert.deepEqual(view.history!.map((h) => h.fields), [['importance'], ['importance'], ['importance'], ['importance'], ['text', 'category']], 'newest last, the store itself dropped');
  assert.equal(view.history!.at(-1)!.writer.client?.name, 'agent-b');
  assert.equal(view.writer?.client?.name, 'agent-b', 'who wrote the current text');
  const noText = await memory.update(id, { importance: 0.9 }, { writer: clientA });
  assert.equal(noText.writer?.client?.name, 'agent-b', 'an update that keeps the text keeps its writer');
  assert.deepEqual(noText.history!.at(-1)!.fields, ['importance']);
});

test('memories from before provenance list and get fine, as writer unknown (legacy source shown)', async (t) => {
  const memory = await openService(t, { source: 'mcp' });
  // Written the way earlier versions did: a source, no writer, no history.
  await memory.memoryStore.insert([{ id: 'old-1', text: 'An old memory from before writers were recorded.', vector: (await memory.activeEmbedder!.embed(['x']))[0]!, scope: 'global', metadata: { source: 'vscode' } }]);
  const old = await memory.get('old-1');
  assert.equal(old.writer, undefined);
  assert.equal(old.history, undefined);
  assert.equal(old.reviewed, true, 'nobody can tell which agent wrote it, so it is not held for review');
  assert.equal(describeWriter(old.metadata), 'unknown (source: vscode)');
  const page = await memory.list();
  assert.equal(page.total, 1);
  assert.deepEqual((await memory.list({ writer: 'unknown' })).items.map((m) => m.id), ['old-1']);
  assert.equal((await memory.list({ writer: 'mcp' })).total, 0);
  // Updating it starts its history without inventing who stored it.
  const updated = await memory.update('old-1', { importance: 0.7 });
  assert.equal(updated.writer, undefined);
  assert.deepEqual(updated.history?.map((h) => [h.writer.kind, h.fields]), [['mcp', ['importance']]]);
});

test('list filters by writer kind or client name (case-insensitive), by since and by reviewed', async (t) => {
  const memory = await openService(t, { source: 'cli' });
  const a = await memory.store({ text: 'Agent A learned that the tests need Docker.', writer: clientA });
  const b = await memory.store({ text: 'Agent B learned that lint runs before commit.', writer: clientB });
  const c = await memory.store({ text: 'A person noted that the office closes at six.' });
  const ids = async (o: Parameters<MemoryService['list']>[0]) => (await memory.list(o)).items.map((m) => m.id).sort();
  assert.deepEqual(await ids({ writer: 'mcp' }), [a.id, b.id].sort());
  assert.deepEqual(await ids({ writer: 'Agent-A' }), [a.id]);
  assert.deepEqual(await ids({ writer: 'cli' }), [c.id]);
  assert.deepEqual(await ids({ writer: "x' OR 1=1 --" }), [], 'user text is matched, never run');
  assert.deepEqual(await ids({ since: Date.now() + 60_000 }), []);
  assert.deepEqual(await ids({ since: Date.now() - 60_000 }), [a.id, b.id, c.id].sort());
  assert.deepEqual(await ids({ reviewed: false }), [a.id, b.id].sort());
  assert.equal(await memory.unreviewedCount(), 2);
});

test('requireApproval: an agent\'s unreviewed memory reaches only its own client until a person keeps it', async (t) => {
  const dir = tempDir(t);
  const memory = await openService(t, { dir, source: 'mcp', requireApproval: true });
  const text = 'The payments service retries webhooks five times with exponential backoff.';
  const { id } = await memory.store({ text, writer: clientA });
  const found = async (caller: RecallOptions['caller']) =>
    (await memory.recall('webhook retries in payments', { caller, count: false })).results.some((r) => r.id === id);

  assert.equal(await found(clientA), true, 'its own client recalls it before any review');
  assert.equal(await found(clientB), false, 'another client does not');
  assert.equal(await found({ kind: 'lm-tool' }), false, 'nor do the window\'s LM tools');
  assert.equal(await found({ kind: 'cli' }), true, 'a person at the terminal sees everything');
  assert.equal(await memory.unreviewedCount(), 1);

  const lm = await memory.store({ text: 'The window agent found that the e2e suite needs code-server.', writer: { kind: 'lm-tool' } });
  assert.equal((await memory.recall('e2e suite code-server', { caller: { kind: 'lm-tool' }, count: false })).results.some((r) => r.id === lm.id), true, 'the window\'s own LM tools see theirs');
  assert.equal((await memory.recall('e2e suite code-server', { caller: clientB, count: false })).results.some((r) => r.id === lm.id), false);

  const kept = await memory.keep([id, 'no-such-id'], { writer: { kind: 'cli' } });
  assert.deepEqual(kept, [{ id, status: 'kept' }, { id: 'no-such-id', status: 'missing' }]);
  assert.equal(await found(clientB), true, 'kept: every agent recalls it');
  const view = await memory.get(id);
  assert.equal(view.reviewed, true);
  assert.equal((view.metadata.reviewed as { by: { kind: string } }).by.kind, 'cli');
  assert.deepEqual(view.history!.at(-1)!.fields, ['reviewed']);
  assert.deepEqual(await memory.keep([id]), [{ id, status: 'already' }]);
  assert.equal(await memory.unreviewedCount(), 1, 'the LM tool\'s memory still waits');

  // An agent that rewrites a kept memory puts it back into review.
  await memory.update(id, { text: `${text} The limit is configurable.` }, { writer: clientA });
  assert.equal(await found(clientB), false);
  assert.equal((await memory.get(id)).reviewed, false);

  // Off: nothing is held (the extension flips the property when its setting changes).
  memory.requireApproval = false;
  assert.equal(await found(clientB), true);
});

test('the importer records kind import, the upgrader adds its own history entry and keeps the writer', async (t) => {
  const memory = await openService(t, { source: 'cli' });
  const dir = tempDir(t);
  const file = join(dir, 'memories.jsonl');
  writeFileSync(file, `${JSON.stringify({ text: 'Imported: the team prefers squash merges.', category: 'preferences' })}\n`);
  const embedder = memory.activeEmbedder!;
  const result = await importFrom(memory.memoryStore, file, { embed: (texts) => embedder.embed(texts), writer: memory.writerFor({ kind: 'import' }) });
  assert.equal(result.imported, 1);
  const imported = await memory.get(result.ids[0]!);
  assert.equal(imported.writer?.kind, 'import');
  assert.equal(imported.reviewed, true, 'a person imported it');
  assert.deepEqual(imported.history?.map((h) => h.writer.kind), ['import']);

  const up = await upgradeMemories(memory.memoryStore);
  assert.equal(up.upgraded, 1);
  const upgraded = await memory.get(imported.id);
  assert.equal(upgraded.writer?.kind, 'import', 'the upgrade does not change the text, so not its writer');
  assert.deepEqual(upgraded.history?.map((h) => h.writer.kind), ['import', 'upgrade']);
  assert.ok(upgraded.history![1]!.fields.includes('l0_abstract'), upgraded.history![1]!.fields.join(','));
});

test('cli: store and import sign as the CLI, get and list --json show the writer, list --writer filters, keep marks reviewed', async (t) => {
  const db = tempDir(t);
  const stored = await cli(['--db', db, 'store', '--text', 'From the terminal: deploy with make release.', '--json']);
  assert.equal(stored.code, 0, stored.stderr);
  // An agent's memory beside it, written through the service as an MCP client would.
  const agentId = await (async () => {
    const memory = await MemoryService.open({ dir: db, source: 'mcp', vectorIndex: { auto: false } });
    try {
      return (await memory.store({ text: 'From an agent: the CI cache key includes the lockfile hash.', writer: clientA })).id;
    } finally {
      await memory.close();
    }
  })();
  const file = join(tempDir(t), 'in.jsonl');
  writeFileSync(file, `${JSON.stringify({ text: 'Imported from a file: the wiki moved to Notion.' })}\n`);
  const imported = await cli(['--db', db, 'import', file, '--json']);
  assert.equal(imported.code, 0, imported.stderr);

  const listed = await cli(['--db', db, 'list', '--writer', 'cli', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(listed.json.items.map((m: { id: string }) => m.id), [stored.json.id]);
  assert.equal(listed.json.items[0].writer.kind, 'cli');
  assert.equal(listed.json.items[0].writer.client.name, 'memory-lane-cli');
  assert.match(listed.json.items[0].writer.client.version, /^\d+\.\d+\.\d+/);

  const byClient = await cli(['--db', db, 'list', '--writer', 'agent-a', '--json']);
  assert.deepEqual(byClient.json.items.map((m: { id: string }) => m.id), [agentId]);
  const importedList = await cli(['--db', db, 'list', '--writer', 'import', '--json']);
  assert.equal(importedList.json.total, 1);
  const unreviewed = await cli(['--db', db, 'list', '--unreviewed', '--json']);
  assert.deepEqual(unreviewed.json.items.map((m: { id: string }) => m.id), [agentId]);

  const got = await cli(['--db', db, 'get', agentId, '--json']);
  assert.equal(got.json.writer.client.name, 'agent-a');
  assert.equal(got.json.reviewed, false);
  const human = await cli(['--db', db, 'get', agentId]);
  assert.match(human.stdout, /^writer\s+mcp: agent-a 1\.0\.0 \(pid \d+/m);
  assert.match(human.stdout, /\(unreviewed\)/);
  assert.match(human.stdout, /^history\s+\S+\s+mcp agent-a: text, category, scope, importance/m);

  const kept = await cli(['--db', db, 'keep', agentId, '--json']);
  assert.equal(kept.code, 0, kept.stderr);
  assert.deepEqual(kept.json.results, [{ id: agentId, status: 'kept' }]);
  assert.equal((await cli(['--db', db, 'list', '--unreviewed', '--json'])).json.total, 0);
  const bad = await cli(['--db', db, 'list', '--writer', '', '--json']);
  assert.equal(bad.code, 1);
  assert.equal(bad.json.error.code, 'E_INVALID');
});
