// Re-measures the proper-lockfile behaviours docs/lancedb.md#proper-lockfile relies on.
// Run from the repository root after `npm ci`:  node docs/probes/lockfile-probe.mjs <probe> [--stale=MS]
// Probes: reentrant | sigkill | frozen-holder | unfair | all. Each uses a fresh temp folder and real
// child processes, and prints one JSON line of figures.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const lockfile = require('proper-lockfile');
const self = fileURLToPath(import.meta.url);
const [probe = 'all', ...rest] = process.argv.slice(2);
const opt = Object.fromEntries(rest.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')));
const stale = Number(opt.stale ?? 10_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = () => mkdtempSync(join(tmpdir(), 'lockfile-probe-'));
const lockOpts = (target, extra = {}) => ({ realpath: false, lockfilePath: `${target}.lock`, stale, retries: 0, ...extra });

/** Spawns this script in `role`; resolves once it prints "ready", with the process and its exit. */
function child(role, args) {
  const p = spawn(process.execPath, [self, '--child', role, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  p.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((r) => p.on('exit', (code, signal) => r({ code, signal, out, err })));
  const ready = new Promise((r) => p.stdout.on('data', (d) => { out += d; if (out.includes('ready')) r(); }));
  return { p, ready, exited };
}

/** Takes the lock until it succeeds or `deadline` passes, polling every 5 ms; returns the ms waited. */
async function acquireWithin(target, deadlineMs, extra) {
  const t0 = Date.now();
  for (;;) {
    try { return { waitedMs: Date.now() - t0, release: await lockfile.lock(target, lockOpts(target, extra)) }; }
    catch (e) { if (e.code !== 'ELOCKED' || Date.now() - t0 > deadlineMs) throw e; await sleep(5); }
  }
}

const roles = {
  /** Takes the lock, says ready, then holds it (forever, or blocking its event loop for `blockMs`). */
  async hold({ target, blockMs, handler }) {
    await lockfile.lock(target, lockOpts(target, handler ? { onCompromised: (e) => { console.log(`compromised ${e.code}`); } } : {}));
    console.log('ready');
    if (blockMs) { const end = Date.now() + blockMs; while (Date.now() < end) { /* a frozen event loop */ } }
    await sleep(blockMs ? 3 * stale : 1 << 30);
    console.log('still alive');
  },
  /** A busy writer: lock, hold `holdMs`, release, pause `courtesyMs` (0 = re-lock at once), for `ms`. */
  async busy({ target, ms, start, holdMs, courtesyMs }) {
    console.log('ready');
    while (Date.now() < start) await sleep(1);
    let n = 0;
    while (Date.now() < start + ms) {
      try { const release = await lockfile.lock(target, lockOpts(target)); n++; await sleep(holdMs); await release(); if (courtesyMs) await sleep(courtesyMs); }
      catch (e) { if (e.code !== 'ELOCKED') throw e; await sleep(1); }
    }
    console.log(JSON.stringify({ acquisitions: n }));
  },
  /** A polite writer: every 20 ms wants the lock once, polling every 1-8 ms; records each wait. */
  async polite({ target, ms, start }) {
    console.log('ready');
    while (Date.now() < start) await sleep(1);
    const waits = [];
    while (Date.now() < start + ms) {
      const t0 = Date.now();
      for (;;) {
        try { const release = await lockfile.lock(target, lockOpts(target)); await release(); break; }
        catch (e) { if (e.code !== 'ELOCKED') throw e; if (Date.now() > start + ms) break; await sleep(1 + Math.random() * 7); }
      }
      waits.push(Date.now() - t0);
      await sleep(20);
    }
    waits.sort((a, b) => a - b);
    console.log(JSON.stringify({ acquisitions: waits.length, waitP50Ms: waits[Math.floor((waits.length - 1) / 2)], waitMaxMs: waits[waits.length - 1] }));
  },
};

const probes = {
  async reentrant() {
    const target = join(tmp(), 'x');
    const release = await lockfile.lock(target, lockOpts(target));
    const second = await lockfile.lock(target, lockOpts(target)).then(() => 'acquired', (e) => e.code);
    await release();
    const releaseAgain = await release().then(() => 'ok', (e) => e.code);
    return { lockTwiceInOneProcess: second, releaseTwice: releaseAgain };
  },
  async sigkill() {
    const target = join(tmp(), 'x');
    const h = child('hold', { target });
    await h.ready;
    h.p.kill('SIGKILL');
    await h.exited;
    const { waitedMs, release } = await acquireWithin(target, 3 * stale);
    await release();
    const t = child('hold', { target });
    await t.ready;
    t.p.kill('SIGTERM');
    await t.exited;
    const afterTerm = await acquireWithin(target, 3 * stale);
    await afterTerm.release();
    return { stale, waitAfterSigkillMs: waitedMs, waitAfterSigtermMs: afterTerm.waitedMs };
  },
  async 'frozen-holder'() {
    const out = {};
    for (const handler of [false, true]) {
      const target = join(tmp(), 'x');
      const h = child('hold', { target, blockMs: 2 * stale, handler });
      await h.ready;
      const { waitedMs, release } = await acquireWithin(target, 4 * stale);
      const ex = await h.exited;
      await release().catch(() => {});
      out[handler ? 'customOnCompromised' : 'defaultOnCompromised'] = {
        otherProcessGotLockAfterMs: waitedMs,
        holderExit: ex.signal ?? ex.code,
        holderSaid: ex.out.replace('ready', '').trim() || undefined,
        holderError: /ECOMPROMISED/.test(ex.err) ? 'uncaught ECOMPROMISED' : undefined,
      };
    }
    return { stale, holderEventLoopBlockedMs: 2 * stale, ...out };
  },
  async unfair() {
    const ms = Number(opt.ms ?? 4000), out = {};
    for (const courtesyMs of [0, 12]) {
      const target = join(tmp(), 'x');
      const start = Date.now() + 1500;
      const [busy, polite] = await Promise.all([child('busy', { target, ms, start, holdMs: 5, courtesyMs }), child('polite', { target, ms, start })]
        .map(async (c) => JSON.parse((await c.exited).out.replace('ready', '').trim())));
      out[courtesyMs ? `busyStepsAside${courtesyMs}ms` : 'busyRelocksAtOnce'] = { busy, polite };
    }
    return { ms, ...out };
  },
};

if (probe === '--child') {
  const [role, args] = rest;
  await roles[role](JSON.parse(args));
  process.exit(0);
}
for (const name of probe === 'all' ? Object.keys(probes) : [probe]) {
  if (!probes[name]) { console.error(`unknown probe ${name}; one of: ${Object.keys(probes).join(', ')}, all`); process.exit(2); }
  const t0 = Date.now();
  const figures = await probes[name]();
  console.log(JSON.stringify({ probe: name, node: process.version, seconds: Math.round((Date.now() - t0) / 100) / 10, ...figures }));
}
