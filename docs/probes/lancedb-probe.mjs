// Re-measures the LanceDB behaviours docs/lancedb.md relies on, on this machine and this version.
// Run from the repository root after `npm ci`:  node docs/probes/lancedb-probe.mjs <probe> [options]
// Probes: visibility | lost-updates | delete-add | fragments | prune-vs-reader | optimize-vs-writer | partial-update | compaction | cache | versions | all
// Each probe works in a fresh temp folder, spawns real child processes where the behaviour is about
// other processes, and prints one JSON line of figures. Nothing here touches a Memory Lane store.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lancedb from '@lancedb/lancedb';
import { createRequire } from 'node:module';

const self = fileURLToPath(import.meta.url);
// The CommonJS build, the one LanceDB's own code loads: an Arrow table from the ES module build is
// not an instance of its classes, and LanceDB then misreads it (a panic, "expected 4 got 5").
const arrow = createRequire(import.meta.url)('apache-arrow');
const lancedbVersion = () => { try { return JSON.parse(readFileSync(join(process.cwd(), 'node_modules/@lancedb/lancedb/package.json'), 'utf8')).version; } catch { return 'unknown'; } };
const [probe = 'all', ...rest] = process.argv.slice(2);
const opt = Object.fromEntries(rest.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')));
const num = (k, d) => (opt[k] !== undefined ? Number(opt[k]) : d);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const DIM = 8;
const row = (id, n = 0) => ({ id, n, vector: Array.from({ length: DIM }, (_, i) => Math.sin(i + id.length + n)) });
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };
const timeMs = async (fn) => { const t = performance.now(); await fn(); return performance.now() - t; };
const du = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? du(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);

/** An error message without its paths and numbers, so equal failures count together. */
const errorKey = (e) => String(e?.message ?? e).split('\n')[0].replace(/\/?(tmp|var)\/[^\s,:]*/g, '<dir>').replace(/\d+/g, 'N').slice(0, 160);

/** Runs this script as a child in role `role`; resolves with its last JSON line on stdout. */
function child(role, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [self, '--child', role, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LANCEDB_LOG: 'error' } });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('exit', (code) => { const last = out.trim().split('\n').pop(); try { resolve(JSON.parse(last)); } catch { reject(new Error(`${role} exited ${code}: ${out}`)); } });
  });
}

async function fresh(rows) {
  const dir = mkdtempSync(join(tmpdir(), 'lancedb-probe-'));
  const db = await lancedb.connect(dir);
  await db.createTable('t', rows);
  return dir;
}

// ------------------------------------------------------------------ child roles
const roles = {
  async write({ dir, id }) { const t = await (await lancedb.connect(dir)).openTable('t'); await t.add([row(id)]); return { ok: true }; },
  /** Read-modify-write of shared counters with no lock (what the store lock prevents). */
  async rmw({ dir, ids, rounds, sql }) {
    const t = await (await lancedb.connect(dir, { readConsistencyInterval: 0 })).openTable('t');
    let acked = 0, errors = 0;
    for (let r = 0; r < rounds; r++) for (const id of ids) {
      try {
        if (sql) await t.update({ where: `id = '${id}'`, valuesSql: { n: 'n + 1' } });
        else {
          const [cur] = await t.query().where(`id = '${id}'`).toArray();
          await t.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([row(id, Number(cur.n) + 1)]);
        }
        acked++;
      } catch { errors++; }
    }
    return { acked, errors };
  },
  /** Replaces one row `rounds` times either by delete+add or by mergeInsert. */
  async replace({ dir, rounds, how }) {
    const t = await (await lancedb.connect(dir, { readConsistencyInterval: 0 })).openTable('t');
    for (let i = 0; i < rounds; i++) {
      if (how === 'delete+add') { await t.delete("id = 'x'"); await t.add([row('x', i)]); }
      else await t.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([row('x', i)]);
    }
    return { done: rounds };
  },
  async writeLoop({ dir, ms }) {
    const t = await (await lancedb.connect(dir, { readConsistencyInterval: 0 })).openTable('t');
    const end = Date.now() + ms; let ok = 0; const errors = {};
    for (let i = 0; Date.now() < end; i++) {
      try { await t.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([row(`w${i % 50}`, i)]); ok++; }
      catch (e) { const k = errorKey(e); errors[k] = (errors[k] ?? 0) + 1; }
    }
    return { ok, errors };
  },
  /** Reads in a loop; `pinned` reads one table version throughout, as a consistent export does. */
  async readLoop({ dir, ms, pinned }) {
    const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });
    let t = await db.openTable('t');
    if (pinned) t = await db.openTable('t', undefined, { version: await t.version() });
    const end = Date.now() + ms; let ok = 0; const errors = {};
    while (Date.now() < end) {
      try { await t.query().limit(20).toArray(); await t.countRows(); ok++; }
      catch (e) { const k = errorKey(e); errors[k] = (errors[k] ?? 0) + 1; }
    }
    return { ok, errors };
  },
  async optimizeLoop({ dir, ms, pruneNow }) {
    const t = await (await lancedb.connect(dir, { readConsistencyInterval: 0 })).openTable('t');
    const end = Date.now() + ms; let ok = 0; const errors = {};
    while (Date.now() < end) {
      try { await t.optimize(pruneNow ? { cleanupOlderThan: new Date() } : {}); ok++; }
      catch (e) { const k = errorKey(e); errors[k] = (errors[k] ?? 0) + 1; }
    }
    return { ok, errors };
  },
};

// ------------------------------------------------------------------ probes
const probes = {
  /** Does a connection see another process's commit? Default options vs readConsistencyInterval 0. */
  async visibility() {
    const dir = await fresh([row('a')]);
    const dflt = await (await lancedb.connect(dir)).openTable('t');
    const zero = await (await lancedb.connect(dir, { readConsistencyInterval: 0 })).openTable('t');
    await dflt.countRows(); await zero.countRows();
    await child('write', { dir, id: 'b' });
    const seen = { default: await dflt.countRows(), readConsistencyInterval0: await zero.countRows() };
    await dflt.checkoutLatest();
    seen.defaultAfterCheckoutLatest = await dflt.countRows();
    rmSync(dir, { recursive: true, force: true });
    return { rowsExpected: 2, ...seen };
  },
  /** P processes increment shared counters with no lock: read-then-mergeInsert vs update(valuesSql). */
  async 'lost-updates'() {
    const procs = num('procs', 4), rounds = num('rounds', 10), ids = ['c0', 'c1', 'c2'];
    const out = {};
    for (const sql of [false, true]) {
      const dir = await fresh(ids.map((id) => row(id, 0)));
      const res = await Promise.all(Array.from({ length: procs }, () => child('rmw', { dir, ids, rounds, sql })));
      const t = await (await lancedb.connect(dir)).openTable('t');
      const rows = await t.query().toArray();
      const total = rows.reduce((n, r) => n + Number(r.n), 0);
      const acked = res.reduce((n, r) => n + r.acked, 0);
      out[sql ? 'updateValuesSql' : 'readThenMergeInsert'] = { acknowledged: acked, errors: res.reduce((n, r) => n + r.errors, 0), counted: total, lost: acked - total, rows: rows.length };
      rmSync(dir, { recursive: true, force: true });
    }
    return { procs, rounds, sharedRows: ids.length, ...out };
  },
  /** Does a reader in another process ever miss a row that is being replaced? */
  async 'delete-add'() {
    const rounds = num('rounds', 60), out = {};
    for (const how of ['delete+add', 'mergeInsert']) {
      const dir = await fresh([row('x')]);
      const t = await (await lancedb.connect(dir, { readConsistencyInterval: 0 })).openTable('t');
      const writer = child('replace', { dir, rounds, how });
      let reads = 0, misses = 0, done = false;
      void writer.then(() => { done = true; });
      while (!done) { reads++; if ((await t.countRows("id = 'x'")) !== 1) misses++; }
      out[how] = { reads, misses };
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  },
  /** Single-row commits pile up versions and fragments; what optimize() and an index give back. */
  async fragments() {
    const base = num('rows', 10_000), writes = num('writes', 500);
    const dir = await fresh(Array.from({ length: base }, (_, i) => row(`r${i}`)));
    const t = await (await lancedb.connect(dir)).openTable('t');
    const probeGet = async () => median(await Promise.all([0, 1, 2, 3, 4].map(async (k) => timeMs(() => t.query().where(`id = 'r${k * 7}'`).toArray()))));
    const probeMerge = async () => median([await timeMs(() => t.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([row('r1', 1)])), await timeMs(() => t.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([row('r2', 1)])), await timeMs(() => t.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([row('r3', 1)]))]);
    const before = { getByIdMs: await probeGet(), mergeInsert1Ms: await probeMerge(), versions: (await t.listVersions()).length, mb: du(dir) / 2 ** 20 };
    for (let i = 0; i < writes; i++) await t.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([row(`n${i}`)]);
    const after = { getByIdMs: await probeGet(), mergeInsert1Ms: await probeMerge(), versions: (await t.listVersions()).length, fragments: (await t.stats()).fragmentStats.numFragments, mb: du(dir) / 2 ** 20 };
    await t.optimize();
    const optimizedDefault = { getByIdMs: await probeGet(), versions: (await t.listVersions()).length, fragments: (await t.stats()).fragmentStats.numFragments, mb: du(dir) / 2 ** 20 };
    await t.optimize({ cleanupOlderThan: new Date() });
    const prunedNow = { versions: (await t.listVersions()).length, mb: du(dir) / 2 ** 20 };
    await t.createIndex('id', { config: lancedb.Index.btree() });
    const withBtree = { getByIdMs: await probeGet(), mergeInsert1Ms: await probeMerge() };
    rmSync(dir, { recursive: true, force: true });
    return { baseRows: base, singleRowWrites: writes, before, after, optimizedDefault, prunedNow, withBtree };
  },
  /** optimize({ cleanupOlderThan: now }) in one process while another reads and another writes. */
  async 'prune-vs-reader'() {
    const ms = num('ms', 8000);
    const dir = await fresh(Array.from({ length: 200 }, (_, i) => row(`w${i}`)));
    const [writer, reader, pinnedReader, optimizer] = await Promise.all([child('writeLoop', { dir, ms }), child('readLoop', { dir, ms }), child('readLoop', { dir, ms, pinned: true }), child('optimizeLoop', { dir, ms, pruneNow: true })]);
    rmSync(dir, { recursive: true, force: true });
    return { ms, writer, reader, pinnedReader, optimizer };
  },
  /** optimize() with the default retention in one process while another writes (no lock). */
  async 'optimize-vs-writer'() {
    const ms = num('ms', 8000);
    const dir = await fresh(Array.from({ length: 200 }, (_, i) => row(`w${i}`)));
    const [writer, optimizer] = await Promise.all([child('writeLoop', { dir, ms }), child('optimizeLoop', { dir, ms, pruneNow: false })]);
    rmSync(dir, { recursive: true, force: true });
    return { ms, writer, optimizer };
  },
  /**
   * Rewriting a batch of rows' metadata at N rows (384-dim vectors, BTREE on id): whole rows through
   * mergeInsert (what a patch batch does), only the changed columns through mergeInsert with a
   * partial-schema Arrow table, and one update() whose valuesSql is a CASE over the ids.
   * Alternating rounds; checks that vectors and texts survive the column-only writes.
   */
  async 'partial-update'() {
    const n = num('rows', 10000), batch = num('batch', 200), rounds = num('rounds', 6), dim = 384;
    const vecOf = (i) => Array.from({ length: dim }, (_, k) => Math.sin(i * 7 + k));
    const meta = (i, r) => JSON.stringify({ l0_abstract: `abstract ${i} round ${r} `.repeat(4), l1_overview: `overview ${i} `.repeat(20), tier: 'working', confidence: 0.7 });
    const full = (i, r, rev) => ({ id: `m${String(i).padStart(6, '0')}`, text: `memory text ${i} `.repeat(10), vector: vecOf(i), metadata: meta(i, r), rev, updated_at: r });
    const dir = mkdtempSync(join(tmpdir(), 'lancedb-probe-'));
    const db = await lancedb.connect(dir);
    const t = await db.createTable('t', Array.from({ length: n }, (_, i) => full(i, 0, 1)));
    await t.createIndex('id', { config: lancedb.Index.btree() });
    const schema = new arrow.Schema([new arrow.Field('id', new arrow.Utf8()), new arrow.Field('metadata', new arrow.Utf8()), new arrow.Field('rev', new arrow.Float64()), new arrow.Field('updated_at', new arrow.Float64())]);
    const revs = new Map();
    const partial = (r, idx) => new arrow.Table(schema, {
      id: arrow.vectorFromArray(idx.map((i) => full(i, r, 0).id), new arrow.Utf8()),
      metadata: arrow.vectorFromArray(idx.map((i) => meta(i, r)), new arrow.Utf8()),
      rev: arrow.vectorFromArray(idx.map((i) => (revs.get(i) ?? 1) + 1), new arrow.Float64()),
      updated_at: arrow.vectorFromArray(idx.map(() => r), new arrow.Float64()),
    });
    const ids = (r) => Array.from({ length: batch }, (_, k) => ((r * 7919 + k * 37) % n));
    const methods = {
      fullRows: async (r, idx) => t.mergeInsert('id').whenMatchedUpdateAll({ where: 'target.rev = source.rev - 1' }).whenNotMatchedInsertAll().execute(idx.map((i) => full(i, r, (revs.get(i) ?? 1) + 1))),
      // With the BTREE on id, a partial-schema merge conditioned on the revision panics in Lance
      // ("Incorrect number of arrays for StructArray fields, expected 4 got 5"); without it, it runs.
      partialMerge: async (r, idx) => t.mergeInsert('id').whenMatchedUpdateAll({ where: 'target.rev = source.rev - 1' }).execute(partial(r, idx)),
      partialMergeUnconditional: async (r, idx) => t.mergeInsert('id').whenMatchedUpdateAll().execute(partial(r, idx)),
      // Lance's SQL planner refuses CASE ("is not supported SQL in lance"): kept to show it.
      updateCase: async (r, idx) => {
        const q = (x) => `'${x.replace(/'/g, "''")}'`;
        const cases = idx.map((i) => `WHEN ${q(full(i, r, 0).id)} THEN ${q(meta(i, r))}`).join(' ');
        return t.update({ where: `id IN (${idx.map((i) => q(full(i, r, 0).id)).join(', ')})`, valuesSql: { metadata: `CASE id ${cases} END`, rev: 'rev + 1', updated_at: String(r) } });
      },
    };
    const times = Object.fromEntries(Object.keys(methods).map((m) => [m, []]));
    const errors = {};
    let round = 1;
    for (let r = 0; r < rounds; r++) {
      for (const [name, fn] of Object.entries(methods)) {
        const idx = ids(round++);
        try {
          // rev column is stored as float64 in this probe table, like the product's numeric columns.
          times[name].push(await timeMs(() => fn(round, idx)));
          for (const i of idx) revs.set(i, (revs.get(i) ?? 1) + 1);
        } catch (e) { errors[name] = errorKey(e); }
      }
    }
    // Column-only writes must leave the other columns as they were.
    const sample = await t.query().where(`id IN ('m000000', 'm000037', 'm000074')`).toArray();
    const intact = sample.every((row) => Math.abs(Array.from(row.vector)[1] - vecOf(Number(row.id.slice(1)))[1]) < 1e-6 && row.text.startsWith('memory text'));
    const total = await t.countRows();
    rmSync(dir, { recursive: true, force: true });
    return { rows: n, batch, rounds, medianMs: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(median(v) * 10) / 10])), allMs: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map((x) => Math.round(x))])), errors, otherColumnsIntact: intact, rowsAfter: total };
  },
};

Object.assign(probes, {
  /**
   * What each optimize() rewrites, by the indexes a table has: a base of `base` rows, then `cycles`
   * times two appends of 100 rows and an optimize. Compaction merges neighbouring small fragments
   * only while the same index segments cover them, and each vector index keeps a pass's new rows in
   * a segment of their own.
   */
  async compaction() {
    const base = num('base', 3000), cycles = num('cycles', 6);
    const out = {};
    for (const indexes of ['none', 'scalar', 'scalar+vector']) {
      const mk = (a, b) => Array.from({ length: b - a }, (_, k) => ({ id: `r${a + k}`, text: `word${(a + k) % 50} row ${a + k}`, scope: `s${(a + k) % 3}`, vector: Array.from({ length: DIM }, (_, i) => Math.sin(i * 7 + a + k)) }));
      const dir = mkdtempSync(join(tmpdir(), 'lancedb-probe-'));
      const t = await (await lancedb.connect(dir)).createTable('t', mk(0, base));
      if (indexes !== 'none') {
        await t.createIndex('id', { config: lancedb.Index.btree() });
        await t.createIndex('text', { config: lancedb.Index.fts() });
        await t.createIndex('scope', { config: lancedb.Index.bitmap() });
      }
      if (indexes === 'scalar+vector') await t.createIndex('vector', { config: lancedb.Index.ivfFlat({ numPartitions: 2, distanceType: 'cosine' }) });
      let n = base;
      const passes = [];
      for (let c = 0; c < cycles; c++) {
        await t.add(mk(n, n + 100)); n += 100;
        await t.add(mk(n, n + 100)); n += 100;
        const ms = await timeMs(async () => { passes.push(await t.optimize()); });
        const vec = (await t.listIndices()).find((i) => i.columns.includes('vector'));
        Object.assign(passes[c], { ms, fragments: (await t.stats()).fragmentStats.numFragments, vectorSegments: vec?.numSegments });
      }
      out[indexes] = passes.map((p) => ({ rewritten: p.compaction.fragmentsRemoved, written: p.compaction.fragmentsAdded, fragments: p.fragments, ...(p.vectorSegments !== undefined ? { vectorSegments: p.vectorSegments } : {}), ms: Math.round(p.ms) }));
      rmSync(dir, { recursive: true, force: true });
    }
    return { base, cycles, perPass: out };
  },
  /** What a maintenance pass costs by the versions kept: V one-row commits on `rows` rows, then optimize() pruning nothing, twice. */
  async versions() {
    const rows = num('rows', 4500);
    const out = [];
    for (const v of String(opt.versions ?? '300,1000,2400').split(',').map(Number)) {
      const dir = mkdtempSync(join(tmpdir(), 'lancedb-probe-'));
      const t = await (await lancedb.connect(dir)).createTable('t', Array.from({ length: rows }, (_, i) => row(`b${i}`, i)));
      await t.createIndex('id', { config: lancedb.Index.btree() });
      for (let i = 0; i < v; i++) await t.add([row(`x${i}`, i)]);
      const listMs = await timeMs(() => t.listVersions());
      const passMs = await timeMs(() => t.optimize({ cleanupOlderThan: new Date(0) }));
      const secondPassMs = await timeMs(() => t.optimize({ cleanupOlderThan: new Date(0) }));
      out.push({ versions: (await t.listVersions()).length, listVersionsMs: Math.round(listMs), passMs: Math.round(passMs), secondPassMs: Math.round(secondPassMs) });
      rmSync(dir, { recursive: true, force: true });
    }
    return { rows, perVersions: out };
  },
  /** Does a committing process's session cache grow, and do the connect() session caps hold it? */
  async cache() {
    const commits = num('commits', 600);
    const out = {};
    for (const [name, session] of [['LanceDB default (6 GB / 1 GB)', lancedb.Session.default()], ['capped 8 MB / 2 MB', new lancedb.Session(8n * 2n ** 20n, 2n * 2n ** 20n)]]) {
      const dir = mkdtempSync(join(tmpdir(), 'lancedb-probe-'));
      const db = await lancedb.connect(dir, { session });
      const t = await db.createTable('t', [row('a')]);
      await t.createIndex('id', { config: lancedb.Index.btree() });
      for (let i = 0; i < commits; i++) {
        await t.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([row(`w${i}`)]);
        if (i % 100 === 99) await t.optimize({ cleanupOlderThan: new Date() });
      }
      out[name] = { cacheMB: Math.round(Number(session.sizeBytes()) / 2 ** 20 * 10) / 10, cacheItems: Number(session.approxNumItems()) };
      rmSync(dir, { recursive: true, force: true });
    }
    return { commits, ...out };
  },
});

if (probe === '--child') {
  const [role, args] = rest;
  console.log(JSON.stringify(await roles[role](JSON.parse(args))));
  process.exit(0);
}
const names = probe === 'all' ? Object.keys(probes) : [probe];
for (const name of names) {
  if (!probes[name]) { console.error(`unknown probe ${name}; one of: ${Object.keys(probes).join(', ')}, all`); process.exit(2); }
  const t0 = Date.now();
  const figures = await probes[name]();
  console.log(JSON.stringify({ probe: name, lancedb: lancedbVersion(), node: process.version, seconds: Math.round((Date.now() - t0) / 100) / 10, ...figures }));
}
