// One of P writer processes of the cross-process benchmark. On "go" it starts C stores at once
// (plus a few recall-counter increments on shared rows) and reports what was acknowledged.
//   lock:    the product: MemoryService.store (validate, embed, queued insert under the store lock)
//            and store.patch increments.
//   no-lock: the baseline: the same embedding, then table.mergeInsert('id') straight into LanceDB,
//            no queue, no lock; increments as read-then-write of the row.
import { existsSync } from 'node:fs';
import * as lancedb from '@lancedb/lancedb';
import { LOCAL_DEFAULT_DIM, LocalEmbedder } from '../../src/core/embedding/localEmbedder';
import { errorMessage } from '../../src/core/errors';
import { MemoryService } from '../../src/core/memoryService';
import { fromRawRow, MEMORIES_TABLE, toRawRow } from '../../src/core/store/schema';
import { sqlString } from '../../src/core/store/sql';
import { emit, workerArgs } from '../../test/helpers/workers';
import { storeIdAndText } from '../lib/writes';

interface Args {
  dir: string;
  mode: 'lock' | 'no-lock';
  proc: number;
  count: number;
  sharedEvery: number;
  counterIds: string[];
  increments: number;
  goFile: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const a = workerArgs<Args>();
  let doStore: (id: string, text: string) => Promise<'stored' | 'exists'>;
  let doIncrement: (id: string) => Promise<void>;
  let close: () => Promise<void>;
  let acquisitions = () => 0;
  if (a.mode === 'lock') {
    const memory = await MemoryService.open({ dir: a.dir, create: false, vectorIndex: { auto: false } });
    doStore = async (id, text) => {
      // force: no near-duplicate search, so both modes do the same work apart from the write itself.
      const r = await memory.store({ id, text, scope: 'global', force: true });
      if (r.status === 'duplicate') throw new Error('refused as a near-duplicate');
      return r.status === 'stored' ? 'stored' : 'exists';
    };
    doIncrement = async (id) => {
      const [r] = await memory.memoryStore.patch([{ id, increment: { n: 1 } }]);
      if (r!.status !== 'applied') throw new Error(`increment: ${r!.status}`);
    };
    close = () => memory.close();
    acquisitions = () => memory.memoryStore.lock.acquisitions;
    // Where a store's time goes: waiting for the lock (other processes' commits) vs holding it (our commit).
    memory.memoryStore.onLockEvent((e) => {
      if (e.type === 'acquired') emit({ type: 'lock', waitedMs: e.waitedMs, at: e.at });
      else if (e.type === 'released') emit({ type: 'lock', heldMs: e.heldMs, at: e.at });
    });
    memory.memoryStore.onCommit((c) => emit({ type: 'commit', rows: c.rows, ms: c.ms }));
  } else {
    const db = await lancedb.connect(a.dir, { readConsistencyInterval: 0 });
    const table = await db.openTable(MEMORIES_TABLE);
    const embedder = new LocalEmbedder(LOCAL_DEFAULT_DIM);
    doStore = async (id, text) => {
      const [vector] = await embedder.embed([text]);
      const now = Date.now();
      const row = { id, text, vector: vector!, category: 'cases', scope: 'global', importance: 0.5, created_at: now, updated_at: now, rev: 1, metadata: {} };
      await table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([toRawRow(row)]);
      return 'stored';
    };
    doIncrement = async (id) => {
      const [raw] = await table.query().where(`id = ${sqlString(id)}`).limit(1).toArray();
      const row = fromRawRow(raw);
      const n = Number(row.metadata.n ?? 0);
      await table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([toRawRow({ ...row, rev: row.rev + 1, metadata: { ...row.metadata, n: n + 1 } })]);
    };
    close = async () => { table.close(); db.close(); };
  }

  emit({ type: 'ready', pid: process.pid });
  while (!existsSync(a.goFile)) await sleep(2);
  const startedAt = Date.now();
  emit({ type: 'go', at: startedAt });
  // Each outcome is reported as it happens, so a time-boxed run that gets killed still counts.
  const stores = Array.from({ length: a.count }, async (_, i) => {
    const { id, text } = storeIdAndText(a.proc, i, a.sharedEvery);
    const t0 = performance.now();
    try {
      const status = await doStore(id, text);
      emit({ type: 'ack', id, status, ms: performance.now() - t0, at: Date.now() });
    } catch (err) {
      emit({ type: 'fail', id, error: errorMessage(err).slice(0, 300), ms: performance.now() - t0, at: Date.now() });
    }
  });
  const increments = Array.from({ length: a.increments }, async (_, i) => {
    const id = a.counterIds[(i + a.proc) % a.counterIds.length]!;
    const t0 = performance.now();
    try {
      await doIncrement(id);
      emit({ type: 'inc', ok: true, ms: performance.now() - t0 });
    } catch (err) {
      emit({ type: 'inc', ok: false, error: errorMessage(err).slice(0, 300), ms: performance.now() - t0 });
    }
  });
  await Promise.all([...stores, ...increments]);
  const endedAt = Date.now();
  await close();
  emit({ type: 'done', startedAt, endedAt, acquisitions: acquisitions() });
}

main().catch((err) => { emit({ type: 'fatal', message: String(err?.stack ?? err) }); process.exit(1); });
