import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ValidationError } from '../../src/core/errors';
import { parseStoreLocation, stateDirFor } from '../../src/core/store/location';
import { lanceStorageOptions, redactRemoteSecrets, resolveRemoteConnection } from '../../src/core/store/remoteStore';
import { RemoteStoreError } from '../../src/core/errors';
import type { RemoteStoreLocation } from '../../src/core/store/location';

test('a folder keeps its state in the store folder (nothing moves); a URI gets a per-machine state folder keyed by it', () => {
  const folder = parseStoreLocation('/tmp/some/../store', '--db', {});
  assert.deepEqual(folder, { kind: 'folder', uri: '/tmp/store', label: '/tmp/store', stateDir: '/tmp/store' });
  const remote = parseStoreLocation('s3+ddb://bucket/team/mem/?ddbTableName=commits', '--db', {}) as RemoteStoreLocation;
  assert.equal(remote.kind, 'remote');
  assert.equal(remote.uri, 's3+ddb://bucket/team/mem?ddbTableName=commits');
  assert.equal(remote.bucket, 'bucket');
  assert.equal(remote.prefix, 'team/mem');
  assert.equal(remote.ddbTableName, 'commits');
  assert.equal(remote.coordination, 'dynamodb');
  assert.ok(remote.stateDir.startsWith(join(homedir(), '.memory-lane', 'state', 'bucket_team_mem-')), remote.stateDir);
  assert.equal(parseStoreLocation('s3://bucket/x', '--db', { MEMORY_LANE_STATE_DIR: '/var/ml' }).stateDir.startsWith('/var/ml/bucket_x-'), true);
  assert.notEqual(stateDirFor('s3://b/x', {}), stateDirFor('s3://b/y', {}), 'two stores never share a lock');
  assert.equal((parseStoreLocation('gs://b/p', 'x', {}) as RemoteStoreLocation).coordination, 'conditional-put');
});

test('bad store locations are errors naming where they came from', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['ftp://bucket/x', '--db', /unsupported scheme "ftp:\/\/"/],
    ['s3+ddb://bucket/x', 'MEMORY_LANE_DB', /exactly one query, the DynamoDB table/],
    ['s3+ddb://bucket/x?ddbTableName=ab', '--db', /invalid DynamoDB table name/],
    ['s3+ddb://bucket/x?ddbTableName=t1&x=1', '--db', /exactly one query/],
    ['s3://bucket/x?region=eu', '--db', /takes no query/],
    ['s3://key:secret@bucket/x', 'memoryLane.storePath', /must not carry credentials/],
    ['s3:///x', '--db', /names no bucket|not a valid URI/],
    ['s3://bucket/a/../b', '--db', /"\." or "\.\."/],
    ['file:///tmp/x', '--db', /folder itself/],
    ['relative/folder', 'memoryLane.storePath', /relative path/],
  ];
  for (const [value, source, message] of cases) {
    assert.throws(() => parseStoreLocation(value, source, {}, { relative: 'refuse' }), (err: unknown) => err instanceof ValidationError && err.field === source && message.test(err.message), value);
  }
  // The rejected credentials are not repeated in the message.
  assert.throws(() => parseStoreLocation('s3://key:secret@bucket/x', '--db', {}), (err: unknown) => !(err as Error).message.includes('secret'));
});

test('connection options: settings over the environment, LanceDB option names, credentials required and redacted', () => {
  const loc = parseStoreLocation('s3+ddb://b/p?ddbTableName=tbl', '--db', {}) as RemoteStoreLocation;
  const env = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'very-secret-key', AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:4568', MEMORY_LANE_S3_ALLOW_HTTP: '1', MEMORY_LANE_DYNAMODB_ENDPOINT: 'http://127.0.0.1:4567' };
  const conn = resolveRemoteConnection(loc, {}, env);
  assert.deepEqual(lanceStorageOptions(loc, conn), {
    region: 'eu-west-1', aws_endpoint: 'http://127.0.0.1:4568', allow_http: 'true', dynamodb_endpoint: 'http://127.0.0.1:4567',
    aws_access_key_id: 'AKIAEXAMPLE', aws_secret_access_key: 'very-secret-key',
  });
  const fromSettings = resolveRemoteConnection(loc, { region: 'us-west-2', credentials: { accessKeyId: 'AKIAOTHER', secretAccessKey: 'other-secret' } }, env);
  assert.equal(fromSettings.region, 'us-west-2');
  assert.equal(fromSettings.credentials!.secretAccessKey, 'other-secret', 'SecretStorage credentials win over the environment');
  assert.throws(() => resolveRemoteConnection(loc, {}, { AWS_REGION: 'eu-west-1' }), (e: unknown) => e instanceof RemoteStoreError && e.setting === 'AWS_ACCESS_KEY_ID');
  assert.throws(() => resolveRemoteConnection(loc, {}, { ...env, MEMORY_LANE_S3_ALLOW_HTTP: '' }), (e: unknown) => e instanceof RemoteStoreError && e.setting === 'MEMORY_LANE_S3_ALLOW_HTTP');
  assert.throws(() => resolveRemoteConnection(loc, {}, { ...env, AWS_ENDPOINT_URL: 'not a url' }), (e: unknown) => e instanceof RemoteStoreError && e.setting === 'AWS_ENDPOINT_URL');
  const text = redactRemoteSecrets('failed: aws_secret_access_key=very-secret-key key AKIAEXAMPLE "secretAccessKey":"x"', conn);
  assert.ok(!text.includes('very-secret-key') && !text.includes('AKIAEXAMPLE'), text);
});
