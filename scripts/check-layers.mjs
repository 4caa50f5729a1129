// Fails when the layering of docs/architecture.md#layers is broken: src/core must never import 'vscode', the core must
// not import the adapters, and only src/core/concurrency may import proper-lockfile (one write path).
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
    if (spec === 'proper-lockfile' && !rel.startsWith('src/core/concurrency/')) problems.push(`${rel}: only src/core/concurrency may import proper-lockfile`);
  }
}
if (problems.length) {
  console.error('Layering violations:\n' + problems.map((p) => '  ' + p).join('\n'));
  process.exit(1);
}
console.log('layers: ok');
