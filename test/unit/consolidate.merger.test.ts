import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanMergeReply, clusterId, LocalMerger, MergeError, mergeMessage, mergeReplyProblem, OpenAiCompatibleMerger } from '../../src/core/upgrade';

test('a merge reply is taken without what models wrap around it', () => {
  assert.equal(cleanMergeReply('  Alice prefers tabs.  '), 'Alice prefers tabs.');
  assert.equal(cleanMergeReply('```\nAlice prefers tabs.\n```'), 'Alice prefers tabs.');
  assert.equal(cleanMergeReply('```text\nAlice prefers tabs.```'), 'Alice prefers tabs.');
  assert.equal(cleanMergeReply('Merged memory: Alice prefers tabs.'), 'Alice prefers tabs.');
  assert.equal(cleanMergeReply('"Alice prefers tabs."'), 'Alice prefers tabs.');
  assert.equal(cleanMergeReply('“Alice prefers tabs.”'), 'Alice prefers tabs.');
  assert.equal(cleanMergeReply('Alice said "tabs" and "spaces"'), 'Alice said "tabs" and "spaces"', 'inner quotes stay');
  assert.equal(cleanMergeReply(''), '');
});

test('a merged text is refused when empty or far longer than the memories it merges (twice the longest, at least 200 characters)', () => {
  const texts = ['a'.repeat(150), 'b'.repeat(90)];
  assert.equal(mergeReplyProblem('Alice prefers tabs.', texts), undefined);
  assert.equal(mergeReplyProblem('', texts), 'the reply has no text');
  assert.equal(mergeReplyProblem('x'.repeat(300), texts), undefined, 'twice the longest memory is still a merge');
  assert.equal(mergeReplyProblem('x'.repeat(301), texts), 'the reply (301 characters) is far longer than the memories it merges (at most 150)');
  assert.equal(mergeReplyProblem('x'.repeat(200), ['short']), undefined, 'short memories may grow to 200 characters');
  assert.match(mergeReplyProblem('x'.repeat(201), ['short']) ?? '', /201 characters.*at most 5/);
});

test('a cluster id depends on scope, survivor and the set of members, not their order', () => {
  const id = clusterId('global', 's', ['b', 'a']);
  assert.match(id, /^[0-9a-f]{24}$/);
  assert.equal(clusterId('global', 's', ['a', 'b']), id);
  assert.notEqual(clusterId('other', 's', ['a', 'b']), id);
  assert.notEqual(clusterId('global', 'a', ['s', 'b']), id, 'another survivor is another cluster');
  assert.notEqual(clusterId('global', 's', ['a']), id);
});

test('the local merger keeps the survivor\'s text; the merge prompt numbers the memories and cuts long ones', async () => {
  assert.deepEqual(await new LocalMerger().merge(['the survivor', 'a member']), { text: 'the survivor' });
  assert.equal(mergeMessage(['one  two\nthree', 'x'.repeat(50)], 10), `Memories to merge:\n1. one two t\n2. ${'x'.repeat(10)}`);
});

test('the OpenAI-compatible merger refuses bad settings with a clear error and names itself after its model', () => {
  assert.throws(() => new OpenAiCompatibleMerger({ baseUrl: 'ftp://x', model: 'm' }), (err: Error) => err instanceof MergeError && /is not an http\(s\) URL/.test(err.message));
  assert.throws(() => new OpenAiCompatibleMerger({ baseUrl: 'http://127.0.0.1:1/v1', model: ' ' }), /a model name is required/);
  const m = new OpenAiCompatibleMerger({ baseUrl: 'http://127.0.0.1:1/v1', model: 'qwen2.5' });
  assert.equal(m.name, 'openai-compatible/qwen2.5');
  const e = m.estimate(['a'.repeat(400), 'b'.repeat(200)]);
  assert.ok(e.in > 150 && e.out >= 100 && e.out <= 130, JSON.stringify(e));
});
