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
