import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LOCK_OWNER } from '../../src/core/concurrency/storeLock';
import { MemoryService } from '../../src/core/memoryService';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { readAckLogs } from './ackLog';
import type { WriterArgs } from './chaosWriter';

export interface ChaosOptions {
  dir: string;
  durationMs: number;
  plugins?: number;
  mcpClients?: number;
  cliWriters?: number;
  legacyRows?: number;
  /** Mean time between two faults. */
  faultEveryMs?: number;
  /** Fraction of commits that fail as if the disk were full (a failpoint; see src/core/failpoints.ts). */
  diskFullRate?: number;
  lockStaleMs?: number;
  log?: (line: string) => void;
}

export interface ChaosSummary {
  durationMs: number;
  processes: number;
  operations: number;
  acknowledged: { stores: number; sets: number; increments: number };
  kills: number;
  stops: number;
  ownerCorruptions: number;
  restarts: number;
  failedOperations: number;
  /** Why operations failed (each was reported to its caller, never acknowledged), by reason. */
  failureReasons: Record<string, number>;
  recoveries: number;
  /** Writers that crashed by themselves (not killed), first few. */
  fatalErrors: string[];
  deadLetters: { open: number; replayed: number; replayFailed: number; notReplayable: number };
  lost: number;
  duplicated: number;
  mismatched: string[];
  hung: string[];
  legacy: { seeded: number; upgraded: number; stillLegacy: number; missing: number };
  verify: { ok: boolean; rows: number; duplicateIds: string[]; badVectors: string[]; badMetadata: string[]; tornRows: string[] };
  tornAckLines: number;
}

interface Participant {
  name: string;
  kind: WriterArgs['kind'];
  proc?: ChildProcess;
  children: Set<number>;
  lastBeat: number;
  stoppedUntil?: number;
  ops: number;
  failures: number;
  /** The last operation failed; the next success counts as a recovery. */
  failing?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The bundled writer script. The controller is bundled into more than one file (the chaos test in
 * test/integration/, `npm run chaos` in test/chaos/), so `__dirname` differs: look upward for it.
 */
function writerScript(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'test', 'chaos', 'chaosWriter.js');
    if (existsSync(candidate)) return candidate;
    const sibling = join(dir, 'chaosWriter.js');
    if (existsSync(sibling)) return sibling;
    if (dirname(dir) === dir) throw new Error(`chaosWriter.js not found above ${__dirname}`);
  }
}
const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;
/** Windows has no SIGSTOP (Node throws ENOSYS): there the freezes become owner-record corruptions; the frozen holder is held on Linux and macOS (docs/platforms.md#what-only-posix-can-test). */
const CAN_FREEZE = process.platform !== 'win32';

/**
 * Runs writers of every kind and an upgrader on one store while SIGKILLing, SIGSTOPping and
 * corrupting the lock owner record at random; then stops everything and checks that every
 * acknowledged write is present with its latest acknowledged content, nothing is duplicated, the
 * dead letters replay, and `verify` is clean.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const log = options.log ?? (() => undefined);
  const dir = join(options.dir, 'store');
  const ackDir = join(options.dir, 'acks');
  mkdirSync(ackDir, { recursive: true });
  const lockStaleMs = options.lockStaleMs ?? 2000;
  const sharedCounters = Array.from({ length: 4 }, (_, i) => `shared-counter-${i}`);

  // Seed: legacy rows for the upgrader, and the shared counters.
  const seed = await MemoryService.open({ dir, vectorIndex: { auto: false } });
  const legacyIds = Array.from({ length: options.legacyRows ?? 600 }, (_, i) => `legacy-${i}`);
  const texts = [...legacyIds.map((id) => `legacy note ${id} about subject ${Number(id.slice(7)) % 17}`), ...sharedCounters.map((id) => `counter ${id}`)];
  const vectors = await seed.configuredEmbedder.embed(texts);
  await seed.memoryStore.insert([...legacyIds, ...sharedCounters].map((id, i) => ({ id, text: texts[i]!, vector: vectors[i]!, metadata: id.startsWith('shared') ? { l0_abstract: id, chaos_count: 0 } : {} })), { priority: 'background' });
  await seed.close();

  const writerPath = writerScript();
  const failpoints = options.diskFullRate ? `store.beforeCommit=p${options.diskFullRate}:throw:ENOSPC: no space left on device (simulated)` : '';
  const participants: Participant[] = [
    ...Array.from({ length: options.plugins ?? 2 }, (_, i): Participant => ({ name: `plugin${i}`, kind: 'plugin', children: new Set(), lastBeat: Date.now(), ops: 0, failures: 0 })),
    ...Array.from({ length: options.mcpClients ?? 2 }, (_, i): Participant => ({ name: `mcp${i}`, kind: 'mcp', children: new Set(), lastBeat: Date.now(), ops: 0, failures: 0 })),
    ...Array.from({ length: options.cliWriters ?? 1 }, (_, i): Participant => ({ name: `cli${i}`, kind: 'cli', children: new Set(), lastBeat: Date.now(), ops: 0, failures: 0 })),
    { name: 'upgrader', kind: 'upgrader', children: new Set(), lastBeat: Date.now(), ops: 0, failures: 0 },
  ];
  let restarts = 0, kills = 0, stops = 0, ownerCorruptions = 0, recoveries = 0;
  const failureReasons: Record<string, number> = {};
  const fatalErrors: string[] = [];
  const hung: string[] = [];
  let ending = false;

  const start = (p: Participant) => {
    const args: WriterArgs = { kind: p.kind, name: p.name, dir, ackDir, sharedCounters, lockStaleMs };
    const proc = spawn(process.execPath, [writerPath, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LANCEDB_LOG: 'error', MEMORY_LANE_FAILPOINTS: failpoints },
    });
    p.proc = proc;
    p.lastBeat = Date.now();
    let buf = '';
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let m: any;
        try { m = JSON.parse(line); } catch { continue; }
        if (m.heartbeat) {
          p.lastBeat = Date.now();
          p.ops++;
          if (!m.ok) {
            p.failures++;
            p.failing = true;
            const reason = String(m.error ?? m.op).replace(/[0-9a-f-]{36}|\d+/g, '#').slice(0, 90);
            failureReasons[reason] = (failureReasons[reason] ?? 0) + 1;
          }
          else if (p.failing) { recoveries++; p.failing = false; }
        }
        if (m.child) p.children.add(m.child);
        if (m.fatal) {
          log(`${p.name} fatal: ${m.fatal.split('\n')[0]}`);
          if (fatalErrors.length < 5) fatalErrors.push(`${p.name}: ${m.fatal.split('\n')[0]}`);
        }
      }
    });
    proc.stderr!.resume();
    proc.on('exit', (code, signal) => {
      if (ending) return;
      // Killed (by us) or crashed: a new incarnation takes over, as a reopened window would.
      log(`${p.name} exited (${signal ?? code}); restarting`);
      restarts++;
      setTimeout(() => { if (!ending) start(p); }, 200);
    });
  };
  participants.forEach(start);

  const t0 = Date.now();
  const faultEvery = options.faultEveryMs ?? 1500;
  while (Date.now() - t0 < options.durationMs) {
    await sleep(faultEvery * (0.5 + Math.random()));
    const now = Date.now();
    for (const p of participants) {
      if (p.stoppedUntil && now >= p.stoppedUntil) {
        p.proc?.kill('SIGCONT');
        p.stoppedUntil = undefined;
        p.lastBeat = now;
      } else if (!p.stoppedUntil && now - p.lastBeat > 45_000 && !hung.includes(p.name)) {
        hung.push(p.name);
      }
    }
    const roll = Math.random();
    const victim = pick(participants.filter((p) => p.proc && !p.stoppedUntil));
    if (!victim) continue;
    if (roll < 0.6) {
      // SIGKILL the participant or one of its children (an MCP server, a CLI process).
      const children = [...victim.children];
      const pid = children.length && Math.random() < 0.5 ? pick(children) : victim.proc!.pid!;
      try { process.kill(pid, 'SIGKILL'); kills++; log(`SIGKILL ${victim.name}${pid === victim.proc!.pid ? '' : ` child ${pid}`}`); } catch { /* already gone */ }
    } else if (roll < 0.85 && CAN_FREEZE) {
      // A sleeping laptop: the process stops, possibly holding the lock past its stale time.
      const ms = 500 + Math.random() * (lockStaleMs * 1.5);
      victim.proc!.kill('SIGSTOP');
      victim.stoppedUntil = Date.now() + ms;
      stops++;
      log(`SIGSTOP ${victim.name} for ${Math.round(ms)} ms`);
    } else {
      writeFileSync(join(dir, LOCK_OWNER), '{"pid": 12, "host": "garb');
      ownerCorruptions++;
      log('corrupted the lock owner record');
    }
  }

  // Stop everyone cleanly (frozen ones are thawed first), then judge the store.
  ending = true;
  for (const p of participants) if (p.stoppedUntil) p.proc?.kill('SIGCONT');
  await Promise.all(participants.map((p) => new Promise<void>((resolve) => {
    const proc = p.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const timer = setTimeout(() => { hung.push(`${p.name} (did not stop)`); proc.kill('SIGKILL'); }, 30_000);
    proc.once('exit', () => { clearTimeout(timer); resolve(); });
    proc.kill('SIGTERM');
  })));
  const durationMs = Date.now() - t0;

  const store = await MemoryStore.open(dir, { create: false });
  try {
    const dlqBefore = await store.deadLetters.list();
    const replay = await store.replayDeadLetters();
    const dlqAfter = await store.deadLetters.list();
    const { records, tornLines } = readAckLogs(ackDir);
    const stores = new Map<string, string>();
    const sets = new Map<string, { acked: number; attempted: number }>();
    const incs = new Map<string, { acked: number; attempted: number }>();
    for (const r of records) {
      if (r.op === 'store' && r.kind === 'ack') stores.set(r.id, r.text);
      if (r.op === 'set') {
        const s = sets.get(r.id) ?? { acked: 0, attempted: 0 };
        if (r.kind === 'ack') s.acked = Math.max(s.acked, r.seq); else s.attempted = Math.max(s.attempted, r.seq);
        sets.set(r.id, s);
      }
      if (r.op === 'inc') {
        const s = incs.get(r.id) ?? { acked: 0, attempted: 0 };
        if (r.kind === 'ack') s.acked++; else s.attempted++;
        incs.set(r.id, s);
      }
    }
    const ids = [...new Set([...stores.keys(), ...sets.keys(), ...incs.keys(), ...legacyIds])];
    const rows = await store.getMany(ids);
    let lost = 0;
    const mismatched: string[] = [];
    for (const [id, t] of stores) {
      const row = rows.get(id);
      if (!row) lost++;
      else if (row.text !== t) mismatched.push(`${id}: text differs`);
    }
    for (const [id, s] of sets) {
      const seq = Number(rows.get(id)?.metadata.seq ?? 0);
      if (seq < s.acked) { lost++; mismatched.push(`${id}: seq ${seq} < acknowledged ${s.acked}`); }
      if (seq > Math.max(s.attempted, s.acked)) mismatched.push(`${id}: seq ${seq} was never attempted`);
    }
    for (const [id, s] of incs) {
      const n = Number(rows.get(id)?.metadata.chaos_count ?? 0);
      if (n < s.acked) { lost += s.acked - n; mismatched.push(`${id}: count ${n} < acknowledged ${s.acked}`); }
      if (n > s.attempted) mismatched.push(`${id}: count ${n} > attempted ${s.attempted} (an increment applied twice)`);
    }
    const verify = await store.verify();
    let upgraded = 0, stillLegacy = 0, missing = 0;
    for (const id of legacyIds) {
      const row = rows.get(id);
      if (!row) missing++;
      else if (typeof row.metadata.l0_abstract === 'string') upgraded++;
      else stillLegacy++;
    }
    return {
      durationMs,
      processes: participants.length,
      operations: participants.reduce((n, p) => n + p.ops, 0),
      acknowledged: { stores: stores.size, sets: [...sets.values()].filter((s) => s.acked > 0).length, increments: [...incs.values()].reduce((n, s) => n + s.acked, 0) },
      kills, stops, ownerCorruptions, restarts,
      failedOperations: participants.reduce((n, p) => n + p.failures, 0),
      failureReasons,
      fatalErrors,
      recoveries,
      deadLetters: { open: dlqBefore.open.length, replayed: replay.replayed.length, replayFailed: replay.failed.length, notReplayable: dlqAfter.open.length },
      lost: lost + missing,
      duplicated: verify.duplicateIds.length,
      mismatched,
      hung,
      legacy: { seeded: legacyIds.length, upgraded, stillLegacy, missing },
      verify,
      tornAckLines: tornLines,
    };
  } finally {
    await store.close();
  }
}
