import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/repo';

// The check of scripts/check-doc-refs.mjs must be able to fail: run it on throw-away trees.
const script = join(repoRoot(), 'scripts', 'check-doc-refs.mjs');
const D = ['docs', ''].join('/'); // spelled so that this file holds no reference itself

function tree(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'doc-refs-test-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}
const run = (root: string) => spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' });

test('doc reference check: a missing anchor, a missing file and a note outside the repo fail, each named by file:line', (t) => {
  const root = tree(t, {
    [`${D}guide.md`]: '# Guide\n\n## The `write` path (step 2)\n',
    'src/a.ts': `// ok: ${D}guide.md#the-write-path-step-2\n// bad: ${D}guide.md#the-write-path\n`,
    'test/b.ts': `\n\n// ${D}gone.md\n`,
    'scripts/c.mjs': `// see ${'LESSONS'}.md §1\n`,
  });
  const r = run(root);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`src/a\\.ts:2: ${D}guide\\.md#the-write-path — no heading`));
  assert.match(r.stderr, new RegExp(`test/b\\.ts:3: ${D}gone\\.md — no such file`));
  assert.match(r.stderr, /scripts\/c\.mjs:1: cites LESSONS\.md/);
  assert.doesNotMatch(r.stderr, /src\/a\.ts:1:/);
});

test('doc reference check: GitHub slugs (punctuation dropped, repeats numbered, code fences ignored) resolve', (t) => {
  const root = tree(t, {
    [`${D}x.md`]: '# X\n\n## Optimize & writers\n\n## Twice\n\n## Twice\n\n```\n# Fenced\n```\n',
    'bench/y.ts': `// ${D}x.md#optimize--writers ${D}x.md#twice-1 ../${D}x.md lance ${D}format/table.md\n`,
  });
  const ok = run(root);
  assert.equal(ok.status, 0, ok.stderr);
  writeFileSync(join(root, 'bench', 'z.ts'), `// ${D}x.md#fenced\n`);
  const bad = run(root);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /bench\/z\.ts:1: .*#fenced/);
});

test('doc reference check: the self-test passes', () => {
  const r = spawnSync(process.execPath, [script, '--self-test'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
