// A real separate process on a shared store, driven by the cross-process tests.
import { MemoryStore } from '../../../src/core/store/memoryStore';
import { emit, workerArgs } from '../../helpers/workers';
import { vec } from '../../helpers/tempStore';

interface Args {
  dir: string;
  mode: 'increment' | 'cas' | 'insert' | 'insert-batch' | 'read' | 'optimize-loop' | 'patch-once' | 'replay' | 'write-once';
  ids?: string[];
  count?: number;
  concurrency?: number;
  prefix?: string;
  durationMs?: number;
  deadlineMs?: number;
  lockStaleMs?: number;
}

const args = workerArgs<Args>();

async function main(): Promise<void> {
  const store = await MemoryStore.open(args.dir, { dim: 8, lockStaleMs: args.lockStaleMs, maintenance: { auto: false }, queue: { interactiveDeadlineMs: args.deadlineMs ?? 30_000 } });
  const ids = args.ids ?? [];
  emit({ ready: true, pid: process.pid });
  let errors = 0;
  const errorSamples: string[] = [];
  const note = (err: unknown) => { errors++; if (errorSamples.length < 5) errorSamples.push(String((err as Error)?.message ?? err)); };
  const pool = async (n: number, job: (i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(Array.from({ length: args.concurrency ?? 4 }, async () => { for (let i = next++; i < n; i = next++) await job(i); }));
  };
  switch (args.mode) {
    case 'increment': {
      // Read-modify-write done by the store under the lock: commuting counter patches.
      await pool(args.count!, async (i) => {
        const id = ids[i % ids.length]!;
        try {
          const [r] = await store.patch([{ id, increment: { n: 1 } }]);
          if (r!.status !== 'applied') note(new Error(`patch ${id}: ${r!.status}`));
        } catch (err) { note(err); }
      });
      break;
    }
    case 'cas': {
      // Read-modify-write by the caller: read, compute, write conditioned on the revision read; retry when stale.
      let retries = 0;
      await pool(args.count!, async (i) => {
        const id = ids[i % ids.length]!;
        for (;;) {
          const row = await store.get(id);
          const n = Number(row!.metadata.m ?? 0);
          const [r] = await store.patch([{ id, metadata: { m: n + 1 }, expect: { rev: row!.rev } }]);
          if (r!.status === 'applied') break;
          if (r!.status !== 'stale') { note(new Error(r!.status)); break; }
          retries++;
        }
      });
      emit({ casRetries: retries });
      break;
    }
    case 'insert': {
      await pool(args.count!, async (i) => {
        const id = `${args.prefix}${String(i).padStart(5, '0')}`;
        try {
          const [r] = await store.insert([{ id, text: `memory ${id}`, vector: vec(i) }]);
          if (r!.status === 'inserted' || r!.status === 'exists') emit({ ack: id });
          else note(new Error(`${id}: ${r!.status}`));
        } catch (err) { note(err); }
      });
      break;
    }
    case 'insert-batch': {
      // One insert call: one bounded batch, committed whole or not at all.
      const rows = Array.from({ length: args.count! }, (_, i) => ({ id: `${args.prefix}${String(i).padStart(5, '0')}`, text: `memory ${i}`, vector: vec(i) }));
      const res = await store.insert(rows);
      emit({ inserted: res.filter((r) => r.status === 'inserted').length });
      break;
    }
    case 'write-once': {
      try {
        const res = await store.insert([{ id: args.prefix!, text: `memory ${args.prefix}`, vector: vec(1) }], { deadlineMs: args.deadlineMs });
        emit({ result: res[0] });
      } catch (err) {
        const e = err as Error & { code?: string; deadLetterId?: string; holder?: unknown; waitedMs?: number };
        emit({ error: { name: e.name, code: e.code, message: e.message, deadLetterId: e.deadLetterId, holder: e.holder, waitedMs: e.waitedMs } });
      }
      break;
    }
    case 'patch-once': {
      const res = await store.patch(ids.map((id) => ({ id, increment: { n: 1 } })));
      emit({ result: res });
      break;
    }
    case 'read': {
      // Every id must be visible on every read while writers commit (no delete+add window).
      const end = Date.now() + (args.durationMs ?? 3000);
      let reads = 0, misses = 0;
      while (Date.now() < end) {
        const found = await store.getMany(ids);
        reads += ids.length;
        misses += ids.length - found.size;
      }
      emit({ reads, misses });
      break;
    }
    case 'optimize-loop': {
      const end = Date.now() + (args.durationMs ?? 3000);
      let runs = 0;
      while (Date.now() < end) {
        try { await store.optimize('test loop'); runs++; } catch (err) { note(err); }
      }
      emit({ optimizeRuns: runs });
      break;
    }
    case 'replay': {
      emit({ replay: await store.replayDeadLetters() });
      break;
    }
  }
  await store.close();
  emit({ done: true, errors, errorSamples, acquisitions: store.lock.acquisitions });
}

main().catch((err) => { emit({ fatal: String(err?.stack ?? err) }); process.exit(1); });
