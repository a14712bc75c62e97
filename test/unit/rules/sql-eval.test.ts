/**
 * Evaluation semantics, operator by operator, as EMQX's runtime: comparisons across types,
 * missing fields, arithmetic and concatenation, IN, NOT, topic match, and failures that come back
 * as a `failed` outcome naming the clause instead of escaping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRule, RuleEvalError, type Columns } from '../../../broker/src/rules/sql/index.js';
import { FNS, one, outcome, passes } from './sql-helpers.js';

/** The value of one expression over `cols`. */
function val(expr: string, cols: Columns = {}): unknown {
  return one(`SELECT ${expr} AS v FROM "t"`, cols)['v'];
}
function cond(c: string, cols: Columns = {}): boolean {
  return passes(`SELECT 1 AS one FROM "t" WHERE ${c}`, cols);
}
function failure(sql: string, cols: Columns = {}): RuleEvalError {
  const o = outcome(sql, cols);
  assert.equal(o.status, 'failed');
  return (o as { error: RuleEvalError }).error;
}

test('arithmetic: + - * / div mod and unary minus on numbers', () => {
  assert.equal(val('1 + 2'), 3);
  assert.equal(val('5 - 7'), -2);
  assert.equal(val('3 * 4'), 12);
  assert.equal(val('7 / 2'), 3.5);
  assert.equal(val('7 div 2'), 3);
  assert.equal(val('-7 div 2'), -3); // truncates, as Erlang's div
  assert.equal(val('7 mod 3'), 1);
  assert.equal(val('-7 mod 3'), -1); // the sign follows the dividend, as Erlang's rem
  assert.equal(val('-a', { a: 4 }), -4);
  assert.equal(val('2 + 3 * 4 - 6 / 3'), 12);
  assert.equal(val('1.5 + 1'), 2.5);
});

test("+ concatenates when either side is a string, turning the other into text", () => {
  assert.equal(val("'a' + 'b'"), 'ab');
  assert.equal(val("'n=' + 1"), 'n=1');
  assert.equal(val("1.25 + 'x'"), '1.25x');
  assert.equal(val("'t' + true"), 'ttrue');
  assert.equal(val("clientid + '_' + qos", { clientid: 'c1', qos: 2 }), 'c1_2');
});

test('arithmetic on the wrong types, and by zero, fails the rule in SELECT', () => {
  assert.match(failure('SELECT a - 1 AS v FROM "t"', { a: 'x' }).message, /bad arguments for '-'/);
  assert.match(failure('SELECT a + 1 AS v FROM "t"').message, /bad arguments for '\+': undefined and number 1/);
  assert.match(failure('SELECT 1 / 0 AS v FROM "t"').message, /division by zero/);
  assert.match(failure('SELECT 1 mod 0 AS v FROM "t"').message, /division by zero/);
  assert.match(failure('SELECT 1.5 div 1 AS v FROM "t"').message, /div needs integers/);
  assert.match(failure("SELECT -'a' AS v FROM \"t\"").message, /cannot negate/);
  assert.equal(failure('SELECT a * 2 AS v FROM "t"', { a: [1] }).clause, 'select');
  assert.equal(failure('SELECT 1 AS v FROM "t" WHERE a * 2 > 1', { a: 'x' }).clause, 'where');
});

test('comparisons of numbers, strings, and numbers against numeric strings', () => {
  assert.equal(cond('1 < 2'), true);
  assert.equal(cond('2 <= 2'), true);
  assert.equal(cond('3 > 2'), true);
  assert.equal(cond('2 >= 3'), false);
  assert.equal(cond('1 = 1.0'), true);
  assert.equal(cond('1 != 2'), true);
  assert.equal(cond('1 <> 1'), false);
  assert.equal(cond("'abc' < 'abd'"), true);
  assert.equal(cond("'b' > 'abc'"), true);
  assert.equal(cond("a = '10'", { a: 10 }), true); // the string is read as a number
  assert.equal(cond("a > '9'", { a: 10 }), true);
  assert.equal(cond("'1.5' = a", { a: 1.5 }), true);
  assert.equal(cond("s.page = '2'", { s: { page: 2 } }), true);
});

test('a number compared with a string that is not one fails the rule', () => {
  const e = failure("SELECT 1 AS v FROM \"t\" WHERE a = 'ten'", { a: 10 });
  assert.equal(e.clause, 'where');
  assert.match(e.message, /cannot compare a number with the string "ten"/);
});

test('booleans and null compare with strings by name; across other types Erlang term order decides', () => {
  assert.equal(cond("a = 'true'", { a: true }), true);
  assert.equal(cond("a = 'null'", { a: null }), true);
  assert.equal(cond('a = true', { a: true }), true);
  assert.equal(cond('a = false', { a: true }), false);
  // number < boolean < object < array < string
  assert.equal(cond('n < b', { n: 99, b: false }), true);
  assert.equal(cond('b < m', { b: true, m: {} }), true);
  assert.equal(cond('m < l', { m: { a: 1 }, l: [] }), true);
  assert.equal(cond("l < 'a'", { l: [1] }), true);
  assert.equal(cond('x = y', { x: [1, { a: 2 }], y: [1, { a: 2 }] }), true);
  assert.equal(cond('x < y', { x: [1, 2], y: [1, 3] }), true);
});

test('missing fields: one side missing makes every comparison false; both missing compare as equal', () => {
  for (const op of ['=', '!=', '<>', '<', '<=', '>', '>=']) assert.equal(cond(`a ${op} 1`, {}), false, op);
  assert.equal(cond('a = b'), true);
  assert.equal(cond('a <= b'), true);
  assert.equal(cond('a != b'), false);
  assert.equal(cond('a < b'), false);
  assert.equal(val('a < b', { b: 1 }), false);
  assert.deepEqual(one('select a, b from "t/#" where a = b', {}), { a: undefined, b: undefined });
  assert.equal(cond('payload.x.y = 1', { payload: '{"x": 1}' }), false);
  assert.equal(cond('not a', {}), false); // NOT of something not boolean is false
});

test('AND, OR, NOT: only true counts as true', () => {
  assert.equal(cond('a and b', { a: true, b: true }), true);
  assert.equal(cond('a and b', { a: true, b: 1 }), false);
  assert.equal(cond('a or b', { a: false, b: true }), true);
  assert.equal(cond('a or b', { a: 'yes' }), false);
  assert.equal(cond('not a', { a: false }), true);
  assert.equal(cond('not not a', { a: true }), true);
  assert.equal(cond('not (a = 1 or a = 2)', { a: 3 }), true);
  assert.equal(cond('a', { a: 1 }), false);
});

test('IN and NOT IN use exact equality', () => {
  assert.equal(cond("a in (1, 2, 'x')", { a: 2 }), true);
  assert.equal(cond("a in (1, 2, 'x')", { a: 'x' }), true);
  assert.equal(cond('a in (1, 2)', { a: '1' }), false);
  assert.equal(cond('a not in (1, 2)', { a: 3 }), true);
  assert.equal(cond('a not in (1, 2)', { a: 1 }), false);
  assert.equal(cond('a in (b, c + 1)', { a: 5, c: 4 }), true);
  assert.equal(cond('a in ([1, 2])', { a: [1, 2] }), true);
  assert.equal(val('a in (1)', { a: 1 }), true);
});

test('=~ matches a topic against a filter', () => {
  assert.equal(cond("topic =~ 't/#'", { topic: 't/a/b' }), true);
  assert.equal(cond("topic =~ 't/#'", { topic: 't' }), true);
  assert.equal(cond("topic =~ 't/+'", { topic: 't/a/b' }), false);
  assert.equal(cond("topic =~ 't/+/b'", { topic: 't/a/b' }), true);
  assert.equal(cond("topic =~ '#'", { topic: '$SYS/x' }), false);
  assert.equal(cond("topic =~ 'a/b'", { topic: 'a/b' }), true);
  assert.equal(cond("topic =~ 'a/b'", { topic: 'a/b/c' }), false);
  assert.equal(cond('topic =~ f', { topic: 'x/y', f: 'x/+' }), true);
  assert.equal(cond("topic =~ 't/#'", {}), false);
});

test('CASE without a match and without ELSE is undefined; the switch form compares exactly', () => {
  assert.equal(val("CASE WHEN a > 1 THEN 'big' END", { a: 0 }), undefined);
  assert.equal(val("CASE a WHEN '1' THEN 'str' WHEN 1 THEN 'num' END", { a: 1 }), 'num');
  assert.equal(val("CASE WHEN a THEN 'yes' ELSE 'no' END", { a: 1 }), 'no');
});

test('paths: keys, quoted keys, 1-based and negative indexes, indexes from columns, JSON strings along the way', () => {
  const cols = { payload: '{"a": {"b c": [10, 20, 30]}, "s": "{\\"in\\": 7}"}', i: 2, o: { list: [1, 2] } };
  assert.equal(val("payload.a.'b c'[1]", cols), 10);
  assert.equal(val("payload.a.'b c'[-1]", cols), 30);
  assert.equal(val("payload.a.'b c'[i]", cols), 20);
  assert.equal(val("payload.a.'b c'[0]", cols), undefined);
  assert.equal(val("payload.a.'b c'[9]", cols), undefined);
  assert.equal(val('payload.s.in', cols), 7); // a string that holds JSON is read as JSON
  assert.equal(val('o.list[2]', cols), 2);
  assert.equal(val('o.list.x', cols), undefined);
  assert.equal(val('o.nothing.deeper', cols), undefined);
  assert.equal(val('constructor', cols), undefined); // no prototype leaks
  assert.equal(val('o.constructor', cols), undefined);
  assert.equal(val('"quoted name"', { 'quoted name': 3 }), 3);
});

test('the payload is decoded once per run and only when a path goes into it', () => {
  let parses = 0;
  const orig = JSON.parse;
  JSON.parse = ((s: string) => { parses++; return orig(s); }) as typeof JSON.parse;
  try {
    one('SELECT payload.a AS a, payload.b AS b FROM "t" WHERE payload.a = 1', { payload: '{"a": 1, "b": 2}' });
    assert.equal(parses, 1);
    parses = 0;
    one('SELECT payload FROM "t" WHERE qos = 1', { payload: 'not json', qos: 1 });
    assert.equal(parses, 0);
  } finally {
    JSON.parse = orig;
  }
});

test('aliases: later fields and WHERE see earlier ones; columns are never modified', () => {
  const cols = { payload: '{"x": 1}', obj: { k: 1 } };
  assert.deepEqual(one('SELECT payload.x AS x, x + 1 AS y FROM "t" WHERE y = 2', cols), { x: 1, y: 2 });
  const out = one("SELECT obj, 2 AS obj.k, 'n' AS obj.new FROM \"t\"", cols);
  assert.deepEqual(out, { obj: { k: 2, new: 'n' } });
  assert.deepEqual(cols.obj, { k: 1 });
  assert.equal(one('SELECT *, 5 AS qos FROM "t"', { qos: 1, a: 2 })['qos'], 5);
  assert.equal(passes('SELECT 5 AS qos FROM "t" WHERE qos = 5', { qos: 1 }), true); // WHERE sees the selected qos
  // In WHERE a selected field hides the column even when undefined; a later SELECT field falls back to the column.
  assert.equal(passes("SELECT nothing.here AS clientid FROM \"t\" WHERE clientid = 'c'", { clientid: 'c' }), false);
  assert.deepEqual(one('SELECT nothing.here AS clientid, clientid AS c2 FROM "t"', { clientid: 'c' }), { clientid: undefined, c2: 'c' });
});

test('WHERE that names nothing selected runs first: a false WHERE skips SELECT', () => {
  let calls = 0;
  const fns = { ...FNS, count: () => ++calls };
  const rule = compileRule('SELECT count() AS n FROM "t/#" WHERE qos = 1', fns);
  assert.equal(rule.run({ qos: 0 }).status, 'no_result');
  assert.equal(calls, 0);
  assert.equal(rule.run({ qos: 1 }).status, 'passed');
  assert.equal(calls, 1);
});

test('functions: called with evaluated arguments; a throw is a failed outcome naming the function; a returned function gets the columns', () => {
  assert.equal(val('upper(clientid)', { clientid: 'ab' }), 'AB');
  const e = failure('SELECT upper(qos) AS v FROM "t"', { qos: 1 });
  assert.equal(e.clause, 'select');
  assert.match(e.message, /^upper\(\): upper needs a string$/);
  const fns = { ...FNS, topic_level: (n: unknown) => (cols: Columns) => String(cols['topic']).split('/')[(n as number) - 1] };
  assert.equal(one('SELECT topic_level(2) AS l FROM "t"', { topic: 'a/b/c' }, fns)['l'], 'b');
  const boom = { ...FNS, boom: () => { throw 'not even an Error'; } };
  const o = outcome('FOREACH [1, 2] DO boom() AS x FROM "t"', {}, boom);
  assert.ok(o.status === 'failed' && o.error.clause === 'do' && /boom\(\): not even an Error/.test(o.error.message));
});

test('FOREACH: INCASE errors are counted as incase; an empty result is no_result', () => {
  const o = outcome("FOREACH payload.l INCASE item - 1 > 0 FROM \"t\"", { payload: '{"l": ["x"]}' });
  assert.ok(o.status === 'failed' && o.error.clause === 'incase');
  assert.equal(outcome('FOREACH payload.l INCASE item > 5 FROM "t"', { payload: '{"l": [1, 2]}' }).status, 'no_result');
  assert.equal(outcome('FOREACH payload.l FROM "t" WHERE qos = 1', { payload: '{"l": [1]}', qos: 0 }).status, 'no_result');
});
