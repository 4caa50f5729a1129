import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Version } from '@lancedb/lancedb';
import { HOST, isPidAlive } from '../concurrency/ownerRecord';
import { errorMessage } from '../errors';

/**
 * Which table versions maintenance may prune, given who reads them.
 *
 * Pruning a version deletes the files only it references; a process still reading that version then
 * fails ("manifest was not found", docs/lancedb.md#version-cleanup-and-readers). Every version kept
 * costs every maintenance pass (it reads each version's manifest) and disk, so what is kept follows
 * the readers there are, not a long flat margin:
 *
 * - **Short reads** (a recall, a get, a page of a list) read the version that is latest when they
 *   start. A version is kept for `graceMs` after it *stopped being the latest*, i.e. after the next
 *   version was committed; a read that takes longer than {@link LEASE_AFTER_MS} also writes a
 *   **lease**, a small file in `readers/` naming the time it started, and every version that was
 *   still the latest at that time is kept until the read ends. The margin therefore only has to
 *   cover the first second of a read and the moment its lease takes to land.
 * - **Long reads** (an export's pinned snapshot, the upgrader's scan, an index build) hold one version
 *   for minutes. They **pin** it: a file in `readers/` naming the version.
 *
 * Both are refreshed while the read lasts and removed after it. Records of dead processes on this
 * host, and records of other hosts that have not been refreshed for `PIN_TTL_MS`, do not count.
 */

const READERS_DIR = 'readers';
/** A pin is refreshed this often while its read lasts, so other hosts can tell it is alive. */
const PIN_REFRESH_MS = 20_000;
/** A pin from another host not refreshed for this long belongs to a process that is gone. */
const PIN_TTL_MS = 120_000;

/** A short read that lasts longer than this writes its lease; shorter ones rely on the margin alone. */
export const LEASE_AFTER_MS = 1000;

/** Clock difference allowed between a leased reader and the process that committed a version. */
const LEASE_CLOCK_SLACK_MS = 1000;

interface ReaderRecord {
  pid: number;
  host: string;
  /** A pin: this version and everything newer are kept. Absent on a lease. */
  version?: number;
  label: string;
  /** When the read started: on a lease, every version still the latest at this time is kept. */
  since: number;
}

export interface ReadPin {
  readonly version: number;
  release(): Promise<void>;
}

/** Pins `version` of the table in `dir` until released: maintenance keeps it and everything newer. */
export async function pinVersion(dir: string, version: number, label: string): Promise<ReadPin> {
  const release = await holdReaderRecord(dir, { pid: process.pid, host: HOST, version, label, since: Date.now() });
  return { version, release };
}

/** Writes a reader record, refreshed until the returned release removes it. */
async function holdReaderRecord(dir: string, record: ReaderRecord): Promise<() => Promise<void>> {
  const folder = join(dir, READERS_DIR);
  const file = join(folder, `${HOST}-${process.pid}-${randomUUID().slice(0, 8)}.json`);
  await fs.mkdir(folder, { recursive: true });
  await fs.writeFile(file, JSON.stringify(record));
  const refresh = setInterval(() => {
    const now = new Date();
    void fs.utimes(file, now, now).catch(() => undefined);
  }, PIN_REFRESH_MS);
  refresh.unref?.();
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    clearInterval(refresh);
    await fs.rm(file, { force: true });
  };
}

/**
 * Runs one short read. If it is still running after {@link LEASE_AFTER_MS}, a lease naming its start
 * keeps every version it may be reading; if it meets a file that pruning removed anyway (a read
 * held up longer than the margin before its lease landed), it is run once more on the latest version.
 */
export async function leasedRead<T>(dir: string, label: string, read: () => Promise<T>): Promise<T> {
  const since = Date.now();
  let lease: Promise<(() => Promise<void>) | undefined> | undefined;
  const timer = setTimeout(() => {
    lease = holdReaderRecord(dir, { pid: process.pid, host: HOST, label, since }).catch(() => undefined);
  }, LEASE_AFTER_MS);
  timer.unref?.();
  try {
    try {
      return await read();
    } catch (err) {
      if (!isPrunedFileError(err)) throw err;
      return await read();
    }
  } finally {
    clearTimeout(timer);
    const release = await lease;
    await release?.().catch(() => undefined);
  }
}

/** LanceDB's error for a version file or data file that pruning removed while something read it. */
export function isPrunedFileError(err: unknown): boolean {
  return /Not found|was not found/i.test(errorMessage(err));
}

export interface ReadersFloor {
  /** The oldest version a live long reader pinned. */
  version?: number;
  /** When the oldest live short read with a lease started. */
  since?: number;
}

/** What the live readers of the store still need: the oldest pin and the oldest lease; records of dead processes on this host are removed. */
export async function readersFloor(dir: string, now = Date.now()): Promise<ReadersFloor> {
  const folder = join(dir, READERS_DIR);
  let names: string[];
  try {
    names = await fs.readdir(folder);
  } catch {
    return {};
  }
  const floor: ReadersFloor = {};
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const file = join(folder, name);
    let record: Partial<ReaderRecord>;
    let mtimeMs: number;
    try {
      [record, mtimeMs] = await Promise.all([fs.readFile(file, 'utf8').then((t) => JSON.parse(t) as Partial<ReaderRecord>), fs.stat(file).then((s) => s.mtimeMs)]);
    } catch {
      continue; // being written or removed right now: its reader is also just starting or done
    }
    if (typeof record.pid !== 'number') continue;
    if (record.host === HOST ? !isPidAlive(record.pid) : now - mtimeMs > PIN_TTL_MS) {
      await fs.rm(file, { force: true }).catch(() => undefined);
      continue;
    }
    if (typeof record.version === 'number') floor.version = Math.min(floor.version ?? Infinity, record.version);
    else if (typeof record.since === 'number') floor.since = Math.min(floor.since ?? Infinity, record.since);
  }
  return floor;
}

/**
 * The cutoff for `optimize({ cleanupOlderThan })`, which prunes the versions created before it: the
 * creation time of the newest version `u` such that the version after every pruned one was committed
 * at least `graceMs` ago, and before `readingSince` (the start of the oldest leased short read), and
 * no pinned version is pruned. Everything from `u` on is kept. Undefined when nothing may be pruned.
 */
export function pruneCutoff(versions: readonly Version[], graceMs: number, pinned: number | undefined, now = Date.now(), readingSince?: number): Date | undefined {
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  // A lease's start comes from the reader's clock, a version's time from the committer's: allow a little skew.
  const boundary = Math.min(now - graceMs, readingSince === undefined ? Infinity : readingSince - LEASE_CLOCK_SLACK_MS);
  let keepFrom: Version | undefined;
  for (const v of sorted) {
    if (v.timestamp.getTime() > boundary) break;
    if (pinned !== undefined && v.version > pinned) break;
    keepFrom = v;
  }
  return keepFrom?.timestamp;
}
