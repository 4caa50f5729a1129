// One chaos participant, a real process: a plugin-like writer, an MCP client driving its own MCP
// server child, a CLI-invoking writer, or the upgrader. It writes until killed or told to stop
// (SIGTERM), logging each attempt and acknowledgement durably (ackLog.ts).
import { spawn } from 'node:child_process';
import { MemoryService } from '../../src/core/memoryService';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { createUpgradeRun } from '../../src/core/upgrade';
import { connectMcp, callTool } from '../helpers/mcp';
import { CLI_PATH } from '../helpers/cli';
import { emit, workerArgs } from '../helpers/workers';
import { AckLog } from './ackLog';

export interface WriterArgs {
  kind: 'plugin' | 'mcp' | 'cli' | 'upgrader';
  name: string;
  dir: string;
  ackDir: string;
  sharedCounters: string[];
  lockStaleMs: number;
}

const args = workerArgs<WriterArgs>();
let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
// A restarted writer is a new incarnation: its ids must not collide with the previous one's.
const incarnation = `${args.name}.${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const heartbeat = (op: string, ok: boolean, error?: string) => emit({ heartbeat: Date.now(), op, ok, ...(error ? { error: error.slice(0, 200) } : {}) });
const text = (n: number) => `${args.name} memory ${n}: chaos fact ${Math.random().toString(36).slice(2, 10)}`;

async function plugin(log: AckLog): Promise<void> {
  const service = await MemoryService.open({ dir: args.dir, vectorIndex: { auto: false }, bookkeeping: { debounceMs: 200 }, storeOptions: { lockStaleMs: args.lockStaleMs } });
  const mine: Array<{ id: string; seq: number }> = [];
  for (let n = 0; !stopping; n++) {
    const roll = Math.random();
    try {
      if (roll < 0.5 || mine.length === 0) {
        const id = `${incarnation}-${n}`;
        const t = text(n);
        const r = await service.store({ id, text: t, force: true, scope: 'project:chaos' });
        if (r.status === 'stored' || r.status === 'exists') { log.write({ kind: 'ack', op: 'store', id, text: t }); mine.push({ id, seq: 0 }); }
        heartbeat('store', true);
      } else if (roll < 0.75) {
        const target = mine[Math.floor(Math.random() * mine.length)]!;
        const seq = target.seq + 1;
        log.write({ kind: 'attempt', op: 'set', id: target.id, seq });
        const [r] = await service.memoryStore.patch([{ id: target.id, metadata: { seq } }]);
        if (r!.status === 'applied') { target.seq = seq; log.write({ kind: 'ack', op: 'set', id: target.id, seq }); }
        heartbeat('set', r!.status === 'applied', r!.status === 'failed' ? r!.error : undefined);
      } else if (roll < 0.95) {
        const id = args.sharedCounters[Math.floor(Math.random() * args.sharedCounters.length)]!;
        log.write({ kind: 'attempt', op: 'inc', id });
        const [r] = await service.memoryStore.patch([{ id, increment: { chaos_count: 1 } }]);
        if (r!.status === 'applied') log.write({ kind: 'ack', op: 'inc', id });
        heartbeat('inc', r!.status === 'applied', r!.status === 'failed' ? r!.error : undefined);
      } else {
        await service.recall('chaos fact', { limit: 3, scopes: ['project:chaos'] });
        heartbeat('recall', true);
      }
    } catch (err) {
      heartbeat('error', false, (err as Error).message);
      await sleep(50);
    }
  }
  await service.close();
}

async function mcp(log: AckLog): Promise<void> {
  let server: Awaited<ReturnType<typeof connectMcp>> | undefined;
  for (let n = 0; !stopping; n++) {
    try {
      if (!server) {
        server = await connectMcp(args.dir);
        emit({ child: server.pid });
      }
      const id = `${incarnation}-${n}`;
      const t = text(n);
      const r = await callTool(server.client, 'memory_store', { id, text: t, scope: 'project:chaos', force: true });
      if (r.stored || r.id === id) log.write({ kind: 'ack', op: 'store', id, text: t });
      heartbeat('mcp store', true);
    } catch (err) {
      heartbeat('error', false, (err as Error).message);
      // The server may have been killed by the controller: start a new one.
      await server?.close().catch(() => undefined);
      server = undefined;
      await sleep(100);
    }
  }
  await server?.close().catch(() => undefined);
}

function runCli(cliArgs: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_PATH, ...cliArgs], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, LANCEDB_LOG: 'error' } });
    emit({ child: child.pid });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('exit', (code) => resolve({ code, stdout }));
  });
}

async function cli(log: AckLog): Promise<void> {
  for (let n = 0; !stopping; n++) {
    const id = `${incarnation}-${n}`;
    const t = text(n);
    const r = await runCli(['--db', args.dir, 'store', '--id', id, '--text', t, '--scope', 'project:chaos', '--force', '--json']);
    let ok = false;
    try { ok = r.code === 0 && JSON.parse(r.stdout).id === id; } catch { ok = false; }
    if (ok) log.write({ kind: 'ack', op: 'store', id, text: t });
    heartbeat('cli store', ok);
  }
}

async function upgrader(): Promise<void> {
  const store = await MemoryStore.open(args.dir, { create: false, lockStaleMs: args.lockStaleMs });
  while (!stopping) {
    const abort = new AbortController();
    const onTerm = () => abort.abort();
    process.once('SIGTERM', onTerm);
    try {
      const r = await createUpgradeRun(store, { batchSize: 100, signal: abort.signal }).run();
      emit({ upgraded: r.upgraded, failed: r.failed.length });
      heartbeat('upgrade', true);
    } catch (err) {
      heartbeat('upgrade', false, (err as Error).message);
    } finally {
      process.off('SIGTERM', onTerm);
    }
    await sleep(300);
  }
  await store.close();
}

async function main(): Promise<void> {
  const log = new AckLog(args.ackDir, `${args.name}.${process.pid}`);
  emit({ ready: true, pid: process.pid });
  if (args.kind === 'plugin') await plugin(log);
  else if (args.kind === 'mcp') await mcp(log);
  else if (args.kind === 'cli') await cli(log);
  else await upgrader();
  log.close();
  emit({ stopped: true });
  process.exit(0);
}

main().catch((err) => { emit({ fatal: String((err as Error)?.stack ?? err) }); process.exit(1); });
