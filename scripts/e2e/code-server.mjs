// Starts and stops a local code-server (a real VS Code server with a web workbench) on 127.0.0.1,
// and builds the workbench URL that opens it as an Extension Development Host.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A free loopback port. code-server cannot report a port it chose itself, so ask the kernel first. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    }).on('error', reject);
  });
}

const healthy = (port) => new Promise((resolve) => {
  get({ host: '127.0.0.1', port, path: '/healthz', timeout: 1000 }, (res) => { res.resume(); resolve(res.statusCode === 200); })
    .on('error', () => resolve(false))
    .on('timeout', function () { this.destroy(); resolve(false); });
});

const stateFolders = (stateDir) => ({
  userData: join(stateDir, 'user-data'),
  extensions: join(stateDir, 'extensions'),
  xdg: join(stateDir, 'xdg'),
});

/**
 * Installs a VSIX the way a person would (`code-server --install-extension`), into the extensions
 * folder that startCodeServer() later uses for the same `stateDir`.
 */
export function installExtension(install, stateDir, vsix) {
  const { userData, extensions, xdg } = stateFolders(stateDir);
  const r = spawnSync(install.node, [install.entry, '--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', vsix], {
    encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: xdg, XDG_DATA_HOME: xdg, XDG_CACHE_HOME: xdg },
  });
  if (r.status !== 0) throw new Error(`installing ${vsix} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return extensions;
}

/**
 * The user settings of every window of this server (user-data/User/settings.json): a quiet workbench,
 * no welcome page, tips, update checks, telemetry or chat, plus `overrides`. A window reads them when
 * it opens, so a later phase can rewrite them before opening its own window.
 */
export function writeUserSettings(stateDir, overrides = {}) {
  const { userData } = stateFolders(stateDir);
  mkdirSync(join(userData, 'User'), { recursive: true });
  writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'chat.disableAIFeatures': true,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'git.openRepositoryInParentFolders': 'never',
    ...overrides,
  }, null, 2));
}

/**
 * Starts code-server with its own user-data, extensions and XDG folders under `stateDir`.
 * `--vscode-option=enable-smoke-test-driver` matters: VS Code >= ~1.10x ignores the ?payload= that
 * makes the window an Extension Development Host unless the smoke-test driver is on (docs/e2e.md#the-smoke-test-driver-flag).
 * @param {{ node: string, entry: string }} install  from ensureVSCodeServer()
 * @param {{ stateDir: string, folder: string, env?: Record<string,string>, port?: number, logFile?: string, settings?: Record<string,unknown> }} opts
 */
export async function startCodeServer(install, { stateDir, folder, env = {}, port, logFile, settings = {} }) {
  const { userData, extensions, xdg } = stateFolders(stateDir);
  for (const d of [join(userData, 'User'), extensions, xdg, folder]) mkdirSync(d, { recursive: true });
  writeUserSettings(stateDir, settings);

  port ??= await freePort();
  logFile ??= join(stateDir, 'code-server.log');
  const out = openSync(logFile, 'w');
  const childEnv = { ...process.env, XDG_CONFIG_HOME: xdg, XDG_DATA_HOME: xdg, XDG_CACHE_HOME: xdg, ...env };
  for (const secret of ['PASSWORD', 'HASHED_PASSWORD']) delete childEnv[secret];
  const child = spawn(install.node, [install.entry,
    '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
    '--disable-getting-started-override', '--ignore-last-opened',
    '--user-data-dir', userData, '--extensions-dir', extensions,
    '--vscode-option=enable-smoke-test-driver',
    folder,
  ], { env: childEnv, detached: true, stdio: ['ignore', out, out] });

  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    try { process.kill(-child.pid, 'SIGTERM'); } catch { resolve(); }
    setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000).unref();
  });

  const deadline = Date.now() + 60_000;
  while (!(await healthy(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-30).join('\n');
      throw new Error(`code-server did not start on 127.0.0.1:${port} (log: ${logFile})\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const authority = `127.0.0.1:${port}`;
  return { port, authority, origin: `http://${authority}`, folder, logFile, process: child, stop };
}

/**
 * The workbench URL that opens `folder` as an Extension Development Host for `extensionDevelopmentPath`
 * (a path, or an array of them),
 * and, with `extensionTestsPath`, runs that module's run() in the extension host.
 */
export function workbenchUrl(server, { extensionDevelopmentPath, extensionTestsPath } = {}) {
  const remote = (p) => `vscode-remote://${server.authority}${encodeURI(p)}`;
  if (!extensionDevelopmentPath) return `${server.origin}/?folder=${encodeURIComponent(server.folder)}`;
  // Several development paths load several extensions: the workbench collects every entry of the key.
  const payload = [extensionDevelopmentPath].flat().map((p) => ['extensionDevelopmentPath', remote(p)]);
  if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
  return `${server.origin}/?folder=${encodeURIComponent(server.folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}
