import { createReadStream, promises as fs } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { DimensionMismatchError, errorMessage, FormatError, ValidationError } from '../errors';
import type { MemoryStore } from './memoryStore';
import type { MemoryRecord } from './schema';

export const BACKUP_FORMAT = 'memory-lane-backup';

interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: 1;
  dim: number;
  embedder: string;
  tableVersion: number;
  exportedAt: number;
}

export interface ExportResult {
  file: string;
  rows: number;
  tableVersion: number;
  bytes: number;
}

export interface RestoreResult {
  restored: number;
  existing: number;
  failed: Array<{ line: number; id?: string; reason: string }>;
}

/** Whether `file` would land inside the store folder, seeing through symlinks on either side. */
async function insideStore(store: MemoryStore, file: string): Promise<boolean> {
  if (store.location.kind === 'remote') return false;
  const real = async (p: string) => fs.realpath(p).catch(() => resolve(p));
  const storeDir = await real(store.dir);
  const target = join(await real(dirname(resolve(file))), basename(file));
  const rel = relative(storeDir, target);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Writes every memory of one table version to a JSONL backup (a header line, then one record per
 * line, vectors included). Written to a temp file, fsync'd and renamed: a crash never leaves a
 * half backup under the real name.
 */
export async function exportBackup(store: MemoryStore, file: string): Promise<ExportResult> {
  const target = resolve(file);
  if (await insideStore(store, target)) throw new ValidationError('file', `refusing to write the backup inside the store folder ${store.dir}`);
  await fs.mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.partial`;
  const handle = await fs.open(tmp, 'w');
  let rows = 0;
  let tableVersion = 0;
  try {
    const snapshot = store.snapshot();
    const lines: string[] = [];
    const flush = async () => { if (lines.length) { await handle.write(lines.join('')); lines.length = 0; } };
    let headerWritten = false;
    for (;;) {
      const next = await snapshot.next();
      if (!headerWritten) {
        tableVersion = await store.table.version();
        const header: BackupHeader = { format: BACKUP_FORMAT, version: 1, dim: store.dim, embedder: store.meta.embedder, tableVersion, exportedAt: Date.now() };
        await handle.write(JSON.stringify(header) + '\n');
        headerWritten = true;
      }
      if (next.done) { tableVersion = next.value.version; break; }
      lines.push(JSON.stringify(next.value) + '\n');
      rows++;
      if (lines.length >= 500) await flush();
    }
    await flush();
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  await fs.rename(tmp, target);
  return { file: target, rows, tableVersion, bytes: (await fs.stat(target)).size };
}

/** True when the file starts with a Memory Lane backup header. */
export async function isBackupFile(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(200);
    const { bytesRead } = await handle.read(buf, 0, 200, 0);
    return buf.subarray(0, bytesRead).toString('utf8').includes(`"format":"${BACKUP_FORMAT}"`);
  } finally {
    await handle.close();
  }
}

/** Restores a backup exactly (ids, timestamps, revisions, metadata); re-running it is harmless. */
export async function restoreBackup(store: MemoryStore, file: string, onProgress?: (done: number) => void): Promise<RestoreResult> {
  const lines = createInterface({ input: createReadStream(resolve(file), 'utf8'), crlfDelay: Infinity });
  const result: RestoreResult = { restored: 0, existing: 0, failed: [] };
  let lineNo = 0;
  let batch: Array<{ line: number; record: MemoryRecord }> = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const current = batch;
    batch = [];
    try {
      const res = await store.restore(current.map((b) => b.record));
      res.forEach((r, i) => {
        if (r.status === 'inserted') result.restored++;
        else if (r.status === 'exists') result.existing++;
        else result.failed.push({ line: current[i]!.line, id: r.id, reason: r.status === 'failed' ? r.error : `a different memory with id ${r.id} already exists` });
      });
    } catch (err) {
      // One bad record must not sink its neighbours: retry them one by one to name the culprit.
      for (const b of current) {
        try {
          const [r] = await store.restore([b.record]);
          if (r!.status === 'inserted') result.restored++;
          else if (r!.status === 'exists') result.existing++;
          else result.failed.push({ line: b.line, id: r!.id, reason: r!.status === 'failed' ? r!.error : 'id conflict' });
        } catch (inner) {
          result.failed.push({ line: b.line, id: b.record.id, reason: errorMessage(inner ?? err) });
        }
      }
    }
    onProgress?.(result.restored + result.existing + result.failed.length);
  };
  for await (const line of lines) {
    lineNo++;
    if (!line.trim()) continue;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      result.failed.push({ line: lineNo, reason: `not JSON: ${errorMessage(err)}` });
      continue;
    }
    if (lineNo === 1) {
      if (obj.format !== BACKUP_FORMAT) throw new FormatError(`${file} is not a Memory Lane backup (no header line)`);
      if (obj.dim !== store.dim) throw new DimensionMismatchError(store.dim, Number(obj.dim), 'the backup');
      continue;
    }
    batch.push({ line: lineNo, record: obj as unknown as MemoryRecord });
    if (batch.length >= 256) await flush();
  }
  await flush();
  return result;
}
