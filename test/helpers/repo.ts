import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root, found from wherever the bundled test runs (out/ or a private TEST_OUTDIR). */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'memory-lane') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no memory-lane package.json above ${__dirname}`);
    dir = parent;
  }
}
