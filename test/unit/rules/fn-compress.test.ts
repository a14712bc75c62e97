// Examples quoted from EMQX's "Built-in SQL Functions" page (Compression and Decompression).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { call, fails, hex } from './fn-helpers.js';

const h = (s: string): Buffer => Buffer.from(s, 'hex');

test("gunzip(hexstr2bin('1F8B0800000000000013CB48CDC9C9070086A6103605000000')) = 'hello'", () => {
  assert.equal((call('gunzip', call('hexstr2bin', '1F8B0800000000000013CB48CDC9C9070086A6103605000000')) as Buffer).toString(), 'hello');
  fails('gunzip', [h('00112233')], 1);
  fails('gunzip', [12], 1);
});

test("bin2hexstr(gzip('hello')) = '1F8B08000000000000' + OS byte + 'CB48CDC9C9070086A6103605000000'", () => {
  const out = hex(call('gzip', 'hello'));
  // Byte 10 is the OS that made the file: 13 in the page (macOS zlib), 03 on Linux.
  assert.equal(out.slice(0, 18), '1F8B08000000000000');
  assert.equal(out.slice(20), 'CB48CDC9C9070086A6103605000000');
  fails('gzip', [undefined], 1);
});

test("unzip(hexstr2bin('CB48CDC9C90700')) = 'hello'", () => {
  assert.equal((call('unzip', call('hexstr2bin', 'CB48CDC9C90700')) as Buffer).toString(), 'hello');
  fails('unzip', [h('ff')], 1);
});

test("bin2hexstr(zip('hello')) = 'CB48CDC9C90700'", () => {
  assert.equal(call('bin2hexstr', call('zip', 'hello')), 'CB48CDC9C90700');
  fails('zip', [[1]], 1);
});

test("bin2hexstr(zip_compress('hello')) = '789CCB48CDC9C90700062C0215'", () => {
  assert.equal(call('bin2hexstr', call('zip_compress', 'hello')), '789CCB48CDC9C90700062C0215');
  fails('zip_compress', [5], 1);
});

test("zip_uncompress(hexstr2bin('789CCB48CDC9C90700062C0215')) = 'hello'", () => {
  assert.equal((call('zip_uncompress', call('hexstr2bin', '789CCB48CDC9C90700062C0215')) as Buffer).toString(), 'hello');
  fails('zip_uncompress', [h('CB48CDC9C90700')], 1);
});

test('a decompression bomb is a rule failure, not gigabytes of memory', () => {
  const bomb = gzipSync(Buffer.alloc(80 * 1024 * 1024));
  fails('gunzip', [bomb], 1);
});
