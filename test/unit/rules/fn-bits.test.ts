// Examples quoted from EMQX's "Built-in SQL Functions" page (Bit Operation and Bit Sequence
// Operation Functions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BitString } from '../../../broker/src/rules/functions/index.js';
import { call, fails } from './fn-helpers.js';

const h = (s: string): Buffer => call('hexstr2bin', s) as Buffer;

test('bitand(10, 8) = 8, bitand(-10, -8) = -16', () => {
  assert.equal(call('bitand', 10, 8), 8);
  assert.equal(call('bitand', -10, -8), -16);
  assert.equal(call('bitand', 2 ** 40 + 1, 2 ** 40), 2 ** 40); // beyond JS's 32-bit &
  fails('bitand', [1.5, 1], 1);
  fails('bitand', [1, '1'], 2);
});

test('bitnot(10) = -11, bitnot(-12) = 11', () => {
  assert.equal(call('bitnot', 10), -11);
  assert.equal(call('bitnot', -12), 11);
  fails('bitnot', ['10'], 1);
});

test('bitsl(8, 2) = 32, bitsl(-8, 2) = -32; large results are bigints', () => {
  assert.equal(call('bitsl', 8, 2), 32);
  assert.equal(call('bitsl', -8, 2), -32);
  assert.equal(call('bitsl', 1, 64), 2n ** 64n);
  fails('bitsl', [1, 10_000_000], 2);
  fails('bitsl', [1, 0.5], 2);
});

test('bitsr(8, 2) = 2, bitsr(8, 4) = 0, bitsr(-8, 2) = -2, bitsr(-8, 6) = -1', () => {
  assert.equal(call('bitsr', 8, 2), 2);
  assert.equal(call('bitsr', 8, 4), 0);
  assert.equal(call('bitsr', -8, 2), -2);
  assert.equal(call('bitsr', -8, 6), -1);
  fails('bitsr', [undefined, 1], 1);
});

test('bitor(10, 8) = 10, bitor(-10, -8) = -2', () => {
  assert.equal(call('bitor', 10, 8), 10);
  assert.equal(call('bitor', -10, -8), -2);
  fails('bitor', [true, 1], 1);
});

test('bitxor(10, 8) = 2, bitxor(-10, -8) = 14', () => {
  assert.equal(call('bitxor', 10, 8), 2);
  assert.equal(call('bitxor', -10, -8), 14);
  fails('bitxor', [[1], 1], 1);
});

test("bitsize('abc') = 24, bitsize('你好') = 48", () => {
  assert.equal(call('bitsize', 'abc'), 24);
  assert.equal(call('bitsize', '你好'), 48);
  assert.equal(call('bitsize', call('subbits', 'abc', 1, 5, 'bits', 'unsigned', 'big')), 5);
  fails('bitsize', [12], 1);
});

test("bytesize('abc') = 3, bytesize('你好') = 6", () => {
  assert.equal(call('bytesize', 'abc'), 3);
  assert.equal(call('bytesize', '你好'), 6);
  fails('bytesize', [{}], 1);
});

test("subbits(hexstr2bin('9F4E58'), 8) = 159, (…, 16) = 40782, subbits(base64_decode('n05Y'), 8) = 159", () => {
  assert.equal(call('subbits', h('9F4E58'), 8), 159);
  assert.equal(call('subbits', h('9F4E58'), 16), 40782);
  assert.equal(call('subbits', call('base64_decode', 'n05Y'), 8), 159);
});

test("subbits(hexstr2bin('9F4E58'), 1, 8) = 159, (…, 9, 8) = 78, subbits(base64_decode('n05Y'), 9, 4) = 4", () => {
  assert.equal(call('subbits', h('9F4E58'), 1, 8), 159);
  assert.equal(call('subbits', h('9F4E58'), 9, 8), 78);
  assert.equal(call('subbits', call('base64_decode', 'n05Y'), 9, 4), 4);
});

test('subbits with type, signedness and endianness (the six-argument form)', () => {
  const b = h('9F4E58');
  assert.equal(call('subbits', b, 1, 16, 'integer', 'unsigned', 'big'), 40782);
  assert.equal(call('subbits', b, 1, 16, 'integer', 'signed', 'big'), -24754);
  assert.equal(call('subbits', b, 1, 16, 'integer', 'unsigned', 'little'), 20127);
  assert.equal(call('subbits', b, 1, 16, 'float', 'unsigned', 'big'), -0.00713348388671875);
  assert.equal(call('subbits', b, 1, 16, 'float', 'signed', 'big'), -0.00713348388671875);
  // 32- and 64-bit floats, and the 4- and 5-argument forms.
  const f32 = Buffer.alloc(4);
  f32.writeFloatBE(1.5);
  assert.equal(call('subbits', f32, 1, 32, 'float'), 1.5);
  const f64 = Buffer.alloc(8);
  f64.writeDoubleLE(-2.25);
  assert.equal(call('subbits', f64, 1, 64, 'float', 'signed', 'little'), -2.25);
  assert.equal(call('subbits', b, 1, 8, 'integer', 'signed'), -97);
  // 'bits' gives a bit string; whole bytes are a Buffer.
  const bits = call('subbits', b, 5, 12, 'bits', 'unsigned', 'big');
  assert.ok(bits instanceof BitString);
  assert.equal(call('bin2hexstr', bits), 'F4E');
  assert.deepEqual(call('subbits', b, 9, 16, 'bits', 'unsigned', 'big'), h('4E58'));
});

test('subbits past the end is undefined; a length past the end takes what is left', () => {
  const b = h('9F4E58');
  assert.equal(call('subbits', b, 25, 8), undefined);
  assert.equal(call('subbits', b, 0, 8), undefined);
  assert.equal(call('subbits', b, 17, 16), 0x58);
  assert.equal(call('subbits', h('FFFFFFFFFFFFFFFF'), 1, 64), 2n ** 64n - 1n);
});

test('subbits with wrong types fails naming the argument', () => {
  const b = h('9F4E58');
  fails('subbits', [123, 8], 1);
  fails('subbits', [b, '8'], 2);
  fails('subbits', [b, 1, 'x'], 3);
  fails('subbits', [b, 1, 8, 'double'], 4);
  fails('subbits', [b, 1, 8, 'integer', 'maybe'], 5);
  fails('subbits', [b, 1, 8, 'integer', 'signed', 'middle'], 6);
  fails('subbits', [b, 1, 12, 'float'], 3);
  fails('subbits', [b], undefined);
});
