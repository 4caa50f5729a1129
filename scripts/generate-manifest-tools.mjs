// Writes package.json's `contributes.languageModelTools` from the tool contract
// (src/core/tools/contract.ts), touching no other byte of the file.
//   node scripts/generate-manifest-tools.mjs            regenerate the section
//   node scripts/generate-manifest-tools.mjs --check    exit 1, naming each difference, when it is stale
//   --manifest FILE                                     another package.json (tests check an altered copy)
import * as esbuild from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual, parseArgs } from 'node:util';

const { values } = parseArgs({ options: { check: { type: 'boolean' }, manifest: { type: 'string', default: 'package.json' } }, strict: true });

// The contract is TypeScript; bundle it whole (no externals), so the data: URL import resolves nothing.
const bundle = await esbuild.build({
  entryPoints: ['src/core/tools/languageModelTools.ts'], bundle: true, write: false, format: 'esm', platform: 'node', target: 'node20', logLevel: 'error',
});
const { manifestTools, manifestDrift } = await import(`data:text/javascript;base64,${Buffer.from(bundle.outputFiles[0].text).toString('base64')}`);

const file = values.manifest;
const text = readFileSync(file, 'utf8');
const manifest = JSON.parse(text);

if (values.check) {
  const drift = manifestDrift(manifest.contributes?.languageModelTools);
  if (drift.length) {
    console.error(`${file}: contributes.languageModelTools differs from the tool contract (src/core/tools/contract.ts):\n${drift.map((d) => `  ${d}`).join('\n')}\nRun: node scripts/generate-manifest-tools.mjs`);
    process.exit(1);
  }
  console.log(`${file}: languageModelTools match the tool contract`);
  process.exit(0);
}

/** [start, end) of the JSON array after `"languageModelTools":`, found by matching brackets outside strings. */
function sectionSpan(source) {
  const key = /"languageModelTools"\s*:\s*\[/g.exec(source);
  if (!key) throw new Error(`${file} has no "languageModelTools" section to regenerate`);
  const start = key.index + key[0].length - 1;
  let depth = 0, inString = false;
  for (let i = start; i < source.length; i++) {
    const c = source[i];
    if (inString) { if (c === '\\') i++; else if (c === '"') inString = false; continue; }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if ((c === ']' || c === '}') && --depth === 0) return [start, i + 1];
  }
  throw new Error(`${file}: the "languageModelTools" section never ends`);
}

const [start, end] = sectionSpan(text);
const indent = /[ \t]*$/.exec(text.slice(0, start).split('\n').at(-1).match(/^[ \t]*/)[0])[0];
const section = JSON.stringify(manifestTools(), null, 2).replaceAll('\n', `\n${indent}`);
const next = text.slice(0, start) + section + text.slice(end);
const parsed = JSON.parse(next);
const { languageModelTools: written, ...restAfter } = parsed.contributes;
const { languageModelTools: _old, ...restBefore } = manifest.contributes;
if (!isDeepStrictEqual(written, manifestTools()) || !isDeepStrictEqual(restAfter, restBefore) || !isDeepStrictEqual({ ...parsed, contributes: null }, { ...manifest, contributes: null })) {
  throw new Error(`${file}: regenerating languageModelTools would change more than that section; nothing written`);
}
if (next === text) console.log(`${file}: languageModelTools already match the tool contract`);
else {
  writeFileSync(file, next);
  console.log(`${file}: wrote ${manifestTools().length} languageModelTools from the tool contract`);
}
