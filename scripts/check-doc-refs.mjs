// Fails when a pointer into the project's docs dangles. Every `docs/<file>.md` or
// `docs/<file>.md#anchor` written in src/, test/, bench/ or scripts/ must name a file in docs/ and,
// with an anchor, a heading of that file (GitHub's slug: lower case, punctuation dropped, spaces to
// dashes, -1/-2 for repeats). No file there may cite the design notes that live outside the
// repository (someone who clones it has only what is in it). Relative links inside docs/*.md and
// README.md are checked the same way. Each problem is printed as file:line.
//
//   node scripts/check-doc-refs.mjs              check this repository
//   node scripts/check-doc-refs.mjs --root DIR   check another tree laid out the same way
//   node scripts/check-doc-refs.mjs --self-test  prove on a throw-away tree that bad references fail
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCANNED = ['src', 'test', 'bench', 'scripts'];
/** Raw figures written by benchmark runs: regenerated, never edited by hand, so not scanned. */
const SKIPPED = new Set(['node_modules', '.cache']);
const TEXT = /\.(ts|tsx|js|mjs|cjs|md|sh|json|ya?ml|txt)$/;
// Built from parts so that this file does not cite them itself.
const OUTSIDE_NOTES = new RegExp(`\\b(?:${['DESIGN', 'FACTS', 'LESSONS', 'STYLE'].join('|')})\\.md\\b`, 'g');
// A docs file name (no sub-folder) with an optional `#anchor`; a "../" in front is fine, "mydocs/" is not ours.
const DOC_REF = /(?<![\w.-])docs\/([\w.-]+\.md)(#[\w-]+)?/g;
const MD_LINK = /\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;

/** GitHub's heading anchor: lower case, drop what is not a letter, digit, space, dash or underscore, spaces to dashes. */
export function slug(heading) {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images keep their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** Every anchor a markdown file offers: its headings (outside code fences), repeats numbered, and explicit id/name anchors. */
export function anchorsOf(markdown) {
  const anchors = new Set();
  const seen = new Map();
  let fence;
  for (const line of markdown.split('\n')) {
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (!fence) fence = f[1][0];
      else if (f[1][0] === fence) fence = undefined;
      continue;
    }
    if (fence) continue;
    const h = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  }
  return anchors;
}

function* walk(root, dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const rel = relative(root, p).replaceAll('\\', '/');
    if (SKIPPED.has(name) || SKIPPED.has(rel)) continue;
    if (statSync(p).isDirectory()) yield* walk(root, p);
    else if (TEXT.test(name)) yield p;
  }
}

/** Checks the tree at `root`; returns the problems as "file:line: message" strings. */
export function check(root) {
  const anchorCache = new Map();
  const anchors = (file) => {
    if (!anchorCache.has(file)) anchorCache.set(file, existsSync(file) ? anchorsOf(readFileSync(file, 'utf8')) : undefined);
    return anchorCache.get(file);
  };
  const problems = [];
  const target = (where, file, anchor, shown) => {
    const found = anchors(file);
    if (!found) problems.push(`${where}: ${shown} — no such file`);
    else if (anchor && !found.has(anchor)) problems.push(`${where}: ${shown} — no heading with anchor #${anchor} in ${relative(root, file).replaceAll('\\', '/')}`);
  };
  const scanned = SCANNED.flatMap((d) => [...walk(root, join(root, d))]);
  for (const file of scanned) {
    const rel = relative(root, file).replaceAll('\\', '/');
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      const where = `${rel}:${i + 1}`;
      for (const m of line.matchAll(OUTSIDE_NOTES)) problems.push(`${where}: cites ${m[0]}, which is not in the repository — point into docs/ instead`);
      for (const m of line.matchAll(DOC_REF)) target(where, join(root, 'docs', m[1]), m[2]?.slice(1), m[0]);
    });
  }
  // Links inside the docs themselves and from the README: relative paths must exist, anchors must resolve.
  const markdown = [...walk(root, join(root, 'docs'))].filter((f) => f.endsWith('.md'));
  if (existsSync(join(root, 'README.md'))) markdown.push(join(root, 'README.md'));
  for (const file of markdown) {
    const rel = relative(root, file).replaceAll('\\', '/');
    let fence = false;
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      if (/^\s{0,3}(`{3,}|~{3,})/.test(line)) fence = !fence;
      if (fence) return;
      for (const m of line.matchAll(MD_LINK)) {
        const link = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, mailto:, vscode:
        const [path, anchor] = link.split('#');
        const dest = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
        if (!existsSync(dest)) problems.push(`${rel}:${i + 1}: link ${link} — no such file`);
        else if (anchor && dest.endsWith('.md')) target(`${rel}:${i + 1}`, dest, anchor, `link ${link}`);
      }
    });
  }
  return problems;
}

/** Builds a small tree with known good and bad references and checks that exactly the bad ones are reported. */
function selfTest() {
  const root = mkdtempSync(join(tmpdir(), 'doc-refs-'));
  const D = ['docs', ''].join('/'); // spelled so that this file holds no reference itself
  try {
    const put = (p, text) => { mkdirSync(dirname(join(root, p)), { recursive: true }); writeFileSync(join(root, p), text); };
    put(`${D}guide.md`, '# Guide\n\n## The `write` path (step 2)\n\n## Twice\n\n## Twice\n\n```\n## Not a heading\n```\n\nSee [the other](other.md#top) and [a gap](missing.md).\n');
    put(`${D}other.md`, '# Top\n');
    put('src/ok.ts', `// ${D}guide.md#the-write-path-step-2, ${D}guide.md#twice-1, ../${D}other.md and lance ${D}format/x.md\n`);
    put('src/bad.ts', `const a = 1;\n// see ${D}guide.md#not-a-heading\n// see ${D}nowhere.md\n// see ${'FACTS'}.md\n`);
    put('bench/results/run.json', `{"cause": "${'DESIGN'}.md"}\n`);
    const got = check(root);
    const want = [
      `src/bad.ts:2: ${D}guide.md#not-a-heading — no heading with anchor #not-a-heading in ${D}guide.md`,
      `src/bad.ts:3: ${D}nowhere.md — no such file`,
      `src/bad.ts:4: cites ${'FACTS'}.md, which is not in the repository — point into docs/ instead`,
      `${D}guide.md:13: link missing.md — no such file`,
      `bench/results/run.json:1: cites ${'DESIGN'}.md, which is not in the repository — point into docs/ instead`,
    ];
    const missing = want.filter((w) => !got.includes(w));
    const extra = got.filter((g) => !want.includes(g));
    if (missing.length || extra.length) {
      console.error(`doc references self-test FAILED\n  not reported: ${JSON.stringify(missing)}\n  reported wrongly: ${JSON.stringify(extra)}`);
      return false;
    }
    console.log(`doc references self-test: ok (${want.length} planted problems reported, nothing else)`);
    return true;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  if (argv.includes('--self-test')) process.exit(selfTest() ? 0 : 1);
  const at = argv.indexOf('--root');
  const root = resolve(at >= 0 ? argv[at + 1] : join(dirname(fileURLToPath(import.meta.url)), '..'));
  const problems = check(root);
  if (problems.length) {
    console.error(`Dangling documentation references (${problems.length}):\n` + problems.map((p) => '  ' + p).join('\n'));
    process.exit(1);
  }
  console.log('doc references: ok');
}
