import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Version } from '@lancedb/lancedb';
import { HOST, isPidAlive } from '../concurrency/ownerRecord';

/**
 * Which table versions maintenance may prune, given who reads them.
 *
 * Pruning a version deletes the files only it references; a process still reading that version then
 * fails ("manifest was not found", docs/lancedb.md#version-cleanup-and-readers). Two kinds of readers:
 *
 * - **Short reads** (a recall, a get, a page of a list) read the version that is latest when they
 *   start and finish within seconds. They are safe if a version is kept for `graceMs` after it
 *   *stopped being the latest*, i.e. after the next version was committed. That is not the same as
 *   `graceMs` after it was created: a version written an hour ago stays latest (and read) until the
 *   next commit, so pruning by creation time alone would delete what a reader opened a moment ago.
 * - **Long reads** (an export's pinned snapshot, the upgrader's scan, an index build) hold one version
 *   for minutes. They pin it: a small file in `readers/` naming the version, refreshed while the read
 *   lasts and removed after it. Pins of dead processes on this host, and pins of other hosts that have
 *   not been refreshed for `PIN_TTL_MS`, do not count.
 */

const READERS_DIR = 'readers';
/** A pin is refreshed this often while its read lasts, so other hosts can tell it is alive. */
const PIN_REFRESH_MS = 20_000;
/** A pin from another host not refreshed for this long belongs to a process that is gone. */
const PIN_TTL_MS = 120_000;

interface PinRecord {
  pid: number;
  host: string;
  version: number;
  label: string;
  since: number;
}

export interface ReadPin {
  readonly version: number;
  release(): Promise<void>;
}

/** Pins `version` of the table in `dir` until released: maintenance keeps it and everything newer. */
export async function pinVersion(dir: string, version: number, label: string): Promise<ReadPin> {
  const folder = join(dir, READERS_DIR);
  const file = join(folder, `${HOST}-${process.pid}-${randomUUID().slice(0, 8)}.json`);
  const record: PinRecord = { pid: process.pid, host: HOST, version, label, since: Date.now() };
  await fs.mkdir(folder, { recursive: true });
  await fs.writeFile(file, JSON.stringify(record));
  const refresh = setInterval(() => {
    const now = new Date();
    void fs.utimes(file, now, now).catch(() => undefined);
  }, PIN_REFRESH_MS);
  refresh.unref?.();
  let released = false;
  return {
    version,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(refresh);
      await fs.rm(file, { force: true });
    },
  };
}

/** The oldest version a live reader has pinned, if any; pins of dead processes on this host are removed. */
export async function oldestPinnedVersion(dir: string, now = Date.now()): Promise<number | undefined> {
  const folder = join(dir, READERS_DIR);
  let names: string[];
  try {
    names = await fs.readdir(folder);
  } catch {
    return undefined;
  }
  let oldest: number | undefined;
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const file = join(folder, name);
    let record: Partial<PinRecord>;
    let mtimeMs: number;
    try {
      [record, mtimeMs] = await Promise.all([fs.readFile(file, 'utf8').then((t) => JSON.parse(t) as Partial<PinRecord>), fs.stat(file).then((s) => s.mtimeMs)]);
    } catch {
      continue; // being written or removed right now: its reader is also just starting or done
    }
    if (typeof record.version !== 'number' || typeof record.pid !== 'number') continue;
    if (record.host === HOST ? !isPidAlive(record.pid) : now - mtimeMs > PIN_TTL_MS) {
      await fs.rm(file, { force: true }).catch(() => undefined);
      continue;
    }
    oldest = oldest === undefined ? record.version : Math.min(oldest, record.version);
  }
  return oldest;
}

/**
 * The cutoff for `optimize({ cleanupOlderThan })`, which prunes the versions created before it: the
 * creation time of the newest version `u` such that the version after every pruned one was committed
 * at least `graceMs` ago, and no pinned version is pruned. Everything from `u` on is kept.
 * Undefined when nothing may be pruned.
 */
export function pruneCutoff(versions: readonly Version[], graceMs: number, pinned: number | undefined, now = Date.now()): Date | undefined {
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  let keepFrom: Version | undefined;
  for (const v of sorted) {
    if (v.timestamp.getTime() > now - graceMs) break;
    if (pinned !== undefined && v.version > pinned) break;
    keepFrom = v;
  }
  return keepFrom?.timestamp;
}
