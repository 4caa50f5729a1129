// Seeds the demo store that `npm start` opens, so a newcomer has memories to look at.
// It goes through the real CLI (`node dist/cli.js --db DIR import …`), the path a person would use.
// The memories arrive as legacy rows, so the upgrader has work to show. Re-running changes nothing:
// the CLI derives stable ids from the content. While the CLI is not built, seeding is skipped.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cli = join(repoRoot, 'dist', 'cli.js');

export const demoMemories = [
  { text: 'The team prefers pnpm over npm for new front-end packages.', category: 'preferences', scope: 'global', importance: 0.6 },
  { text: 'Integration tests need a real LanceDB store in a temp folder; mocks hid a lost-update bug.', category: 'cases', scope: 'global', importance: 0.8 },
  { text: 'Never run an LLM call while holding the store lock.', category: 'patterns', scope: 'global', importance: 0.9 },
  { text: 'Release notes are written in CHANGELOG.md, newest first.', category: 'entities', scope: 'global', importance: 0.4 },
  { text: 'On 2026-11-02 the upgrade of 10k memories finished in 18 s.', category: 'events', scope: 'global', importance: 0.3 },
];

const runCli = (args) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, LANCEDB_LOG: 'error' } });
const firstLine = (r) => `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n')[0] || `exit ${r.status}`;

/**
 * Imports the demo memories into `storeDir` (created when missing).
 * @returns {{ seeded: boolean, imported?: number, existing?: number, reason?: string }}
 */
export function seedDemoStore(storeDir) {
  if (!existsSync(cli)) return { seeded: false, reason: 'dist/cli.js is missing (run `npm run build`)' };
  const version = runCli(['--version']);
  if (version.status !== 0) return { seeded: false, reason: firstLine(version) };
  const file = join(dirname(storeDir), 'demo-memories.jsonl');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, demoMemories.map((m) => JSON.stringify(m)).join('\n') + '\n');
  const r = runCli(['--db', storeDir, '--json', 'import', file, '--format', 'jsonl']);
  if (r.status !== 0) return { seeded: false, reason: firstLine(r) };
  const report = JSON.parse(r.stdout);
  return { seeded: true, imported: report.imported, existing: report.existing };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const storeDir = resolve(process.argv[2] ?? join(repoRoot, '.demo', 'store'));
  const r = seedDemoStore(storeDir);
  console.log(r.seeded ? `demo store ${storeDir}: ${r.imported} imported, ${r.existing} already there` : `demo store not seeded: ${r.reason}`);
  process.exitCode = r.seeded ? 0 : 1;
}
