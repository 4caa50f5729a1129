// Benchmark 2 — cross-process writes: P processes × C concurrent stores each on one store, with the
// project's queue + lock against a no-lock baseline (mergeInsert straight into LanceDB). Counts
// what was acknowledged, failed, lost (acknowledged but absent) and duplicated, plus latency and
// throughput; a few recall-counter increments per process on shared rows show lost updates.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalEmbedder } from '../src/core/embedding/localEmbedder';
import { MemoryStore } from '../src/core/store/memoryStore';
import { fromRawRow } from '../src/core/store/schema';
import { startWorker } from '../test/helpers/workers';
import { DIM, EMBEDDER_ID } from './lib/corpus';
import { benchWorker, log, QUICK, round1, runBenchmark, summarize, type Summary, type TargetCheck } from './lib/env';
import { expectedStoreIds } from './lib/writes';

type Mode = 'lock' | 'no-lock';

export interface RunFigures {
  processes: number;
  perProcess: number;
  mode: Mode;
  attempted: number;
  acknowledged: number;
  failed: number;
  /** Neither acknowledged nor failed when the time box ended (the writers were killed). */
  pending: number;
  timedOut: boolean;
  /** Distinct ids acknowledged but not in the table afterwards. */
  lost: number;
  /** Ids present more than once, and how many extra copies. */
  duplicatedIds: number;
  extraCopies: number;
  distinctExpected: number;
  rowsPresent: number;
  wallMs: number;
  acknowledgedPerS: number;
  latency: Summary;
  errorSample: string[];
  increments: { attempted: number; acknowledged: number; failed: number; landed: number; lost: number };
  lockAcquisitionsPerProcess?: number[];
  /** Lock mode: how long acquisitions waited, how long commits held the lock, rows per commit. */
  lock?: { wait: Summary; hold: Summary; rowsPerCommit: Summary };
}

void runBenchmark('crossProcess', 'Cross-process writes: P processes × C concurrent stores, project lock vs no lock', async ({ scratch, parameters, notes }) => {
  const configs = QUICK ? [{ processes: 2, perProcess: 50 }, { processes: 4, perProcess: 20 }] : [{ processes: 4, perProcess: 1000 }, { processes: 8, perProcess: 50 }, { processes: 8, perProcess: 200 }];
  const sharedEvery = 10;
  const counterIds = ['counter-0', 'counter-1', 'counter-2', 'counter-3'];
  const incrementsPerProcess = 25;
  const lockBoxMs = 180_000;
  const noLockBoxMs = 15_000;
  Object.assign(parameters, {
    configs,
    sharedEvery,
    counters: counterIds.length,
    incrementsPerProcess,
    store: 'lock mode: MemoryService.store({ id, text, force: true }) — validation, local embedding, queued interactive insert (one lock cycle per group commit); force skips the near-duplicate search so both modes do the same work apart from the write',
    noLock: 'no-lock mode: the same local embedding, then table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll() straight into LanceDB (no queue, no lock); increments read the row and write n + 1 back',
    concurrency: 'each process starts all C stores (and its increments) at once, after every process is ready (a go file)',
    timeBoxMs: { lock: lockBoxMs, noLock: noLockBoxMs },
    shared: `every ${sharedEvery}th store of every process uses the same client id and text (shared-<i>): must land exactly once`,
  });
  const runs: RunFigures[] = [];
  // Development filters, e.g. BENCH_CONFIGS=8x50 BENCH_MODES=lock.
  const onlyConfigs = process.env.BENCH_CONFIGS?.split(',');
  const onlyModes = process.env.BENCH_MODES?.split(',');
  for (const cfg of configs) {
    if (onlyConfigs && !onlyConfigs.includes(`${cfg.processes}x${cfg.perProcess}`)) continue;
    for (const mode of ['lock', 'no-lock'] as Mode[]) {
      if (onlyModes && !onlyModes.includes(mode)) continue;
      const label = `${cfg.processes}×${cfg.perProcess} ${mode}`;
      log(`crossProcess: ${label}`);
      const dir = scratch.dir(`${cfg.processes}x${cfg.perProcess}-${mode}`);
      const storeDir = join(dir, 'store');
      const seed = await MemoryStore.open(storeDir, { dim: DIM, embedder: EMBEDDER_ID });
      const vectors = await new LocalEmbedder(DIM).embed(counterIds.map((id) => `recall counter ${id}`));
      await seed.insert(counterIds.map((id, i) => ({ id, text: `recall counter ${id}`, vector: vectors[i]!, metadata: { n: 0 } })));
      await seed.optimize('bench setup');
      await seed.close();

      const goFile = join(dir, 'go');
      const workers = Array.from({ length: cfg.processes }, (_, proc) => startWorker(benchWorker('writer'), { dir: storeDir, mode, proc, count: cfg.perProcess, sharedEvery, counterIds, increments: incrementsPerProcess, goFile }));
      await Promise.all(workers.map((w) => w.waitFor((m) => m.type === 'ready' || m.type === 'fatal', 120_000)));
      writeFileSync(goFile, '');
      // Time box: uncoordinated writers can retry for many minutes; whatever is unanswered by then is "pending".
      const box = mode === 'lock' ? lockBoxMs : noLockBoxMs;
      let timedOut = false;
      const timer = setTimeout(() => { timedOut = true; for (const w of workers) w.child.kill('SIGKILL'); }, box);
      await Promise.all(workers.map((w) => w.exited));
      clearTimeout(timer);
      const fatal = workers.flatMap((w) => w.messages as any[]).find((m) => m.type === 'fatal');
      if (fatal) throw new Error(`writer: ${fatal.message}`);
      const msgs = workers.flatMap((w) => w.messages as any[]);
      const acks = msgs.filter((m) => m.type === 'ack');
      const fails = msgs.filter((m) => m.type === 'fail');
      const incs = msgs.filter((m) => m.type === 'inc');
      const goAt = Math.min(...msgs.filter((m) => m.type === 'go').map((m) => m.at as number));

      const check = await MemoryStore.open(storeDir, { create: false, maintenance: { auto: false } });
      const rows = (await check.rows(undefined, { columns: ['id', 'rev', 'metadata'] })).map((r) => fromRawRow(r));
      await check.close();
      const copies = new Map<string, number>();
      for (const r of rows) copies.set(r.id, (copies.get(r.id) ?? 0) + 1);
      const expected = expectedStoreIds(cfg.processes, cfg.perProcess, sharedEvery);
      const ackedIds = new Set(acks.map((x) => x.id as string));
      const storeRows = [...copies].filter(([id]) => expected.has(id));
      const newest = new Map<string, { rev: number; n: number }>();
      for (const r of rows) {
        if (!counterIds.includes(r.id)) continue;
        const seen = newest.get(r.id);
        if (!seen || r.rev > seen.rev) newest.set(r.id, { rev: r.rev, n: Number(r.metadata.n ?? 0) });
      }
      const landed = [...newest.values()].reduce((s, x) => s + x.n, 0);
      const incAcked = incs.filter((m) => m.ok).length;
      const lastAck = acks.length ? Math.max(...acks.map((m) => m.at as number)) : goAt;
      const fig: RunFigures = {
        processes: cfg.processes,
        perProcess: cfg.perProcess,
        mode,
        attempted: cfg.processes * cfg.perProcess,
        acknowledged: acks.length,
        failed: fails.length,
        pending: cfg.processes * cfg.perProcess - acks.length - fails.length,
        timedOut,
        lost: [...ackedIds].filter((id) => !copies.has(id)).length,
        duplicatedIds: [...copies].filter(([id, n]) => (expected.has(id) || counterIds.includes(id)) && n > 1).length,
        extraCopies: [...copies].filter(([id]) => expected.has(id) || counterIds.includes(id)).reduce((s, [, n]) => s + n - 1, 0),
        distinctExpected: expected.size,
        rowsPresent: storeRows.length,
        wallMs: lastAck - goAt,
        acknowledgedPerS: round1(acks.length / Math.max(0.001, (lastAck - goAt) / 1000)),
        latency: summarize([...acks, ...fails].map((m) => m.ms as number)),
        errorSample: [...new Set(fails.map((f) => String(f.error).replace(/\s+/g, ' ').slice(0, 160)))].slice(0, 3),
        increments: {
          attempted: cfg.processes * incrementsPerProcess,
          acknowledged: incAcked,
          failed: incs.filter((m) => !m.ok).length,
          landed,
          lost: Math.max(0, incAcked - landed),
        },
        ...(mode === 'lock' ? {
          lockAcquisitionsPerProcess: msgs.filter((m) => m.type === 'done').map((d) => d.acquisitions as number),
          lock: {
            wait: summarize(msgs.filter((m) => m.type === 'lock' && m.waitedMs !== undefined).map((m) => m.waitedMs as number)),
            hold: summarize(msgs.filter((m) => m.type === 'lock' && m.heldMs !== undefined).map((m) => m.heldMs as number)),
            rowsPerCommit: summarize(msgs.filter((m) => m.type === 'commit').map((m) => m.rows as number)),
          },
        } : {}),
      };
      runs.push(fig);
      log(`crossProcess: ${label}: ${fig.acknowledged}/${fig.attempted} acknowledged, ${fig.failed} failed, ${fig.pending} pending${timedOut ? ' (time box)' : ''}, ${fig.lost} lost, ${fig.duplicatedIds} duplicated ids; p50/p99 ${fig.latency.p50}/${fig.latency.p99} ms; increments ${fig.increments.landed}/${fig.increments.acknowledged} landed`);
    }
  }

  const targets: TargetCheck[] = [];
  const find = (p: number, c: number, mode: Mode) => runs.find((r) => r.processes === p && r.perProcess === c && r.mode === mode);
  const big = find(4, 1000, 'lock');
  if (big) {
    const base = find(4, 1000, 'no-lock');
    targets.push({
      target: '4 processes × 1000 concurrent writes: 100% acknowledged, 0 lost, 0 duplicated',
      measured: `${big.acknowledged}/${big.attempted} acknowledged, ${big.lost} lost, ${big.duplicatedIds} duplicated${base ? ` (no lock: ${base.acknowledged} acknowledged, ${base.failed} failed, ${base.pending} unanswered after ${noLockBoxMs / 1000} s, ${base.lost} lost, ${base.duplicatedIds} duplicated ids, ${base.increments.lost} of ${base.increments.acknowledged} acknowledged increments lost)` : ''}`,
      met: big.acknowledged === big.attempted && big.lost === 0 && big.duplicatedIds === 0 && big.increments.lost === 0,
    });
  }
  const small = find(8, 50, 'lock');
  if (small) {
    targets.push({
      target: '8 processes × 50 concurrent stores: p99 < 250 ms',
      measured: `p99 ${small.latency.p99} ms (p50 ${small.latency.p50} ms)`,
      met: small.latency.p99 < 250 && small.failed === 0,
    });
  }
  notes.push('Latency is per store call, from the call until it is acknowledged (or fails), with all C calls of a process started at once: it includes waiting for the process\'s own earlier stores in the queue.');
  notes.push('Acknowledged = the call returned stored/exists. Lost = acknowledged id absent from the table afterwards. Duplicated = an id present in more than one row.');
  return { figures: { runs }, targets };
});
