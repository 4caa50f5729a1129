import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { importJsonl } from '../../src/core/upgrade';
import { hashEmbed } from '../fixtures/upgrade/legacyStore';
import { openTempStore, storedMemories, tempDir, TEST_DIM, vec } from '../helpers/tempStore';

// Memory text is checked in one place (store/validation.ts), so every way in refuses what the service refuses.

test('a restore refuses text with a terminal escape, naming the record, and stores nothing of the batch', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  await store.insert([{ id: 'kept', text: 'already here', vector: vec(1) }]);
  const good = { ...(await store.get('kept'))!, id: 'fine', text: 'a fine memory' };
  const bad = { ...good, id: 'escape', text: 'innocent \u001b[2J text that clears a terminal' };
  await assert.rejects(store.restore([good, bad]), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_INVALID');
    assert.match(err.message, /records\[1\]\.text: contains the control character U\+001B at position 9/);
    return true;
  });
  assert.deepEqual((await storedMemories(store)).map((m) => m.id), ['kept']);
});

test('an import reports a line with a control character as malformed and imports the others', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  const file = join(tempDir(t), 'memories.jsonl');
  writeFileSync(file, [JSON.stringify({ text: 'plain memory one' }), JSON.stringify({ text: 'bell \u0007 inside' }), JSON.stringify({ text: 'plain memory two' })].join('\n') + '\n');
  const r = await importJsonl(store, file, { embed: hashEmbed(TEST_DIM) });
  assert.equal(r.imported, 2);
  assert.deepEqual(r.malformed.map((m) => m.line), [2]);
  assert.match(r.malformed[0]!.reason, /U\+0007/);
  assert.deepEqual((await storedMemories(store)).map((m) => m.text).sort(), ['plain memory one', 'plain memory two']);
});

test('tabs and newlines are text, not control characters', async (t) => {
  const { store } = await openTempStore(t, { maintenance: { auto: false } });
  const [r] = await store.insert([{ id: 'lines', text: 'first line\n\tindented second line\r\n', vector: vec(2) }]);
  assert.equal(r!.status, 'inserted');
});
