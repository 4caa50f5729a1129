// The "plugin": an agent's memory tool in another process. Stores new memories, bumps
// injected_count on legacy rows (the ones being upgraded) and deletes a few, at interactive
// priority, timing each acknowledged write. Runs for `ops` operations or until `stopFile` exists.
import { existsSync } from 'node:fs';
import { errorMessage } from '../../../src/core/errors';
import { MemoryStore } from '../../../src/core/store/memoryStore';
import { legacyId } from '../../fixtures/upgrade/legacyStore';
import { vec } from '../../helpers/tempStore';
import { emit, workerArgs } from '../../helpers/workers';

interface Args {
  dir: string;
  legacyCount: number;
  ops?: number;
  stopFile?: string;
  intervalMs?: number;
  deleteEvery?: number;
  tag: string;
  seed?: number;
}

async function main(): Promise<void> {
  const a = workerArgs<Args>();
  const store = await MemoryStore.open(a.dir, { dim: 8, create: false });
  let rnd = a.seed ?? 42;
  const random = () => { rnd = (rnd * 1103515245 + 12345) % 2 ** 31; return rnd / 2 ** 31; };
  const inserted: string[] = [];
  const increments: Record<string, number> = {};
  const deleted: string[] = [];
  const ops: Array<{ kind: string; start: number; ms: number }> = [];
  const failures: string[] = [];
  // Lock wait vs hold per write, to tell waiting behind the upgrader from being slow ourselves.
  const lock: Array<{ at: number; waitedMs: number; heldMs?: number }> = [];
  store.lock.onEvent((e) => {
    if (e.type === 'acquired') lock.push({ at: e.at, waitedMs: e.waitedMs });
    else if (e.type === 'released' && lock.length) lock[lock.length - 1]!.heldMs = e.heldMs;
  });
  emit({ type: 'ready', pid: process.pid });
  for (let i = 0; a.ops === undefined || i < a.ops; i++) {
    if (a.stopFile && existsSync(a.stopFile)) break;
    const start = Date.now();
    const t0 = performance.now();
    let kind = 'insert';
    try {
      if (i % 2 === 0) {
        const id = `${a.tag}-new-${i}`;
        const [r] = await store.insert([{ id, text: `Agent note ${i} from ${a.tag}.`, vector: vec(10_000 + i), metadata: { l0_abstract: `Agent note ${i}`, source: 'plugin' } }]);
        if (r!.status !== 'inserted') throw new Error(`insert ${id}: ${r!.status}`);
        inserted.push(id);
      } else if (a.deleteEvery && i % a.deleteEvery === 1) {
        kind = 'delete';
        const id = legacyId(Math.floor(random() * a.legacyCount));
        const [r] = await store.delete([id]);
        if (r!.status === 'deleted') deleted.push(id);
      } else {
        kind = 'increment';
        const id = legacyId(Math.floor(random() * a.legacyCount));
        const [r] = await store.patch([{ id, increment: { injected_count: 1 }, raiseTo: { last_injected_at: start } }]);
        if (r!.status === 'applied') increments[id] = (increments[id] ?? 0) + 1;
        else if (r!.status !== 'missing') throw new Error(`increment ${id}: ${r!.status}`);
      }
      ops.push({ kind, start, ms: performance.now() - t0 });
    } catch (err) {
      failures.push(errorMessage(err));
    }
    if (a.intervalMs) await new Promise((r) => setTimeout(r, a.intervalMs));
  }
  emit({ type: 'done', inserted, increments, deleted, ops, failures, lock });
  await store.close();
}

void main();
