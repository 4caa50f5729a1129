import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUDGET_DEFAULTS, CONSOLIDATE_DEFAULTS, LOCK_DEFAULTS, UPGRADE_DEFAULTS } from '../../src/core/defaults';
import { checkSetting, describeProblems, schemaProblems, type ValueSchema } from '../../src/extension/manifestSchema';
import { locateStore } from '../../src/extension/storeLocation';

const manifest = require('../../package.json') as {
  contributes: { configuration: { properties: Record<string, ValueSchema> }; languageModelTools: Array<{ name: string; inputSchema: ValueSchema }> };
};
const setting = (key: string) => manifest.contributes.configuration.properties[`memoryLane.${key}`]!;
const toolInput = (name: string) => manifest.contributes.languageModelTools.find((t) => t.name === name)!.inputSchema;

test('a setting that breaks its schema in package.json falls back to the default, with the reason', () => {
  const deadline = setting('lock.writeTimeoutMs');
  assert.deepEqual(checkSetting(2000, deadline, 5000), { value: 2000 });
  assert.deepEqual(checkSetting(undefined, deadline, 5000), { value: 5000 });
  assert.deepEqual(checkSetting(-5, deadline, 5000), { value: 5000, problem: 'must be an integer from 100 to 600000, got -5' });
  assert.equal(checkSetting(1e12, deadline, 5000).problem, 'must be an integer from 100 to 600000, got 1000000000000');
  assert.equal(checkSetting(2.5, deadline, 5000).problem, 'must be an integer from 100 to 600000, got 2.5');
  assert.equal(checkSetting('soon', deadline, 5000).problem, 'must be an integer from 100 to 600000, got "soon"');
  assert.equal(checkSetting(null, deadline, 5000).problem, 'must be an integer from 100 to 600000, got null');
  assert.equal(checkSetting('gpt-4', setting('enrichment.provider'), 'local').problem, 'must be one of "local", "languageModel", "openai-compatible", got "gpt-4"');
  assert.equal(checkSetting(null, setting('embedding.dimensions'), null).problem, undefined, 'null means "learn it from the endpoint"');
  assert.equal(checkSetting(0, setting('embedding.dimensions'), null).problem, 'must be an integer from 1 to 8192 or null, got 0');
});

test('endpoint settings take only http(s) URLs', () => {
  const endpoint = setting('embedding.endpoint');
  for (const good of ['', 'http://127.0.0.1:11434/v1', 'https://api.openai.com/v1', 'https://host/v1?x=1']) assert.equal(checkSetting(good, endpoint, '').problem, undefined, good);
  for (const bad of ['not a url', 'javascript:alert(1)', 'file:///etc/passwd', 'http://', 'http:// spaced', 'ftp://host']) {
    assert.match(checkSetting(bad, endpoint, '').problem ?? '', /^must be an http:\/\/ or https:\/\/ URL such as .*, or empty, got "/, bad);
  }
});

test('tool input is checked against the inputSchema the model was given, naming each field', () => {
  const store = toolInput('memory_store');
  assert.deepEqual(schemaProblems({ text: 'fine', importance: 0.4 }, store), []);
  assert.equal(describeProblems(schemaProblems({}, store)), 'text: is required');
  assert.equal(describeProblems(schemaProblems({ text: 42, importance: 'high', force: 'false' }, store)),
    'text: must be a string, got 42; importance: must be a number from 0 to 1, got "high"; force: must be true or false, got "false"');
  assert.equal(describeProblems(schemaProblems(null, store), 'input'), 'input must be an object, got null');
  assert.equal(describeProblems(schemaProblems({ limit: 0, offset: -5 }, toolInput('memory_list'))), 'limit: must be an integer from 1 to 100, got 0; offset: must be an integer of at least 0, got -5');
  assert.match(describeProblems(schemaProblems({ query: 'x', category: "x' OR '1'='1" }, toolInput('memory_recall'))), /^category: must be one of "profile", .*, got "x' OR '1'='1"$/);
  assert.equal(describeProblems(schemaProblems({ query: 'x', limit: 21 }, toolInput('memory_forget'))), 'limit: must be an integer from 1 to 20, got 21');
  const long = describeProblems(schemaProblems({ text: ['x'.repeat(5000)] }, store));
  assert.ok(long.length < 120, 'a huge value is cut short in the message');
});

test('memoryLane.storePath: empty is the shared store, ~ the home folder, absolute paths normalized, relative ones refused', () => {
  const env = { MEMORY_LANE_DB: '/srv/shared-store' };
  // POSIX rules on every host (the Windows ones: test/unit/platform.test.ts).
  const on = { platform: 'linux' as const, homedir: '/home/ada', cwd: '/work' };
  assert.deepEqual(locateStore('', env, on), { dir: '/srv/shared-store' });
  assert.deepEqual(locateStore('  ', env, on), { dir: '/srv/shared-store' });
  assert.deepEqual(locateStore('~/memories', env, on), { dir: '/home/ada/memories' });
  assert.deepEqual(locateStore('/data/a/../b/./store', env, on), { dir: '/data/b/store' });
  const relative = locateStore('memories/store', env, on);
  assert.equal(relative.dir, '/home/ada/memories/store');
  assert.match(relative.problem ?? '', /is a relative path \("memories\/store"\); write an absolute folder, or one starting with ~\//);
  assert.match(locateStore('../../etc', env, on).problem ?? '', /relative path/);
  assert.match(locateStore('/tmp/a\u0000b', env, on).problem ?? '', /control characters/);
});

test('settings backed by a core default declare exactly that default in package.json', () => {
  // Each core default a person can tune is the setting of the same name under its prefix.
  const tunable: Array<[string, Record<string, unknown>]> = [
    ['lock', LOCK_DEFAULTS],
    ['upgrade', UPGRADE_DEFAULTS],
    ['upgrade', BUDGET_DEFAULTS],
    ['consolidate', { threshold: CONSOLIDATE_DEFAULTS.threshold }],
  ];
  for (const [prefix, defaults] of tunable) {
    for (const [name, value] of Object.entries(defaults)) {
      const key = `${prefix}.${name}`;
      assert.ok(setting(key), `memoryLane.${key} is declared`);
      assert.equal(setting(key).default, value, `memoryLane.${key}`);
    }
  }
});

test('the consolidation threshold setting takes only (0.5, 1]', () => {
  const threshold = setting('consolidate.threshold');
  assert.equal(checkSetting(0.9, threshold, 0.8).problem, undefined);
  assert.match(checkSetting(1.5, threshold, 0.8).problem ?? '', /got 1\.5/);
  assert.match(checkSetting(0.1, threshold, 0.8).problem ?? '', /got 0\.1/);
});

test('memoryLane.storePath may be a remote store URI; a bad one is a problem naming what is wrong', () => {
  const env = { MEMORY_LANE_DB: '/srv/shared-store' };
  assert.deepEqual(locateStore('s3+ddb://team-bucket/memory?ddbTableName=memlane', env), { dir: 's3+ddb://team-bucket/memory?ddbTableName=memlane', remote: true });
  assert.deepEqual(locateStore('gs://bucket/x/', env), { dir: 'gs://bucket/x', remote: true });
  assert.match(locateStore('s3+ddb://team-bucket/memory', env).problem ?? '', /exactly one query, the DynamoDB table/);
  assert.match(locateStore('s3://AKIA:secret@bucket/x', env).problem ?? '', /must not carry credentials/);
  assert.doesNotMatch(locateStore('s3://AKIA:secret@bucket/x', env).problem ?? '', /secret/);
  assert.equal(locateStore('ftp://x/y', env).dir, '/srv/shared-store', 'an unusable URI opens nothing of its own');
});
