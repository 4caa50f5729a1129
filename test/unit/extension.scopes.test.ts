import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultScopes, folderKey, workspaceScope } from '../../src/extension/scopes';

const uri = (scheme: string, authority: string, path: string) => ({ scheme, path, toString: () => `${scheme}://${authority}${path}` });

test('a workspace scope is workspace:<12 hex>, the same for the same folders in any order', () => {
  const a = workspaceScope([uri('file', '', '/home/u/api'), uri('file', '', '/home/u/web')], 'linux');
  const b = workspaceScope([uri('file', '', '/home/u/web'), uri('file', '', '/home/u/api/')], 'linux');
  assert.match(a!, /^workspace:[0-9a-f]{12}$/);
  assert.equal(a, b);
  assert.notEqual(a, workspaceScope([uri('file', '', '/home/u/api')], 'linux'));
});

test('a remote workspace keeps its scope when the server comes back on another port', () => {
  const before = workspaceScope([uri('vscode-remote', '127.0.0.1:8080', '/srv/app')], 'linux');
  const after = workspaceScope([uri('vscode-remote', '127.0.0.1:41234', '/srv/app')], 'linux');
  assert.equal(before, after);
  assert.equal(before, workspaceScope([uri('file', '', '/srv/app')], 'linux'), 'local and remote views of one folder share memories');
});

test('Windows paths are compared case-insensitively; virtual file systems keep their whole URI', () => {
  assert.equal(folderKey(uri('file', '', '/C:/Work/App'), 'win32'), '/c:/work/app');
  assert.equal(folderKey(uri('file', '', '/C:/Work/App'), 'linux'), '/C:/Work/App');
  assert.equal(folderKey(uri('vscode-vfs', 'github', '/o/r'), 'linux'), 'vscode-vfs://github/o/r');
});

test('no folder: no workspace scope, recall in global only', () => {
  assert.equal(workspaceScope([], 'linux'), undefined);
  assert.deepEqual(defaultScopes(undefined), ['global']);
  assert.deepEqual(defaultScopes('workspace:abc'), ['workspace:abc', 'global']);
});
