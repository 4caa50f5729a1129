// Fails when the layering of docs/architecture.md#layers is broken: src/core must never import 'vscode', the core must
// not import the adapters; one lock primitive, one HTTP client, errors from their classes.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.ts')) yield p;
  }
}
const importRe = /(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const problems = [];
for (const file of files('src')) {
  const text = readFileSync(file, 'utf8');
  const rel = relative('.', file).replaceAll('\\', '/');
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (rel.startsWith('src/core/') && spec === 'vscode') problems.push(`${rel}: src/core must not import 'vscode'`);
    if (rel.startsWith('src/core/') && /\/(extension|cli|mcp)\//.test(spec + '/') && spec.startsWith('.')) {
      if (/\.\.\/(\.\.\/)*(extension|cli|mcp)(\/|$)/.test(spec)) problems.push(`${rel}: src/core must not import adapters (${spec})`);
    }
    if (spec === 'proper-lockfile' && rel !== 'src/core/concurrency/fileLock.ts') problems.push(`${rel}: only the one lock primitive (src/core/concurrency/fileLock.ts) may import proper-lockfile`);
    if (spec === 'openai' && rel !== 'src/core/llm/openAiClient.ts') problems.push(`${rel}: only the one OpenAI-compatible client (src/core/llm/openAiClient.ts) may import openai`);
  }
  // One implementation of each mechanism: a second HTTP client or an ad-hoc error code is a bug waiting to drift.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, ''); // comments may name what code must not do
  if (/\bfetch\(/.test(code) && rel !== 'src/core/llm/openAiClient.ts') problems.push(`${rel}: HTTP goes through src/core/llm/openAiClient.ts, not fetch()`);
  if (/new MemoryLaneError\(/.test(code)) problems.push(`${rel}: errors are built from the classes in src/core/errors.ts (or a module's errors.ts), not new MemoryLaneError(code, …)`);
}
if (problems.length) {
  console.error('Layering violations:\n' + problems.map((p) => '  ' + p).join('\n'));
  process.exit(1);
}
console.log('layers: ok');
