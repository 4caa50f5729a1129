// The platforms Memory Lane ships a VSIX for, and what each one must carry. One table for the
// packager (scripts/package.mjs), the VSIX content check (scripts/package-check.mjs), the release
// workflow (.github/workflows/release.yml) and docs/platforms.md.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * VS Code target → the npm platform facts `npm ci --os --cpu --libc` installs for, and the LanceDB
 * native package (and its one `.node` file) that must be in that VSIX and in no other.
 */
export const TARGETS = Object.freeze({
  'linux-x64': { os: 'linux', cpu: 'x64', libc: 'glibc', native: '@lancedb/lancedb-linux-x64-gnu', binary: 'lancedb.linux-x64-gnu.node', machine: 'Linux on Intel/AMD (x86_64), glibc' },
  'linux-arm64': { os: 'linux', cpu: 'arm64', libc: 'glibc', native: '@lancedb/lancedb-linux-arm64-gnu', binary: 'lancedb.linux-arm64-gnu.node', machine: 'Linux on ARM (aarch64), glibc' },
  'darwin-arm64': { os: 'darwin', cpu: 'arm64', native: '@lancedb/lancedb-darwin-arm64', binary: 'lancedb.darwin-arm64.node', machine: 'macOS on Apple silicon (M1 and later)' },
  'darwin-x64': { os: 'darwin', cpu: 'x64', native: '@lancedb/lancedb-darwin-x64', binary: 'lancedb.darwin-x64.node', machine: 'macOS on Intel' },
  'win32-x64': { os: 'win32', cpu: 'x64', native: '@lancedb/lancedb-win32-x64-msvc', binary: 'lancedb.win32-x64-msvc.node', machine: 'Windows on Intel/AMD (x64)' },
});

export const TARGET_NAMES = Object.freeze(Object.keys(TARGETS));

/** The VS Code target of the machine this runs on, or undefined when Memory Lane has none for it. */
export function hostTarget(platform = process.platform, arch = process.arch) {
  const name = `${platform}-${arch}`;
  return name in TARGETS ? name : undefined;
}

export function targetFacts(name) {
  const facts = TARGETS[name];
  if (!facts) throw new Error(`unknown target "${name}"; one of: ${TARGET_NAMES.join(', ')}`);
  return facts;
}

/** The @lancedb/lancedb version package-lock.json pins: the one every releasable VSIX carries. */
export function lockedLancedbVersion(repoRoot) {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'));
  const version = lock.packages?.['node_modules/@lancedb/lancedb']?.version;
  if (!version) throw new Error('package-lock.json pins no @lancedb/lancedb version');
  return version;
}

/**
 * The file name of a VSIX. A content-check build (LanceDB other than the lock's) says so in its
 * name, so it cannot be mistaken for a release asset.
 */
export function vsixFileName({ name, version, target, contentCheck }) {
  return `${name}-${target}-${version}${contentCheck ? `-content-check-lancedb-${contentCheck}` : ''}.vsix`;
}

/** The key a content-check build adds to the VSIX's package.json; a release build never has it. */
export const CONTENT_CHECK_KEY = 'memoryLaneContentCheckOnly';
