// Benchmark 4 — storage: 10k single-row writes (each its own commit, as memories arrive one at a
// time over days) on a store with the product's defaults (automatic maintenance every 200
// commits), then bytes on disk, versions and fragments against the raw data size, before and after
// an explicit maintenance; and the latency of a write and of a recall at each point.
import { join } from 'node:path';
import { LocalEmbedder } from '../src/core/embedding/localEmbedder';
import { MemoryService } from '../src/core/memoryService';
import { MemoryStore, type NewMemory } from '../src/core/store/memoryStore';
import { DEFAULT_CLEANUP_MARGIN_MS } from '../src/core/store/maintenance';
import { fillerTexts, labelledSet } from '../test/helpers/recallQuality';
import { BENCH_SCOPE, buildCorpusStore, DIM, EMBEDDER_ID, OTHER_SCOPE } from './lib/corpus';
import { fixtureStore, log, QUICK, round1, round2, runBenchmark, summarize, type Summary, type TargetCheck } from './lib/env';

export interface StoreState {
  label: string;
  rows: number;
  diskBytes: number;
  rawBytes: number;
  versions: number;
  fragments: number;
  smallFragments: number;
  /** diskBytes / raw data size. */
  ratioToRaw: number;
  writeLatency?: Summary;
  recallLatency?: Summary;
  maintenanceMs?: number;
}

/** Bytes of the data itself: every column's values as stored (UTF-8 strings, float32 vector, 8-byte numbers). */
function rawBytes(rows: Array<Record<string, unknown>>): number {
  let total = 0;
  for (const raw of rows) {
    for (const key of ['id', 'text', 'category', 'scope', 'metadata']) total += Buffer.byteLength(String(raw[key] ?? ''), 'utf8');
    total += DIM * 4 + 4 * 8; // vector, importance, created_at, updated_at, rev
  }
  return total;
}

async function stateOf(store: MemoryStore, label: string): Promise<StoreState> {
  const s = await store.stats();
  const raw = rawBytes(await store.rows(undefined));
  return { label, rows: s.rows, diskBytes: s.diskBytes, rawBytes: raw, versions: s.versions, fragments: s.fragments, smallFragments: s.smallFragments, ratioToRaw: round2(s.diskBytes / raw) };
}

void runBenchmark('storage', 'Storage after 10k single writes, before and after maintenance', async ({ scratch, parameters, notes }) => {
  const n = QUICK ? 1000 : 10_000;
  // The writes are the slow part (one commit each, 10k of them): they get at most 9 minutes, and in a
  // suite run no more than what is left of the suite's budget minus what comes after them (~1 min).
  const deadline = Number(process.env.BENCH_DEADLINE ?? 0);
  const writeBoxMs = Math.max(60_000, Math.min(Number(process.env.BENCH_STORAGE_BOX_S ?? (QUICK ? 60 : 540)) * 1000, deadline ? deadline - Date.now() - 60_000 : Infinity));
  const probes = 40;
  Object.assign(parameters, {
    singleWrites: n,
    writeTimeBoxMs: writeBoxMs,
    write: 'MemoryStore.insert([one row]) at interactive priority, one after another: one lock cycle and one LanceDB commit per memory',
    maintenance: `product defaults: automatic maintenance (compaction + index upkeep under the store lock; prune every version whose successor is older than the ${DEFAULT_CLEANUP_MARGIN_MS / 1000} s margin and that no reader pinned or leased) after every 200 commits or 64 small fragments`,
    rows: `the recall corpus (labelled memories + filler), 384-dim local embedder vectors computed beforehand in batches`,
    probes: `${probes} single writes and ${labelledSet.queries.length} hybrid recalls at each point`,
    baseline: 'the same rows written in bulk (large batches) and compacted once: the recall benchmark\'s fixture',
  });
  const dir = join(scratch.dir('storage'), 'store');
  const texts = [...labelledSet.memories.map((m) => m.text), ...fillerTexts(n - labelledSet.memories.length)];
  const embedder = new LocalEmbedder(DIM);
  const vectors = await embedder.embed(texts);
  const rowAt = (i: number): NewMemory => i < labelledSet.memories.length
    ? { id: labelledSet.memories[i]!.id, text: texts[i]!, vector: vectors[i]!, category: labelledSet.memories[i]!.category, scope: BENCH_SCOPE }
    : { id: `f${String(i).padStart(7, '0')}`, text: texts[i]!, vector: vectors[i]!, scope: i % 10 === 9 ? OTHER_SCOPE : BENCH_SCOPE };

  let store = await MemoryStore.open(dir, { dim: DIM, embedder: EMBEDDER_ID });
  const maintenanceRuns: Array<{ ms: number; reason?: string }> = [];
  let sub = store.onMaintenance((m) => maintenanceRuns.push({ ms: m.ms, ...(m.reason ? { reason: m.reason } : {}) }));
  const latencies: number[] = [];
  const started = Date.now();
  let written = 0;
  for (let i = 0; i < n; i++) {
    if (Date.now() - started > writeBoxMs) break;
    const t0 = performance.now();
    const [r] = await store.insert([rowAt(i)], { label: 'store memory' });
    latencies.push(performance.now() - t0);
    if (r!.status !== 'inserted') throw new Error(`write ${i}: ${r!.status}`);
    written++;
    if (written % 1000 === 0) log(`storage: ${written} single writes, last 1000 p50 ${summarize(latencies.slice(-1000)).p50} ms`);
  }
  const writeMs = Date.now() - started;
  await store.whenIdle();
  const perThousand = Array.from({ length: Math.ceil(latencies.length / 1000) }, (_, k) => {
    const s = summarize(latencies.slice(k * 1000, (k + 1) * 1000));
    return { writes: `${k * 1000 + 1}–${Math.min(latencies.length, (k + 1) * 1000)}`, p50: s.p50, p95: s.p95, max: s.max };
  });

  const probe = async (s: StoreState, round: number) => {
    const ms: number[] = [];
    for (let k = 0; k < probes; k++) {
      const [vector] = await embedder.embed([`probe ${round}-${k}: remember to rotate the staging credentials`]);
      const t0 = performance.now();
      await store.insert([{ id: `probe-${round}-${k}`, text: `probe ${round}-${k}: remember to rotate the staging credentials`, vector: vector!, scope: 'workspace:probes' }]);
      ms.push(performance.now() - t0);
    }
    s.writeLatency = summarize(ms);
    const memory = new MemoryService(store, embedder, { defaultScopes: [BENCH_SCOPE, 'global'], vectorIndex: { auto: false } });
    try {
      const rms: number[] = [];
      for (const q of labelledSet.queries) {
        const t0 = performance.now();
        await memory.recall(q.q, { count: false });
        rms.push(performance.now() - t0);
      }
      s.recallLatency = summarize(rms);
    } finally {
      await memory.close();
    }
    await store.whenIdle();
  };

  const states: StoreState[] = [];
  const before = await stateOf(store, `after ${written} single writes (automatic maintenance only)`);
  states.push(before);
  await probe(before, 1);
  log(`storage: before maintenance ${(before.diskBytes / 2 ** 20).toFixed(1)} MB, ${before.versions} versions, ${before.fragments} fragments`);

  let t0 = Date.now();
  await store.optimize('bench: explicit maintenance');
  const afterDefault = await stateOf(store, `right after maintenance (product default: versions within the ${DEFAULT_CLEANUP_MARGIN_MS / 1000} s margin kept)`);
  afterDefault.maintenanceMs = Date.now() - t0;
  states.push(afterDefault);
  await probe(afterDefault, 2);
  log(`storage: after maintenance ${(afterDefault.diskBytes / 2 ** 20).toFixed(1)} MB, ${afterDefault.versions} versions, ${afterDefault.fragments} fragments`);

  // The pruning margin protects short readers in other processes (docs/lancedb.md#version-cleanup-and-readers). Once it has passed,
  // the next maintenance prunes everything older; margin 0 shows that state now. Safe here only
  // because no other process has this store open.
  sub.dispose();
  await store.close();
  store = await MemoryStore.open(dir, { maintenance: { cleanupMarginMs: 0 } });
  sub = store.onMaintenance(() => undefined);
  t0 = Date.now();
  await store.optimize('bench: maintenance once the margin has passed');
  const steady = await stateOf(store, 'after maintenance once the margin has passed (old versions pruned)');
  steady.maintenanceMs = Date.now() - t0;
  states.push(steady);
  await probe(steady, 3);
  log(`storage: steady state ${(steady.diskBytes / 2 ** 20).toFixed(1)} MB, ${steady.versions} versions, ${steady.fragments} fragments`);
  sub.dispose();
  await store.close();

  // Baseline: the same rows loaded in bulk and compacted once.
  const bulk = await fixtureStore(`corpus-${n}`, scratch, (d) => buildCorpusStore(d, n));
  const bulkStore = await MemoryStore.open(bulk.template, { create: false, maintenance: { auto: false } });
  const bulkState = await stateOf(bulkStore, `the same ${n} rows written in bulk and compacted once (baseline)`);
  await bulkStore.close();

  const targets: TargetCheck[] = [{
    target: 'Disk after 10k writes and maintenance within 3× the raw data size',
    measured: `${afterDefault.ratioToRaw}× raw right after maintenance (versions within the ${DEFAULT_CLEANUP_MARGIN_MS / 1000} s margin kept); ${round2(steady.diskBytes / 2 ** 20)} MB = ${steady.ratioToRaw}× once the margin has passed; ${before.ratioToRaw}× before it${written < n ? ` — after ${written} of ${n} writes (time box)` : ''}`,
    met: afterDefault.ratioToRaw <= 3 && written === n,
    ...(afterDefault.ratioToRaw > 3 ? { cause: `right after the writes, maintenance keeps every version whose successor is younger than the ${DEFAULT_CLEANUP_MARGIN_MS / 1000} s margin (it protects short reads in other processes, docs/lancedb.md#version-cleanup-and-readers), so their files stay on disk until a maintenance runs after the margin` } : written < n ? { cause: 'the single writes did not all fit in the time box' } : {}),
  }];
  notes.push('Raw data size = the bytes of every column value (UTF-8 strings, 384 float32, 8-byte numbers) of the rows in the table, without any file format overhead or index.');
  return {
    figures: {
      written,
      writeMs,
      writesPerS: round1(written / (writeMs / 1000)),
      writeLatency: summarize(latencies),
      writeLatencyPerThousand: perThousand,
      automaticMaintenance: { runs: maintenanceRuns.length, ms: summarize(maintenanceRuns.map((m) => m.ms)) },
      states,
      bulkBaseline: bulkState,
    },
    targets,
  };
});
