#!/usr/bin/env node
// Checks a VSIX by listing its contents: the manifest names the right target, the one native
// LanceDB binary is that target's (and no other platform's is there), the LanceDB JavaScript and
// native packages are one version, the dist/ entry points are there, and no sources, tests, maps
// or build folders came along. Reports entries and sizes.
//
//   node scripts/package-check.mjs FILE.vsix [--target T] [--release] [--json]
//
// --release also requires what a release asset needs: LanceDB at the version package-lock.json
// pins and no content-check marker. Exit 1 on any problem, each named. A VSIX is a zip; it is read
// with yauzl, the zip reader that comes with @vscode/vsce.
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CONTENT_CHECK_KEY, TARGETS, TARGET_NAMES, lockedLancedbVersion } from './package-targets.mjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const yauzl = createRequire(createRequire(import.meta.url).resolve('@vscode/vsce/package.json'))('yauzl');

const ROOT = 'extension/';
/** Read whole, for the checks; everything else is only listed. */
const READ = new Set(['extension.vsixmanifest', `${ROOT}package.json`, `${ROOT}node_modules/@lancedb/lancedb/package.json`,
  ...Object.values(TARGETS).map((t) => `${ROOT}node_modules/${t.native}/package.json`)]);
export const REQUIRED = Object.freeze(['package.json', 'dist/extension.js', 'dist/cli.js', 'dist/mcp.js', 'media/memory-lane.svg',
  'node_modules/@lancedb/lancedb/package.json', 'node_modules/@lancedb/lancedb/dist/index.js', 'node_modules/apache-arrow/package.json']);
/** Folders of the repository that are never part of the extension. */
const FORBIDDEN_FOLDERS = ['src/', 'test/', 'out/', 'bench/', 'scripts/', 'docs/', '.cache/', '.github/', '.ci/', 'test-results/', '.vscode-test/', '.demo/'];

/** Lists a VSIX: every entry's name and sizes, and the text of the few entries the checks read. */
export function readVsix(file) {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(new Error(`${file} is not a readable zip: ${err.message}`));
      const entries = [];
      const texts = {};
      zip.on('error', reject);
      zip.on('end', () => resolve({ entries, texts }));
      zip.on('entry', (entry) => {
        entries.push({ name: entry.fileName, size: entry.uncompressedSize, compressedSize: entry.compressedSize });
        if (!READ.has(entry.fileName)) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks = [];
          stream.on('data', (c) => chunks.push(c));
          stream.on('end', () => { texts[entry.fileName] = Buffer.concat(chunks).toString('utf8'); zip.readEntry(); });
          stream.on('error', reject);
        });
      });
      zip.readEntry();
    });
  });
}

const json = (text) => { try { return text === undefined ? undefined : JSON.parse(text); } catch { return undefined; } };

/**
 * The checks, on a listing from readVsix. Returns the facts found and the problems, each one
 * sentence naming what is wrong. Pure: unit-tested on hand-made zips.
 */
export function inspectVsix({ entries, texts }, { target, release = false, lockVersion, fileName = '' } = {}) {
  const problems = [];
  const names = entries.map((e) => e.name);
  const declared = /TargetPlatform="([^"]+)"/.exec(texts['extension.vsixmanifest'] ?? '')?.[1];
  if (!texts['extension.vsixmanifest']) problems.push('no extension.vsixmanifest: not a VSIX');
  const wanted = target ?? declared;
  if (!wanted || !TARGETS[wanted]) problems.push(`the manifest names no known target (${declared ?? 'none'}); one of ${TARGET_NAMES.join(', ')}`);
  else if (declared !== wanted) problems.push(`the manifest's TargetPlatform is ${declared ?? 'missing'}, expected ${wanted}`);
  const facts = TARGETS[wanted] ?? {};

  for (const p of REQUIRED) if (!names.includes(ROOT + p)) problems.push(`${p} is missing`);

  const binaries = names.filter((n) => n.endsWith('.node'));
  const expectedBinary = facts.native ? `${ROOT}node_modules/${facts.native}/${facts.binary}` : undefined;
  if (expectedBinary && !binaries.includes(expectedBinary)) problems.push(`no ${facts.binary}: the ${wanted} VSIX lacks its LanceDB native binary (${facts.native})`);
  for (const b of binaries.filter((n) => n !== expectedBinary)) problems.push(`carries a native binary that is not ${wanted}'s: ${b.slice(ROOT.length)}`);
  const nativeFolders = [...new Set(names.map((n) => /^extension\/node_modules\/(@lancedb\/lancedb-[^/]+)\//.exec(n)?.[1]).filter(Boolean))];
  for (const f of nativeFolders.filter((f) => f !== facts.native)) problems.push(`carries another platform's LanceDB package: ${f}`);

  for (const folder of FORBIDDEN_FOLDERS) {
    const n = names.filter((x) => x.startsWith(ROOT + folder)).length;
    if (n) problems.push(`carries ${folder} (${n} files); only dist/, media/ and the runtime node_modules belong in a VSIX`);
  }
  const sources = names.filter((n) => /\.(ts|tsx|mts|cts)$/.test(n) && !/\.d\.[mc]?ts$/.test(n));
  if (sources.length) problems.push(`carries ${sources.length} TypeScript sources, e.g. ${sources[0]}`);
  const maps = names.filter((n) => n.endsWith('.map'));
  if (maps.length) problems.push(`carries ${maps.length} source maps, e.g. ${maps[0]} (.vscodeignore leaves them out)`);
  const tests = names.filter((n) => /^extension\/node_modules\/.*\/(test|tests|__tests__)\//.test(n));
  if (tests.length) problems.push(`carries ${tests.length} files of dependencies' tests, e.g. ${tests[0]}`);
  const nested = names.filter((n) => n.endsWith('.vsix'));
  if (nested.length) problems.push(`carries a VSIX: ${nested[0]}`);

  const manifest = json(texts[`${ROOT}package.json`]);
  const jsVersion = json(texts[`${ROOT}node_modules/@lancedb/lancedb/package.json`])?.version;
  const nativeVersion = facts.native ? json(texts[`${ROOT}node_modules/${facts.native}/package.json`])?.version : undefined;
  if (jsVersion && nativeVersion && jsVersion !== nativeVersion) {
    problems.push(`LanceDB's JavaScript is ${jsVersion} but its ${wanted} native binary is ${nativeVersion}: a mismatched pair must never ship`);
  }
  const declaredDep = manifest?.dependencies?.['@lancedb/lancedb'];
  if (jsVersion && declaredDep && declaredDep !== jsVersion) problems.push(`package.json depends on @lancedb/lancedb ${declaredDep} but the VSIX carries ${jsVersion}`);
  const contentCheck = manifest?.[CONTENT_CHECK_KEY];
  const releasable = !contentCheck && !/content-check/.test(fileName) && (!lockVersion || (jsVersion === lockVersion && nativeVersion === lockVersion));
  if (release) {
    if (contentCheck) problems.push(`is a content-check build (${contentCheck}), not a release`);
    if (/content-check/.test(fileName)) problems.push(`its file name ${fileName} marks a content-check build`);
    if (lockVersion && jsVersion !== lockVersion) problems.push(`carries LanceDB ${jsVersion ?? 'none'}, but package-lock.json pins ${lockVersion}`);
  }

  const bytes = entries.reduce((s, e) => s + e.size, 0);
  const nativeEntry = entries.find((e) => e.name === expectedBinary);
  return {
    problems,
    facts: { target: wanted, declaredTarget: declared, version: manifest?.version, lancedb: jsVersion, lancedbNative: nativeVersion, contentCheck, releasable,
      entries: entries.length, unpackedBytes: bytes, nativeBytes: nativeEntry?.size, nodeModulesEntries: names.filter((n) => n.startsWith(`${ROOT}node_modules/`)).length },
  };
}

const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MB`;

/** Reads and checks one VSIX file; the report adds its size on disk. */
export async function checkVsixFile(file, options = {}) {
  const report = inspectVsix(await readVsix(file), { ...options, fileName: basename(file) });
  report.facts.fileBytes = statSync(file).size;
  return report;
}

export function describe(file, { problems, facts }) {
  const lines = [`${basename(file)}: ${facts.target} v${facts.version}, LanceDB ${facts.lancedb ?? '?'} (native ${facts.lancedbNative ?? '?'})` +
    `, ${mb(facts.fileBytes ?? 0)} (${mb(facts.unpackedBytes)} unpacked, native binary ${facts.nativeBytes ? mb(facts.nativeBytes) : 'missing'}), ${facts.entries} entries` +
    ` (${facts.nodeModulesEntries} in node_modules)`];
  lines.push(facts.releasable ? '  releasable: LanceDB at the locked version, no content-check marker' : `  NOT releasable: content-check build${facts.contentCheck ? ` (${facts.contentCheck})` : ''}`);
  for (const p of problems) lines.push(`  ✗ ${p}`);
  if (!problems.length) lines.push('  ✓ right native binary, none of another platform, no sources, tests or maps');
  return lines.join('\n');
}

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { target: { type: 'string' }, release: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } } });
  if (!positionals.length) { console.error('usage: node scripts/package-check.mjs FILE.vsix… [--target T] [--release] [--json]'); process.exit(2); }
  const lockVersion = lockedLancedbVersion(repoRoot);
  let failed = false;
  const reports = [];
  for (const file of positionals) {
    const report = await checkVsixFile(file, { target: values.target, release: values.release, lockVersion });
    failed ||= report.problems.length > 0;
    reports.push({ file, ...report });
    if (!values.json) console.log(describe(file, report));
  }
  if (values.json) console.log(JSON.stringify(reports, null, 2));
  process.exit(failed ? 1 : 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => { console.error(`package-check: ${err.message}`); process.exit(1); });
}
