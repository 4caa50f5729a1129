// Bundles the three entry points (extension, CLI, MCP server) to dist/, and with --tests every
// test/bench TypeScript file to out/ so node:test runs plain JavaScript.
// Native and host-provided modules stay external: `vscode` is the editor's, LanceDB ships a native
// binary (and apache-arrow must be the very instance LanceDB loads). p-queue is ESM-only: bundled.
import * as esbuild from 'esbuild';
import { existsSync, readdirSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const watch = args.has('--watch');
const external = ['vscode', '@lancedb/lancedb', 'apache-arrow'];

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  minify: production,
  external,
  logLevel: 'warning',
  // p-queue and the MCP SDK are ESM; in a CJS bundle `import.meta.url` must still resolve.
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: { js: "const __importMetaUrl = require('url').pathToFileURL(__filename).href;" },
};

/** @returns {string[]} */
function tsFilesUnder(dir) {
  const out = [];
  if (!existsSync(dir)) return out; // git keeps no empty folders: a fresh clone may have no bench/ yet
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFilesUnder(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const builds = [
  { ...common, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist' },
  {
    ...common,
    entryPoints: { cli: 'src/cli/main.ts', mcp: 'src/mcp/main.ts' },
    outdir: 'dist',
    // Before any import runs: LanceDB reads its log level when the native module loads, and Rust
    // warnings must not clutter a terminal or an MCP client's stderr (override with LANCEDB_LOG).
    banner: { js: "#!/usr/bin/env node\nprocess.env.LANCEDB_LOG ??= 'error';\n" + common.banner.js },
  },
];
if (args.has('--tests')) {
  // TEST_OUTDIR lets engineers build tests into a private folder, so one build never wipes another's run.
  const testOut = process.env.TEST_OUTDIR || 'out';
  rmSync(testOut, { recursive: true, force: true });
  // The S3 and DynamoDB emulators of the team-store tests load native modules (dynalite's LevelDB): not bundled.
  builds.push({ ...common, minify: false, external: [...external, 's3rver', 'dynalite'], entryPoints: [...tsFilesUnder('test'), ...tsFilesUnder('bench')], outdir: testOut, outbase: '.' });
}

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('[esbuild] watching…');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
