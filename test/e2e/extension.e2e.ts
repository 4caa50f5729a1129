// End-to-end cases that run inside a real VS Code extension host with Memory Lane loaded from the
// repository (extensionDevelopmentPath). They drive the extension through VS Code's API (commands,
// vscode.lm) and read what the views show through the extension's exported API. The store is a
// throw-away folder (MEMORY_LANE_DB, set by scripts/e2e/run.mjs); second writers are real processes
// of the bundled CLI.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as vscode from 'vscode';
import type { MemoryLaneApi } from '../../src/extension/api';
import type { LockNode } from '../../src/extension/views/locksTree';
import { api, cli, invoke, memoryLane, scratch, until } from './host';
import { legacyJsonl } from './processes';
import { test } from './runner';

const TOOL_NAMES = ['memory_store', 'memory_recall', 'memory_update', 'memory_forget', 'memory_list'];

interface Manifest {
  contributes: {
    commands: { command: string }[];
    views: Record<string, { id: string }[]>;
    configuration: { properties: Record<string, unknown> };
    languageModelTools: { name: string; modelDescription: string; inputSchema: unknown; tags: string[] }[];
  };
}

const manifest = (): Manifest => memoryLane().packageJSON as Manifest;
const find = (nodes: LockNode[], id: string): LockNode | undefined => nodes.find((n) => n.id === id);

// ------------------------------------------------------------------------------------- activation

test('the extension activates without opening the store', async () => {
  const ext = memoryLane();
  await ext.activate();
  assert.equal(ext.isActive, true);
  // The harness points every window at a throw-away store; the extension must use it (shared default, no setting).
  assert.equal(api().storePath, resolve(process.env.MEMORY_LANE_DB ?? ''));
  assert.equal(existsSync(api().storePath), false, 'activation alone must not create or open the store');
  assert.equal(api().lockMonitor().state, 'idle');
  assert.match(api().lockMonitor().text, /Memory Lane: idle/);
  assert.match(api().workspaceScope ?? '', /^workspace:[0-9a-f]{12}$/);
});

test('every command in the manifest is registered', async () => {
  const registered = new Set(await vscode.commands.getCommands(true));
  const contributed = manifest().contributes.commands.map((c) => c.command);
  for (const id of ['memoryLane.upgrade', 'memoryLane.cancelUpgrade', 'memoryLane.storeSelection', 'memoryLane.recall', 'memoryLane.forgetMemory', 'memoryLane.openMemory', 'memoryLane.import', 'memoryLane.export', 'memoryLane.runMaintenance', 'memoryLane.showLockMonitor', 'memoryLane.showLogs', 'memoryLane.setApiKey']) {
    assert.ok(contributed.includes(id), `${id} is not contributed`);
  }
  assert.deepEqual(contributed.filter((id) => !registered.has(id)), []);
});

test('both views are registered in the Memory Lane container and can be focused', async () => {
  const views = manifest().contributes.views['memory-lane']?.map((v) => v.id) ?? [];
  assert.deepEqual(views, ['memoryLane.locks', 'memoryLane.memories']);
  for (const id of views) await vscode.commands.executeCommand(`${id}.focus`);
});

test('Show Lock Monitor and Show Logs run without error', async () => {
  await vscode.commands.executeCommand('memoryLane.showLockMonitor');
  await vscode.commands.executeCommand('memoryLane.showLogs');
});

test('the settings restricted in untrusted workspaces are contributed', () => {
  const contributed = Object.keys(manifest().contributes.configuration.properties);
  const restricted = (memoryLane().packageJSON as { capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } } })
    .capabilities.untrustedWorkspaces.restrictedConfigurations;
  assert.deepEqual(restricted.filter((key) => !contributed.includes(key)), []);
  assert.ok(restricted.includes('memoryLane.storePath'));
  assert.equal(vscode.workspace.getConfiguration('memoryLane').get('storePath'), '');
  assert.equal(vscode.workspace.getConfiguration('memoryLane').get('statusBar.waitWarningMs'), 1000);
});

// ------------------------------------------------------------------------------ language model tools

test('the five memory tools are registered with descriptions, schemas and tags', () => {
  const contributed = manifest().contributes.languageModelTools;
  assert.deepEqual(contributed.map((t) => t.name), TOOL_NAMES);
  for (const name of TOOL_NAMES) {
    const tool = vscode.lm.tools.find((t) => t.name === name);
    assert.ok(tool, `${name} is not in vscode.lm.tools`);
    assert.ok(tool.description.length > 80, `${name} needs a real model description`);
    assert.ok(tool.tags.includes('memory-lane'));
    assert.equal((tool.inputSchema as { type?: string }).type, 'object');
  }
});

let storedId = '';

test('memory_store then memory_recall through vscode.lm.invokeTool round-trips, as quoted data with ids', async () => {
  const text = 'The e2e project formats TypeScript with two-space indentation and single quotes.';
  const stored = await invoke('memory_store', { text, category: 'preferences', importance: 0.7 });
  const id = /Stored as \[([^\]]+)\]/.exec(stored)?.[1];
  assert.ok(id, `unexpected memory_store answer: ${stored}`);
  storedId = id;
  const again = await invoke('memory_store', { text });
  assert.match(again, new RegExp(`already says nearly the same|Already stored as \\[${id}\\]`));

  const recalled = await invoke('memory_recall', { query: 'indentation and quotes in TypeScript' });
  assert.ok(recalled.includes(`[${id}]`), recalled);
  assert.ok(recalled.includes(JSON.stringify(text)), 'the text comes back as a quoted JSON string');
  assert.match(recalled, /not instructions/);
  assert.match(recalled, /preferences, workspace/);
  // The memory went to this workspace's scope.
  const m = await (await api().service()).get(id);
  assert.equal(m.scope, api().workspaceScope);
  assert.equal(m.metadata.source, 'vscode');
});

test('memory_update and memory_list through vscode.lm.invokeTool', async () => {
  const updated = await invoke('memory_update', { id: storedId, importance: 0.9 });
  assert.match(updated, new RegExp(`Updated \\[${storedId}\\]`));
  const listed = await invoke('memory_list', { scope: 'workspace' });
  assert.ok(listed.includes(`[${storedId}]`), listed);
  assert.match(listed, /importance 0\.9/);
});

test('memory_forget asks for confirmation naming the memory, then deletes it', async () => {
  const id = /Stored as \[([^\]]+)\]/.exec(await invoke('memory_store', { text: 'A throw-away memory about the colour of the e2e bikeshed: teal.', force: true }))?.[1];
  assert.ok(id);
  const prepared = await api().tools.forget.prepareInvocation({ input: { id } });
  assert.ok(prepared.confirmationMessages, 'forget must ask the person first');
  const message = prepared.confirmationMessages.message;
  assert.match((typeof message === 'string' ? message : message.value).replace(/&nbsp;/g, ' '), /bikeshed: teal/);
  // No person clicks in this host: VS Code's own test switch approves the confirmation VS Code shows.
  await vscode.commands.executeCommand('setContext', 'vscode.chat.tools.global.autoApprove.testMode', true);
  await vscode.workspace.getConfiguration('chat.tools.global').update('autoApprove', true, vscode.ConfigurationTarget.Global);
  try {
    assert.match(await invoke('memory_forget', { id }), new RegExp(`Forgot \\[${id}\\]`));
  } finally {
    await vscode.workspace.getConfiguration('chat.tools.global').update('autoApprove', undefined, vscode.ConfigurationTarget.Global);
  }
  await assert.rejects((async () => (await api().service()).get(id))(), /E_NOT_FOUND|No memory/);
});

test('a tool error reaches the model with its stable code', async () => {
  await assert.rejects(invoke('memory_update', { id: 'no-such-memory-id', importance: 0.2 }), /E_NOT_FOUND/);
});

// ------------------------------------------------------------------------------------------ MCP

test('the MCP server definition starts the bundled server on this window\'s store and scopes', async () => {
  const [def] = await api().mcpServerDefinitions();
  assert.ok(def, 'one MCP server definition');
  assert.equal(def.label, 'Memory Lane');
  assert.equal(def.command, process.execPath);
  assert.deepEqual(def.args.slice(1), ['--db', api().storePath]);
  assert.ok(def.args[0]!.endsWith(join('dist', 'mcp.js')) && existsSync(def.args[0]!));
  assert.equal(def.env.MEMORY_LANE_SCOPES, `${api().workspaceScope},global`);
  assert.equal(def.env.MALLOC_ARENA_MAX, '2');
  // The servers this window defines share its lock settings, so every process agrees on deadlines and staleness.
  const settings = vscode.workspace.getConfiguration('memoryLane');
  assert.equal(def.env.MEMORY_LANE_LOCK_WRITE_TIMEOUT_MS, String(settings.get('lock.writeTimeoutMs')));
  assert.equal(def.env.MEMORY_LANE_LOCK_BACKGROUND_TIMEOUT_MS, String(settings.get('lock.backgroundTimeoutMs')));
  assert.equal(def.env.MEMORY_LANE_LOCK_STALE_MS, String(settings.get('lock.staleMs')));
  assert.equal(def.env.MEMORY_LANE_REQUIRE_APPROVAL, settings.get('review.requireApproval') ? '1' : '0', 'the review setting reaches MCP agents too');
  // Start it exactly as VS Code would and ask it for the memory the LM tool stored.
  const env = { ...process.env } as Record<string, string | undefined>;
  for (const [k, v] of Object.entries(def.env)) env[k] = v === null ? undefined : String(v);
  const child = spawn(def.command, def.args, { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const send = (msg: object) => child.stdin.write(JSON.stringify({ jsonrpc: '2.0', ...msg }) + '\n');
  const reply = (id: number) => until(`MCP reply ${id}`, () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id?: number; result?: any }).find((m) => m.id === id), 20_000);
  try {
    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e', version: '0' } } });
    await reply(1);
    send({ method: 'notifications/initialized' });
    send({ id: 2, method: 'tools/list' });
    const tools = (await reply(2)).result.tools.map((t: { name: string }) => t.name);
    for (const name of TOOL_NAMES) assert.ok(tools.includes(name), `MCP tools: ${tools}`);
    send({ id: 3, method: 'tools/call', params: { name: 'memory_recall', arguments: { query: 'indentation and quotes in TypeScript' } } });
    const text = (await reply(3)).result.content[0].text as string;
    assert.ok(text.includes(storedId), `the MCP server sees the window's memory: ${text}`);
  } finally {
    child.stdin.end();
    await new Promise((r) => { child.once('exit', r); setTimeout(() => { child.kill(); r(undefined); }, 5000); });
  }
});

// ------------------------------------------------------------------------------------- commands

test('Store Selection as Memory stores the editor selection in this workspace', async () => {
  const doc = await vscode.workspace.openTextDocument({ content: 'Deployments of the e2e service happen on Tuesdays after the stand-up.', language: 'plaintext' });
  const editor = await vscode.window.showTextDocument(doc);
  editor.selection = new vscode.Selection(0, 0, 0, doc.lineAt(0).text.length);
  const id = await vscode.commands.executeCommand<string>('memoryLane.storeSelection');
  assert.ok(id);
  const m = await (await api().service()).get(id);
  assert.equal(m.text, doc.getText());
  assert.equal(m.scope, api().workspaceScope);
  await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
});

test('Recall… finds memories without counting them as an agent recall', async () => {
  const results = await vscode.commands.executeCommand<Array<{ id: string; text: string }>>('memoryLane.recall', 'when do deployments happen');
  assert.ok(results?.some((r) => r.text.includes('Tuesdays')), JSON.stringify(results));
});

test('Export… writes a backup and Import… reads JSON Lines (arriving legacy)', async () => {
  const backup = join(scratch, 'backup.jsonl');
  const exported = await vscode.commands.executeCommand<{ rows: number }>('memoryLane.export', backup);
  assert.ok(exported && exported.rows >= 2, JSON.stringify(exported));
  assert.match(readFileSync(backup, 'utf8').split('\n')[0]!, /memory-lane-backup/);
  const imported = await vscode.commands.executeCommand<{ imported: number }>('memoryLane.import', legacyJsonl(scratch, 'import-small', 3));
  assert.equal(imported?.imported, 3);
  const again = await vscode.commands.executeCommand<{ imported: number; existing: number }>('memoryLane.import', join(scratch, 'import-small'));
  assert.deepEqual([again?.imported, again?.existing], [0, 3], 're-importing changes nothing');
});

test('Run Maintenance compacts the store under the lock and reports it', async () => {
  const report = await vscode.commands.executeCommand<{ ms: number; attempts: number }>('memoryLane.runMaintenance');
  assert.ok(report && report.attempts >= 1, JSON.stringify(report));
});

test('Set API Key keeps the key in secret storage, not in settings', async () => {
  assert.equal(await vscode.commands.executeCommand('memoryLane.setApiKey', 'enrichment', 'sk-e2e-not-a-real-key'), true);
  const settings = JSON.stringify(vscode.workspace.getConfiguration('memoryLane'));
  assert.ok(!settings.includes('sk-e2e'), 'the key must not appear in any setting');
  assert.equal(await vscode.commands.executeCommand('memoryLane.clearApiKey', 'enrichment'), true);
});

test('the Memories view lists scope → category → memory, marks legacy ones, searches, and forgets from its context menu', async () => {
  // The view refreshes from change events at most once a second: the imports above show up within it.
  // The scopes, after "Stored recently" (what was written in the last 24 h; test/e2e/chat.e2e.ts).
  const scopes = async () => (await api().memoriesChildren()).filter((n) => n.kind !== 'recent');
  const roots = await until('the global scope in the Memories view', async () => {
    const r = await scopes();
    return r.some((n) => n.kind === 'scope' && n.scope === 'global') && r;
  }, 3000);
  assert.equal((await api().memoriesChildren())[0]?.kind, 'recent', 'Stored recently comes first');
  assert.equal(roots[0]?.kind === 'scope' && roots[0].scope, api().workspaceScope, 'then this workspace');
  const categories = await api().memoriesChildren(roots[0]);
  const preferences = categories.find((c) => c.kind === 'category' && c.category === 'preferences');
  assert.ok(preferences, JSON.stringify(categories));
  const rows = await api().memoriesChildren(preferences);
  assert.ok(rows.some((r) => r.kind === 'memory' && r.memory.id === storedId));
  const global = roots.find((r) => r.kind === 'scope' && r.scope === 'global')!;
  const legacyRows = (await Promise.all((await api().memoriesChildren(global)).map((c) => api().memoriesChildren(c)))).flat();
  assert.ok(legacyRows.some((r) => r.kind === 'memory' && r.legacy), 'imported rows are marked legacy');

  await vscode.commands.executeCommand('memoryLane.filterMemories', 'deployments on Tuesdays');
  const found = await api().memoriesChildren();
  assert.ok(found[0]?.kind === 'memory' && found[0].memory.text.includes('Tuesdays'), JSON.stringify(found.slice(0, 2)));
  await vscode.commands.executeCommand('memoryLane.clearMemoriesFilter');
  assert.equal((await scopes())[0]?.kind, 'scope');

  // The context menu hands the command the tree row itself.
  const copy = await (await api().service()).store({ text: 'A second memory to forget from the Memories view context menu.', category: 'cases', force: true });
  const cases = (await api().memoriesChildren((await scopes())[0])).find((c) => c.kind === 'category' && c.category === 'cases');
  const row = (await api().memoriesChildren(cases)).find((r) => r.kind === 'memory' && r.memory.id === copy.id);
  assert.ok(row, 'the new memory is listed under This workspace → cases');
  assert.equal(await vscode.commands.executeCommand('memoryLane.forgetMemory', row, { confirmed: true }), true);
  await assert.rejects((async () => (await api().service()).get(copy.id))(), /E_NOT_FOUND|No memory/);
});

// ----------------------------------------------------------------------------- lock monitor

test('the status bar shows another process holding the lock, then this window waiting for it (warning past the threshold)', async () => {
  const holder = cli().start(['store', '--text', 'written by a process that holds the lock for 2.5 s'], { MEMORY_LANE_FAILPOINTS: 'lock.afterAcquire=pause:2500' });
  await holder.waitFor(/\[failpoint\] lock\.afterAcquire/);
  // Noticed through the owner record (fs.watch), not by polling the store.
  const held = await until('held-elsewhere', () => { const f = api().lockMonitor(); return f.state === 'held-elsewhere' && f; }, 3000);
  assert.match(held.text, new RegExp(`held by pid ${holder.pid}`));
  assert.ok(find(api().locksSnapshot(), 'holder:')?.label.includes(`pid ${holder.pid}`));

  const maintenance = vscode.commands.executeCommand('memoryLane.runMaintenance');
  const waiting = await until('waiting', () => { const f = api().lockMonitor(); return f.state === 'waiting' && f; }, 3000);
  assert.match(waiting.text, /waiting \d+s/);
  assert.match(waiting.accessibilityLabel, new RegExp(`held by pid ${holder.pid}`));
  const warned = await until('warning background', () => { const f = api().lockMonitor(); return f.background === 'statusBarItem.warningBackground' && f; }, 3000);
  assert.match(warned.tooltip, /waited/);
  await maintenance;
  assert.equal((await holder.exited).code, 0);
  await until('idle again', () => api().lockMonitor().state === 'idle', 3000);
});

test('a lock timeout turns the status bar to the error background, naming the holder', async () => {
  const config = vscode.workspace.getConfiguration('memoryLane');
  await config.update('lock.writeTimeoutMs', 800, vscode.ConfigurationTarget.Global);
  const holder = cli().start(['store', '--text', 'written by a process that hangs with the lock'], { MEMORY_LANE_FAILPOINTS: 'lock.afterAcquire=hang' });
  try {
    await holder.waitFor(/\[failpoint\] lock\.afterAcquire/);
    await until('the service reopened with the new deadline', async () => !!(await api().service()));
    assert.equal((await api().mcpServerDefinitions())[0]?.env.MEMORY_LANE_LOCK_WRITE_TIMEOUT_MS, '800', 'MCP servers started from now on get the new deadline too');
    await assert.rejects(invoke('memory_store', { text: 'this write must time out behind the hung holder', force: true }), /E_LOCK_TIMEOUT.*pid/);
    const face = await until('timeout face', () => { const f = api().lockMonitor(); return f.state === 'timeout' && f; }, 2000);
    assert.equal(face.background, 'statusBarItem.errorBackground');
    assert.match(face.tooltip, new RegExp(`pid ${holder.pid}`));
    const waits = find(api().locksSnapshot(), 'waits:');
    assert.ok(waits?.children?.some((w) => w.severity === 'error' && /TIMED OUT/.test(w.description ?? '')), JSON.stringify(waits));
  } finally {
    holder.child.kill('SIGKILL'); // a dead holder on this host: the next writer takes the lock over at once
    await holder.exited;
    await config.update('lock.writeTimeoutMs', undefined, vscode.ConfigurationTarget.Global);
  }
  assert.match(await invoke('memory_store', { text: 'after the hung holder died, writes go through again', force: true }), /Stored as/);
  await until('the timeout face clears after a successful write', () => api().lockMonitor().state !== 'timeout', 3000);
});

// --------------------------------------------------------------------------------- the upgrade

test('Upgrade Memories completes on a seeded legacy store while another process writes; the view shows the waits and the run', async () => {
  const c = cli();
  await c.run(['--json', 'import', legacyJsonl(scratch, 'legacy-e2e', 1500), '--format', 'jsonl']);
  const service = await api().service();
  const legacyBefore = (await service.list({ legacy: true, limit: 1 })).total;
  assert.ok(legacyBefore >= 1500);
  const refreshesBefore = api().locksRefreshCount();
  const t0 = Date.now();

  // Another process holds the lock when the upgrade's first batch comes: that batch must wait for it.
  const holder = c.start(['store', '--text', 'a CLI write holding the lock while the upgrade starts'], { MEMORY_LANE_FAILPOINTS: 'lock.afterAcquire=pause:4000' });
  await holder.waitFor(/\[failpoint\] lock\.afterAcquire/);
  const upgrade = Promise.resolve(vscode.commands.executeCommand<{ upgraded: number; candidates: number; failed: unknown[]; cancelled: boolean }>('memoryLane.upgrade', { quiet: true }));
  let finished = false;
  void upgrade.finally(() => { finished = true; });

  // Meanwhile a second process keeps writing (the harness pauses every upgrade 3 s after batch 3).
  const written: string[] = [];
  let i = 0;
  while (!finished) {
    const r = await c.run(['--json', 'store', '--text', `concurrent CLI write number ${i} during the upgrade`, '--force']);
    written.push(r.json.id);
    i++;
  }
  const result = await upgrade;
  assert.equal((await holder.exited).code, 0);
  assert.ok(result, 'the command returns the run result');
  assert.equal(result.cancelled, false);
  assert.deepEqual(result.failed, []);
  assert.ok(result.upgraded >= 1500 && result.upgraded === result.candidates, JSON.stringify(result));
  assert.ok(written.length >= 1, 'the CLI wrote during the upgrade');
  for (const id of written) assert.ok(await service.memoryStore.get(id), `the CLI's write ${id} survived the upgrade`);
  const legacyAfter = (await service.list({ legacy: true, limit: 1 })).total;
  assert.ok(legacyAfter <= written.length + 1, `only the CLI's new writes may still be legacy, found ${legacyAfter}`);

  const tree = api().locksSnapshot();
  const waits = find(tree, 'waits:');
  assert.ok(waits?.children?.length, 'recent waits are listed');
  const blocked = waits.children!.find((w) => w.label.startsWith('upgrade: batch') && (w.description ?? '').includes(`blocked by pid ${holder.pid}`));
  assert.ok(blocked, `a batch waited for the CLI holder: ${JSON.stringify(waits.children!.slice(-5))}`);
  assert.ok(blocked.severity === 'warning', 'a wait over the threshold is flagged slow');
  assert.match(find(tree, 'contention:')?.description ?? '', /p50 .* p95 .* max/);
  const history = find(tree, 'history:');
  assert.ok(history);
  assert.ok(history.children?.[0]?.label.includes(`upgraded ${result.upgraded} of ${result.candidates}`), JSON.stringify(history));
  assert.match(history.children![0]!.description ?? '', /done · .* · 0 failed · local/);
  // Refreshed from events, throttled: at most 4 a second (+ slack for the leading edge of bursts).
  const seconds = (Date.now() - t0) / 1000;
  const refreshes = api().locksRefreshCount() - refreshesBefore;
  assert.ok(refreshes <= Math.ceil(seconds * 4) + 4, `${refreshes} refreshes in ${seconds.toFixed(1)} s`);
}, 150_000);

test('Open Memory shows an upgraded memory as a read-only document with L0/L1/L2 and metadata', async () => {
  const service = await api().service();
  const upgraded = (await service.list({ legacy: false, limit: 5 })).items.find((m) => m.metadata.l1_overview);
  assert.ok(upgraded);
  await vscode.commands.executeCommand('memoryLane.openMemory', upgraded.id);
  const doc = vscode.window.activeTextEditor?.document;
  assert.equal(doc?.uri.scheme, 'memory-lane');
  const text = doc!.getText();
  for (const heading of ['# Memory', '## Abstract (L0)', '## Overview (L1)', '## Content (L2)', '## Text', '## Details', '## Metadata']) assert.ok(text.includes(heading), `${heading} missing`);
  assert.ok(text.includes(upgraded.text));
  await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
});

test('Cancel Upgrade stops a running upgrade after whole batches; the next run resumes', async () => {
  const c = cli();
  await c.run(['--json', 'import', legacyJsonl(scratch, 'legacy-cancel', 800), '--format', 'jsonl']);
  const run = Promise.resolve(vscode.commands.executeCommand<{ upgraded: number; candidates: number; cancelled: boolean; batches: number }>('memoryLane.upgrade', { quiet: true }));
  // Cancel once a batch is written (the harness holds every upgrade 3 s after its third batch).
  await until('a first batch written', () => (api().upgrades().running?.progress?.written ?? 0) >= 200, 20_000);
  assert.equal(await vscode.commands.executeCommand('memoryLane.cancelUpgrade'), true);
  const cancelled = await run;
  assert.equal(cancelled?.cancelled, true);
  assert.ok(cancelled.upgraded >= 200 && cancelled.upgraded < cancelled.candidates, JSON.stringify(cancelled));
  const rest = await vscode.commands.executeCommand<{ upgraded: number; candidates: number; cancelled: boolean }>('memoryLane.upgrade', { quiet: true });
  assert.equal(rest?.cancelled, false);
  assert.equal(cancelled.upgraded % 200, 0, 'a cancelled run writes whole batches only');
  assert.equal(rest.candidates, cancelled.candidates - cancelled.upgraded, 'the next run resumes with what is left');
  assert.equal(rest.upgraded, rest.candidates);
}, 60_000);

test('an upgrade running in another process is shown, and Upgrade Memories then says who runs it instead of starting a second one', async () => {
  const c = cli();
  await c.run(['--json', 'import', legacyJsonl(scratch, 'legacy-other', 300), '--format', 'jsonl']);
  const other = c.start(['upgrade'], { MEMORY_LANE_FAILPOINTS: 'upgrade.afterPhase1=pause:4000' });
  try {
    await other.waitFor(/\[failpoint\] upgrade\.afterPhase1/);
    const row = await until('the other upgrade in the view', () => find(api().locksSnapshot(), 'upgrade:other'), 3000);
    assert.match(row.label, new RegExp(`Upgrade running in pid ${other.pid}`));
    const result = await vscode.commands.executeCommand('memoryLane.upgrade', { quiet: true });
    assert.equal(result, undefined, 'no second upgrade starts');
    const last = api().upgrades().history[0];
    assert.equal(last?.error?.code, 'E_BUSY');
    assert.match(last!.error!.message, new RegExp(`pid ${other.pid}`));
    assert.match(find(api().locksSnapshot(), 'history:')?.children?.[0]?.description ?? '', /E_BUSY/);
  } finally {
    const r = await other.exited;
    assert.equal(r.code, 0, r.stderr);
  }
  await until('the other upgrade gone from the view', () => !find(api().locksSnapshot(), 'upgrade:other'), 5000);
}, 60_000);

// -------------------------------------------------------------------------- the vscode.lm enricher

function fakeModel(reply: (text: string) => string | Error | 'hang'): Parameters<MemoryLaneApi['createLanguageModelEnricher']>[0] & { calls: number } {
  const model = {
    id: 'fake-model', vendor: 'e2e', family: 'fake', name: 'Fake model', calls: 0,
    sendRequest: async (messages: vscode.LanguageModelChatMessage[], _options?: vscode.LanguageModelChatRequestOptions, token?: vscode.CancellationToken) => {
      model.calls++;
      const prompt = messages.map((m) => m.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('')).join('\n');
      const answer = reply(prompt);
      if (answer instanceof Error) throw answer;
      if (answer === 'hang') {
        await new Promise<void>((resolve) => token?.onCancellationRequested(() => resolve()));
        throw new vscode.CancellationError();
      }
      return { text: (async function* () { yield answer.slice(0, 10); yield answer.slice(10); })(), stream: (async function* () { /* unused */ })() } as unknown as vscode.LanguageModelChatResponse;
    },
  };
  return model as never;
}

test('the vscode.lm enricher turns the chat model\'s JSON into an enrichment, and refuses bad replies with a reason', async () => {
  const good = JSON.stringify({ l0_abstract: 'The user likes teal.', l1_overview: ['Likes teal', 'Dislikes beige'], l2_content: 'The user likes teal and dislikes beige.', category: 'preferences', confidence: 0.9 });
  const enricher = api().createLanguageModelEnricher(fakeModel((p) => (p.includes('beige') ? good : 'not json at all')), { concurrency: 2 });
  const e = await enricher.enrich({ id: 'a', text: 'user likes teal, not beige', category: 'fact' }, new AbortController().signal);
  assert.deepEqual([e.l0_abstract, e.l1_overview, e.category, e.provider, e.model], ['The user likes teal.', '- Likes teal\n- Dislikes beige', 'preferences', 'vscode-lm', 'e2e/fake']);
  await assert.rejects(enricher.enrich({ id: 'b', text: 'something else', category: 'fact' }, new AbortController().signal), /invalid JSON/);
});

test('the vscode.lm enricher honours cancellation and stops calling a failing model', async () => {
  const hanging = api().createLanguageModelEnricher(fakeModel(() => 'hang'));
  const abort = new AbortController();
  const pending = hanging.enrich({ id: 'a', text: 'x', category: 'fact' }, abort.signal);
  setTimeout(() => abort.abort(new Error('cancelled by the test')), 50);
  const t0 = Date.now();
  await assert.rejects(pending, /cancelled by the test/);
  assert.ok(Date.now() - t0 < 2000);

  const failing = fakeModel(() => new Error('model unavailable'));
  const enricher = api().createLanguageModelEnricher(failing, { breakAfterFailures: 2 });
  for (let i = 0; i < 4; i++) await assert.rejects(enricher.enrich({ id: `f${i}`, text: 'y', category: 'fact' }, new AbortController().signal), /model unavailable/);
  assert.equal(failing.calls, 2, 'after 2 failures in a row the rest fail fast (and fall back to local) without calling the model');
});
