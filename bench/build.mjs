// Bundles bench/**/*.ts (benchmarks, workers and what they import from src/ and test/) to
// .cache/bench/ (or BENCH_OUTDIR), with the same settings as esbuild.config.mjs --tests, but
// without touching dist/ or out/, which other runs may be using at the same time.
import * as esbuild from 'esbuild';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const outdir = process.env.BENCH_OUTDIR || '.cache/bench';

function tsFilesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFilesUnder(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: tsFilesUnder('bench'),
  outdir,
  outbase: '.',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  // s3rver and dynalite (bench/remote.ts's emulators) load native modules: not bundled.
  external: ['vscode', '@lancedb/lancedb', 'apache-arrow', 's3rver', 'dynalite'],
  logLevel: 'warning',
  // p-queue is ESM; in a CJS bundle `import.meta.url` must still resolve.
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: { js: "const __importMetaUrl = require('url').pathToFileURL(__filename).href;" },
});
