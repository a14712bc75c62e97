// Examples quoted from EMQX's "Built-in SQL Functions" page (Array Operation Functions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, fails } from './fn-helpers.js';

const j = (s: string): unknown => call('json_decode', s);

test('contains(2, [1, 2, 3]) = true and the other documented cases', () => {
  assert.equal(call('contains', 2, [1, 2, 3]), true);
  assert.equal(call('contains', 2.3, [1.8, 2.5, 2.0]), false);
  assert.equal(call('contains', 'John', ['John', 'David']), true);
  assert.equal(call('contains', [1, 2], ['a', 'b', [1, 2]]), true);
  assert.equal(call('contains', j('{"a": 1}'), [j('{"a": 1}'), j('{"b": 2}')]), true);
  assert.equal(call('contains', 'John', [Buffer.from('John')]), true);
  fails('contains', [1, 'abc'], 2);
});

test("first(['John', 'David']) = 'John'; first([]) fails", () => {
  assert.equal(call('first', ['John', 'David']), 'John');
  fails('first', [[]], 1);
  fails('first', ['ab'], 1);
});

test("last(['John', 'David']) = 'David'; last([]) fails", () => {
  assert.equal(call('last', ['John', 'David']), 'David');
  fails('last', [[]], 1);
});

test('length([1,2,3,4]) = 4, length([]) = 0', () => {
  assert.equal(call('length', [1, 2, 3, 4]), 4);
  assert.equal(call('length', []), 0);
  fails('length', ['abcd'], 1);
});

test('nth(1, [1,2,3]) = 1; nth(0, [1,2,3]) and nth(4, [1,2,3]) fail', () => {
  assert.equal(call('nth', 1, [1, 2, 3]), 1);
  assert.equal(call('nth', 2, [1, 2, 3, 4]), 2); // 4.x page
  fails('nth', [0, [1, 2, 3]], 1);
  fails('nth', [4, [1, 2, 3]], 1);
  fails('nth', [1, { a: 1 }], 2);
});

test('sublist(3, [1,2,3,4]) = [1,2,3], sublist(10, [1,2,3,4]) = [1,2,3,4], sublist(2, 10, [1,2,3,4]) = [2,3,4]', () => {
  assert.deepEqual(call('sublist', 3, [1, 2, 3, 4]), [1, 2, 3]);
  assert.deepEqual(call('sublist', 10, [1, 2, 3, 4]), [1, 2, 3, 4]);
  assert.deepEqual(call('sublist', 2, 10, [1, 2, 3, 4]), [2, 3, 4]);
  assert.deepEqual(call('sublist', 1, 2, [1, 2, 3, 4]), [1, 2]); // 4.x page
  fails('sublist', [-1, [1]], 1);
  fails('sublist', [0, 1, [1]], 1);
  fails('sublist', [1, 1, 'x'], 3);
});
