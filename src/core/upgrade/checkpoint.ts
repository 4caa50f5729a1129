import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { appendJsonLines, readJsonLines } from '../durableAppend';
import type { MemoryPatch } from '../store/patch';

export const CHECKPOINT_FILE = 'upgrade-checkpoint.jsonl';

/** A prepared patch waiting to be written, keyed by the text it was computed from. */
interface SpoolLine {
  key: string;
  id: string;
  /** Hash of the text the patch was computed from; reused only while the row still has that text. */
  h: string;
  set?: MemoryPatch['set'];
  metadata?: MemoryPatch['metadata'];
}

export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/**
 * Resume without paying twice. Phase 1 results of an expensive job (LLM enrichment) are appended
 * here, fsync'd, before Phase 2 writes them; if the run is cancelled or killed, the next run with
 * the same provider/model reuses every entry whose row still has the same text instead of calling
 * the LLM again. Rows already written need no checkpoint: they are no longer candidates, which is
 * what makes a rerun continue where the last one stopped. A completed run deletes the file.
 * A torn last line (crash mid-append) is ignored.
 */
export class UpgradeCheckpoint {
  private readonly entries = new Map<string, SpoolLine>();
  readonly path: string;

  private constructor(dir: string, readonly key: string) {
    this.path = join(dir, CHECKPOINT_FILE);
  }

  static async open(dir: string, key: string): Promise<UpgradeCheckpoint> {
    const cp = new UpgradeCheckpoint(dir, key);
    // Torn lines after a crash are skipped: their answers are asked again.
    for (const { value } of (await readJsonLines(cp.path)).records) {
      const entry = (value ?? {}) as SpoolLine;
      if (entry.key === key && typeof entry.id === 'string' && typeof entry.h === 'string') cp.entries.set(entry.id, entry);
    }
    return cp;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The spooled patch for this row if it was computed from exactly this text. */
  take(id: string, text: string): MemoryPatch | undefined {
    const entry = this.entries.get(id);
    if (!entry || entry.h !== textHash(text)) return undefined;
    return { id, ...(entry.set ? { set: entry.set } : {}), ...(entry.metadata ? { metadata: entry.metadata } : {}), expect: { text } };
  }

  async append(patches: MemoryPatch[]): Promise<void> {
    if (patches.length === 0) return;
    const lines = patches.map((p) => {
      const entry: SpoolLine = { key: this.key, id: p.id, h: textHash(p.expect?.text ?? ''), ...(p.set ? { set: p.set } : {}), ...(p.metadata ? { metadata: p.metadata } : {}) };
      this.entries.set(p.id, entry);
      return JSON.stringify(entry);
    });
    await appendJsonLines(this.path, lines);
  }

  async clear(): Promise<void> {
    this.entries.clear();
    await fs.rm(this.path, { force: true });
  }
}
