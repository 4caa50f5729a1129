import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { appendJsonLines, readJsonLines } from '../durableAppend';

export const DLQ_FILE = 'dead-letters.jsonl';

export interface DeadLetter {
  dlqId: string;
  at: number;
  pid: number;
  label: string;
  /** The write intent exactly as submitted, so a replay is the same write. */
  intent: unknown;
  error: { code: string; message: string };
}

interface Resolution {
  resolved: string;
  at: number;
  how: 'replayed' | 'discarded' | 'superseded';
}

export interface DeadLetterListing {
  open: DeadLetter[];
  resolved: number;
  /** Lines that could not be parsed (a torn tail after a crash); reported, never fatal. */
  tornLines: number[];
}

/**
 * Durable record of writes that could not be committed (docs/lessons.md#durable-dead-letters). Append-only across
 * processes: each record is one line written with O_APPEND and fsync'd before the caller is told;
 * a replay appends a resolution line instead of rewriting the file, so concurrent appends by other
 * processes can never be lost by a rewrite.
 */
export class DeadLetterQueue {
  readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, DLQ_FILE);
  }

  async append(entry: Omit<DeadLetter, 'dlqId' | 'at' | 'pid'>): Promise<DeadLetter> {
    const record: DeadLetter = { dlqId: randomUUID(), at: Date.now(), pid: process.pid, ...entry };
    await this.appendLine(record);
    return record;
  }

  async resolve(dlqId: string, how: Resolution['how']): Promise<void> {
    await this.appendLine({ resolved: dlqId, at: Date.now(), how } satisfies Resolution);
  }

  async list(): Promise<DeadLetterListing> {
    const { records, torn } = await readJsonLines(this.path);
    const letters = new Map<string, DeadLetter>();
    const resolved = new Set<string>();
    const tornLines = [...torn];
    for (const { line, value } of records) {
      const obj = (value ?? {}) as Partial<DeadLetter & Resolution>;
      if (typeof obj.resolved === 'string') resolved.add(obj.resolved);
      else if (typeof obj.dlqId === 'string') letters.set(obj.dlqId, obj as DeadLetter);
      else tornLines.push(line);
    }
    tornLines.sort((a, b) => a - b);
    return { open: [...letters.values()].filter((l) => !resolved.has(l.dlqId)), resolved: resolved.size, tornLines };
  }

  private async appendLine(obj: unknown): Promise<void> {
    await appendJsonLines(this.path, [JSON.stringify(obj)]);
  }
}
