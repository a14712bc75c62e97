// Examples quoted from EMQX's "Built-in SQL Functions" page (Data Type Judgment, UUID, System
// and Conditional Functions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, fails } from './fn-helpers.js';

const j = (s: string): unknown => call('json_decode', s);

test("is_array([1, 2]) = true, is_array(json_decode('{\"value\": 1}')) = false, is_array('[1, 2]') = false", () => {
  assert.equal(call('is_array', [1, 2]), true);
  assert.equal(call('is_array', j('[{"value": 1}]')), true);
  assert.equal(call('is_array', j('{"value": 1}')), false);
  assert.equal(call('is_array', 0.5), false);
  assert.equal(call('is_array', '[1, 2]'), false);
  fails('is_array', []);
});

test("is_bool(true) = true, is_bool(false) = true, is_bool('true') = false", () => {
  assert.equal(call('is_bool', true), true);
  // The page prints is_bool(false) = false, a typo: false is a boolean.
  assert.equal(call('is_bool', false), true);
  assert.equal(call('is_bool', 'true'), false);
  fails('is_bool', [1, 2]);
});

test('is_float(123.4) = true, is_float(123) = false', () => {
  assert.equal(call('is_float', 123.4), true);
  assert.equal(call('is_float', 123), false);
});

test('is_int(123) = true, is_int(123.4) = false', () => {
  assert.equal(call('is_int', 123), true);
  assert.equal(call('is_int', 123.4), false);
  assert.equal(call('is_int', 2n ** 64n), true);
});

test("is_map(json_decode('{\"value\": 1}')) = true, is_map(json_decode('[{\"value\": 1}]')) = false", () => {
  assert.equal(call('is_map', j('{"value": 1}')), true);
  assert.equal(call('is_map', j('[{"value": 1}]')), false);
  assert.equal(call('is_map', Buffer.from('x')), false);
});

test("is_null(undefined) = true, is_null(map_get('b', json_decode('{\"b\": null}'))) = false", () => {
  assert.equal(call('is_null', undefined), true);
  assert.equal(call('is_null', call('map_get', 'b', j('{"a": 1}'))), true);
  assert.equal(call('is_null', call('map_get', 'b', j('{"b": null}'))), false);
  assert.equal(call('is_not_null', 1), true);
  assert.equal(call('is_not_null', undefined), false);
});

test("is_null_var is also true for JSON null; is_not_null_var is its inverse", () => {
  assert.equal(call('is_null_var', undefined), true);
  assert.equal(call('is_null_var', call('map_get', 'b', j('{"a": 1}'))), true);
  assert.equal(call('is_null_var', call('map_get', 'b', j('{"b": null}'))), true);
  assert.equal(call('is_not_null_var', null), false);
  assert.equal(call('is_not_null_var', 0), true);
});

test("is_num(123) = true, is_num(123.4) = true, is_num('123') = false", () => {
  assert.equal(call('is_num', 123), true);
  assert.equal(call('is_num', 123.4), true);
  assert.equal(call('is_num', '123'), false);
});

test("is_str('123') = true, is_str(123) = false; binaries are strings", () => {
  assert.equal(call('is_str', '123'), true);
  assert.equal(call('is_str', 123), false);
  assert.equal(call('is_str', Buffer.from('x')), true);
});

test('is_empty: [], empty strings and maps', () => {
  assert.equal(call('is_empty', []), true);
  assert.equal(call('is_empty', ''), true);
  assert.equal(call('is_empty', {}), true);
  assert.equal(call('is_empty', [1]), false);
  fails('is_empty', [5], 1);
});

test("uuid_v4() = 'f5bb7bea-a371-4df7-aa30-479add04632b'-shaped, uuid_v4_no_hyphen() 32 hex digits", () => {
  assert.match(call('uuid_v4') as string, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.match(call('uuid_v4_no_hyphen') as string, /^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
  assert.notEqual(call('uuid_v4'), call('uuid_v4'));
  fails('uuid_v4', [1]);
});

test("getenv('FOO_BAR') reads EMQXVAR_FOO_BAR once", () => {
  process.env.EMQXVAR_PETREL_TEST = 'v1';
  assert.equal(call('getenv', 'PETREL_TEST'), 'v1');
  process.env.EMQXVAR_PETREL_TEST = 'v2';
  assert.equal(call('getenv', 'PETREL_TEST'), 'v1');
  assert.equal(call('getenv', 'PETREL_UNSET_VAR'), '');
  fails('getenv', [1], 1);
});

test('coalesce(payload.value, 0) is payload.value unless it is null (undefined)', () => {
  assert.equal(call('coalesce', undefined, 0), 0);
  assert.equal(call('coalesce', 5, 0), 5);
  assert.equal(call('coalesce', '', 0), '');
  assert.equal(call('coalesce', [undefined, undefined, 3]), 3);
  assert.equal(call('coalesce', []), undefined);
  fails('coalesce', [1], 1);
});

test('coalesce_ne also skips the empty string', () => {
  assert.equal(call('coalesce_ne', '', 0), 0);
  assert.equal(call('coalesce_ne', undefined, 0), 0);
  assert.equal(call('coalesce_ne', 'x', 0), 'x');
  assert.equal(call('coalesce_ne', [Buffer.alloc(0), '', 'y']), 'y');
  fails('coalesce_ne', [], undefined);
});

test('null() is undefined; eq compares as Erlang ==', () => {
  assert.equal(call('null'), undefined);
  assert.equal(call('eq', 1, 1.0), true);
  assert.equal(call('eq', { a: [1] }, { a: [1] }), true);
  assert.equal(call('eq', '1', 1), false);
});

test('kv_store_put / kv_store_get / kv_store_del share values across rules on the node', () => {
  assert.equal(call('kv_store_get', 'k'), undefined);
  assert.equal(call('kv_store_get', 'k', 0), 0);
  call('kv_store_put', 'k', { n: 1 });
  assert.deepEqual(call('kv_store_get', 'k'), { n: 1 });
  call('kv_store_del', 'k');
  assert.equal(call('kv_store_get', 'k'), undefined);
  fails('kv_store_put', [undefined, 1], 1);
});

test('contains_topic / contains_topic_match over a list of {topic, qos} maps', () => {
  const filters = [{ topic: 't/1', qos: 1 }, { topic: 'x/y', qos: 0 }];
  assert.equal(call('contains_topic', filters, 't/1'), true);
  assert.equal(call('contains_topic', filters, 't/1', 1), true);
  assert.equal(call('contains_topic', filters, 't/1', 2), false);
  assert.equal(call('contains_topic', filters, 't/#'), false);
  assert.equal(call('contains_topic_match', filters, 't/#'), true);
  assert.equal(call('contains_topic_match', filters, 'x/+', 0), true);
  assert.equal(call('contains_topic_match', filters, 'z/+'), false);
  fails('contains_topic', ['t/1', 't/1'], 1);
});
