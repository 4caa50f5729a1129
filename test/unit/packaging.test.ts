import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../helpers/repo';
import { tempDir } from '../helpers/tempStore';

// The VSIX content check (scripts/package-check.mjs) on hand-made zips: each rule must catch what it
// names, or a VSIX carrying another platform's binary or a mismatched LanceDB pair would pass.
// The real VSIXes are packaged and checked by the packaging step of `npm test`.

const root = repoRoot();
const checker = join(root, 'scripts', 'package-check.mjs');
// yazl writes zips; it comes with @vscode/vsce, as yauzl (the checker's reader) does.
const yazl = createRequire(createRequire(join(root, 'package.json')).resolve('@vscode/vsce/package.json'))('yazl') as {
  ZipFile: new () => { addBuffer(b: Buffer, name: string): void; end(): void; outputStream: NodeJS.ReadableStream };
};
const locked = (JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> }).packages['node_modules/@lancedb/lancedb'].version;
const targets = JSON.parse(spawnSync(process.execPath, ['--input-type=module', '-e',
  `import(${JSON.stringify(pathToFileURL(join(root, 'scripts', 'package-targets.mjs')).href)}).then((m) => console.log(JSON.stringify(m.TARGETS)))`], { encoding: 'utf8' }).stdout) as Record<string, { native: string; binary: string }>;

type Files = Record<string, string>;

/** The files of a VSIX for `target` that passes every check, as `vsce package --target` lays them out. */
function goodVsix(target: string, { js = locked, native = js, marker }: { js?: string; native?: string; marker?: string } = {}): Files {
  const { native: pkg, binary } = targets[target];
  return {
    'extension.vsixmanifest': `<PackageManifest><Metadata><Identity Id="memory-lane" Version="0.1.0" Publisher="memory-lane" TargetPlatform="${target}"/></Metadata></PackageManifest>`,
    '[Content_Types].xml': '<Types/>',
    'extension/package.json': JSON.stringify({ name: 'memory-lane', version: '0.1.0', dependencies: { '@lancedb/lancedb': js }, ...(marker ? { memoryLaneContentCheckOnly: marker } : {}) }),
    'extension/dist/extension.js': '', 'extension/dist/cli.js': '', 'extension/dist/mcp.js': '', 'extension/media/memory-lane.svg': '<svg/>',
    'extension/node_modules/@lancedb/lancedb/package.json': JSON.stringify({ name: '@lancedb/lancedb', version: js }),
    'extension/node_modules/@lancedb/lancedb/dist/index.js': '',
    'extension/node_modules/apache-arrow/package.json': JSON.stringify({ name: 'apache-arrow', version: '18.1.0' }),
    [`extension/node_modules/${pkg}/package.json`]: JSON.stringify({ name: pkg, version: native }),
    [`extension/node_modules/${pkg}/${binary}`]: 'ELF',
  };
}

async function writeZip(dir: string, name: string, files: Files): Promise<string> {
  const file = join(dir, name);
  const zip = new yazl.ZipFile();
  for (const [path, text] of Object.entries(files)) zip.addBuffer(Buffer.from(text), path);
  zip.end();
  await new Promise<void>((resolve, reject) => zip.outputStream.pipe(createWriteStream(file)).on('close', () => resolve()).on('error', reject));
  return file;
}

function check(file: string, ...args: string[]): { status: number | null; problems: string[]; facts: Record<string, unknown>; out: string } {
  const r = spawnSync(process.execPath, [checker, file, '--json', ...args], { encoding: 'utf8' });
  const report = JSON.parse(r.stdout || '[{}]')[0] as { problems?: string[]; facts?: Record<string, unknown> };
  return { status: r.status, problems: report.problems ?? [], facts: report.facts ?? {}, out: r.stdout + r.stderr };
}

test('a VSIX with its own native binary, the locked LanceDB and nothing else passes the release check and reports its size', async (t) => {
  const dir = tempDir(t);
  const r = check(await writeZip(dir, 'memory-lane-darwin-arm64-0.1.0.vsix', goodVsix('darwin-arm64')), '--target', 'darwin-arm64', '--release');
  assert.equal(r.status, 0, r.out);
  assert.deepEqual(r.problems, []);
  assert.equal(r.facts.releasable, true);
  assert.equal(r.facts.lancedb, locked);
  assert.equal(r.facts.nativeBytes, 3);
  assert.ok(Number(r.facts.fileBytes) > 0);
});

test('another platform\'s native binary, a missing one, or a manifest for another target is refused, naming the file', async (t) => {
  const dir = tempDir(t);
  const linux = targets['linux-x64'];
  const both = await writeZip(dir, 'both.vsix', { ...goodVsix('darwin-arm64'), [`extension/node_modules/${linux.native}/${linux.binary}`]: 'ELF', [`extension/node_modules/${linux.native}/package.json`]: '{}' });
  const r = check(both, '--target', 'darwin-arm64');
  assert.equal(r.status, 1);
  assert.ok(r.problems.some((p) => p.includes(`not darwin-arm64's: node_modules/${linux.native}/${linux.binary}`)), r.out);
  assert.ok(r.problems.some((p) => p.includes(`another platform's LanceDB package: ${linux.native}`)), r.out);

  const files = goodVsix('win32-x64');
  delete files[`extension/node_modules/${targets['win32-x64'].native}/${targets['win32-x64'].binary}`];
  const none = check(await writeZip(dir, 'none.vsix', files), '--target', 'win32-x64');
  assert.equal(none.status, 1);
  assert.ok(none.problems.some((p) => p.includes(`no ${targets['win32-x64'].binary}`)), none.out);

  const wrongManifest = check(await writeZip(dir, 'manifest.vsix', goodVsix('linux-x64')), '--target', 'linux-arm64');
  assert.equal(wrongManifest.status, 1);
  assert.ok(wrongManifest.problems.some((p) => p.includes("TargetPlatform is linux-x64, expected linux-arm64")), wrongManifest.out);
});

test('sources, tests, source maps and repository folders in a VSIX are each named', async (t) => {
  const dir = tempDir(t);
  const file = await writeZip(dir, 'stray.vsix', {
    ...goodVsix('linux-x64'),
    'extension/src/core/paths.ts': '', 'extension/test/unit/a.test.js': '', 'extension/dist/extension.js.map': '{}',
    'extension/node_modules/apache-arrow/test/x.js': '', 'extension/bench/run.ts': '',
  });
  const r = check(file);
  assert.equal(r.status, 1);
  for (const want of [/carries src\/ \(1 files\)/, /carries test\/ \(1 files\)/, /carries bench\/ \(1 files\)/, /TypeScript sources/, /1 source maps, e\.g\. extension\/dist\/extension\.js\.map/, /dependencies' tests/]) {
    assert.ok(r.problems.some((p) => want.test(p)), `${want} in ${r.out}`);
  }
});

test('LanceDB JavaScript and native binary of different versions never pass, release or not', async (t) => {
  const dir = tempDir(t);
  const r = check(await writeZip(dir, 'mixed.vsix', goodVsix('darwin-arm64', { js: locked, native: '0.31.0' })), '--target', 'darwin-arm64');
  assert.equal(r.status, 1);
  assert.ok(r.problems.some((p) => p.includes(`JavaScript is ${locked} but its darwin-arm64 native binary is 0.31.0`)), r.out);
});

test('a content-check build passes the content check but never the release check', async (t) => {
  const dir = tempDir(t);
  const file = await writeZip(dir, 'memory-lane-darwin-arm64-0.1.0-content-check-lancedb-0.31.0.vsix',
    goodVsix('darwin-arm64', { js: '0.31.0', marker: 'LanceDB 0.31.0 instead of the locked one' }));
  const content = check(file, '--target', 'darwin-arm64');
  assert.equal(content.status, 0, content.out);
  assert.equal(content.facts.releasable, false);
  const release = check(file, '--target', 'darwin-arm64', '--release');
  assert.equal(release.status, 1);
  assert.ok(release.problems.some((p) => p.includes('is a content-check build')), release.out);
  assert.ok(release.problems.some((p) => p.includes(`carries LanceDB 0.31.0, but package-lock.json pins ${locked}`)), release.out);
});

test('the release workflow packages every target the packager knows, and the README names each VSIX', () => {
  const workflow = readFileSync(join(root, '.github', 'workflows', 'release.yml'), 'utf8');
  const matrix = /^\s+target: \[([^\]]+)\]/m.exec(workflow)?.[1].split(',').map((s) => s.trim());
  assert.deepEqual(matrix?.sort(), Object.keys(targets).sort());
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  for (const target of Object.keys(targets)) assert.ok(readme.includes(`memory-lane-${target}-`), `README names the ${target} VSIX`);
});
