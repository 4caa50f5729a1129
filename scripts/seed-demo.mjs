// Seeds the demo store that `npm start` opens, so a newcomer has memories to look at.
//
// HOOK: demo-store seeding goes through the real CLI (`node dist/cli.js --db DIR …`), the same path a
// person would use. Until the CLI is built (its placeholder exits non-zero), seeding is skipped with a
// message and the workbench opens on an empty store.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cli = join(repoRoot, 'dist', 'cli.js');

/** A handful of legacy-shaped memories (no smart metadata), so an upgrade has something to do. */
export const demoMemories = [
  { id: 'demo-1', text: 'The team prefers pnpm over npm for new front-end packages.', category: 'preferences', scope: 'global', importance: 0.6 },
  { id: 'demo-2', text: 'Integration tests need a real LanceDB store in a temp folder; mocks hid a lost-update bug.', category: 'cases', scope: 'global', importance: 0.8 },
  { id: 'demo-3', text: 'Never run an LLM call while holding the store lock.', category: 'patterns', scope: 'global', importance: 0.9 },
  { id: 'demo-4', text: 'Release notes are written in CHANGELOG.md, newest first.', category: 'entities', scope: 'global', importance: 0.4 },
  { id: 'demo-5', text: 'On 2026-11-02 the upgrade of 10k memories finished in 18 s.', category: 'events', scope: 'global', importance: 0.3 },
];

const runCli = (args) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, LANCEDB_LOG: 'error' } });

/**
 * Imports the demo memories into `storeDir` once (ids are fixed, so a second run changes nothing).
 * @returns {{ seeded: boolean, reason?: string }}
 */
export function seedDemoStore(storeDir) {
  if (!existsSync(cli)) return { seeded: false, reason: 'dist/cli.js is missing (run `npm run build`)' };
  const probe = runCli(['--db', storeDir, 'stats', '--json']);
  if (probe.status !== 0) return { seeded: false, reason: (probe.stderr || probe.stdout).trim().split('\n')[0] || `exit ${probe.status}` };
  mkdirSync(storeDir, { recursive: true });
  const file = join(storeDir, '..', 'demo-memories.jsonl');
  writeFileSync(file, demoMemories.map((m) => JSON.stringify(m)).join('\n') + '\n');
  const imported = runCli(['--db', storeDir, 'import', file, '--json']);
  if (imported.status !== 0) return { seeded: false, reason: (imported.stderr || '').trim().split('\n')[0] };
  return { seeded: true };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const storeDir = resolve(process.argv[2] ?? join(repoRoot, '.demo', 'store'));
  const r = seedDemoStore(storeDir);
  console.log(r.seeded ? `demo store seeded: ${storeDir}` : `demo store not seeded: ${r.reason}`);
}
