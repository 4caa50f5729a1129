// One "machine" on a remote store: a real process with its own MEMORY_LANE_STATE_DIR (so its own
// lock, dead-letter queue and read pins), driven by the team-store tests. Reports what was acknowledged.
import { commitConflictsRetried } from '../../../src/core/store/commitRetry';
import { MemoryStore } from '../../../src/core/store/memoryStore';
import { emit, workerArgs } from '../../helpers/workers';
import { AckLog } from '../../chaos/ackLog';
import { vec } from '../../helpers/tempStore';

interface Args {
  uri: string;
  machine: string;
  mode: 'mixed' | 'ack-loop';
  /** ack-loop: folder of the durable attempt/ack logs (test/chaos/ackLog.ts). */
  ackDir?: string;
  /** Shared rows every machine increments and patches. */
  shared: string[];
  count: number;
  /** Operations in flight at once (default: all of them). */
  concurrency?: number;
}

const args = workerArgs<Args>();

async function main(): Promise<void> {
  const store = await MemoryStore.open(args.uri, { dim: 8, maintenance: { auto: false }, queue: { interactiveDeadlineMs: 120_000 } });
  emit({ ready: true, pid: process.pid });
  const inserted: string[] = [];
  const sets: Array<{ id: string; key: string }> = [];
  let increments = 0;
  const incrementsById: Record<string, number> = {};
  const commons: string[] = [];
  const failures: string[] = [];
  const fail = (what: string, why: unknown) => { if (failures.length < 10) failures.push(`${what}: ${why instanceof Error ? why.message : String(why)}`); else failures.push(what); };
  if (args.mode === 'mixed') {
    // `concurrency` operations in flight: the machine's queue groups them into commits that race other machines'.
    let next = 0;
    const op = async (i: number) => {
      const id = `${args.machine}-${i}`;
      const counter = args.shared[i % args.shared.length]!;
      const patched = args.shared[(i + 1) % args.shared.length]!;
      const key = `p_${args.machine}_${i}`;
      // The same id stored by every machine at about the same moment: one row, the others told `exists`.
      const common = `common-${i % 10}`;
      await Promise.all([
        store.insert([{ id: common, text: `a fact every machine stores ${i % 10}`, vector: vec(1000 + (i % 10)) }]).then(([r]) => (r!.status === 'inserted' || r!.status === 'exists' ? commons.push(common) : fail(`insert ${common}`, r!.status)), (e) => fail(`insert ${common}`, e)),
        store.insert([{ id, text: `machine ${args.machine} memory ${i}`, vector: vec(i) }]).then(([r]) => (r!.status === 'inserted' ? inserted.push(id) : fail(`insert ${id}`, r!.status)), (e) => fail(`insert ${id}`, e)),
        store.patch([{ id: counter, increment: { n: 1 } }]).then(([r]) => (r!.status === 'applied' ? (increments++, incrementsById[counter] = (incrementsById[counter] ?? 0) + 1) : fail(`increment ${counter}`, r!.status)), (e) => fail(`increment ${counter}`, e)),
        store.patch([{ id: patched, metadata: { [key]: i } }]).then(([r]) => (r!.status === 'applied' ? sets.push({ id: patched, key }) : fail(`patch ${patched}`, r!.status)), (e) => fail(`patch ${patched}`, e)),
      ]);
    };
    await Promise.all(Array.from({ length: args.concurrency ?? args.count }, async () => { for (let i = next++; i < args.count; i = next++) await op(i); }));
  }
  if (args.mode === 'ack-loop') {
    // Writes until killed: every acknowledgement is fsync'd before the next write starts.
    const log = new AckLog(args.ackDir!, `${args.machine}-${process.pid}`);
    for (let n = 0; ; n++) {
      const id = `${args.machine}-${process.pid}-${n}`;
      const text = `machine ${args.machine} fact ${n}`;
      const counter = args.shared[n % args.shared.length]!;
      log.write({ kind: 'attempt', op: 'inc', id: counter });
      const [[stored], [inc]] = await Promise.all([
        store.insert([{ id, text, vector: vec(n) }]),
        store.patch([{ id: counter, increment: { n: 1 } }]),
      ]);
      if (stored!.status === 'inserted') log.write({ kind: 'ack', op: 'store', id, text });
      if (inc!.status === 'applied') log.write({ kind: 'ack', op: 'inc', id: counter });
      if (n === 0) emit({ writing: true });
    }
  }
  await store.close();
  emit({ done: true, inserted, commons, increments, incrementsById, sets, failures, acquisitions: store.lock.acquisitions, conflictsRetried: commitConflictsRetried(), stateDir: store.stateDir });
}

main().catch((err) => { emit({ fatal: String(err?.stack ?? err) }); process.exit(1); });
