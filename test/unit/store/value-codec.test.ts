import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeValue, encodeValue } from '../../../broker/src/store/value-codec.js';

test('plain data round-trips exactly', () => {
  const values: unknown[] = [
    null, true, false, 0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53, 1.5, -0, NaN, Infinity, '', 'a', 'héllo 😀\u0000',
    Buffer.alloc(0), Buffer.from([1, 2, 3]), [], [1, [2, [3]]], {}, { a: { b: { c: [Buffer.from('x'), null] } } },
    { 'key with \u0000': 1, '😀': 'v' }, 'x'.repeat(100_000),
  ];
  for (const v of values) {
    const back = decodeValue(encodeValue(v));
    if (typeof v === 'number' && Number.isNaN(v)) assert.ok(Number.isNaN(back));
    else assert.deepEqual(back, v);
    if (Buffer.isBuffer(v)) assert.ok(Buffer.isBuffer(back));
  }
  assert.ok(Object.is(decodeValue(encodeValue(-0)), -0));
});

test('undefined survives inside arrays and objects; Uint8Array comes back as Buffer', () => {
  assert.deepEqual(decodeValue(encodeValue([1, undefined, 3])), [1, undefined, 3]);
  const o = decodeValue(encodeValue({ a: undefined })) as Record<string, unknown>;
  assert.ok('a' in o && o.a === undefined);
  const u = decodeValue(encodeValue(new Uint8Array([9, 8])));
  assert.ok(Buffer.isBuffer(u));
  assert.deepEqual([...(u as Buffer)], [9, 8]);
});

test('non-plain values are stored like JSON would, never throw', () => {
  const d = new Date(0);
  assert.equal(decodeValue(encodeValue(d)), d.toISOString());
  assert.equal(decodeValue(encodeValue(10n)), 10);
  assert.deepEqual(decodeValue(encodeValue({ f: () => 1 })), { f: null });
  class P { x = 1; }
  assert.deepEqual(decodeValue(encodeValue(new P())), { x: 1 });
});

test('damaged input is a RangeError, not garbage', () => {
  const good = encodeValue({ a: 'hello', b: [1, 2] });
  assert.throws(() => decodeValue(Buffer.from([0xee])), RangeError);
  assert.throws(() => decodeValue(good.subarray(0, good.length - 3)), RangeError);
  assert.throws(() => decodeValue(Buffer.concat([good, Buffer.from([0])])), RangeError);
});
