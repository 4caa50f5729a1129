// A real separate process on a shared store, driven by the cross-process tests.
import { Index } from '@lancedb/lancedb';
import { isRetryableCommitError, retryCommit } from '../../../src/core/store/commitRetry';
import { MemoryStore } from '../../../src/core/store/memoryStore';
import { emit, workerArgs } from '../../helpers/workers';
import { vec } from '../../helpers/tempStore';

interface Args {
  dir: string;
  mode: 'increment' | 'cas' | 'insert' | 'insert-batch' | 'read' | 'optimize-loop' | 'patch-once' | 'replay' | 'write-once' | 'delete-once' | 'delete' | 'index-loop';
  ids?: string[];
  count?: number;
  concurrency?: number;
  prefix?: string;
  durationMs?: number;
  deadlineMs?: number;
  lockStaleMs?: number;
  /** Maintenance beside the writers instead of under the lock (MaintenanceOptions.offLock). */
  offLock?: boolean;
  /** Pruning margin for this process's maintenance (MaintenanceOptions.cleanupMarginMs). */
  cleanupMarginMs?: number;
}

const args = workerArgs<Args>();

async function main(): Promise<void> {
  const store = await MemoryStore.open(args.dir, { dim: 8, lockStaleMs: args.lockStaleMs, maintenance: { auto: false, offLock: args.offLock, cleanupMarginMs: args.cleanupMarginMs }, queue: { interactiveDeadlineMs: args.deadlineMs ?? 30_000 } });
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
    case 'delete-once': {
      emit({ result: await store.delete(ids) });
      break;
    }
    case 'delete': {
      // One delete per call, each acknowledged: the ids must stay gone whatever commits around them.
      await pool(ids.length, async (i) => {
        try {
          const [r] = await store.delete([ids[i]!]);
          if (r!.status === 'deleted') emit({ deleted: ids[i] });
          else note(new Error(`delete ${ids[i]}: ${r!.status}`));
        } catch (err) { note(err); }
      });
      break;
    }
    case 'index-loop': {
      // An index build from another process, off the store lock, as the vector-index builder does it.
      const end = Date.now() + (args.durationMs ?? 3000);
      let builds = 0, conflicts = 0, lostEveryTry = 0;
      while (Date.now() < end) {
        try {
          const { attempts } = await retryCommit('test index build', () => store.table.createIndex('vector', { replace: true, config: Index.ivfFlat({ numPartitions: 2, distanceType: 'cosine' }) }));
          builds++;
          conflicts += attempts - 1;
        } catch (err) {
          // Against back-to-back compactions a build can lose every try; the product's builder then
          // tries again later (vectorIndex.ts), as this loop does. Only other errors are faults.
          if (isRetryableCommitError(err)) lostEveryTry++;
          else note(err);
        }
        // The product builds now and then (one builder per store, docs/lancedb.md#indexes), not back to back.
        await new Promise((r) => setTimeout(r, 400));
      }
      emit({ builds, conflicts, lostEveryTry });
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
        // A search too (what recall does), so compaction and pruning meet a vector query as well.
        await store.table.query().nearestTo(vec(reads)).limit(5).toArray();
      }
      emit({ reads, misses });
      break;
    }
    case 'optimize-loop': {
      const end = Date.now() + (args.durationMs ?? 3000);
      let runs = 0, underLock = 0, retried = 0, compacted = 0;
      while (Date.now() < end) {
        try {
          const report = await store.optimize('test loop');
          runs++;
          if (report.underLock) underLock++;
          if (report.attempts > 1) retried++;
          if (report.fragmentsRemoved > 0) compacted++;
        } catch (err) { note(err); }
      }
      emit({ optimizeRuns: runs, underLock, retried, compacted });
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
