import { promises as fs } from 'node:fs';

/**
 * Appends JSONL records so that a crash can lose at most the tail being written and never corrupt
 * the next append (docs/lessons.md#durable-dead-letters): a torn last line is closed with a newline first, and the file is
 * fsync'd before returning, so a caller told "kept" can rely on it.
 */
export async function appendJsonLines(path: string, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  const handle = await fs.open(path, 'a+');
  try {
    const { size } = await handle.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    await handle.appendFile(prefix + lines.join('\n') + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Reads what `appendJsonLines` wrote: every parsable line with its 1-based line number, and the
 * numbers of lines that are not JSON (a torn tail after a crash). A missing file reads as empty, or
 * as undefined with `missing: 'undefined'` for callers that must tell the two apart.
 */
export async function readJsonLines(path: string): Promise<{ records: Array<{ line: number; value: unknown }>; torn: number[] }>;
export async function readJsonLines(path: string, options: { missing: 'undefined' }): Promise<{ records: Array<{ line: number; value: unknown }>; torn: number[] } | undefined>;
export async function readJsonLines(path: string, options: { missing?: 'undefined' } = {}): Promise<{ records: Array<{ line: number; value: unknown }>; torn: number[] } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return options.missing === 'undefined' ? undefined : { records: [], torn: [] };
    throw err;
  }
  const records: Array<{ line: number; value: unknown }> = [];
  const torn: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      records.push({ line: i + 1, value: JSON.parse(line) });
    } catch {
      torn.push(i + 1);
    }
  });
  return { records, torn };
}
