import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export type JsonLine = { line: number; value: unknown } | { line: number; error: string };

/**
 * Reads a JSON Lines file as a stream (no size limit, one line in memory at a time), yielding each
 * non-blank line's value or its parse error with the 1-based line number. A BOM is ignored.
 */
export async function* readJsonLines(path: string): AsyncGenerator<JsonLine> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const raw of lines) {
    n++;
    const text = (n === 1 ? raw.replace(/^\ufeff/, '') : raw).trim();
    if (!text) continue;
    try {
      yield { line: n, value: JSON.parse(text) };
    } catch (err) {
      yield { line: n, error: `invalid JSON (${(err as Error).message.slice(0, 80)})` };
    }
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
