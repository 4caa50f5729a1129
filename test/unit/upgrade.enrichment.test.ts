import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enrichmentPatch } from '../../src/core/upgrade/enrichJob';
import { ENRICHMENT_JSON_SCHEMA, parseEnrichmentReply } from '../../src/core/upgrade/enrichmentReply';
import { cleanText, resolveCategory, sentences, truncateAtBoundary } from '../../src/core/upgrade/heuristics';
import { LocalEnricher } from '../../src/core/upgrade/localEnricher';
import { CATEGORIES } from '../../src/core/store/schema';

const local = new LocalEnricher();
const enrich = (text: string, category = 'cases') => local.enrichSync({ id: 'x', text, category });

test('local enrichment: L0 is the first sentence, L1 bullets from the first sentences, L2 the cleaned text', () => {
  const e = enrich('  The build uses esbuild.   Tests run with node:test.\r\n\r\n\r\nLanceDB stores the vectors.\u200b ');
  assert.equal(e.l0_abstract, 'The build uses esbuild.');
  assert.equal(e.l1_overview, '- The build uses esbuild.\n- Tests run with node:test.\n- LanceDB stores the vectors.');
  assert.equal(e.l2_content, 'The build uses esbuild. Tests run with node:test.\n\nLanceDB stores the vectors.');
  assert.equal(e.provider, 'local');
});

test('local enrichment is deterministic: the same input gives the same fields', () => {
  const text = 'Prefers dark mode in every editor. Uses JetBrains Mono.';
  assert.deepEqual(enrich(text), enrich(text));
});

test('sentences split CJK, Thai-free scripts and bulleted lists; a 1 MiB text is only scanned at its head', () => {
  assert.deepEqual(sentences('我喜欢茶。她喜欢咖啡！你呢？'), ['我喜欢茶。', '她喜欢咖啡！', '你呢？']);
  assert.deepEqual(sentences('- first item\n- second item\n* third'), ['first item', 'second item', 'third']);
  const huge = 'Short first sentence. ' + 'Another one here. '.repeat(60_000);
  const t0 = Date.now();
  assert.equal(sentences(huge)[0], 'Short first sentence.');
  assert.ok(Date.now() - t0 < 500, 'segmenting must not walk the whole text');
});

test('truncation cuts at a word boundary, never inside a surrogate pair or grapheme, and marks the cut', () => {
  const s = truncateAtBoundary('The quick brown fox jumps over the lazy dog near the river bank', 30);
  assert.ok(s.length <= 30, s);
  assert.ok(s.endsWith('…'));
  assert.equal(s, 'The quick brown fox jumps…');
  const emoji = truncateAtBoundary('👩‍👩‍👧‍👦'.repeat(20), 12);
  assert.ok(!/[\ud800-\udbff]…$/.test(emoji), 'no lone high surrogate before the ellipsis');
  assert.ok(emoji.length <= 12);
  // Every kept family emoji is whole (11 UTF-16 units each).
  assert.equal((emoji.length - 1) % 11, 0);
  const cjk = truncateAtBoundary('東京都は日本の首都であり、世界最大の都市圏を持つ大都市です。人口は約千四百万人です。', 15);
  assert.ok(cjk.length <= 15 && cjk.endsWith('…'), cjk);
  const accents = truncateAtBoundary('e\u0301'.repeat(40), 9);
  assert.ok(!accents.slice(0, -1).endsWith('e'), 'combining accent is not separated from its letter');
});

test('a long first sentence gives a bounded abstract', () => {
  const e = enrich('word '.repeat(500) + '.');
  assert.ok(e.l0_abstract.length <= 160);
  assert.ok(e.l0_abstract.endsWith('…'));
});

test('cleanText removes control characters and zero-width junk but keeps emoji ZWJ sequences', () => {
  assert.equal(cleanText('a\u0007b\u200bc\ufeff 👩‍💻\t\tx'), 'abc 👩‍💻 x');
});

test('categories: a specific legacy category is mapped and kept; a generic one is refined by rules', () => {
  assert.deepEqual(resolveCategory('whatever', 'decision'), { category: 'events', byRule: false });
  assert.deepEqual(resolveCategory('whatever', 'fact'), { category: 'entities', byRule: false });
  assert.equal(resolveCategory('User prefers tabs over spaces', 'other').category, 'preferences');
  assert.equal(resolveCategory('We decided to ship on Friday', 'cases').category, 'events');
  assert.equal(resolveCategory('My name is Ada and I work as an engineer', '').category, 'profile');
  assert.equal(resolveCategory('Fixed the crash in the parser by escaping quotes', 'other').category, 'cases');
  assert.equal(resolveCategory('Whenever CI is red, rerun the flaky job first', 'other').category, 'patterns');
  assert.equal(resolveCategory('Postgres is the primary database', 'other').category, 'entities');
  assert.equal(resolveCategory('etwas ganz anderes', 'other').category, 'cases');
});

test('the enrichment patch names only enrichment fields, expects the seen text, and never carries undefined', () => {
  const row = { id: 'r', text: 'Prefers tea.', category: 'other', scope: 'global', importance: 0.9, created_at: 1, updated_at: 1, rev: 3, metadata: { injected_count: 5 } };
  const p = enrichmentPatch(row, { ...enrich(row.text, row.category), fallbackReason: undefined }, 1000);
  assert.deepEqual(p.expect, { text: 'Prefers tea.' });
  assert.equal(p.set?.category, 'preferences');
  assert.equal(p.metadata!.upgraded_from, 'legacy');
  assert.equal(p.metadata!.legacy_category, 'other');
  assert.equal(p.metadata!.tier, 'core');
  assert.equal(p.metadata!.injected_count, undefined, 'counters are not in the patch, so they cannot be overwritten');
  assert.equal(p.increment, undefined);
  const walk = (v: unknown): void => {
    if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { assert.notEqual(x, undefined, `key ${k} is undefined`); walk(x); }
  };
  walk(p);
});

test('LLM reply validation accepts a good reply, a fenced one and a string overview; refuses the rest with a reason', () => {
  const good = { l0_abstract: 'Ada prefers tea.', l1_overview: ['Prefers tea', 'Dislikes coffee'], l2_content: 'Ada prefers tea over coffee.', category: 'preferences', confidence: 0.9 };
  const ok = parseEnrichmentReply(JSON.stringify(good));
  assert.ok(ok.ok);
  assert.equal(ok.value.l1_overview, '- Prefers tea\n- Dislikes coffee');
  const fenced = parseEnrichmentReply('```json\n' + JSON.stringify({ ...good, l1_overview: '- a\n- b', category: 'preference' }) + '\n```');
  assert.ok(fenced.ok);
  assert.equal(fenced.value.l1_overview, '- a\n- b');
  assert.equal(fenced.value.category, 'preferences');
  const cases: Array<[unknown, RegExp]> = [
    ['not json at all', /invalid JSON/],
    [JSON.stringify({ ...good, category: 'gossip' }), /category "gossip" is not one of/],
    [JSON.stringify({ ...good, l0_abstract: '' }), /l0_abstract is empty/],
    [JSON.stringify({ ...good, l0_abstract: 'x'.repeat(5000) }), /l0_abstract is longer than/],
    [JSON.stringify({ ...good, l2_content: 'x'.repeat(40_000) }), /l2_content is longer than/],
    [JSON.stringify({ l0_abstract: 'a' }), /does not match the schema/],
    [null, /no text content/],
  ];
  for (const [content, re] of cases) {
    const r = parseEnrichmentReply(content);
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, re);
  }
});

test('the structured-output schema lists every field as required and the categories as its enum', () => {
  assert.deepEqual([...ENRICHMENT_JSON_SCHEMA.required].sort(), Object.keys(ENRICHMENT_JSON_SCHEMA.properties).sort());
  assert.deepEqual([...ENRICHMENT_JSON_SCHEMA.properties.category.enum], [...CATEGORIES]);
  assert.equal(ENRICHMENT_JSON_SCHEMA.additionalProperties, false);
});
