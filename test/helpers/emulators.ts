import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Both emulators are plain JS servers from npm; they run inside the test process on 127.0.0.1.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite');

/** Credentials the emulators accept (any non-empty pair); never real ones. */
export const EMULATOR_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' } as const;

export interface Emulators {
  s3Endpoint: string;
  dynamoEndpoint: string;
  bucket: string;
  /** The environment a "machine" needs to reach the emulators (plus its own MEMORY_LANE_STATE_DIR). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts s3rver (S3; ignores `If-None-Match`, as measured in docs/team-store.md) and dynalite
 * (DynamoDB) on random 127.0.0.1 ports, with one bucket. Data lives in a temp folder removed on close.
 */
export async function startEmulators(bucket = 'team'): Promise<Emulators> {
  const directory = mkdtempSync(join(tmpdir(), 'ml-s3rver-'));
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const { port: s3Port } = (await s3.run()) as AddressInfo;
  const ddb = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => ddb.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve())));
  const ddbPort = (ddb.address() as AddressInfo).port;
  const s3Endpoint = `http://127.0.0.1:${s3Port}`;
  const dynamoEndpoint = `http://127.0.0.1:${ddbPort}`;
  return {
    s3Endpoint,
    dynamoEndpoint,
    bucket,
    env: { ...EMULATOR_CREDENTIALS, AWS_ENDPOINT_URL: s3Endpoint, MEMORY_LANE_S3_ALLOW_HTTP: '1', MEMORY_LANE_DYNAMODB_ENDPOINT: dynamoEndpoint },
    async close() {
      await new Promise<void>((resolve) => ddb.close(() => resolve()));
      await s3.close();
      rmSync(directory, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
}
