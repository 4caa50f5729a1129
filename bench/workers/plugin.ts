// The memory plugin as a separate process (an agent in a VS Code window): writes at a steady rate,
// alternating new memories and recall-counter patches on legacy rows (the rows the upgrader is
// rewriting), at interactive priority. Open loop: a write is started every 1/rate s whether or not
// the previous one finished, so a stalled lock shows up as latency instead of as fewer samples.
import { existsSync } from 'node:fs';
import { LOCAL_DEFAULT_DIM, LocalEmbedder } from '../../src/core/embedding/localEmbedder';
import { errorMessage } from '../../src/core/errors';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { legacyId } from '../../test/fixtures/upgrade/legacyStore';
import { emit, workerArgs } from '../../test/helpers/workers';

interface Args {
  dir: string;
  /** Writes per second. */
  rate: number;
  legacyCount: number;
  stopFile: string;
  tag: string;
  warmupOps?: number;
  /** Writes at the steady rate before 'ready', unmeasured: the store reaches its working state (fragments, a maintenance cycle). */
  warmupMs?: number;
  seed?: number;
}

export interface PluginOp {
  kind: 'store' | 'counter';
  /** Epoch ms when the write was started. */
  at: number;
  ms: number;
  /** How late the open-loop timer started this write (event-loop or machine load). */
  lagMs: number;
  ok: boolean;
  error?: string;
}

export interface PluginLockEvent {
  at: number;
  waitedMs: number;
  heldMs?: number;
  timedOut?: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const a = workerArgs<Args>();
  const store = await MemoryStore.open(a.dir, { create: false });
  const embedder = new LocalEmbedder(LOCAL_DEFAULT_DIM);
  let rnd = a.seed ?? 7;
  const random = () => { rnd = (rnd * 1103515245 + 12345) % 2 ** 31; return rnd / 2 ** 31; };
  const lock: PluginLockEvent[] = [];
  store.lock.onEvent((e) => {
    if (e.type === 'acquired') lock.push({ at: e.at, waitedMs: e.waitedMs });
    else if (e.type === 'released' && lock.length) lock[lock.length - 1]!.heldMs = e.heldMs;
    // A wait that ended at the deadline is a wait too (the naive baseline makes many).
    else if (e.type === 'timeout') lock.push({ at: e.at, waitedMs: e.waitedMs, heldMs: 0, timedOut: true });
  });

  let n = 0;
  /** Performs one write and returns its latency: from the call into the store until it is acknowledged. */
  const write = async (kind: PluginOp['kind']): Promise<number> => {
    const i = n++;
    if (kind === 'store') {
      const text = `Agent note ${i} from ${a.tag}: the user asked to keep build logs for ${1 + (i % 30)} days and to prefer ${['pnpm', 'yarn', 'npm'][i % 3]}.`;
      const [vector] = await embedder.embed([text]); // outside the timer, as the real plugin embeds before it writes
      const started = performance.now();
      const [r] = await store.insert([{ id: `${a.tag}-note-${i}`, text, vector: vector!, category: 'cases', scope: 'workspace:bench', metadata: { source: 'plugin' } }], { label: 'store memory' });
      if (r!.status !== 'inserted') throw new Error(`insert: ${r!.status}`);
      return performance.now() - started;
    } else {
      const id = legacyId(Math.floor(random() * a.legacyCount));
      const started = performance.now();
      const [r] = await store.patch([{ id, increment: { injected_count: 1 }, raiseTo: { last_injected_at: Date.now() } }], { label: 'recall bookkeeping' });
      if (r!.status !== 'applied' && r!.status !== 'missing') throw new Error(`patch: ${r!.status}`);
      return performance.now() - started;
    }
  };

  const maintenance: Array<{ at: number; ms: number; reason?: string }> = [];
  store.onMaintenance((m) => maintenance.push({ at: Date.now(), ms: m.ms, ...(m.reason ? { reason: m.reason } : {}) }));
  // Warm up (JIT, first reads of the table) before anything is measured.
  for (let i = 0; i < (a.warmupOps ?? 10); i++) await write(i % 2 === 0 ? 'store' : 'counter');
  let readySent = false;
  const warmupUntil = Date.now() + (a.warmupMs ?? 0);

  const ops: PluginOp[] = [];
  const inFlight = new Set<Promise<void>>();
  const intervalMs = 1000 / a.rate;
  const t0 = Date.now();
  for (let k = 0; ; k++) {
    const due = t0 + k * intervalMs;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    if (existsSync(a.stopFile)) break;
    if (!readySent && Date.now() >= warmupUntil) {
      readySent = true;
      emit({ type: 'ready', pid: process.pid, at: Date.now() });
    }
    const kind: PluginOp['kind'] = k % 2 === 0 ? 'store' : 'counter';
    const at = Date.now();
    const started = performance.now();
    const p = (async () => {
      try {
        const ms = await write(kind);
        ops.push({ kind, at, ms, lagMs: Math.max(0, at - due), ok: true });
      } catch (err) {
        // A failed write (lock deadline passed) counts with the time it took to fail.
        ops.push({ kind, at, ms: performance.now() - started, lagMs: Math.max(0, at - due), ok: false, error: errorMessage(err).slice(0, 200) });
      }
    })();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  emit({ type: 'done', ops: ops.sort((x, y) => x.at - y.at), lock, maintenance, acquisitions: store.lock.acquisitions });
  await store.close();
}

main().catch((err) => { emit({ type: 'fatal', message: String(err?.stack ?? err) }); process.exit(1); });
