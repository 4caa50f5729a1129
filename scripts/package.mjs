#!/usr/bin/env node
// `npm run package` and `npm run package:all`: one VSIX per VS Code target, each carrying exactly its
// own LanceDB native binary, each checked by listing its contents (scripts/package-check.mjs).
//
//   npm run package                         the VSIX of this machine's target (linux-x64 here)
//   npm run package -- --target darwin-arm64 [--target win32-x64 …]
//   npm run package:all                     all five targets (scripts/package-targets.mjs)
//
//   --out FILE        where the VSIX goes (one target only); --out-dir DIR for several (default: .)
//   --skip-build      reuse dist/ (the production build runs once per invocation otherwise)
//   --release         fail unless every VSIX is releasable (the release workflow passes it)
//   --lancedb=V       a content-check build: LanceDB V (JavaScript and native binary, one version)
//                     instead of the version package-lock.json pins. Named …-content-check-lancedb-V.vsix
//                     and marked in its package.json; never releasable.
//   --content-check-fallback   when the registry has no native binary of the locked LanceDB for a
//                     target, build that target as a content-check of the newest version it has
//                     (how `npm test` checks a second target on a registry that lags; see docs/platforms.md)
//
// How: the repository's extension files (what vsce lists without dependencies: dist/, media/,
// package.json, README, LICENSE) are copied to .cache/package/<target>/, `npm ci --omit=dev
// --omit=optional` installs the locked production dependencies there, the target's LanceDB native
// package is unpacked beside them from its npm tarball (cached in .cache/package/natives/), and
// vsce packages that folder with --target. The install is kept until package-lock.json changes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkVsixFile, describe } from './package-check.mjs';
import { CONTENT_CHECK_KEY, TARGET_NAMES, hostTarget, lockedLancedbVersion, targetFacts, vsixFileName } from './package-targets.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const vsceDir = dirname(require.resolve('@vscode/vsce/package.json'));

const { values: opts } = parseArgs({ options: {
  target: { type: 'string', multiple: true },
  all: { type: 'boolean', default: false },
  out: { type: 'string' },
  'out-dir': { type: 'string' },
  'skip-build': { type: 'boolean', default: false },
  release: { type: 'boolean', default: false },
  lancedb: { type: 'string' },
  'content-check-fallback': { type: 'boolean', default: false },
} });

const T0 = Date.now();
const log = (msg) => console.log(`[package ${((Date.now() - T0) / 1000).toFixed(1)}s] ${msg}`);
class PackageError extends Error {}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error) throw r.error;
  return r;
}

/** npm itself: the one running this script when started by `npm run`, else npm from PATH. */
function npm(args, options) {
  const cli = process.env.npm_execpath;
  return cli && /\.[cm]?js$/.test(cli) ? run(process.execPath, [cli, ...args], options) : run('npm', args, { shell: process.platform === 'win32', ...options });
}

function targets() {
  if (opts.all) return [...TARGET_NAMES];
  if (opts.target?.length) return opts.target.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  const host = hostTarget();
  if (!host) throw new PackageError(`this machine (${process.platform}-${process.arch}) has no VS Code target of Memory Lane; pass --target, one of ${TARGET_NAMES.join(', ')}`);
  return [host];
}

function build() {
  log('production build (esbuild --production)');
  const r = run(process.execPath, ['esbuild.config.mjs', '--production'], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) throw new PackageError('the production build failed');
}

/** The repository's extension files, as vsce lists them without node_modules (it honours .vscodeignore). */
async function extensionFiles() {
  const vsce = require(vsceDir);
  const files = await vsce.listFiles({ cwd: repoRoot, packageManager: vsce.PackageManager.None });
  if (!files.includes('dist/extension.js')) throw new PackageError('dist/extension.js is missing: build first (or leave out --skip-build)');
  return files;
}

/**
 * The npm tarball of `pkg@version`, kept in .cache/package/natives/ (a LanceDB native package is
 * 50-100 MB; it is fetched once). Undefined when the registry does not have that version.
 */
function nativeTarball(pkg, version) {
  const dir = join(repoRoot, '.cache', 'package', 'natives');
  const file = join(dir, `${pkg.replace(/^@/, '').replace('/', '-')}-${version}.tgz`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  log(`npm pack ${pkg}@${version}`);
  const r = npm(['pack', `${pkg}@${version}`, '--pack-destination', dir, '--loglevel=error']);
  return r.status === 0 && existsSync(file) ? file : undefined;
}

/** This machine's own native package, when `npm ci` installed it at that version: nothing to fetch. */
function localNative(pkg, version) {
  const dir = join(repoRoot, 'node_modules', ...pkg.split('/'));
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version === version ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes .cache/package/<target>/: the extension files and the production node_modules of that
 * target. npm installs the locked production tree without optional dependencies (LanceDB's optional
 * embedding helpers, @huggingface/transformers with onnxruntime and sharp, and its own openai copy,
 * are never loaded by Memory Lane; its native packages are optional too), then the target's one
 * native package goes in from its tarball. `lancedb` other than the lock's version makes a
 * content-check build. Returns undefined when the registry has no native binary of that version.
 */
function stage(target, files, { lancedb, locked }) {
  const facts = targetFacts(target);
  const native = localNative(facts.native, lancedb) ?? nativeTarball(facts.native, lancedb);
  if (!native) return undefined;
  const dir = join(repoRoot, '.cache', 'package', lancedb === locked ? target : `${target}-lancedb-${lancedb}`);
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const contentCheck = lancedb !== locked;
  if (contentCheck) {
    manifest.dependencies['@lancedb/lancedb'] = lancedb;
    manifest[CONTENT_CHECK_KEY] = `LanceDB ${lancedb} instead of the locked ${locked}: built to check a ${target} VSIX's contents, not to be installed or released`;
  }
  const lock = readFileSync(join(repoRoot, 'package-lock.json'), 'utf8');
  const npmArgs = [contentCheck ? 'install' : 'ci', '--omit=dev', '--omit=optional', `--os=${facts.os}`, `--cpu=${facts.cpu}`, ...(facts.libc ? [`--libc=${facts.libc}`] : []),
    '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
  const stamp = createHash('sha256').update(JSON.stringify([lock, manifest.dependencies, npmArgs, native])).digest('hex');
  const stampFile = `${dir}.installed`; // beside the folder: nothing in it but what vsce packages
  const installed = existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && existsSync(join(dir, 'node_modules', facts.native, facts.binary));

  // Everything but a still-valid install is copied afresh: a stale dist/ must never be packaged.
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) if (!(installed && name === 'node_modules')) rmSync(join(dir, name), { recursive: true, force: true });
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(repoRoot, f), join(dir, f));
  }
  cpSync(join(repoRoot, '.vscodeignore'), join(dir, '.vscodeignore'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  writeFileSync(join(dir, 'package-lock.json'), lock);
  if (!installed) {
    log(`${target}: npm ${npmArgs.join(' ')}`);
    const r = npm(npmArgs, { cwd: dir, env: { ...process.env, npm_config_update_notifier: 'false' } });
    if (r.status !== 0) throw new PackageError(`${target}: npm ${npmArgs[0]} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
    const dest = join(dir, 'node_modules', ...facts.native.split('/'));
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    if (native.endsWith('.tgz')) {
      // The archive by its bare name: GNU tar (Git for Windows) would read "C:\\…" as a remote host.
      const t = run('tar', ['-xzf', basename(native), '-C', dest, '--strip-components=1'], { cwd: dirname(native) });
      if (t.status !== 0) throw new PackageError(`${target}: unpacking ${native} failed: ${t.stderr}`);
    } else {
      cpSync(native, dest, { recursive: true });
    }
    if (!existsSync(join(dest, facts.binary))) throw new PackageError(`${target}: ${facts.native}@${lancedb} has no ${facts.binary}`);
    writeFileSync(stampFile, stamp);
  }
  return { dir, contentCheck };
}

/** Versions of a LanceDB native package on the registry, newest first, none newer than `atMost`. */
function registryVersions(pkg, atMost) {
  const r = npm(['view', pkg, 'versions', '--json', '--loglevel=error']);
  if (r.status !== 0) return [];
  const versions = [].concat(JSON.parse(r.stdout || '[]'));
  const key = (v) => v.split(/[.-]/).slice(0, 3).map(Number);
  const cmp = (a, b) => { const [x, y] = [key(a), key(b)]; for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i]; return 0; };
  return versions.filter((v) => !v.includes('-') && cmp(v, atMost) <= 0).sort((a, b) => cmp(b, a));
}

function vsce(dir, target, outFile) {
  const r = run(process.execPath, [join(vsceDir, 'vsce'), 'package', '--target', target, '--out', outFile, '--allow-missing-repository', '--no-rewrite-relative-links'], { cwd: dir });
  if (r.status !== 0) throw new PackageError(`${target}: vsce package failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
}

async function packageTarget(target, { files, locked, name, version, outDir }) {
  const facts = targetFacts(target);
  let lancedb = opts.lancedb ?? locked;
  let staged = stage(target, files, { lancedb, locked });
  if (!staged) {
    const have = registryVersions(facts.native, lancedb);
    const why = `the registry (${npm(['config', 'get', 'registry']).stdout.trim()}) has no ${facts.native}@${lancedb}, LanceDB's ${target} binary` +
      (have.length ? ` (its newest there is ${have[0]})` : ' (none at all)');
    if (!opts['content-check-fallback'] || !have.length) throw new PackageError(`${why}. A releasable ${target} VSIX needs it at the locked version; see docs/platforms.md`);
    log(`${why}; building a content-check VSIX with LanceDB ${have[0]}`);
    lancedb = have[0];
    staged = stage(target, files, { lancedb, locked });
    if (!staged) throw new PackageError(`${target}: ${facts.native}@${lancedb} could not be fetched either`);
  }
  const outFile = opts.out ? resolve(repoRoot, opts.out) : join(outDir, vsixFileName({ name, version, target, contentCheck: staged.contentCheck ? lancedb : undefined }));
  mkdirSync(dirname(outFile), { recursive: true });
  log(`${target}: vsce package → ${outFile}`);
  vsce(staged.dir, target, outFile);
  const report = await checkVsixFile(outFile, { target, release: opts.release, lockVersion: locked });
  console.log(describe(outFile, report));
  return { target, file: outFile, ...report };
}

async function main() {
  const list = targets();
  for (const t of list) targetFacts(t);
  if (opts.out && list.length > 1) throw new PackageError('--out names one file; use --out-dir for several targets');
  if (opts.release && (opts.lancedb || opts['content-check-fallback'])) throw new PackageError('--release builds only what package-lock.json pins: leave out --lancedb and --content-check-fallback');
  const locked = lockedLancedbVersion(repoRoot);
  const { name, version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const outDir = resolve(repoRoot, opts['out-dir'] ?? '.');
  if (!opts['skip-build']) build();
  const files = await extensionFiles();
  const results = [];
  const failures = [];
  for (const target of list) {
    try {
      results.push(await packageTarget(target, { files, locked, name, version, outDir }));
    } catch (err) {
      if (!(err instanceof PackageError) || list.length === 1) throw err;
      // package:all goes on with the other targets and names every failure at the end.
      console.error(`✗ ${err.message}`);
      failures.push(target);
    }
  }
  const bad = results.filter((r) => r.problems.length);
  if (bad.length) failures.push(...bad.map((r) => r.target));
  if (failures.length) throw new PackageError(`${failures.length} of ${list.length} target${list.length > 1 ? 's' : ''} not packaged or not passing the content check: ${failures.join(', ')}`);
  log(`${results.length} VSIX${results.length > 1 ? 'es' : ''} packaged and checked`);
}

main().catch((err) => {
  console.error(`✗ ${err instanceof PackageError ? err.message : err.stack ?? err}`);
  process.exit(1);
});
