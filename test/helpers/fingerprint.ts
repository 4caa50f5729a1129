import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from './cli';
import { tempDir } from './tempStore';

/**
 * Every row of the store as `memory-lane export` writes it (a real child process), without the
 * commit token, one sorted line per row: equal strings mean an equal store — "unchanged" and
 * "restored exactly" are asserted with it.
 */
export async function exportFingerprint(dir: string): Promise<string> {
  const r = await cli(['--db', dir, 'export', join(tempDir({ after: () => undefined }), 'fp.jsonl'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = readFileSync(r.json.file, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l)).map(({ commit: _c, ...rest }: any) => JSON.stringify(rest));
  return lines.sort().join('\n');
}
