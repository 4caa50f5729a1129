import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Both emulators are plain JS servers from npm; they run inside the test process on 127.0.0.1.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite');

// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3Error = require('s3rver/lib/models/error');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ALLOWED_METADATA } = require('s3rver/lib/models/object') as { ALLOWED_METADATA: string[] };

/**
 * s3rver writes an object in place (and fs-extra's copy unlinks the target first), so a HEAD during
 * an overwrite or a CopyObject answers 404 — and a copy whose source vanishes midway leaves the target
 * gone for good. Real S3 replaces objects atomically, and Lance relies on that when a reader and a
 * writer both finalize a DynamoDB-committed manifest (docs/team-store.md#commits-from-several-machines).
 * Each file is written to a temp name and renamed, as real S3's atomic replacement behaves.
 */
function makeWritesAtomic(store: any): void {
  const write = async (file: string, data: Buffer | string) => {
    const tmp = `${file}.${randomUUID()}.tmp`;
    await fs.mkdir(join(file, '..'), { recursive: true });
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  };
  const readAll = async (files: string[]) => {
    try {
      return await Promise.all(files.map((f) => fs.readFile(f)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new S3Error('NoSuchKey', 'The specified key does not exist.', {});
      throw err;
    }
  };
  store.putMetadata = async function putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string) {
    const pick = Object.fromEntries(Object.entries(metadata ?? {}).filter(([k]) => k.startsWith('x-amz-meta-') || ALLOWED_METADATA.includes(k)));
    if (md5) await write(this.getResourcePath(bucket, key, 'object.md5'), md5);
    await write(this.getResourcePath(bucket, key, 'metadata.json'), JSON.stringify(pick, null, 2));
  };
  store.putObject = async function putObject(object: { bucket: string; key: string; content: Buffer | NodeJS.ReadableStream; metadata: Record<string, string> }) {
    let content: Buffer;
    if (Buffer.isBuffer(object.content)) content = object.content;
    else {
      const chunks: Buffer[] = [];
      for await (const chunk of object.content as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
      content = Buffer.concat(chunks);
    }
    const md5 = createHash('md5').update(content).digest('hex');
    await write(this.getResourcePath(object.bucket, object.key, 'object'), content);
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size: content.length, md5 };
  };
  store.copyObject = async function copyObject(srcBucket: string, srcKey: string, destBucket: string, destKey: string, replacementMetadata: Record<string, string> | null) {
    const [object, md5, metadata] = await readAll(['object', 'object.md5', 'metadata.json'].map((kind) => this.getResourcePath(srcBucket, srcKey, kind)));
    await write(this.getResourcePath(destBucket, destKey, 'object'), object!);
    if (replacementMetadata) await this.putMetadata(destBucket, destKey, replacementMetadata, md5!.toString());
    else {
      await write(this.getResourcePath(destBucket, destKey, 'object.md5'), md5!);
      await write(this.getResourcePath(destBucket, destKey, 'metadata.json'), metadata!);
    }
    return this.getMetadata(destBucket, destKey);
  };
}

/**
 * What AWS S3 does since August 2024 and s3rver does not: a PUT with `If-None-Match: *` on a key
 * that exists fails with 412. First in s3rver's (Koa) middleware chain, checked and written under one
 * promise chain per key so that two racing PUTs cannot both pass the check.
 */
function honourIfNoneMatch(s3: any): void {
  const chains = new Map<string, Promise<unknown>>();
  s3.middleware.unshift(async (ctx: any, next: () => Promise<void>) => {
    if (ctx.method !== 'PUT' || ctx.get('if-none-match') !== '*' || ctx.get('x-amz-copy-source')) return next();
    const [, bucket, ...rest] = decodeURIComponent(ctx.path).split('/');
    const key = rest.join('/');
    const run = (chains.get(`${bucket}/${key}`) ?? Promise.resolve()).then(async () => {
      if (await s3.store.existsObject(bucket, key)) {
        ctx.status = 412;
        ctx.type = 'application/xml';
        ctx.body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>';
        return;
      }
      await next();
    });
    chains.set(`${bucket}/${key}`, run.catch(() => undefined));
    await run;
  });
}

/** Credentials the emulators accept (any non-empty pair); never real ones. */
export const EMULATOR_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' } as const;

export interface Emulators {
  s3Endpoint: string;
  dynamoEndpoint: string;
  bucket: string;
  /** The environment a "machine" needs to reach the emulators (plus its own MEMORY_LANE_STATE_DIR). */
  env: Record<string, string>;
  /** Requests served so far: S3 by HTTP method (COPY for a CopyObject), DynamoDB by operation. */
  requests(): { s3: Record<string, number>; dynamo: Record<string, number> };
  close(): Promise<void>;
}

/**
 * Starts s3rver (S3; ignores `If-None-Match`, as measured in docs/team-store.md) and dynalite
 * (DynamoDB) on random 127.0.0.1 ports, with one bucket. Data lives in a temp folder removed on close.
 */
export async function startEmulators(bucket = 'team', options: { honourIfNoneMatch?: boolean } = {}): Promise<Emulators> {
  const directory = mkdtempSync(join(tmpdir(), 'ml-s3rver-'));
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  makeWritesAtomic(s3.store);
  if (options.honourIfNoneMatch) honourIfNoneMatch(s3);
  const { port: s3Port } = (await s3.run()) as AddressInfo;
  const counts = { s3: {} as Record<string, number>, dynamo: {} as Record<string, number> };
  const bump = (into: Record<string, number>, key: string) => { into[key] = (into[key] ?? 0) + 1; };
  s3.httpServer.on('request', (req: import('node:http').IncomingMessage) => bump(counts.s3, req.headers['x-amz-copy-source'] ? 'COPY' : req.method ?? '?'));
  const ddb = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => ddb.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve())));
  const ddbPort = (ddb.address() as AddressInfo).port;
  ddb.on('request', (req: import('node:http').IncomingMessage) => bump(counts.dynamo, String(req.headers['x-amz-target'] ?? '?').replace(/^DynamoDB_\d+\./, '')));
  const s3Endpoint = `http://127.0.0.1:${s3Port}`;
  const dynamoEndpoint = `http://127.0.0.1:${ddbPort}`;
  return {
    s3Endpoint,
    dynamoEndpoint,
    bucket,
    env: { ...EMULATOR_CREDENTIALS, AWS_ENDPOINT_URL: s3Endpoint, MEMORY_LANE_S3_ALLOW_HTTP: '1', MEMORY_LANE_DYNAMODB_ENDPOINT: dynamoEndpoint },
    requests: () => ({ s3: { ...counts.s3 }, dynamo: { ...counts.dynamo } }),
    async close() {
      await new Promise<void>((resolve) => ddb.close(() => resolve()));
      await s3.close();
      rmSync(directory, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
}
