// Examples quoted from EMQX's "Built-in SQL Functions" page (Map Operation Functions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, fails } from './fn-helpers.js';

const j = (s: string): unknown => call('json_decode', s);

test("map_get('msg', json_decode('{\"msg\": \"hello\"}')) = 'hello'; a missing key is undefined or the default", () => {
  assert.equal(call('map_get', 'msg', j('{"msg": "hello"}')), 'hello');
  assert.equal(call('map_get', 'data', j('{"msg": "hello"}')), undefined);
  assert.equal(call('map_get', 'data', j('{"msg": "hello"}'), ''), '');
  assert.deepEqual(call('map_get', 'value', j('{"data": [1.2, 1.3]}'), []), []);
  assert.equal(call('map_get', 'a.b.c', j('{"a": {"b": {"c": 7}}}')), 7);
  assert.equal(call('map_get', 'a', '{"a": 1}'), 1); // a JSON string is decoded
  assert.equal(call('map_get', 'a', 12), undefined);
  fails('map_get', [1, {}], 1);
});

test("map_put: map_get('b', map_put('b', 1, json_decode('{\"a\": 1}'))) = 1 and replacing a key", () => {
  assert.equal(call('map_get', 'b', call('map_put', 'b', 1, j('{"a": 1}'))), 1);
  assert.equal(call('map_get', 'a', call('map_put', 'a', 2, j('{"a": 1}'))), 2);
  const m = { a: { b: 1 } };
  assert.deepEqual(call('map_put', 'a.c', 2, m), { a: { b: 1, c: 2 } });
  assert.deepEqual(m, { a: { b: 1 } }, 'the input is not changed');
  assert.deepEqual(call('map_put', 'x', 1, undefined), { x: 1 });
  fails('map_put', [undefined, 1, {}], 1);
});

test("map_keys(json_decode('{\"a\": 1, \"b\": 2}')) = ['a', 'b']", () => {
  assert.deepEqual(call('map_keys', j('{"a": 1, "b": 2}')), ['a', 'b']);
  fails('map_keys', [[1]], 1);
});

test("map_values(json_decode('{\"a\": 1, \"b\": 2}')) = [1, 2]", () => {
  assert.deepEqual(call('map_values', j('{"a": 1, "b": 2}')), [1, 2]);
  fails('map_values', [3], 1);
});

test("map_to_entries(json_decode('{\"a\": 1, \"b\": 2}')) = [{key: 'a', value: 1}, {key: 'b', value: 2}]", () => {
  assert.deepEqual(call('map_to_entries', j('{"a": 1, "b": 2}')), [{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
  fails('map_to_entries', ['not json'], 1);
});

test('map_size and map_new', () => {
  assert.equal(call('map_size', { a: 1, b: 2 }), 2);
  assert.deepEqual(call('map_new'), {});
  fails('map_size', [true], 1);
});

test("mget('c', json_decode('{\"a\": {\"b\": 1}}')) = undefined, mget(['a', 'b'], …) = 1", () => {
  const m = j('{"a": {"b": 1}}');
  assert.equal(call('mget', 'c', m), undefined);
  assert.deepEqual(call('mget', 'a', m), { b: 1 });
  assert.equal(call('mget', ['a', 'b'], m), 1);
  assert.equal(call('mget', 'a.b', m), undefined, 'one key, not a dotted path');
  assert.equal(call('mget', 'c', m, 0), 0);
  fails('mget', ['a', 5], 2);
});

test("mput: mget(['a', 'b'], mput(['a', 'b'], 2, json_decode('{\"a\": {\"b\": 1}}'))) = 2, and into '{\"c\": 1}'", () => {
  assert.equal(call('mget', ['a', 'b'], call('mput', ['a', 'b'], 2, j('{"a": {"b": 1}}'))), 2);
  assert.equal(call('mget', ['a', 'b'], call('mput', ['a', 'b'], 2, j('{"c": 1}'))), 2);
  fails('mput', ['a', 1, 5], 3);
});

test('map_to_redis_hset_args: field/value pairs, floats with 6 decimals, other values dropped', () => {
  assert.deepEqual(call('map_to_redis_hset_args', { a: 1, b: 'x', c: 1.5, d: true, e: [1] }), ['a', '1', 'b', 'x', 'c', '1.5', 'd', 'true']);
  assert.deepEqual(call('map_to_redis_hset_args', '{"a": 2}'), ['a', '2']);
  assert.deepEqual(call('map_to_redis_hset_args', 'not json'), []);
  fails('map_to_redis_hset_args', []);
});
