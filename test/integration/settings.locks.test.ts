import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StoreLock } from '../../src/core/concurrency/storeLock';
import { LOCK_BOUNDS, LOCK_DEFAULTS, LOCK_ENV, lockSettingsEnv, resolveLockSettings } from '../../src/core/defaults';
import { cli } from '../helpers/cli';
import { connectMcp } from '../helpers/mcp';
import { repoRoot } from '../helpers/repo';
import { deferCleanup, tempDir } from '../helpers/tempStore';

test('the VS Code lock settings declare exactly the core defaults and bounds', () => {
  const manifest = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8'));
  const props = manifest.contributes.configuration.properties ?? Object.assign({}, ...manifest.contributes.configuration.map((c: any) => c.properties));
  const keys = { writeTimeoutMs: 'memoryLane.lock.writeTimeoutMs', backgroundTimeoutMs: 'memoryLane.lock.backgroundTimeoutMs', staleMs: 'memoryLane.lock.staleMs' } as const;
  for (const [key, setting] of Object.entries(keys) as Array<[keyof typeof keys, string]>) {
    assert.equal(props[setting].default, LOCK_DEFAULTS[key], setting);
    assert.equal(props[setting].minimum, LOCK_BOUNDS[key].min, setting);
    assert.equal(props[setting].maximum, LOCK_BOUNDS[key].max, setting);
  }
});

test('lock settings travel through the environment unchanged, and a bad value is an error naming its source', () => {
  const settings = { writeTimeoutMs: 800, backgroundTimeoutMs: 9000, staleMs: 4000 };
  assert.deepEqual(resolveLockSettings({}, lockSettingsEnv(settings)), settings);
  assert.deepEqual(resolveLockSettings({}, {}), LOCK_DEFAULTS);
  assert.deepEqual(resolveLockSettings({ staleMs: '3000' }, lockSettingsEnv(settings), { staleMs: '--lock-stale' }), { ...settings, staleMs: 3000 }, 'a flag wins over the environment');
  assert.throws(() => resolveLockSettings({}, { [LOCK_ENV.staleMs]: '500' }), /MEMORY_LANE_LOCK_STALE_MS: must be an integer from 2000 to 600000/);
  assert.throws(() => resolveLockSettings({ writeTimeoutMs: 'soon' }, {}, { writeTimeoutMs: '--lock-timeout' }), /--lock-timeout: must be an integer/);
});

test('an MCP server started with the window\'s lock settings waits for the lock only as long as they say', async (t) => {
  const dir = tempDir(t);
  assert.equal((await cli(['--db', dir, 'store', '--text', 'creates the store'])).code, 0);
  const mcp = await connectMcp(dir, lockSettingsEnv({ writeTimeoutMs: 400, backgroundTimeoutMs: 2000, staleMs: 10_000 }));
  deferCleanup(t, () => mcp.close());
  const holder = await new StoreLock(dir).acquire('a window holding the lock', 1000);
  try {
    const started = Date.now();
    const r = (await mcp.client.callTool({ name: 'memory_store', arguments: { text: 'waits behind the holder' } })) as { isError?: boolean; content: Array<{ text: string }> };
    const waited = Date.now() - started;
    assert.equal(r.isError, true);
    assert.match(r.content[0]!.text, /E_LOCK_TIMEOUT/);
    assert.match(r.content[0]!.text, /a window holding the lock/);
    assert.ok(waited < 2500, `gave up after ${waited} ms: the 400 ms deadline was not used (the default is ${LOCK_DEFAULTS.writeTimeoutMs} ms)`);
  } finally {
    await holder.release();
  }
});

test('the CLI takes the lock settings as flags, and refuses a bad one by name', async (t) => {
  const dir = tempDir(t);
  assert.equal((await cli(['--db', dir, 'store', '--text', 'creates the store'])).code, 0);
  const holder = await new StoreLock(dir).acquire('held while the CLI writes', 1000);
  try {
    const started = Date.now();
    const run = await cli(['--db', dir, '--lock-timeout', '300', '--json', 'store', '--text', 'waits 300 ms at most']);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /E_LOCK_TIMEOUT/);
    assert.ok(Date.now() - started < 4000);
  } finally {
    await holder.release();
  }
  const bad = await cli(['--db', dir, '--lock-stale', '10', 'stats']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--lock-stale: must be an integer from 2000/);
});
