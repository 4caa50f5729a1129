import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryService } from '../../src/core/memoryService';
import { parseStoreLocation } from '../../src/core/store/location';
import { MemoryStore } from '../../src/core/store/memoryStore';
import { CONSOLIDATION_DIR } from '../../src/core/upgrade/consolidate';
import { cli } from '../helpers/cli';
import { startEmulators } from '../helpers/emulators';
import { deferCleanup, tempDir, vec } from '../helpers/tempStore';
import { runWorker, startWorker } from '../helpers/workers';
import { readAckLogs } from '../chaos/ackLog';
import { seedLegacy } from '../fixtures/upgrade/legacyStore';

const done = (msgs: any[]) => msgs.find((m) => m.done);

// "Machines" are processes with separate state folders: separate locks, so the file lock cannot
// serialize them; only Lance's DynamoDB-coordinated commits and the committer's rev conditions can.
test('4 machines × 100 concurrent stores, shared-counter increments and patches on the same rows: 0 lost, 0 duplicated, every increment counted', async (t) => {
  const emu = await startEmulators();
  deferCleanup(t, () => emu.close());
  const uri = `s3+ddb://${emu.bucket}/team?ddbTableName=memlane_commits`;
  const env = (name: string) => ({ ...emu.env, MEMORY_LANE_STATE_DIR: tempDir(t, `ml-${name}-`) });
  assert.equal((await cli(['store-init', uri], { env: env('init') })).code, 0);
  const shared = ['shared-0', 'shared-1', 'shared-2', 'shared-3', 'shared-4'];
  const seedEnv = env('seed');
  const seed = await MemoryStore.open(uri, { dim: 8, env: seedEnv, maintenance: { auto: false } });
  await seed.insert(shared.map((id, i) => ({ id, text: `shared counter ${id}`, vector: vec(100 + i), metadata: { n: 0 } })));
  await seed.close();

  const machines = ['a', 'b', 'c', 'd'];
  const perMachine = 100;
  const started = Date.now();
  const results = (await Promise.all(machines.map((machine) => runWorker('remote-machine', { uri, machine, mode: 'mixed', shared, count: perMachine, concurrency: 10 }, env(machine))))).map(done);
  const ms = Date.now() - started;
  for (const r of results) assert.deepEqual(r.failures, [], 'every operation was acknowledged');
  assert.equal(new Set(results.map((r) => r.stateDir)).size, machines.length, 'each machine had its own state folder (lock, dead letters)');

  const check = await MemoryStore.open(uri, { dim: 8, env: seedEnv, maintenance: { auto: false } });
  deferCleanup(t, () => check.close());
  const inserted = results.flatMap((r) => r.inserted as string[]);
  assert.equal(inserted.length, machines.length * perMachine);
  const rows = await check.getMany(inserted);
  assert.equal(rows.size, inserted.length, 'no acknowledged store is lost');
  assert.equal((await check.getMany(Array.from({ length: 10 }, (_, k) => `common-${k}`))).size, 10, 'ids every machine stored at once exist');
  assert.equal(await check.count(), shared.length + inserted.length + 10, 'nothing extra (one row per common id), nothing missing');
  const verify = await check.verify();
  assert.deepEqual(verify.duplicateIds, [], 'no id is stored twice');
  assert.equal(verify.ok, true);
  const counters = await check.getMany(shared);
  const total = [...counters.values()].reduce((s, r) => s + Number(r.metadata.n), 0);
  assert.equal(total, results.reduce((s, r) => s + r.increments, 0), 'every acknowledged increment is counted once');
  assert.equal(total, machines.length * perMachine);
  const missingSets = results.flatMap((r) => r.sets as Array<{ id: string; key: string }>).filter((s) => counters.get(s.id)!.metadata[s.key] === undefined);
  assert.deepEqual(missingSets, [], 'no acknowledged patch was overwritten by another machine');
  const versions = (await check.stats()).versions;
  assert.ok(versions > 4 * 5, `the machines' commits interleaved (${versions} versions), not one commit each`);
  t.diagnostic(`4×${perMachine} mixed operations in ${ms} ms; lock acquisitions per machine ${results.map((r) => r.acquisitions).join(', ')}; ${versions} versions; conflicts retried per machine ${results.map((r) => r.conflictsRetried).join(', ')}`);
});

test('an upgrade on one machine while two others write on the same rows: nothing lost, exactly one upgrade write per row', async (t) => {
  const emu = await startEmulators();
  deferCleanup(t, () => emu.close());
  const uri = `s3+ddb://${emu.bucket}/upgrade?ddbTableName=memlane_commits`;
  const env = (name: string) => ({ ...emu.env, MEMORY_LANE_STATE_DIR: tempDir(t, `ml-${name}-`) });
  assert.equal((await cli(['store-init', uri], { env: env('init') })).code, 0);
  const N = 120;
  const seedEnv = env('seed');
  const seed = await MemoryStore.open(uri, { dim: 8, env: seedEnv, maintenance: { auto: false } });
  const legacy = await seedLegacy(seed, N);
  await seed.close();

  // The writers increment and patch legacy rows the upgrader is rewriting; each on its own machine.
  const shared = legacy.slice(0, 30);
  const writers = ['w1', 'w2'].map((machine) => runWorker('remote-machine', { uri, machine, mode: 'mixed', shared, count: 60, concurrency: 6 }, env(machine)));
  const upgrader = runWorker('upgradeWorker', { dir: uri, batchSize: 40, windowSize: 60 }, env('upgrader'));
  const [w1, w2, up] = await Promise.all([...writers, upgrader]);
  const result = up.find((m: any) => m.type === 'result')?.result;
  assert.ok(result, `the upgrade ran: ${JSON.stringify(up.slice(-3))}`);
  assert.deepEqual(result.failed, []);
  // Candidates: the seeded rows, plus any plain memory a writer stored before the scan reached it.
  assert.equal(result.upgraded, result.candidates, 'every candidate upgraded');
  assert.ok(result.candidates >= N, `${result.candidates} candidates`);
  const reports = [done(w1), done(w2)];
  for (const r of reports) assert.deepEqual(r.failures, [], 'every write acknowledged');

  const check = await MemoryStore.open(uri, { dim: 8, env: seedEnv, maintenance: { auto: false } });
  deferCleanup(t, () => check.close());
  const rows = await check.getMany(legacy);
  assert.equal(rows.size, N);
  for (const [i, id] of legacy.entries()) {
    const row = rows.get(id)!;
    const increments = reports.reduce((s, r) => s + (r.incrementsById[id] ?? 0), 0);
    const sets = reports.flatMap((r) => r.sets as Array<{ id: string; key: string }>).filter((s) => s.id === id);
    assert.equal(typeof row.metadata.l0_abstract, 'string', `${id} not upgraded`);
    assert.equal(Number(row.metadata.n ?? 0), increments, `${id}: increments lost`);
    for (const s of sets) assert.notEqual(row.metadata[s.key], undefined, `${id}: patch ${s.key} lost`);
    // Only the upgrade signs a history entry (the writers' patches do not): one entry, one upgrade write.
    const upgradeWrites = ((row.metadata.history ?? []) as Array<{ writer?: { kind?: string } }>).filter((h) => h.writer?.kind === 'upgrade').length;
    assert.equal(upgradeWrites, 1, `${id} (#${i}): ${upgradeWrites} upgrade writes`);
    assert.ok(row.rev >= 2, `${id}: rev ${row.rev}`);
  }
  const inserted = reports.flatMap((r) => r.inserted as string[]);
  assert.equal((await check.getMany(inserted)).size, inserted.length, 'every new memory survives');
  assert.deepEqual((await check.verify()).duplicateIds, []);
});

test('SIGKILL during commits on the remote store: every acknowledged write survives, no increment counted twice', async (t) => {
  const emu = await startEmulators();
  deferCleanup(t, () => emu.close());
  const uri = `s3+ddb://${emu.bucket}/chaos?ddbTableName=memlane_commits`;
  const env = (name: string) => ({ ...emu.env, MEMORY_LANE_STATE_DIR: tempDir(t, `ml-${name}-`) });
  assert.equal((await cli(['store-init', uri], { env: env('init') })).code, 0);
  const shared = ['counter-0', 'counter-1', 'counter-2'];
  const seedEnv = env('seed');
  const seed = await MemoryStore.open(uri, { dim: 8, env: seedEnv, maintenance: { auto: false } });
  await seed.insert(shared.map((id, i) => ({ id, text: `chaos counter ${id}`, vector: vec(200 + i), metadata: { n: 0 } })));
  await seed.close();

  const ackDir = tempDir(t, 'ml-acks-');
  // Two machines; each keeps its state folder across restarts (a restarted process on the same machine).
  const machines = ['k1', 'k2'].map((machine) => ({ machine, env: env(machine) }));
  let kills = 0;
  const rounds = 4;
  for (let round = 0; round < rounds; round++) {
    const runs = machines.map((m) => startWorker('remote-machine', { uri, machine: m.machine, mode: 'ack-loop', shared, count: 0, ackDir }, m.env));
    await Promise.all(runs.map((r) => r.waitFor((msg) => msg.writing, 60_000)));
    // Mid-commit: after a random stretch of writing, without warning.
    await new Promise((r) => setTimeout(r, 400 + Math.random() * 900));
    for (const r of runs) { r.child.kill('SIGKILL'); kills++; }
    await Promise.all(runs.map((r) => r.exited));
  }
  const { records } = readAckLogs(ackDir);
  const acked = records.filter((r) => r.kind === 'ack' && r.op === 'store') as Array<{ id: string; text: string }>;
  const ackedIncs = records.filter((r) => r.kind === 'ack' && r.op === 'inc').length;
  const attemptedIncs = records.filter((r) => r.kind === 'attempt' && r.op === 'inc').length;
  assert.ok(acked.length >= 10, `too few acknowledged writes to mean anything: ${acked.length}`);

  const check = await MemoryStore.open(uri, { dim: 8, env: seedEnv, maintenance: { auto: false } });
  deferCleanup(t, () => check.close());
  const rows = await check.getMany(acked.map((a) => a.id));
  const lost = acked.filter((a) => rows.get(a.id)?.text !== a.text).map((a) => a.id);
  assert.deepEqual(lost, [], 'an acknowledged store is missing');
  const counted = [...(await check.getMany(shared)).values()].reduce((s, r) => s + Number(r.metadata.n), 0);
  // An increment killed after its commit but before its ack may have landed: between acked and attempted.
  assert.ok(counted >= ackedIncs && counted <= attemptedIncs, `counters ${counted}, acknowledged ${ackedIncs}, attempted ${attemptedIncs}`);
  const verify = await check.verify();
  assert.deepEqual(verify.duplicateIds, []);
  assert.equal(verify.ok, true);
  t.diagnostic(`${kills} SIGKILLs over ${rounds} rounds; ${acked.length} acknowledged stores, ${ackedIncs}/${attemptedIncs} increments acknowledged/attempted, ${counted} counted`);
});

test('consolidation on one machine while another edits a cluster member: that cluster is skipped, the others merged, the journal stays on the consolidating machine', async (t) => {
  const emu = await startEmulators();
  deferCleanup(t, () => emu.close());
  const uri = `s3+ddb://${emu.bucket}/consolidate?ddbTableName=memlane_commits`;
  const env = (name: string) => ({ ...emu.env, MEMORY_LANE_STATE_DIR: tempDir(t, `ml-${name}-`) });
  assert.equal((await cli(['store-init', uri], { env: env('init') })).code, 0);
  const here = env('editor');
  const service = await MemoryService.open({ dir: uri, vectorIndex: { auto: false }, storeOptions: { env: here, maintenance: { auto: false } } });
  deferCleanup(t, () => service.close());
  const texts = { alpha: 'The alpha service restarts nightly at two.', gamma: 'Mira reviews every pull request touching the billing module.' };
  for (const [w, text] of Object.entries(texts)) {
    await service.store({ id: `${w}-a`, text, force: true });
    await service.store({ id: `${w}-b`, text: text.replace(/\.$/, ''), force: true });
  }
  const consolidator = env('consolidator');
  let reached!: () => void;
  const atFailpoint = new Promise<void>((resolve) => { reached = resolve; });
  const run = cli(['--db', uri, 'consolidate', '--json'], { env: { ...consolidator, MEMORY_LANE_FAILPOINTS: 'consolidate.beforeWrite=pause:4000' }, onStderr: (text) => { if (text.includes('[failpoint] consolidate.beforeWrite')) reached(); } });
  // Planned, waiting before its first write: now the other machine edits.
  await atFailpoint;
  const store = service.memoryStore;
  // Which id of alpha survives is the consolidator's choice: edit both, so its member surely changed.
  const edits = await store.patch(['alpha-a', 'alpha-b'].map((id) => ({ id, metadata: { edited_elsewhere: true } })), { label: 'edit on another machine' });
  assert.deepEqual(edits.map((e) => e.status), ['applied', 'applied']);
  const done = await run;
  assert.equal(done.code, 0, done.stderr);
  const r = done.json as { merged: Array<{ survivor: string; members: string[] }>; skipped: Array<{ survivor: string; reason: string }>; runId: string };
  assert.ok(r.skipped.some((s) => s.survivor.startsWith('alpha') && /changed meanwhile/.test(s.reason)), JSON.stringify(r.skipped));
  const gamma = r.merged.find((m) => m.survivor.startsWith('gamma'));
  assert.ok(gamma, JSON.stringify(r.merged));
  assert.equal(await store.get(gamma.members[0]!), undefined);
  assert.ok((await store.get('alpha-a'))?.metadata.edited_elsewhere && (await store.get('alpha-b'))?.metadata.edited_elsewhere, 'the other machine\'s edits are kept');
  const journal = join(parseStoreLocation(uri, 'test', consolidator).stateDir, CONSOLIDATION_DIR, `${r.runId}.jsonl`);
  assert.ok(existsSync(journal), `the consolidation journal is in the consolidating machine's state folder: ${journal}`);
  assert.equal((await store.verify()).ok, true);
});

test('two machines starting an upgrade on one remote store: the second is told the first runs (store-wide claim), each row is upgraded once, and the claim is released', async (t) => {
  const emu = await startEmulators();
  deferCleanup(t, () => emu.close());
  const uri = `s3+ddb://${emu.bucket}/two-upgraders?ddbTableName=memlane_commits`;
  const env = (name: string) => ({ ...emu.env, MEMORY_LANE_STATE_DIR: tempDir(t, `ml-${name}-`) });
  assert.equal((await cli(['store-init', uri], { env: env('init') })).code, 0);
  const seedEnv = env('seed');
  const seed = await MemoryStore.open(uri, { dim: 8, env: seedEnv, maintenance: { auto: false } });
  const legacy = await seedLegacy(seed, 40);
  await seed.close();

  // Machine A pauses between reading and writing its first window; machine B starts meanwhile.
  const a = startWorker('upgradeWorker', { dir: uri, batchSize: 20, windowSize: 40 }, { ...env('a'), MEMORY_LANE_FAILPOINTS: 'upgrade.afterPhase1=once:pause:2000' });
  await a.waitForStderr('[failpoint] upgrade.afterPhase1', 60_000);
  const b = startWorker('upgradeWorker', { dir: uri, batchSize: 20, windowSize: 40 }, env('b'));
  const exitB = await b.exited;
  const busy = b.messages.find((m: any) => m.type === 'busy') as { message: string } | undefined;
  assert.equal(exitB.code, 3, `machine B must be refused: ${JSON.stringify(b.messages.slice(-2))} ${b.stderr().slice(-500)}`);
  assert.match(busy?.message ?? '', /already running on this store, on another machine/);
  await a.exited;
  const resultA = (a.messages.find((m: any) => m.type === 'result') as any)?.result;
  assert.equal(resultA?.upgraded, 40, JSON.stringify(a.messages.slice(-2)));

  // The claim was released: a third machine may run (and finds nothing left to do).
  const c = await runWorker('upgradeWorker', { dir: uri, batchSize: 20, windowSize: 40 }, env('c'));
  assert.equal(c.find((m: any) => m.type === 'result')?.result.upgraded, 0);

  const check = await MemoryStore.open(uri, { dim: 8, env: seedEnv, maintenance: { auto: false } });
  deferCleanup(t, () => check.close());
  for (const row of (await check.getMany(legacy)).values()) {
    const writes = ((row.metadata.history ?? []) as Array<{ writer?: { kind?: string } }>).filter((h) => h.writer?.kind === 'upgrade').length;
    assert.equal(writes, 1, `${row.id}: ${writes} upgrade writes`);
  }
});
