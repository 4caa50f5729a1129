import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { RemoteStoreError } from '../../src/core/errors';
import { parseStoreLocation } from '../../src/core/store/location';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { cli } from '../helpers/cli';
import { startEmulators, type Emulators } from '../helpers/emulators';
import { deferCleanup, tempDir, vec } from '../helpers/tempStore';

async function emulators(t: TestContext): Promise<Emulators> {
  const emu = await startEmulators();
  deferCleanup(t, () => emu.close());
  return emu;
}

/** Every object key in the bucket under `prefix` (what a refused open must leave untouched). */
async function keysUnder(emu: Emulators, prefix: string): Promise<string[]> {
  const s3 = new S3Client({ region: 'us-east-1', endpoint: emu.s3Endpoint, forcePathStyle: true, credentials: { accessKeyId: emu.env.AWS_ACCESS_KEY_ID!, secretAccessKey: emu.env.AWS_SECRET_ACCESS_KEY! } });
  try {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: emu.bucket, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key!);
  } finally {
    s3.destroy();
  }
}

function machineEnv(t: TestContext, emu: Emulators): Record<string, string> {
  return { ...emu.env, MEMORY_LANE_STATE_DIR: tempDir(t, 'ml-state-') };
}

test('store-init creates the DynamoDB commit table; the store then opens, stores, and stats and verify report it as remote', async (t) => {
  const emu = await emulators(t);
  const env = machineEnv(t, emu);
  const uri = `s3+ddb://${emu.bucket}/team-a?ddbTableName=memlane_commits`;
  const init = await cli(['store-init', uri, '--json'], { env });
  assert.equal(init.code, 0, init.stderr);
  assert.deepEqual(init.json, { uri, table: 'memlane_commits', created: true });
  const again = await cli(['store-init', uri, '--json'], { env });
  assert.equal(again.json.created, false, 'a second store-init finds the table and changes nothing');

  const stored = await cli(['--db', uri, 'store', '--text', 'the team deploys on Fridays', '--json'], { env });
  assert.equal(stored.code, 0, stored.stderr);
  const stats = await cli(['--db', uri, 'stats', '--json'], { env });
  assert.equal(stats.code, 0, stats.stderr);
  assert.equal(stats.json.rows, 1);
  assert.equal(stats.json.dir, uri);
  assert.equal(stats.json.remote.coordination, 'dynamodb');
  assert.equal(stats.json.remote.table, 'memlane_commits');
  assert.equal(stats.json.remote.endpoint, emu.s3Endpoint);
  assert.ok(stats.json.diskBytes > 0, 'the remote table size is reported');
  // This machine's files live in its state folder, keyed by the URI; none in the bucket.
  const stateDir = parseStoreLocation(uri, 'test', env).stateDir;
  assert.equal(stats.json.remote.stateDir, stateDir);
  assert.ok(stateDir.startsWith(env.MEMORY_LANE_STATE_DIR!), stateDir);
  assert.ok(existsSync(stateDir), 'the state folder (lock, dead letters, pins) is made on open');
  const keys = await keysUnder(emu, 'team-a/');
  assert.ok(keys.some((k) => k.startsWith('team-a/memories.lance/')), keys.join(','));
  assert.ok(!keys.some((k) => /\.lock|owner|dead-letter|readers/.test(k)), `no per-machine file in the bucket: ${keys.join(',')}`);

  const verify = await cli(['--db', uri, 'verify', '--json'], { env });
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal(verify.json.ok, true);
  assert.equal(verify.json.rows, 1);
  const recall = await cli(['--db', uri, 'recall', 'when does the team deploy', '--json'], { env });
  assert.equal(recall.code, 0, recall.stderr);
  assert.match(JSON.stringify(recall.json), /Fridays/);
});

test('a missing DynamoDB table is a clear error naming ddbTableName and store-init; nothing is written', async (t) => {
  const emu = await emulators(t);
  const env = machineEnv(t, emu);
  const uri = `s3+ddb://${emu.bucket}/nowhere?ddbTableName=no_such_table`;
  const run = await cli(['--db', uri, 'store', '--text', 'hello', '--json'], { env });
  assert.equal(run.code, 1);
  assert.equal(run.json.error.code, 'E_REMOTE_STORE');
  assert.equal(run.json.error.setting, 'ddbTableName');
  assert.match(run.json.error.message, /no_such_table.*does not exist.*memory-lane store-init/);
  assert.deepEqual(await keysUnder(emu, 'nowhere/'), []);
});

test('plain s3:// on an endpoint that ignores If-None-Match is refused with the fix named, and nothing is written', async (t) => {
  const emu = await emulators(t);
  const uri = `s3://${emu.bucket}/plain`;
  await assert.rejects(
    MemoryStore.open(uri, { dim: 8, env: machineEnv(t, emu) }),
    (err: unknown) => err instanceof RemoteStoreError && /ignores conditional writes/.test(err.message) && err.message.includes(`s3+ddb://${emu.bucket}/plain?ddbTableName=`),
  );
  assert.deepEqual(await keysUnder(emu, 'plain'), [], 'neither the store nor the probe object is left');
  const run = await cli(['--db', uri, 'store', '--text', 'x', '--json'], { env: machineEnv(t, emu) });
  assert.equal(run.code, 1);
  assert.equal(run.json.error.code, 'E_REMOTE_STORE');
  assert.deepEqual(await keysUnder(emu, 'plain'), []);
});

test('missing credentials and bad endpoints are errors naming the setting; secrets never reach errors, logs or --json', async (t) => {
  const emu = await emulators(t);
  const uri = `s3+ddb://${emu.bucket}/creds?ddbTableName=memlane_commits`;
  const state = tempDir(t, 'ml-state-');
  const bare = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', MEMORY_LANE_STATE_DIR: state, AWS_ENDPOINT_URL: emu.s3Endpoint, MEMORY_LANE_S3_ALLOW_HTTP: '1', MEMORY_LANE_DYNAMODB_ENDPOINT: emu.dynamoEndpoint };
  const noCreds = await cli(['--db', uri, 'stats', '--json'], { env: bare });
  assert.equal(noCreds.code, 1);
  assert.equal(noCreds.json.error.setting, 'AWS_ACCESS_KEY_ID');
  assert.match(noCreds.json.error.message, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);

  const http = await cli(['--db', uri, 'stats', '--json'], { env: { ...emu.env, MEMORY_LANE_STATE_DIR: state, MEMORY_LANE_S3_ALLOW_HTTP: '' } });
  assert.equal(http.json.error.setting, 'MEMORY_LANE_S3_ALLOW_HTTP');

  // A secret that would be easy to spot; the DynamoDB endpoint points at a closed port so the SDK fails.
  const secret = 'SeCrEt-9f8e7d6c5b4a-do-not-print';
  const token = 'ToKeN-1234567890-do-not-print';
  const leaky = { ...emu.env, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token, MEMORY_LANE_STATE_DIR: state, MEMORY_LANE_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9', MEMORY_LANE_LOG: 'debug' };
  const failed = await cli(['--db', uri, '-v', 'stats', '--json'], { env: leaky });
  assert.equal(failed.code, 1);
  assert.equal(failed.json.error.code, 'E_REMOTE_STORE');
  assert.equal(failed.json.error.setting, 'MEMORY_LANE_DYNAMODB_ENDPOINT');
  for (const text of [failed.stdout, failed.stderr]) {
    assert.ok(!text.includes(secret) && !text.includes(token), `a secret leaked: ${text}`);
  }
});

test('plain s3:// on an endpoint that honours If-None-Match opens after the probe, and concurrent machines lose nothing', async (t) => {
  const emu = await startEmulators('team', { honourIfNoneMatch: true });
  deferCleanup(t, () => emu.close());
  const uri = `s3://${emu.bucket}/conditional`;
  const env = { ...emu.env, MEMORY_LANE_STATE_DIR: tempDir(t, 'ml-state-') };
  const store = await MemoryStore.open(uri, { dim: 8, env, maintenance: { auto: false } });
  deferCleanup(t, () => store.close());
  assert.equal(store.remoteStatus?.coordination, 'conditional-put');
  assert.ok(!(await keysUnder(emu, 'conditional/')).some((k) => k.includes('.memory-lane-probe-')), 'the probe object is removed');
  // Two stores with separate state folders (so separate locks) storing at once: Lance's conditional
  // manifest PUT is the only thing keeping their commits apart, and must.
  const other = await MemoryStore.open(uri, { dim: 8, env: { ...emu.env, MEMORY_LANE_STATE_DIR: tempDir(t, 'ml-other-') }, maintenance: { auto: false } });
  deferCleanup(t, () => other.close());
  const ids = (m: string) => Array.from({ length: 20 }, (_, i) => `${m}-${i}`);
  await Promise.all([store, other].map((s, k) => Promise.all(ids(`m${k}`).map((id, i) => s.insert([{ id, text: `fact ${id}`, vector: vec(i) }])))));
  const check = await MemoryStore.open(uri, { dim: 8, env, maintenance: { auto: false } });
  deferCleanup(t, () => check.close());
  assert.equal((await check.getMany([...ids('m0'), ...ids('m1')])).size, 40, 'every acknowledged store is there');
  assert.equal(await check.count(), 40);
});
