// Examples quoted from EMQX's "Built-in SQL Functions" page (Encoding and Decoding Functions)
// and bin2hexstr cases from EMQX's emqx_rule_funcs_SUITE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, fails, hex } from './fn-helpers.js';

test("base64_decode('aGVsbG8=') = 'hello', bin2hexstr(base64_decode('y0jN')) = 'CB48CD'", () => {
  assert.equal((call('base64_decode', 'aGVsbG8=') as Buffer).toString(), 'hello');
  assert.equal(call('bin2hexstr', call('base64_decode', 'y0jN')), 'CB48CD');
  assert.equal((call('base64_decode', 'aGVsbG8', 'no_padding') as Buffer).toString(), 'hello');
  assert.equal(hex(call('base64_decode', '-_8', 'urlsafe', 'no_padding')), 'FBFF');
  fails('base64_decode', ['aGVsbG8'], 1);
  fails('base64_decode', ['a*b='], 1);
  fails('base64_decode', [42], 1);
});

test("base64_encode('hello') = 'aGVsbG8=', base64_encode(hexstr2bin('CB48CD')) = 'y0jN'", () => {
  assert.equal(call('base64_encode', 'hello'), 'aGVsbG8=');
  assert.equal(call('base64_encode', call('hexstr2bin', 'CB48CD')), 'y0jN');
  assert.equal(call('base64_encode', 'hello', 'no_padding'), 'aGVsbG8');
  assert.equal(call('base64_encode', Buffer.from([0xfb, 0xff]), 'urlsafe'), '-_8=');
  assert.equal(call('base64_encode', Buffer.from([0xfb, 0xff]), 'urlsafe', 'no_padding'), '-_8');
  fails('base64_encode', [1], 1);
});

test("json_decode: map_get('a', json_decode('{\"a\": 1}')) = 1", () => {
  assert.equal(call('map_get', 'a', call('json_decode', '{"a": 1}')), 1);
  assert.deepEqual(call('json_decode', '[1, "x"]'), [1, 'x']);
  fails('json_decode', ['{"a":'], 1);
  fails('json_decode', [1], 1);
});

test("json_encode([1,2,3]) = '[1,2,3]'", () => {
  assert.equal(call('json_encode', [1, 2, 3]), '[1,2,3]');
  assert.equal(call('json_encode', { a: Buffer.from('x'), b: 2n ** 64n, c: null }), '{"a":"x","b":18446744073709551616,"c":null}');
  fails('json_encode', [NaN], 1);
  fails('json_encode', [[() => 1]], 1);
});

test("bin2hexstr(zip('hello')) = 'CB48CDC9C90700'; prefixes and bit strings as EMQX", () => {
  assert.equal(call('bin2hexstr', call('zip', 'hello')), 'CB48CDC9C90700');
  assert.equal(call('bin2hexstr', Buffer.from([1, 2])), '0102');
  assert.equal(call('bin2hexstr', Buffer.from([17, 33])), '1121');
  assert.equal(call('bin2hexstr', Buffer.from([1, 2]), '0x'), '0x0102');
  assert.equal(call('sqlserver_bin2hexstr', Buffer.from([17, 33])), '0x1121');
  // EMQX's suite: <<1:4, 2>> → '102', <<1:5, 2>> → '0102', <<2:2>> → '2'
  const b = Buffer.from([0x12]);
  assert.equal(call('bin2hexstr', call('subbits', Buffer.from([0x01, 0x20]), 5, 12, 'bits', 'unsigned', 'big')), '120');
  assert.equal(call('bin2hexstr', call('subbits', b, 1, 4, 'bits', 'unsigned', 'big')), '1');
  assert.equal(call('bin2hexstr', call('subbits', Buffer.from([0x80]), 1, 2, 'bits', 'unsigned', 'big')), '2');
  assert.equal(call('bin2hexstr', call('subbits', Buffer.from([0x08, 0x10]), 1, 13, 'bits', 'unsigned', 'big')), '0102');
  fails('bin2hexstr', [12], 1);
});

test("hexstr2bin: unzip(hexstr2bin('CB48CDC9C90700')) = 'hello'", () => {
  assert.equal((call('unzip', call('hexstr2bin', 'CB48CDC9C90700')) as Buffer).toString(), 'hello');
  assert.equal(hex(call('hexstr2bin', 'abc')), '0ABC');
  assert.equal(hex(call('hexstr2bin', '0x0102', '0x')), '0102');
  fails('hexstr2bin', ['zz'], 1);
  fails('hexstr2bin', ['0102', '0x'], 2);
});

test('int2hexstr(15) = F', () => {
  assert.equal(call('int2hexstr', 15), 'F');
  assert.equal(call('int2hexstr', 2n ** 64n), '10000000000000000');
  fails('int2hexstr', ['15'], 1);
});
