import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sqlInList, sqlLikePrefix, sqlString } from '../../src/core/store/sql';
import { ValidationError } from '../../src/core/errors';

test('sqlString doubles single quotes and keeps backslashes literal', () => {
  assert.equal(sqlString("it's"), "'it''s'");
  assert.equal(sqlString("x' OR '1'='1"), "'x'' OR ''1''=''1'");
  assert.equal(sqlString('a\\b'), "'a\\b'");
});

test('sqlString refuses NUL instead of truncating the literal', () => {
  assert.throws(() => sqlString('a\u0000b', 'scope'), (e: Error) => e instanceof ValidationError && /scope: must not contain NUL/.test(e.message));
});

test('sqlInList and sqlLikePrefix escape every element and the LIKE wildcards', () => {
  assert.equal(sqlInList(['a', "b'c"]), "('a', 'b''c')");
  assert.equal(sqlLikePrefix('100%_x'), "'100\\%\\_x%' ESCAPE '\\'");
});
