// `npm start`: build, prepare a demo workspace under .demo/, and open VS Code with Memory Lane loaded
// from this repository (an Extension Development Host):
//   - desktop VS Code when `code` is on PATH;
//   - otherwise a local code-server (installed on first use into .cache/vscode-e2e/, see scripts/e2e/)
//     on 127.0.0.1, whose URL is printed; it keeps running until Ctrl-C.
// Options: --server (use code-server even when `code` exists), --port N (default: a free port).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCodeServer, workbenchUrl } from './e2e/code-server.mjs';
import { repoRoot } from './e2e/config.mjs';
import { ensureVSCodeServer } from './e2e/setup.mjs';
import { seedDemoStore } from './seed-demo.mjs';

const { values: opts } = parseArgs({ options: { server: { type: 'boolean', default: false }, port: { type: 'string' } } });
const say = (msg) => console.log(`[start] ${msg}`);

const demo = join(repoRoot, '.demo');
const workspace = join(demo, 'memory-lane-demo');
const store = join(demo, 'store');

function build() {
  say('building');
  const r = spawnSync(process.execPath, ['esbuild.config.mjs'], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function prepareWorkspace() {
  mkdirSync(join(workspace, '.vscode'), { recursive: true });
  writeFileSync(join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'memoryLane.storePath': store }, null, 2) + '\n');
  writeFileSync(join(workspace, 'README.md'), [
    '# Memory Lane demo workspace',
    '',
    'Open the Memory Lane view in the activity bar: the lock monitor (who holds the store lock, who',
    'waits, how far an upgrade has come) and the memories of the demo store in `.demo/store`.',
    '',
  ].join('\n'));
}

const onPath = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

async function openInCodeServer() {
  const install = ensureVSCodeServer({ browser: false });
  const server = await startCodeServer(install, {
    stateDir: join(demo, 'code-server'),
    folder: workspace,
    port: opts.port ? Number(opts.port) : undefined,
  });
  const url = workbenchUrl(server, { extensionDevelopmentPath: repoRoot });
  say(`code-server ${install.version} is running (log: ${server.logFile})`);
  console.log(`\n  Open Memory Lane in your browser:\n\n  ${url}\n\n  Press Ctrl-C to stop.\n`);
  if (process.env.DISPLAY && onPath('xdg-open')) spawn('xdg-open', [url], { stdio: 'ignore', detached: true }).unref();
  const stop = () => server.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  server.process.once('exit', (code) => { say(`code-server exited (${code})`); process.exit(code ?? 1); });
}

build();
prepareWorkspace();
const seeded = seedDemoStore(store);
say(seeded.seeded
  ? `demo store ${store}: ${seeded.imported} memories imported, ${seeded.existing} already there`
  : `demo store not seeded: ${seeded.reason}`);

if (!opts.server && onPath('code')) {
  say('opening desktop VS Code');
  const r = spawnSync('code', ['--new-window', `--extensionDevelopmentPath=${repoRoot}`, workspace], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
} else {
  await openInCodeServer();
}
