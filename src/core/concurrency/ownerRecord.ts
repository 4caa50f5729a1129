import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import type { LockHolderInfo } from '../errors';

export const HOST = hostname();

/** What a lock holder writes beside its lock: who it is, so others can name it and tell a crashed holder from a slow one. */
export interface OwnerRecord extends LockHolderInfo {
  /** Identifies one holding; only the holding that wrote a record removes it. */
  token: string;
}

/**
 * Whether process `pid` of this host may still run. `process.kill(pid, 0)` sends nothing; it only
 * asks. Only ESRCH ("no such process", on Windows too, where libuv maps OpenProcess's invalid
 * parameter to it) proves the process gone. EPERM means it exists but is another user's (or, on
 * Windows, elevated), and any other answer proves nothing: both count as alive, because calling a
 * live holder dead hands its lock to a second writer, while calling a dead one alive only costs the
 * stale time (docs/platforms.md#pid-liveness). `kill` is injectable for tests.
 */
export function isPidAlive(pid: number, kill: (pid: number, signal: 0) => unknown = (p, s) => process.kill(p, s)): boolean {
  // 0 and negative pids address process groups, not a process: a record carrying one proves nothing.
  if (!Number.isSafeInteger(pid) || pid <= 0) return true;
  try {
    kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** A holder can be proven dead only on this host: its pid is gone (another host's pids are not ours to check). */
export function isProvablyDead(holder: LockHolderInfo): boolean {
  return holder.host === HOST && holder.pid !== process.pid && !isPidAlive(holder.pid);
}

/** The holder as others may see it (the token stays private). */
export function publicHolder(record: OwnerRecord): LockHolderInfo {
  return { pid: record.pid, host: record.host, label: record.label, since: record.since };
}

/** The owner record file of one lock: atomic writes, tolerant reads. */
export class OwnerRecordFile {
  constructor(readonly path: string) {}

  /** Missing, half-written or corrupted records read as "unknown holder": the lock itself still decides. */
  async read(): Promise<OwnerRecord | undefined> {
    try {
      const parsed = JSON.parse(await fs.readFile(this.path, 'utf8')) as Partial<OwnerRecord>;
      if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return undefined;
      return { pid: parsed.pid, host: parsed.host, label: String(parsed.label ?? ''), since: Number(parsed.since ?? 0), token: String(parsed.token ?? '') };
    } catch {
      return undefined;
    }
  }

  async write(record: OwnerRecord & Record<string, unknown>): Promise<void> {
    const tmp = `${this.path}.${process.pid}.${record.token.slice(0, 8)}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(record));
    await fs.rename(tmp, this.path);
  }

  async removeIfToken(token: string): Promise<void> {
    if ((await this.read())?.token === token) await fs.rm(this.path, { force: true });
  }

  async remove(): Promise<void> {
    await fs.rm(this.path, { force: true });
  }
}

/**
 * Takes over the lock folder of a holder that crashed on this host: renames the folder away
 * (atomic, so only one contender wins), and only while the owner record still names that holder.
 * Returns false when the holder is alive, elsewhere, or someone else recovered the lock first.
 */
export async function takeOverFromDeadHolder(lockDir: string, owner: OwnerRecordFile, holder: OwnerRecord): Promise<boolean> {
  if (!isProvablyDead(holder)) return false;
  if ((await owner.read())?.token !== holder.token) return false;
  const grave = `${lockDir}.dead-${process.pid}-${randomUUID().slice(0, 8)}`;
  try {
    await fs.rename(lockDir, grave);
  } catch {
    return false;
  }
  await fs.rm(grave, { recursive: true, force: true });
  await owner.removeIfToken(holder.token);
  return true;
}
