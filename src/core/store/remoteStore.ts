import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { RemoteStoreError, errorMessage } from '../errors';
import type { RemoteStoreLocation } from './location';

/**
 * Connecting to a remote store: LanceDB's storage options from settings and the environment, and
 * the checks that refuse what would lose writes (docs/team-store.md#what-memory-lane-does-about-it).
 * Credentials come only from the environment or the editor's SecretStorage, never from settings,
 * and never appear in errors or logs (`redactRemoteSecrets`).
 */

export interface RemoteCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What a person may set besides the URI (editor settings or the environment). No secrets here. */
export interface RemoteConnectionSettings {
  /** S3-compatible endpoint (`AWS_ENDPOINT_URL`, `memoryLane.remote.endpoint`); AWS's own when unset. */
  endpoint?: string;
  region?: string;
  /** Plain http to the endpoint (emulators, a local MinIO): `MEMORY_LANE_S3_ALLOW_HTTP=1`. */
  allowHttp?: boolean;
  /** DynamoDB endpoint for s3+ddb:// (`MEMORY_LANE_DYNAMODB_ENDPOINT`); AWS's own when unset. */
  dynamodbEndpoint?: string;
  /** From SecretStorage (the editor); otherwise the environment's AWS_* variables. */
  credentials?: RemoteCredentials;
}

/** The resolved connection, with where each value came from for error messages. */
export interface RemoteConnection extends RemoteConnectionSettings {
  region: string;
  /** How views show the endpoint (no credentials, no query). */
  endpointLabel: string;
}

const DEFAULT_REGION = 'us-east-1';

/** Settings over the environment; credentials: given (SecretStorage) over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. */
export function resolveRemoteConnection(location: RemoteStoreLocation, settings: RemoteConnectionSettings = {}, env: NodeJS.ProcessEnv = process.env): RemoteConnection {
  const pick = (a: string | undefined, b: string | undefined) => (a?.trim() || b?.trim() || undefined);
  const endpoint = pick(settings.endpoint, env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL);
  const dynamodbEndpoint = pick(settings.dynamodbEndpoint, env.MEMORY_LANE_DYNAMODB_ENDPOINT ?? env.AWS_ENDPOINT_URL_DYNAMODB);
  for (const [name, value] of [['AWS_ENDPOINT_URL (or memoryLane.remote.endpoint)', endpoint], ['MEMORY_LANE_DYNAMODB_ENDPOINT (or memoryLane.remote.dynamodbEndpoint)', dynamodbEndpoint]] as const) {
    if (value && !/^https?:\/\/[^\s/?#@]+(\/[^\s?#]*)?$/i.test(value)) throw new RemoteStoreError(name.split(' ')[0]!, `${name} must be an http(s) URL without credentials, got ${JSON.stringify(value.replace(/\/\/[^/@]*@/, '//[redacted]@'))}`);
  }
  const allowHttp = settings.allowHttp ?? (env.MEMORY_LANE_S3_ALLOW_HTTP === '1' || env.MEMORY_LANE_S3_ALLOW_HTTP === 'true');
  for (const [name, value] of [['AWS_ENDPOINT_URL', endpoint], ['MEMORY_LANE_DYNAMODB_ENDPOINT', dynamodbEndpoint]] as const) {
    if (value?.toLowerCase().startsWith('http://') && !allowHttp) {
      throw new RemoteStoreError('MEMORY_LANE_S3_ALLOW_HTTP', `${name} is plain http; set MEMORY_LANE_S3_ALLOW_HTTP=1 (or memoryLane.remote.allowHttp) to allow it (emulators only: credentials travel unencrypted)`);
    }
  }
  const region = pick(settings.region, env.AWS_REGION ?? env.AWS_DEFAULT_REGION) ?? DEFAULT_REGION;
  let credentials = settings.credentials;
  if (!credentials && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
  }
  const usesAws = location.scheme === 's3' || location.scheme === 's3+ddb';
  // A profile, web identity or container role is resolved by the SDKs' default chain from the environment.
  const chain = !!(env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE || env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI);
  if (usesAws && !credentials && !chain) {
    throw new RemoteStoreError('AWS_ACCESS_KEY_ID', `No credentials for ${location.label}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment, or run "Memory Lane: Set Store Credentials" in the editor`);
  }
  if (credentials && (!credentials.accessKeyId.trim() || !credentials.secretAccessKey.trim())) {
    throw new RemoteStoreError('AWS_SECRET_ACCESS_KEY', `Incomplete credentials for ${location.label}: both the access key id and the secret access key are needed`);
  }
  return {
    ...(endpoint ? { endpoint } : {}),
    region,
    allowHttp,
    ...(dynamodbEndpoint ? { dynamodbEndpoint } : {}),
    ...(credentials ? { credentials } : {}),
    endpointLabel: endpoint ? endpoint.replace(/\/+$/, '') : location.scheme.startsWith('s3') ? `AWS S3 (${region})` : location.scheme === 'gs' ? 'Google Cloud Storage' : 'Azure Blob Storage',
  };
}

/** LanceDB's `storageOptions` for the connection (names verified in docs/team-store.md#what-memory-lane-does-about-it). */
export function lanceStorageOptions(location: RemoteStoreLocation, conn: RemoteConnection): Record<string, string> {
  if (location.scheme !== 's3' && location.scheme !== 's3+ddb') return {};
  return {
    region: conn.region,
    ...(conn.endpoint ? { aws_endpoint: conn.endpoint } : {}),
    ...(conn.allowHttp ? { allow_http: 'true' } : {}),
    ...(conn.dynamodbEndpoint ? { dynamodb_endpoint: conn.dynamodbEndpoint } : {}),
    ...(conn.credentials ? { aws_access_key_id: conn.credentials.accessKeyId, aws_secret_access_key: conn.credentials.secretAccessKey } : {}),
    ...(conn.credentials?.sessionToken ? { aws_session_token: conn.credentials.sessionToken } : {}),
  };
}

/** Removes the connection's secrets from a text (an SDK's or LanceDB's error message) before anyone sees it. */
export function redactRemoteSecrets(text: string, conn: Pick<RemoteConnection, 'credentials'> | undefined): string {
  let out = text;
  const secrets = [conn?.credentials?.secretAccessKey, conn?.credentials?.sessionToken, conn?.credentials?.accessKeyId].filter((s): s is string => !!s && s.length >= 4);
  for (const s of secrets) for (const form of new Set([s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1)])) out = out.split(form).join('[redacted]');
  return out.replace(/(aws_secret_access_key|aws_session_token|secretAccessKey|sessionToken)(["']?\s*[:=]\s*["']?)[^"',\s}]+/gi, '$1$2[redacted]');
}

/** An error whose message (and cause's) carries no secret of the connection. */
function remoteError(setting: string, message: string, err: unknown, conn: RemoteConnection): RemoteStoreError {
  return new RemoteStoreError(setting, redactRemoteSecrets(`${message}: ${errorMessage(err)}`, conn));
}

function awsClientConfig(conn: RemoteConnection, endpoint: string | undefined) {
  return {
    region: conn.region,
    ...(endpoint ? { endpoint } : {}),
    ...(conn.credentials ? { credentials: { ...conn.credentials } } : {}),
    maxAttempts: 2,
  };
}

function s3Client(conn: RemoteConnection): S3Client {
  // A custom endpoint (MinIO, an emulator) rarely resolves bucket subdomains: path-style addressing.
  return new S3Client({ ...awsClientConfig(conn, conn.endpoint), ...(conn.endpoint ? { forcePathStyle: true } : {}) });
}

function dynamoClient(conn: RemoteConnection): DynamoDBClient {
  return new DynamoDBClient(awsClientConfig(conn, conn.dynamodbEndpoint));
}

/** The key schema LanceDB's DynamoDB commit store needs (docs/team-store.md#what-it-does). */
const DDB_KEYS = [{ AttributeName: 'base_uri', KeyType: 'HASH' }, { AttributeName: 'version', KeyType: 'RANGE' }] as const;

const verified = new Map<string, Promise<void>>();

/**
 * Before LanceDB touches a remote store: refuses it unless concurrent commits from other machines
 * are safe. s3+ddb://: the DynamoDB table must exist with LanceDB's keys. s3://: the endpoint must
 * honour `If-None-Match: *` (the probe). gs:// and az://: the services enforce preconditions. Once
 * per process and store; a failure is not cached (the person may fix it and retry).
 */
export function verifyRemoteStore(location: RemoteStoreLocation, conn: RemoteConnection): Promise<void> {
  const key = `${location.uri}|${conn.endpoint ?? ''}|${conn.dynamodbEndpoint ?? ''}`;
  let pending = verified.get(key);
  if (!pending) {
    pending = (location.scheme === 's3+ddb' ? checkDynamoTable(location, conn) : location.scheme === 's3' ? probeConditionalPut(location, conn) : Promise.resolve());
    verified.set(key, pending);
    pending.catch(() => verified.delete(key));
  }
  return pending;
}

async function checkDynamoTable(location: RemoteStoreLocation, conn: RemoteConnection): Promise<void> {
  const client = dynamoClient(conn);
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: location.ddbTableName! }));
    const keys = (Table?.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).sort().join(',');
    if (keys !== DDB_KEYS.map((k) => `${k.AttributeName}:${k.KeyType}`).sort().join(',')) {
      throw new RemoteStoreError('ddbTableName', `The DynamoDB table "${location.ddbTableName}" has the keys ${keys || 'none'}, not LanceDB's base_uri (S, HASH) and version (N, RANGE); name another table in ?ddbTableName=, or let "memory-lane store-init" create one`);
    }
  } catch (err) {
    if (err instanceof RemoteStoreError) throw err;
    if ((err as { name?: string }).name === 'ResourceNotFoundException') {
      throw new RemoteStoreError('ddbTableName', `The DynamoDB table "${location.ddbTableName}" (from ?ddbTableName= in ${location.label}) does not exist; create it with: memory-lane store-init "${location.uri}"`);
    }
    throw remoteError('MEMORY_LANE_DYNAMODB_ENDPOINT', `Cannot reach DynamoDB for ${location.label} at ${conn.dynamodbEndpoint ?? `AWS (${conn.region})`}`, err, conn);
  } finally {
    client.destroy();
  }
}

/**
 * Two PUTs of one fresh key with `If-None-Match: *`: the second must be refused (412; some stores
 * answer 409 or 304). The probe object is deleted again either way, so a refused store is left as it was.
 */
async function probeConditionalPut(location: RemoteStoreLocation, conn: RemoteConnection): Promise<void> {
  const client = s3Client(conn);
  const Key = `${location.prefix ? `${location.prefix}/` : ''}.memory-lane-probe-${randomUUID()}`;
  let honoured = false;
  let wrote = false;
  try {
    try {
      await client.send(new PutObjectCommand({ Bucket: location.bucket, Key, Body: 'probe', IfNoneMatch: '*' }));
      wrote = true;
    } catch (err) {
      throw remoteError('AWS_ENDPOINT_URL', `Cannot write to ${location.label} at ${conn.endpointLabel}`, err, conn);
    }
    try {
      await client.send(new PutObjectCommand({ Bucket: location.bucket, Key, Body: 'probe again', IfNoneMatch: '*' }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409 || status === 304) honoured = true;
      else throw remoteError('AWS_ENDPOINT_URL', `The conditional-write probe on ${location.label} failed`, err, conn);
    }
  } finally {
    if (wrote) await client.send(new DeleteObjectCommand({ Bucket: location.bucket, Key })).catch(() => undefined);
    client.destroy();
  }
  if (!honoured) {
    throw new RemoteStoreError('storePath', `Refusing ${location.label}: the endpoint ${conn.endpointLabel} ignores conditional writes (If-None-Match), so commits from two machines would silently overwrite each other and lose memories. Use a DynamoDB commit store instead: s3+ddb://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}?ddbTableName=TABLE (create the table with "memory-lane store-init")`);
  }
}

export interface RemoteInitResult {
  uri: string;
  table?: string;
  created: boolean;
}

/** `memory-lane store-init`: creates the DynamoDB commit table of an s3+ddb:// store when missing (on-demand billing). */
export async function initRemoteStore(location: RemoteStoreLocation, conn: RemoteConnection): Promise<RemoteInitResult> {
  if (location.scheme !== 's3+ddb') {
    await verifyRemoteStore(location, conn);
    return { uri: location.uri, created: false };
  }
  const client = dynamoClient(conn);
  const TableName = location.ddbTableName!;
  try {
    try {
      await client.send(new DescribeTableCommand({ TableName }));
      await checkDynamoTable(location, conn);
      return { uri: location.uri, table: TableName, created: false };
    } catch (err) {
      if ((err as { name?: string }).name !== 'ResourceNotFoundException') throw err;
    }
    try {
      await client.send(new CreateTableCommand({
        TableName,
        AttributeDefinitions: [{ AttributeName: 'base_uri', AttributeType: 'S' }, { AttributeName: 'version', AttributeType: 'N' }],
        KeySchema: [...DDB_KEYS],
        BillingMode: 'PAY_PER_REQUEST',
      }));
    } catch (err) {
      // Another machine ran store-init at the same moment: its table is as good as ours.
      if ((err as { name?: string }).name !== 'ResourceInUseException') throw err;
    }
    await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName });
    return { uri: location.uri, table: TableName, created: true };
  } catch (err) {
    if (err instanceof RemoteStoreError) throw err;
    throw remoteError('MEMORY_LANE_DYNAMODB_ENDPOINT', `Cannot create the DynamoDB table "${TableName}"`, err, conn);
  } finally {
    client.destroy();
  }
}
