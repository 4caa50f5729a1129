import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isPendingDeleteOnWindows } from '../../src/core/concurrency/fileLock';
import { isPidAlive } from '../../src/core/concurrency/ownerRecord';
import { readJsonLines as readAppendedLines } from '../../src/core/durableAppend';
import { defaultStorePath, expandHome, type PathPlatform } from '../../src/core/paths';
import { readJsonLines as readImportLines } from '../../src/core/upgrade/importers/jsonLines';
import { locateStore } from '../../src/extension/storeLocation';

// Cross-platform rules with the platform injected, so the Windows ones are held on Linux and the
// POSIX ones on Windows (docs/platforms.md).

const windows: PathPlatform = { platform: 'win32', homedir: 'C:\\Users\\Ada', cwd: 'D:\\work' };
const mac: PathPlatform = { platform: 'darwin', homedir: '/Users/ada', cwd: '/Users/ada/src' };

test('Windows: ~ with either separator is the home folder; drive, UNC and forward-slash paths are absolute; a path without a drive is refused', () => {
  assert.deepEqual(locateStore('~\\memories', {}, windows), { dir: 'C:\\Users\\Ada\\memories' });
  assert.deepEqual(locateStore('~/memories/store', {}, windows), { dir: 'C:\\Users\\Ada\\memories\\store' });
  assert.deepEqual(locateStore('~', {}, windows), { dir: 'C:\\Users\\Ada' });
  assert.deepEqual(locateStore('E:\\data\\..\\memories', {}, windows), { dir: 'E:\\memories' });
  assert.deepEqual(locateStore('E:/data/memories', {}, windows), { dir: 'E:\\data\\memories' });
  assert.deepEqual(locateStore('\\\\nas\\team\\memories', {}, windows), { dir: '\\\\nas\\team\\memories' });
  assert.match(locateStore('\\memories', {}, windows).problem ?? '', /has no drive letter \("\\\\memories"\).*write e\.g\. C:\\memories/);
  assert.match(locateStore('/memories', {}, windows).problem ?? '', /has no drive letter/);
  assert.match(locateStore('C:memories', {}, windows).problem ?? '', /is a relative path \("C:memories"\); write an absolute folder, or one starting with ~\\/);
  assert.match(locateStore('%USERPROFILE%\\memories', {}, windows).problem ?? '', /relative path .*environment variables are not expanded/);
  assert.deepEqual(locateStore('', {}, windows), { dir: 'C:\\Users\\Ada\\.memory-lane\\store' });
});

test('macOS and Linux: ~/ is the home folder, ~\\ (a setting synced from Windows) too, ~user and relative paths are refused', () => {
  assert.deepEqual(locateStore('~/memories', {}, mac), { dir: '/Users/ada/memories' });
  assert.deepEqual(locateStore('~\\memories\\store', {}, mac), { dir: '/Users/ada/memories/store' });
  assert.deepEqual(locateStore('/Volumes/Data/../memories', {}, mac), { dir: '/Volumes/memories' });
  assert.match(locateStore('~ada/memories', {}, mac).problem ?? '', /relative path/);
  assert.match(locateStore('C:\\memories', {}, mac).problem ?? '', /relative path/);
  assert.equal(expandHome('~ada', mac), undefined);
  assert.equal(expandHome('memories/~', mac), undefined);
});

test('MEMORY_LANE_DB and --db: a leading ~ is the home folder on every platform (no shell expands it in an MCP config or PowerShell); other relative paths follow the working folder', () => {
  assert.equal(defaultStorePath({ MEMORY_LANE_DB: '~/memories' }, mac), '/Users/ada/memories');
  assert.equal(defaultStorePath({ MEMORY_LANE_DB: '~\\memories' }, windows), 'C:\\Users\\Ada\\memories');
  assert.equal(defaultStorePath({ MEMORY_LANE_DB: '~/memories' }, windows), 'C:\\Users\\Ada\\memories');
  assert.equal(defaultStorePath({ MEMORY_LANE_DB: 'store' }, windows), 'D:\\work\\store');
  assert.equal(defaultStorePath({ MEMORY_LANE_DB: 'store' }, mac), '/Users/ada/src/store');
  assert.equal(defaultStorePath({ MEMORY_LANE_DB: '  ' }, mac), '/Users/ada/.memory-lane/store');
  assert.equal(defaultStorePath({}, windows), 'C:\\Users\\Ada\\.memory-lane\\store');
  // The setting's empty value falls back to the variable, expanded the same way.
  assert.deepEqual(locateStore('', { MEMORY_LANE_DB: '~/shared' }, windows), { dir: 'C:\\Users\\Ada\\shared' });
});

function killThatFails(code?: string) {
  const calls: Array<[number, number]> = [];
  const kill = (pid: number, signal: 0) => {
    calls.push([pid, signal]);
    if (code) throw Object.assign(new Error(code), { code });
    return true;
  };
  return { kill, calls };
}

test('pid liveness: only ESRCH proves a process gone; EPERM (another user\'s or an elevated Windows process) and unknown errors count as alive', () => {
  const gone = killThatFails('ESRCH');
  assert.equal(isPidAlive(4242, gone.kill), false);
  assert.deepEqual(gone.calls, [[4242, 0]], 'signal 0 only asks; it never signals the process');
  assert.equal(isPidAlive(4242, killThatFails('EPERM').kill), true);
  assert.equal(isPidAlive(4242, killThatFails('EINVAL').kill), true);
  assert.equal(isPidAlive(4242, killThatFails().kill), true);
  const never = killThatFails('ESRCH');
  for (const pid of [0, -1, 1.5, Number.NaN]) assert.equal(isPidAlive(pid, never.kill), true, `pid ${pid} names no single process`);
  assert.deepEqual(never.calls, [], 'process groups are never asked about');
  // The real process.kill on this host: this process is alive.
  assert.equal(isPidAlive(process.pid), true);
});

test('JSONL written on Windows (CRLF, a BOM) reads like LF: the importers and the durable-append reader see the same records and no torn lines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-crlf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lf = join(dir, 'lf.jsonl');
  const crlf = join(dir, 'crlf.jsonl');
  writeFileSync(lf, '{"text":"one"}\n{"text":"two\\r\\nlines"}\n\n{"text":"three"}\n');
  writeFileSync(crlf, '\ufeff' + readFileSync(lf, 'utf8').replace(/\n/g, '\r\n'));
  const imported = async (file: string) => { const out = []; for await (const item of readImportLines(file)) out.push(item); return out; };
  assert.deepEqual(await imported(crlf), await imported(lf));
  assert.deepEqual((await imported(crlf)).map((i) => ('value' in i ? (i.value as { text: string }).text : i.error)), ['one', 'two\r\nlines', 'three']);
  const appendedCrlf = join(dir, 'appended-crlf.jsonl');
  writeFileSync(appendedCrlf, readFileSync(lf, 'utf8').replace(/\n/g, '\r\n'));
  const read = await readAppendedLines(appendedCrlf);
  assert.deepEqual(read.torn, []);
  assert.deepEqual(read.records.map((r) => (r.value as { text: string }).text), ['one', 'two\r\nlines', 'three']);
});

test('Windows lock folders: EPERM from mkdir in a writable folder is a pending delete (try again), in an unwritable one a read-only store; elsewhere always read-only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-lockdir-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(await isPendingDeleteOnWindows('EPERM', dir, 'win32'), true);
  assert.equal(await isPendingDeleteOnWindows('EACCES', dir, 'win32'), true);
  assert.deepEqual(readdirSync(dir), [], 'the probe file is removed again');
  assert.equal(await isPendingDeleteOnWindows('EPERM', join(dir, 'missing', 'folder'), 'win32'), false, 'no folder to write to: not writable');
  assert.equal(await isPendingDeleteOnWindows('EROFS', dir, 'win32'), false);
  for (const platform of ['linux', 'darwin'] as const) assert.equal(await isPendingDeleteOnWindows('EPERM', dir, platform), false);
});
