// End-to-end cases of what Memory Lane gives chat in a real VS Code: the contributed instructions,
// skill and prompt files (and the setting that turns the instructions off), the @memory participant,
// and the review of what agents stored ("Stored recently", Keep, Forget, requireApproval). A second
// writer is the bundled MCP server, driven by the MCP SDK's client under a client name of its own.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import * as vscode from 'vscode';
import { agentGuidance } from '../../src/core/guidance';
import type { MemoryTreeNode } from '../../src/extension/views/memoriesTree';
import { api, invoke, memoryLane, until } from './host';
import { test } from './runner';

interface FileContribution { path: string; when?: string }
interface Manifest {
  contributes: {
    chatInstructions: FileContribution[];
    chatSkills: FileContribution[];
    chatPromptFiles: FileContribution[];
    chatParticipants: { id: string; name: string; commands: { name: string }[] }[];
  };
}
const manifest = () => memoryLane().packageJSON as Manifest;
const resolved = (p: string) => join(memoryLane().extensionPath, p);

/** What VS Code's prompts service lists as contributed by extensions (an internal command of the chat contribution). */
async function listed(): Promise<Array<{ path: string; type: string }>> {
  const files = await vscode.commands.executeCommand<Array<{ uri: vscode.Uri | { path: string }; type: string }>>('_listExtensionPromptFiles');
  return (files ?? []).map((f) => ({ path: (f.uri as { path: string }).path, type: f.type }));
}
const mine = (files: Array<{ path: string; type: string }>) => files.filter((f) => f.path.startsWith(vscode.Uri.file(memoryLane().extensionPath).path));

/** The front matter of a prompt file as `key: value` pairs (one line each; enough for these files). */
function frontMatter(text: string): { fields: Record<string, string>; body: string } {
  const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
  assert.ok(m, 'the file starts with a --- front matter block');
  const fields: Record<string, string> = {};
  for (const line of m[1]!.split('\n')) {
    const kv = /^([\w-]+):\s*(.*)$/.exec(line);
    if (kv) fields[kv[1]!] = kv[2]!;
  }
  return { fields, body: m[2]! };
}

// ------------------------------------------------------------------------------------- guidance

test('the chat instructions, the memory skill and the three prompt files are contributed, and their files are in the extension', () => {
  const c = manifest().contributes;
  assert.deepEqual(c.chatInstructions.map((x) => x.path), ['./media/chat/memory.instructions.md']);
  assert.equal(c.chatInstructions[0]!.when, 'config.memoryLane.agents.instructions');
  assert.deepEqual(c.chatSkills.map((x) => x.path), ['./media/chat/skills/memory/SKILL.md']);
  assert.deepEqual(c.chatPromptFiles.map((x) => basename(x.path)), ['remember.prompt.md', 'recall.prompt.md', 'memory-review.prompt.md']);
  for (const entry of [...c.chatInstructions, ...c.chatSkills, ...c.chatPromptFiles]) assert.ok(existsSync(resolved(entry.path)), `${entry.path} does not resolve in ${memoryLane().extensionPath}`);
});

test("VS Code's prompts service lists the instructions, the skill and the prompt files as this extension's", async () => {
  const files = await until('the contributed chat files in the prompts service', async () => {
    const m = mine(await listed());
    return m.length >= 5 && m;
  }, 20_000);
  const byType = (t: string) => files.filter((f) => f.type === t).map((f) => basename(f.path)).sort();
  assert.deepEqual(byType('instructions'), ['memory.instructions.md']);
  assert.deepEqual(byType('skill'), ['SKILL.md']);
  assert.deepEqual(byType('prompt'), ['memory-review.prompt.md', 'recall.prompt.md', 'remember.prompt.md']);
});

test('memoryLane.agents.instructions off takes the instructions out of chat (the contribution\'s when clause), on brings them back', async () => {
  const config = vscode.workspace.getConfiguration('memoryLane');
  assert.equal(config.get('agents.instructions'), true, 'on by default');
  const instructions = async () => mine(await listed()).filter((f) => f.type === 'instructions').length;
  try {
    await config.update('agents.instructions', false, vscode.ConfigurationTarget.Global);
    await until('the instructions to leave the list', async () => (await instructions()) === 0, 10_000);
    assert.equal(mine(await listed()).filter((f) => f.type === 'skill').length, 1, 'the skill stays');
  } finally {
    await config.update('agents.instructions', undefined, vscode.ConfigurationTarget.Global);
  }
  await until('the instructions to come back', async () => (await instructions()) === 1, 10_000);
});

test("the instructions file's body is agentGuidance('vscode'), the rules the MCP server sends too", () => {
  const text = readFileSync(resolved('media/chat/memory.instructions.md'), 'utf8');
  const { fields, body } = frontMatter(text);
  assert.equal(fields.applyTo, "'**'");
  assert.match(text.split('\n---\n')[0]!, /# Why it reads like this/, 'a comment at its head says why it is worded as it is');
  const expected = agentGuidance('vscode');
  assert.equal(body.trim(), expected.trim(), `media/chat/memory.instructions.md is out of date: replace everything below its front matter with\n\n${expected}\n`);
  for (const rule of ['At the start of a task', 'Never store secrets', 'Cite the memories', 'not instructions']) assert.ok(body.includes(rule), rule);
});

test('the memory skill is in the Agent Skills format (name = folder, a description) with its three workflows; the prompts use the tools', () => {
  const skill = manifest().contributes.chatSkills[0]!.path;
  const { fields, body } = frontMatter(readFileSync(resolved(skill), 'utf8'));
  assert.equal(fields.name, basename(dirname(skill)));
  assert.equal(fields.name, 'memory');
  assert.ok((fields.description ?? '').length > 40 && (fields.description ?? '').length <= 1024, 'a description of when to load it, at most 1024 characters');
  for (const workflow of ['recall → work → remember', 'review', 'consolidate']) assert.match(body, new RegExp(`## Workflow \\d: ${workflow}`, 'i'));
  const prompts = Object.fromEntries(manifest().contributes.chatPromptFiles.map((p) => [basename(p.path, '.prompt.md'), frontMatter(readFileSync(resolved(p.path), 'utf8'))]));
  assert.match(prompts.remember!.body, /memory_recall[\s\S]*memory_store/, '/remember recalls before it stores');
  assert.match(prompts.recall!.fields['argument-hint'] ?? '', /topic/);
  assert.match(prompts['memory-review']!.body, /memory_list/);
  const toolRefs = Object.values(prompts).flatMap((p) => [...(p.fields.tools ?? '').matchAll(/'memory-lane\.memory-lane\/(\w+)'/g)].map((m) => m[1]!));
  const declared = (memoryLane().packageJSON as { contributes: { languageModelTools: { toolReferenceName: string }[] } }).contributes.languageModelTools.map((t) => t.toolReferenceName);
  assert.deepEqual(toolRefs.filter((r) => !declared.includes(r)), [], 'every tool a prompt names is one of ours');
});

// ---------------------------------------------------------------------------------- @memory

test('@memory is contributed with /recall, /remember, /forget, /review and /stats', () => {
  const [p] = manifest().contributes.chatParticipants;
  assert.equal(p?.id, 'memoryLane.memory');
  assert.equal(p?.name, 'memory');
  assert.deepEqual(p?.commands.map((c) => c.name), ['recall', 'remember', 'forget', 'review', 'stats']);
});

let participantId = '';

test('@memory /remember stores as the participant; /recall answers from the store with ids, scopes and Open / Edit / Forget buttons, without a chat model', async () => {
  const text = 'The e2e release train leaves on Tuesdays, after the changelog is frozen on Monday.';
  const stored = await api().askParticipant(text, 'remember');
  participantId = /as `([^`]+)`/.exec(stored.markdown)?.[1] ?? '';
  assert.ok(participantId, stored.markdown);
  const m = await (await api().service()).get(participantId);
  assert.equal(m.writer?.kind, 'participant');
  assert.equal(m.writer?.client?.name, '@memory');
  assert.equal(m.reviewed, true, 'a fact the person typed needs no review');

  const r = await api().askParticipant('when does the release train leave', 'recall');
  assert.ok(r.markdown.includes(`\`${participantId}\``), r.markdown);
  assert.match(r.markdown, /workspace · cases/);
  assert.match(r.markdown, /by participant · @memory/);
  assert.ok(r.markdown.includes('> The e2e release train leaves on Tuesdays'), 'the text is quoted');
  assert.doesNotMatch(r.markdown, /Summary/, 'no model, no summary');
  const buttons = r.buttons.filter((b) => b.arguments?.[0] === participantId).map((b) => b.command);
  assert.deepEqual(buttons, ['memoryLane.openMemory', 'memoryLane.editMemory', 'memoryLane.forgetMemory']);
  assert.deepEqual((r.result.metadata as { command: string }).command, 'recall');
  // A question without a command recalls too; an empty one explains the commands.
  assert.ok((await api().askParticipant('release train')).markdown.includes(participantId));
  assert.match((await api().askParticipant('')).markdown, /\/review/);
});

test('@memory /recall summarizes with the request\'s model when there is one, citing the ids it was given', async () => {
  let sent = '';
  const model = {
    id: 'fake-model', vendor: 'e2e', family: 'fake', name: 'Fake', version: '1', maxInputTokens: 10_000,
    sendRequest: async (messages: vscode.LanguageModelChatMessage[]) => {
      sent = messages.map((msg) => msg.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('')).join('\n');
      return { text: (async function* () { yield `They leave on Tuesdays (memory ${participantId}).`; })(), stream: (async function* () {})() };
    },
    countTokens: async () => 1,
  } as unknown as vscode.LanguageModelChat;
  const r = await api().askParticipant('release train', 'recall', model);
  assert.ok(sent.includes(`[${participantId}]`) && sent.includes('not instructions'), 'the model gets the memories as quoted data with ids');
  assert.match(r.markdown, /\*\*Summary\*\* \(by the chat model\)[\s\S]*They leave on Tuesdays/);
});

test('@memory /stats answers with counts per scope and category and the memories awaiting review', async () => {
  const r = await api().askParticipant('', 'stats');
  assert.match(r.markdown, /\*\*\d+ memories\*\*/);
  assert.match(r.markdown, /\| scope \| memories \|/);
  assert.ok(r.markdown.includes(`\`${api().workspaceScope}\` (this workspace)`), r.markdown);
  assert.match(r.markdown, /\*\*\d+ awaiting review\*\*/);
});

test('@memory /forget never deletes: it shows the memory with a Forget button (the command confirms)', async () => {
  const r = await api().askParticipant(participantId, 'forget');
  assert.ok(r.buttons.some((b) => b.command === 'memoryLane.forgetMemory' && b.arguments?.[0] === participantId));
  await (await api().service()).get(participantId); // still there
  const q = await api().askParticipant('release train Tuesdays', 'forget');
  assert.ok(q.markdown.includes(participantId) && /Nothing is deleted/.test(q.markdown), q.markdown);
});

// ----------------------------------------------------------------------------------- review

/** The bundled MCP server on this window's store, as an MCP client named `name` sees it. */
async function mcpClient(name: string): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(memoryLane().extensionPath, 'dist', 'mcp.js'), '--db', api().storePath],
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', LANCEDB_LOG: 'error', MEMORY_LANE_FAILPOINTS: '' } as Record<string, string>,
    stderr: 'ignore',
  });
  const client = new Client({ name, version: '2.0.0' });
  await client.connect(transport);
  return client;
}

const mcpText = (r: unknown) => ((r as { content: Array<{ type: string; text?: string }> }).content ?? []).map((c) => c.text ?? '').join('');
/** The id a `memory_store` call answered with (its structured result, else its text "Stored as <id>."). */
const storedId = (r: unknown) => ((r as { structuredContent?: { id?: string } }).structuredContent?.id) ?? /Stored as (\S+)\./.exec(mcpText(r))?.[1] ?? '';

async function recentGroups(): Promise<Array<MemoryTreeNode & { kind: 'writer' }>> {
  const roots = await api().memoriesChildren();
  const recent = roots.find((n) => n.kind === 'recent');
  if (!recent) return [];
  return (await api().memoriesChildren(recent)).filter((n): n is MemoryTreeNode & { kind: 'writer' } => n.kind === 'writer');
}
const groupOf = async (id: string) => (await recentGroups()).find((g) => g.memories.some((m) => m.id === id));

let lmId = '';
let mcpId = '';

test('a memory stored by an LM tool and one stored through MCP show under "Stored recently", grouped by writer, awaiting review', async () => {
  lmId = /Stored as \[([^\]]+)\]/.exec(await invoke('memory_store', { text: 'Review e2e: the staging database is reset every night at 02:00 UTC.', force: true }))?.[1] ?? '';
  assert.ok(lmId);
  const client = await mcpClient('e2e-mcp-client');
  try {
    const answer = await client.callTool({ name: 'memory_store', arguments: { text: 'Review e2e: the flaky checkout test is quarantined until the payment mock is fixed.', scope: 'global', force: true } });
    mcpId = storedId(answer);
    assert.ok(mcpId, mcpText(answer));
  } finally {
    await client.close();
  }
  const lmGroup = await until('the LM tool memory under Stored recently', () => groupOf(lmId));
  assert.equal(lmGroup.writer?.kind, 'lm-tool');
  assert.equal(lmGroup.label, `lm-tool · ${vscode.env.appName} ${vscode.version}`, 'no model is exposed to a tool: the editor is the client');
  // The MCP server is another process: its commit reaches the view through the store watcher.
  const mcpGroup = await until('the MCP memory under Stored recently', () => groupOf(mcpId), 20_000);
  assert.equal(mcpGroup.writer?.kind, 'mcp');
  assert.equal(mcpGroup.writer?.client?.name, 'e2e-mcp-client');
  assert.equal(mcpGroup.label, 'mcp · e2e-mcp-client 2.0.0');
  for (const g of [lmGroup, mcpGroup]) assert.ok(g.unreviewed >= 1 && g.memories.find((m) => m.id === lmId || m.id === mcpId)?.reviewed === false);
  const roots = await api().memoriesChildren();
  assert.equal(roots[0]?.kind, 'recent', 'Stored recently comes first');
  // The status bar's tooltip counts them.
  const face = await until('the unreviewed count in the lock monitor', () => { const f = api().lockMonitor(); return (f.unreviewed ?? 0) >= 2 && f; }, 10_000);
  assert.match(face.tooltip, /\*\*\d+\*\* memories stored by agents await review/);
  // @memory /review lists both with Keep.
  const review = await api().askParticipant('', 'review');
  for (const id of [lmId, mcpId]) assert.ok(review.buttons.some((b) => b.command === 'memoryLane.keepMemory' && b.arguments?.[0] === id), `Keep for ${id}`);
  assert.match(review.markdown, /### mcp · e2e-mcp-client 2\.0\.0/);
});

test('Keep marks the LM tool memory reviewed, Forget deletes the MCP one; the view and the count follow', async () => {
  const service = await api().service();
  const before = await service.unreviewedCount();
  assert.equal(await vscode.commands.executeCommand('memoryLane.keepMemory', lmId), true);
  const kept = await service.get(lmId);
  assert.equal(kept.reviewed, true);
  assert.equal(kept.history?.at(-1)?.fields.join(), 'reviewed');
  assert.equal(await vscode.commands.executeCommand('memoryLane.keepMemory', lmId), false, 'keeping twice changes nothing');
  assert.equal(await vscode.commands.executeCommand('memoryLane.forgetMemory', mcpId, { confirmed: true }), true);
  await until('the forgotten memory to leave Stored recently', async () => !(await groupOf(mcpId)));
  await until('the kept memory to show as reviewed', async () => (await groupOf(lmId))?.memories.find((m) => m.id === lmId)?.reviewed === true);
  assert.equal(await service.unreviewedCount(), before - 2);
  await until('the lock monitor count to follow', () => api().lockMonitor().unreviewed === before - 2, 10_000);
});

test('memoryLane.review.requireApproval holds an MCP client\'s memory out of the LM tools\' recall until it is kept', async () => {
  const config = vscode.workspace.getConfiguration('memoryLane');
  const service = await api().service();
  const client = await mcpClient('e2e-approval-client');
  try {
    await config.update('review.requireApproval', true, vscode.ConfigurationTarget.Global);
    await until('the service to require approval', () => service.requireApproval);
    assert.equal((await api().mcpServerDefinitions())[0]?.env.MEMORY_LANE_REQUIRE_APPROVAL, '1', 'MCP servers the window defines hold their agents\' memories too');
    const text = 'Approval e2e: the billing service owns the invoices table and nobody else writes to it.';
    const answer = await client.callTool({ name: 'memory_store', arguments: { text, scope: 'global', force: true } });
    const id = storedId(answer);
    assert.ok(id, mcpText(answer));
    const query = 'who owns the invoices table';
    assert.ok(!(await invoke('memory_recall', { query, scope: 'global' })).includes(id), 'held out of another agent\'s recall');
    assert.ok(mcpText(await client.callTool({ name: 'memory_recall', arguments: { query, scope: 'global' } })).includes(id), 'its own writer still sees it');
    assert.equal(await vscode.commands.executeCommand('memoryLane.keepMemory', id), true);
    assert.ok((await invoke('memory_recall', { query, scope: 'global' })).includes(id), 'kept: every agent recalls it');
  } finally {
    await client.close();
    await config.update('review.requireApproval', undefined, vscode.ConfigurationTarget.Global);
  }
  await until('approval off again', () => !service.requireApproval);
}, 60_000);
