// The team store on emulators: `npm run bench:remote [-- --stores 200 --recalls 100 --writes 120]`.
// Protocol (docs/team-store.md): s3rver + dynalite on 127.0.0.1 in this process (s3rver's writes
// made atomic, test/helpers/emulators.ts), the store at s3+ddb://…?ddbTableName=…, against a local
// folder store, alternating the two in rounds within one run:
//  1. store latency: `stores` single-memory inserts one after another (the commit path, no embedder);
//  2. recall latency: `recalls` hybrid recalls (local embedder) over the memories stored in 1;
//  3. commit conflicts per 1,000 writes with 2, 4 and 8 "machines" (processes with their own state
//     folder, bench/workers/remoteMachine.ts), each making `writes` operations 4 at a time, half
//     stores, half increments of 5 shared rows.
// Emulators answer in well under a millisecond on loopback; real S3 and DynamoDB do not (see
// BENCHMARKS.md, "Team store", for what changes there).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryService } from '../src/core/memoryService';
import { initRemoteStore, resolveRemoteConnection } from '../src/core/store/remoteStore';
import { parseStoreLocation, type RemoteStoreLocation } from '../src/core/store/location';
import { MemoryStore } from '../src/core/store/memoryStore';
import { startEmulators } from '../test/helpers/emulators';
import { numberArg, percentile, RESULTS_DIR, writeFigures } from './lib/env';

const STORES = numberArg('stores', 200);
const RECALLS = numberArg('recalls', 100);
const WRITES = numberArg('writes', 120);
const ROUNDS = 2;
const r1 = (x: number) => Math.round(x * 10) / 10;
const vector = (seed: number) => Array.from({ length: 384 }, (_, i) => Math.sin(seed * 7.31 + i * 1.7));

async function storeLatency(dir: string, env: NodeJS.ProcessEnv, offset: number): Promise<number[]> {
  const store = await MemoryStore.open(dir, { dim: 384, env, maintenance: { auto: false } });
  const ms: number[] = [];
  try {
    for (let i = 0; i < STORES; i++) {
      const t0 = performance.now();
      await store.insert([{ id: `m-${offset + i}`, text: `bench memory ${offset + i} about topic ${i % 17}`, vector: vector(offset + i) }]);
      ms.push(performance.now() - t0);
    }
  } finally {
    await store.close();
  }
  return ms;
}

type Requests = { s3: Record<string, number>; dynamo: Record<string, number> };

async function recallLatency(dir: string, count?: () => Requests): Promise<{ ms: number[]; before?: Requests; after?: Requests }> {
  const service = await MemoryService.open({ dir, embedding: { kind: 'local' }, create: true, vectorIndex: { auto: false } });
  const ms: number[] = [];
  let before: Requests | undefined;
  let after: Requests | undefined;
  try {
    for (let i = 0; i < 30; i++) await service.store({ text: `a team fact number ${i} about deployment topic ${i % 7}`, force: true });
    await service.memoryStore.whenIdle();
    before = count?.();
    for (let i = 0; i < RECALLS; i++) {
      const t0 = performance.now();
      await service.recall(`deployment topic ${i % 7}`, { limit: 5 });
      ms.push(performance.now() - t0);
    }
    after = count?.();
  } finally {
    await service.close();
  }
  return { ms, ...(before ? { before } : {}), ...(after ? { after } : {}) };
}

function machine(uri: string, name: string, env: NodeJS.ProcessEnv): Promise<{ writes: number; commits: number; conflicts: number; failed: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'workers', 'remoteMachine.js'), JSON.stringify({ uri, machine: name, shared: ['s0', 's1', 's2', 's3', 's4'], count: WRITES, concurrency: 4 })], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`machine ${name} exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const emu = await startEmulators();
  const work = mkdtempSync(join(tmpdir(), 'ml-bench-remote-'));
  const env = { ...process.env, ...emu.env, MEMORY_LANE_STATE_DIR: join(work, 'state-main'), LANCEDB_LOG: 'error' };
  Object.assign(process.env, env);
  const loadStart = loadavg()[0]!;
  try {
    const uriOf = (name: string) => `s3+ddb://${emu.bucket}/${name}?ddbTableName=memlane_commits`;
    const location = parseStoreLocation(uriOf('latency'), 'bench') as RemoteStoreLocation;
    await initRemoteStore(location, resolveRemoteConnection(location, {}, env));

    // Requests per stored memory and per recall on the remote store (what real S3 and DynamoDB bill).
    const delta = (a: Record<string, number>, b: Record<string, number>, n: number) => Object.fromEntries(Object.keys(b).map((k) => [k, r1(((b[k] ?? 0) - (a[k] ?? 0)) / n)]).filter(([, v]) => (v as number) > 0));
    const local: number[] = [];
    const remote: number[] = [];
    let perStore: { s3: Record<string, number>; dynamo: Record<string, number> } | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      local.push(...(await storeLatency(join(work, 'local'), env, round * STORES)));
      const before = emu.requests();
      remote.push(...(await storeLatency(uriOf('latency'), env, round * STORES)));
      const after = emu.requests();
      // Includes opening and closing the store once per round: small against STORES writes.
      perStore = { s3: delta(before.s3, after.s3, STORES), dynamo: delta(before.dynamo, after.dynamo, STORES) };
    }
    const recallLocal = (await recallLatency(join(work, 'recall-local'))).ms;
    const remoteRun = await recallLatency(uriOf('recall'), () => emu.requests());
    const recallRemote = remoteRun.ms;
    // Recall bookkeeping (recall counts) commits in the background too: counted here, as it is billed.
    const perRecall = { s3: delta(remoteRun.before!.s3, remoteRun.after!.s3, RECALLS), dynamo: delta(remoteRun.before!.dynamo, remoteRun.after!.dynamo, RECALLS) };

    const conflicts: Array<{ machines: number; writes: number; commits: number; conflicts: number; failed: number; perThousandWrites: number; perHundredCommits: number; wallMs: number }> = [];
    for (const n of [2, 4, 8]) {
      const uri = uriOf(`conflicts-${n}`);
      const seed = await MemoryStore.open(uri, { dim: 8, env, maintenance: { auto: false } });
      await seed.insert(['s0', 's1', 's2', 's3', 's4'].map((id, i) => ({ id, text: `shared ${id}`, vector: Array.from({ length: 8 }, (_, k) => Math.cos(i + k)), metadata: { n: 0 } })));
      await seed.close();
      const t0 = Date.now();
      const runs = await Promise.all(Array.from({ length: n }, (_, k) => machine(uri, `m${k}`, { ...env, MEMORY_LANE_STATE_DIR: join(work, `state-${n}-${k}`) })));
      const sum = (f: (r: (typeof runs)[number]) => number) => runs.reduce((s, r) => s + f(r), 0);
      conflicts.push({
        machines: n, writes: sum((r) => r.writes), commits: sum((r) => r.commits), conflicts: sum((r) => r.conflicts), failed: sum((r) => r.failed),
        perThousandWrites: r1((1000 * sum((r) => r.conflicts)) / sum((r) => r.writes)), perHundredCommits: r1((100 * sum((r) => r.conflicts)) / sum((r) => r.commits)), wallMs: Date.now() - t0,
      });
    }
    const result = {
      at: new Date().toISOString(),
      load: { start: r1(loadStart), end: r1(loadavg()[0]!) },
      store: {
        local: { p50: r1(percentile(local, 50)), p99: r1(percentile(local, 99)), n: local.length },
        remote: { p50: r1(percentile(remote, 50)), p99: r1(percentile(remote, 99)), n: remote.length },
      },
      recall: {
        local: { p50: r1(percentile(recallLocal, 50)), p99: r1(percentile(recallLocal, 99)), n: recallLocal.length },
        remote: { p50: r1(percentile(recallRemote, 50)), p99: r1(percentile(recallRemote, 99)), n: recallRemote.length },
      },
      conflicts,
      requests: { perStore, perRecall },
    };
    console.log(JSON.stringify(result, null, 2));
    writeFigures(result, join(RESULTS_DIR, 'remote.json'));
  } finally {
    await emu.close();
    rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
