import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli } from '../helpers/cli';
import { connectMcp } from '../helpers/mcp';
import { repoRoot } from '../helpers/repo';
import { deferCleanup, tempDir } from '../helpers/tempStore';

const { version } = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string };

test('the CLI and the MCP server report the version of package.json', async (t) => {
  const run = await cli(['--version']);
  assert.equal(run.code, 0);
  assert.equal(run.stdout.trim(), version);
  const mcp = await connectMcp(tempDir(t));
  deferCleanup(t, () => mcp.close());
  assert.equal(mcp.client.getServerVersion()?.version, version);
});
