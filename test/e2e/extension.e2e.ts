// End-to-end cases that run inside a real VS Code extension host with Memory Lane loaded from the
// repository (extensionDevelopmentPath). They talk to the extension only through VS Code's API.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { test } from './runner';

const extensionId = 'memory-lane.memory-lane';

interface Manifest {
  contributes: {
    commands: { command: string }[];
    views: Record<string, { id: string }[]>;
    configuration: { properties: Record<string, unknown> };
  };
}

function memoryLane(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(extensionId);
  assert.ok(ext, `extension ${extensionId} is not installed in this host`);
  return ext;
}
const manifest = (): Manifest => memoryLane().packageJSON as Manifest;

test('the extension activates', async () => {
  const ext = memoryLane();
  await ext.activate();
  assert.equal(ext.isActive, true);
});

test('every command in the manifest is registered', async () => {
  const registered = new Set(await vscode.commands.getCommands(true));
  const contributed = manifest().contributes.commands.map((c) => c.command);
  assert.ok(contributed.includes('memoryLane.showLockMonitor'));
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
  assert.equal(vscode.workspace.getConfiguration('memoryLane').get('storePath'), '');
});
