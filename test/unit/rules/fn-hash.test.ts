// Examples quoted from EMQX's "Built-in SQL Functions" page (Hashing Functions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, fails } from './fn-helpers.js';

test("md5('hello') = '5d41402abc4b2a76b9719d911017c592'", () => {
  assert.equal(call('md5', 'hello'), '5d41402abc4b2a76b9719d911017c592');
  assert.equal(call('md5', 'some val'), '1b68352b3e9c2de52ffd322e30bffcc4'); // 4.x page
  assert.equal(call('md5', Buffer.from('hello')), '5d41402abc4b2a76b9719d911017c592');
  fails('md5', [1], 1);
});

test("sha('hello') = 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d'", () => {
  assert.equal(call('sha', 'hello'), 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d');
  assert.equal(call('sha', 'some val'), 'f85ba28ff5ea84a0cbfa118319acb0c5e58ee2b9');
  fails('sha', [undefined], 1);
});

test("sha256('hello') = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'", () => {
  assert.equal(call('sha256', 'hello'), '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  assert.equal(call('sha256', 'some val'), '67f97635d8a0e064f60ba6e8846a0ac0be664f18f0c1dc6445cd3542d2b71993');
  fails('sha256', [{}], 1);
});

test("hash(Algorithm, Data) with EMQX's algorithm names", () => {
  assert.equal(call('hash', 'sha256', 'hello'), call('sha256', 'hello'));
  assert.equal(call('hash', 'sha1', 'hello'), call('sha', 'hello'));
  assert.equal((call('hash', 'sha3_256', 'hello') as string).length, 64);
  assert.equal((call('hash', 'blake2b', 'hello') as string).length, 128);
  fails('hash', ['crc32', 'hello'], 1);
  fails('hash', ['md5', 42], 2);
});
