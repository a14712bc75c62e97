/**
 * The statements of EMQX's rule SQL reference and of its rule engine test suite, run over the
 * contexts those use, with the outputs EMQX documents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { one, many, outcome, passes } from './sql-helpers.js';

const msg = (payload: string, o: Record<string, unknown> = {}) => ({ topic: 't/a', clientid: 'c_steve', username: 'eric', qos: 1, timestamp: 1700000000000, payload, ...o });

test('docs: SELECT clientid, payload.clientid as myclientid FROM "t/#", "my/other/topic"', () => {
  assert.deepEqual(one('SELECT clientid, payload.clientid as myclientid FROM "t/#", "my/other/topic"', msg('{"clientid":"inner"}')),
    { clientid: 'c_steve', myclientid: 'inner' });
});

test('docs: SELECT peername as ip_port FROM "$events/client_connected" WHERE clientid = \'c1\'', () => {
  const sql = `SELECT peername as ip_port FROM "$events/client_connected" WHERE clientid = 'c1'`;
  assert.deepEqual(one(sql, { clientid: 'c1', peername: '10.0.0.1:5000' }), { ip_port: '10.0.0.1:5000' });
  assert.equal(passes(sql, { clientid: 'c2', peername: '10.0.0.1:5000' }), false);
});

test('docs: SELECT * FROM "t/#" WHERE username = \'eric\' forwards every column', () => {
  const cols = msg('{}');
  assert.deepEqual(one(`SELECT * FROM "t/#" WHERE username = 'eric'`, cols), cols);
  assert.equal(passes(`SELECT * FROM "t/#" WHERE username = 'eric'`, { ...cols, username: 'bob' }), false);
});

test("docs: SELECT (upper(clientid) + '_UPPERCASE_LETTERS') as cid", () => {
  assert.deepEqual(one(`SELECT (upper(clientid) + '_UPPERCASE_LETTERS') as cid FROM "t/#"`, msg('{}')), { cid: 'C_STEVE_UPPERCASE_LETTERS' });
});

test('docs: SELECT (payload.integer_field + 2) * 2 as num', () => {
  assert.deepEqual(one('SELECT (payload.integer_field + 2) * 2 as num FROM "t/#"', msg('{"integer_field": 5}')), { num: 14 });
});

test('docs: SELECT payload.a.b.c.deep as my_field', () => {
  assert.deepEqual(one('SELECT payload.a.b.c.deep as my_field FROM "t/#"', msg('{"a":{"b":{"c":{"deep":[1]}}}}')), { my_field: [1] });
});

test('docs: SELECT * FROM "#" WHERE payload.x.y = 1 matches {"x": {"y": 1}, "other": "field"}', () => {
  assert.equal(passes('SELECT * FROM "#" WHERE payload.x.y = 1', msg('{"x": {"y": 1}, "other": "field"}')), true);
  assert.equal(passes('SELECT * FROM "#" WHERE payload.x.y = 1', msg('{"x": {"y": 2}}')), false);
});

test('docs: SELECT payload.x as x FROM "tests/test_topic_1" WHERE y = 1 — an alias is visible in WHERE', () => {
  // The reference spells the alias y in WHERE while selecting x; the alias it means is the one selected.
  const sql = 'SELECT payload.x as y FROM "tests/test_topic_1" WHERE y = 1';
  assert.deepEqual(one(sql, msg('{"x": 1}')), { y: 1 });
  assert.equal(passes(sql, msg('{"x": 2}')), false);
});

test("docs: WHERE topic =~ 't/#' and qos = 1 on $events/session_subscribed", () => {
  const sql = `SELECT clientid FROM "$events/session_subscribed" WHERE topic =~ 't/#' and qos = 1`;
  assert.deepEqual(one(sql, { clientid: 'c', topic: 't/x/y', qos: 1 }), { clientid: 'c' });
  assert.equal(passes(sql, { clientid: 'c', topic: 'u/x', qos: 1 }), false);
  assert.equal(passes(sql, { clientid: 'c', topic: 't/x', qos: 0 }), false);
});

test("docs: SELECT pub_props.'User-Property'.foo as foo", () => {
  assert.deepEqual(one(`SELECT pub_props.'User-Property'.foo as foo FROM "t/#"`, { pub_props: { 'User-Property': { foo: 'bar' } } }), { foo: 'bar' });
});

test('docs: CASE WHEN payload.x < 0 THEN 0 WHEN payload.x > 7 THEN 7 ELSE payload.x END as x', () => {
  const sql = `SELECT
  CASE WHEN payload.x < 0 THEN 0
       WHEN payload.x > 7 THEN 7
       ELSE payload.x
  END as x
FROM "t/#"`;
  assert.deepEqual(one(sql, msg('{"x": 8}')), { x: 7 });
  assert.deepEqual(one(sql, msg('{"x": -3}')), { x: 0 });
  assert.deepEqual(one(sql, msg('{"x": 4}')), { x: 4 });
});

const SENSORS = JSON.stringify({ date: '2020-04-24', sensors: [{ name: 'a', idx: 0 }, { name: 'b', idx: 1 }, { name: 'c', idx: 2 }] });

test('docs FOREACH example 1: FOREACH payload.sensors FROM "t/#" gives one output per element as item', () => {
  const out = many('FOREACH payload.sensors FROM "t/#"', msg(SENSORS));
  assert.deepEqual(out.map((o) => o['item']), [{ name: 'a', idx: 0 }, { name: 'b', idx: 1 }, { name: 'c', idx: 2 }]);
  assert.equal(out[0]!['clientid'], 'c_steve'); // without DO an output carries every column
});

test('docs FOREACH example 2: DO clientid, item.name as name, item.idx as idx INCASE item.idx >= 1', () => {
  const sql = `FOREACH
    payload.sensors
DO
    clientid,
    item.name as name,
    item.idx as idx
INCASE
    item.idx >= 1
FROM "t/#"`;
  assert.deepEqual(many(sql, msg(SENSORS)), [{ clientid: 'c_steve', name: 'b', idx: 1 }, { clientid: 'c_steve', name: 'c', idx: 2 }]);
  const named = sql.replace('payload.sensors', 'payload.sensors as s').replace(/item\./g, 's.');
  assert.deepEqual(many(named, msg(SENSORS)), [{ clientid: 'c_steve', name: 'b', idx: 1 }, { clientid: 'c_steve', name: 'c', idx: 2 }]);
});

test("docs FOREACH example 3: nth(2, tokens(clientid,'_')) as clientid", () => {
  const sql = `FOREACH
    payload.sensors as s
DO
    nth(2, tokens(clientid,'_')) as clientid,
    s.name as name,
    s.idx as idx
INCASE
    s.idx >= 1
FROM "t/#"`;
  assert.deepEqual(many(sql, msg(SENSORS)).map((o) => o['clientid']), ['steve', 'steve']);
});

test('docs: FOREACH with timestamp, clientid, upper(sensor.name) as name', () => {
  const sql = `FOREACH
    payload.sensors as sensor
DO
    timestamp,
    clientid,
    upper(sensor.name) as name,
    sensor.idx as idx
INCASE
    sensor.idx >= 1
FROM "t/#"`;
  assert.deepEqual(many(sql, msg(SENSORS)), [
    { timestamp: 1700000000000, clientid: 'c_steve', name: 'B', idx: 1 },
    { timestamp: 1700000000000, clientid: 'c_steve', name: 'C', idx: 2 },
  ]);
});

test('suite: foreach with several fields, aliases feeding the next one, and WHERE on an alias', () => {
  const sql = `foreach json_decode(payload) as p, p.sensors as s, s.collection as c, c.info as info
    do info.cmd as msg_type, info.name as name
    incase is_not_null(info.cmd)
    from "t/#" where s.page = '2'`;
  const payload = '{"sensors": {"page": 2, "collection": {"info":[{"name":"cmd1", "cmd":"1"}, {"cmd":"2"}]} } }';
  assert.deepEqual(many(sql, msg(payload)), [{ msg_type: '1', name: 'cmd1' }, { msg_type: '2', name: undefined }]);
  assert.equal(outcome(sql.replace("'2'", "'3'"), msg(payload)).status, 'no_result');
});

test('suite: foreach over a non-list yields no output; foreach payload as p iterates a JSON array payload', () => {
  assert.deepEqual(many('foreach payload.sensors from "t/#"', msg('{"sensors": 1}')), []);
  assert.deepEqual(many('foreach payload as item do item.data as next_data from "t/#"', msg('[{"data": "value1"}, {"data": "value2"}]')),
    [{ next_data: 'value1' }, { next_data: 'value2' }]);
});

test("suite: case payload.x when 1 then 2 when 2 then 3 else 4 end", () => {
  const sql = 'select case payload.x when 1 then 2 when 2 then 3 else 4 end as y from "t/#"';
  assert.deepEqual([1, 2, 4, 7].map((x) => one(sql, msg(`{"x": ${x}}`))['y']), [2, 3, 4, 4]);
  assert.equal(one('select case when payload.x < 0 then 0 end as y from "t/#"', msg('{"x": 1}'))['y'], undefined);
});

test('suite: array indexes are 1-based, negative from the end; [0] and [-0] insert first and last', () => {
  assert.deepEqual(one('select json_decode(payload) as p, p[1] as a from "t/#"', msg('[{"x": 1}]'))['a'], { x: 1 });
  assert.deepEqual(one('select payload.x[2].y as b from "t/#"', msg('{"x": [1, {"y": 3}, 3]}')), { b: 3 });
  assert.deepEqual(one('select payload.x[-2].y as b from "t/#"', msg('{"x": [1, {"y": 3}, 3]}')), { b: 3 });
  assert.deepEqual(one('select payload.x[2] from "t/#"', msg('{"x": [1, 3, 4]}')), { payload: { x: [3] } });
  assert.deepEqual(one('select payload.x as b, 1 as c[-0], 2 as c[-0], b as c[0] from "t/#"', msg('{"x": 0}')), { b: 0, c: [0, 1, 2] });
  assert.deepEqual(one(`select [payload.a, "topic", 'c'] as c, 1 as c[-0], 2 as c[-0], 0 as c[0] from "t/#"`, msg('{"a": 11}'))['c'],
    [0, 11, 't/a', 'c', 1, 2]);
});

test('suite: writing through AS paths: payload.x[2].y, b.c, and into a JSON payload', () => {
  assert.deepEqual(one('select payload.x[2].y as b.c from "t/#"', msg('{"x": [1, {"y": [1, 2]}, 3]}')), { b: { c: [1, 2] } });
  assert.deepEqual(one('select payload.x, 0 as payload.x[2].y from "t/#"', msg('{"x": [1, {"y": [1, 2]}, 3]}')),
    { payload: { x: [1, { y: 0 }, 3] } });
  assert.deepEqual(one(`select payload, 'STEVE' as payload.data[1].name from "t/#"`, msg('{"data":[{"name":"n1","idx":1},{"name":"n2","idx":2}]}'))['payload'],
    { data: [{ name: 'STEVE', idx: 1 }, { name: 'n2', idx: 2 }] });
  const sql = `SELECT payload, map_get('engineWorkTime', payload.params, -1) as payload.params.engineWorkTime,
    map_get('hydOilTem', payload.params, -1) as payload.params.hydOilTem FROM "t/#"`;
  assert.deepEqual(one(sql, msg('{ "msgId": 1002, "params": { "convertTemp": 20, "engineSpeed": 42, "hydOilTem": 30 } }'))['payload'],
    { msgId: 1002, params: { convertTemp: 20, engineSpeed: 42, hydOilTem: 30, engineWorkTime: -1 } });
});

test('suite: ranges [1..4] and payload.a[1..4]; a range of a non-list fails the rule', () => {
  assert.deepEqual(one('select payload.a[1..4] as c from "t/#"', msg('{"a":[0,1,2,3,4,5]}')), { c: [0, 1, 2, 3] });
  assert.deepEqual(one('select [1..4] as c, 5 as c[-0], 6 as c[-0], 0 as c[0] from "t/#"', msg('')), { c: [0, 1, 2, 3, 4, 5, 6] });
  assert.deepEqual(one('select a[2..4] from "t/#"', { a: [1, 2, 3, 4, 5] }), { a: [2, 3, 4] });
  const o = outcome('select payload.a[1..4] as c from "t/#"', msg('{"x":[0,1,2,3,4,5]}'));
  assert.equal(o.status, 'failed');
  assert.match(o.status === 'failed' ? o.error.message : '', /range_get/);
});

test('suite: true/false literals, nested get through an alias, list literals with expressions', () => {
  assert.deepEqual(one('select true as a, false as b, false as x.y, true as c[-0] from "t/#"', msg('')), { a: true, b: false, x: { y: false }, c: [true] });
  assert.deepEqual(one('select payload as p, p.a.b as c from "t/#"', msg('{"a": {"b": 0}}'))['c'], 0);
  assert.deepEqual(Object.values(one('select [21 + 21, abs(-abs(-2)), [1 + 1], 4] from "t/#"', msg(''))), [[42, 2, [2], 4]]);
  assert.deepEqual(one('select map_new() as a, map_new() as x.y from "t/#"', msg('')), { a: {}, x: { y: {} } });
});

test("suite: FROM accepts single quotes too: from 't/tt', \"$events/client_connected\"", () => {
  assert.deepEqual(one(`select clientid, topic as tp from 't/tt', "$events/client_connected"`, { clientid: 'abc', topic: 't/tt' }), { clientid: 'abc', tp: 't/tt' });
});

test('suite: a payload that is not JSON fails a rule that reads into it (decode_json_failed)', () => {
  const o = outcome('select payload.a[1..4] as c from "t/#"', msg('{"x":[0,1,2,3,}'));
  assert.equal(o.status, 'failed');
  assert.ok(o.status === 'failed' && o.error.clause === 'select' && /decode_json_failed/.test(o.error.message));
  const f = outcome('foreach payload.sensors do item.cmd as msg_type from "t/#"', msg('{"sensors": [{"cmd":"1"} {"cmd":}]}'));
  assert.ok(f.status === 'failed' && f.error.clause === 'foreach');
  // Reading the payload itself never decodes it.
  assert.deepEqual(one('select payload from "t/#"', msg('abc')), { payload: 'abc' });
});
