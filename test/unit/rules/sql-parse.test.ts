/**
 * Lexer and parser: what EMQX's grammar accepts (keywords in any case, AS optional, quoted keys,
 * comments, FOREACH's optional clauses), operator precedence as a tree, and errors that name
 * line, column and what was expected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, tokenize, compileRule, RuleSqlError, type Expr } from '../../../broker/src/rules/sql/index.js';
import { FNS } from './sql-helpers.js';

/** A compact rendering of an expression tree, to assert precedence. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'const': return typeof e.value === 'string' ? `'${e.value}'` : String(e.value);
    case 'path': return e.steps.map((s, i) => ('key' in s ? (i ? '.' : '') + s.key : 'index' in s ? `[${String(s.index)}]` : `[${show(s.indexBy)}]`)).join('');
    case 'list': return `[${e.items.map(show).join(', ')}]`;
    case 'range': return `[${e.from}..${e.to}]`;
    case 'slice': return `${show(e.target)}[${e.from}..${e.to}]`;
    case 'neg': return `(-${show(e.arg)})`;
    case 'not': return `(not ${show(e.arg)})`;
    case 'arith': case 'compare': return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case 'and': case 'or': return `(${show(e.left)} ${e.kind} ${show(e.right)})`;
    case 'in': return `(${show(e.arg)} ${e.negated ? 'not in' : 'in'} (${e.list.map(show).join(', ')}))`;
    case 'case': return `case(${e.on ? show(e.on) : ''}; ${e.whens.map((w) => `${show(w.when)}=>${show(w.then)}`).join('; ')}; ${e.otherwise ? show(e.otherwise) : ''})`;
    case 'call': return `${e.name}(${e.args.map(show).join(', ')})`;
  }
}

function where(cond: string): string {
  const st = parse(`SELECT * FROM "t" WHERE ${cond}`);
  return show(st.where!);
}

function parseError(sql: string): RuleSqlError {
  try {
    compileRule(sql, FNS);
  } catch (e) {
    assert.ok(e instanceof RuleSqlError, `not a RuleSqlError: ${String(e)}`);
    return e;
  }
  assert.fail(`accepted: ${sql}`);
}

test('precedence: OR < AND < NOT < comparison < + - < * / div mod < unary minus', () => {
  assert.equal(where('a = 1 or b = 2 and c = 3'), '((a = 1) or ((b = 2) and (c = 3)))');
  assert.equal(where('not a = 1 and b'), '((not (a = 1)) and b)');
  assert.equal(where('a + b * c > d - e / f'), '((a + (b * c)) > (d - (e / f)))');
  assert.equal(where('a div 2 mod 3 = -b * 2'), '(((a div 2) mod 3) = ((-b) * 2))');
  assert.equal(where('a - b - c = 1'), '(((a - b) - c) = 1)');
  assert.equal(where('(a = 1 or b = 2) and c = 3'), '(((a = 1) or (b = 2)) and (c = 3))');
  assert.equal(where('a * (b + c) = 1'), '((a * (b + c)) = 1)');
  assert.equal(where("x in (1, 'a', y) and x not in (2)"), "((x in (1, 'a', y)) and (x not in (2)))");
  assert.equal(where('-3 = a'), '(-3 = a)');
});

test('every comparison operator parses', () => {
  for (const op of ['=', '!=', '<>', '<', '<=', '>', '>=', '=~']) assert.equal(where(`a ${op} 'x'`), `(a ${op} 'x')`);
});

test('keywords in any case; AS optional; paths with quoted keys, numeric keys and indexes', () => {
  const st = parse(`select payload.'key with space' k, pub_props.'User-Property'.k AS up, a.b[1].c[-2], x.1, y[z.i] As w from "t/#" wHeRe true`);
  assert.equal(st.type, 'select');
  const fields = st.fields.map((f) => (f.kind === 'star' ? '*' : `${show(f.expr)}${f.alias ? ' -> ' + f.alias.map((s) => ('key' in s ? s.key : '?')).join('.') : ''}`));
  assert.deepEqual(fields, ['payload.key with space -> k', 'pub_props.User-Property.k -> up', 'a.b[1].c[-2]', 'x.1', 'y[z.i] -> w']);
  assert.equal(show(st.where!), 'true');
  // As in EMQX only lower-case true/false are literals: TRUE is a column named TRUE.
  assert.equal(parse('SELECT TRUE FROM "t"').fields[0]!.kind === 'field' && (parse('SELECT TRUE FROM "t"').fields[0] as { expr: Expr }).expr.kind, 'path');
});

test('literals: integers, floats with exponents, strings without escapes, lists, ranges', () => {
  const st = parse(`SELECT 1, 2.5, 1.5e3, 'a\\nb', 'it''s', [], [1, 'x', [2]], [1..3], a[2..-1] FROM "t"`);
  assert.deepEqual(st.fields.map((f) => (f.kind === 'field' ? show(f.expr) : '*')),
    ['1', '2.5', '1500', "'a\\nb'", "'it''s'", '[]', "[1, 'x', [2]]", '[1..3]', 'a[2..-1]']);
});

test('CASE in both forms, nested in expressions and function arguments', () => {
  const st = parse(`SELECT upper(CASE WHEN a > 1 THEN 'x' ELSE 'y' END) AS u, CASE b WHEN 1 THEN 2 END + 1 FROM "t"`);
  assert.deepEqual(st.fields.map((f) => (f.kind === 'field' ? show(f.expr) : '*')),
    ["upper(case(; (a > 1)=>'x'; 'y'))", '(case(b; 1=>2; ) + 1)']);
});

test('FOREACH with and without DO / INCASE / AS; FROM lists topics and events', () => {
  const a = parse('FOREACH payload.s FROM "t/#"');
  assert.ok(a.type === 'foreach' && a.doFields === null && a.incase === null);
  const b = parse(`foreach payload.s as s do s.a, s.b as b incase s.a > 1 from "t/1", '$events/client_connected' where clientid = 'x'`);
  assert.ok(b.type === 'foreach' && b.doFields!.length === 2 && b.incase !== null && b.where !== null);
  assert.deepEqual(b.from.map((f) => f.name), ['t/1', '$events/client_connected']);
  const c = parse('FOREACH payload.s INCASE item > 1 FROM "t"');
  assert.ok(c.type === 'foreach' && c.doFields === null && c.incase !== null);
});

test('comments run to the end of the line; line breaks anywhere', () => {
  const st = parse('SELECT -- the id\n  clientid\nFROM\n"t/#" -- all of t\nWHERE qos = 1');
  assert.equal(st.fields.length, 1);
  assert.equal(show(st.where!), '(qos = 1)');
});

test('tokens carry line and column', () => {
  const toks = tokenize('SELECT a,\n  b FROM "t"');
  assert.deepEqual(toks.map((t) => `${t.pos.line}:${t.pos.col}`), ['1:1', '1:8', '1:9', '2:3', '2:5', '2:10', '2:13']);
});

test('parse errors name line, column and what was expected', () => {
  let e = parseError('SELECT a FROM "t" WHERE');
  assert.equal(e.code, 'PARSE');
  assert.deepEqual([e.line, e.col], [1, 24]);
  assert.match(e.message, /^rule SQL 1:24: expected an expression but found end of input$/);

  e = parseError('SELECT a,\n  b\nFROM t/a');
  assert.deepEqual([e.line, e.col], [3, 6]);
  assert.match(e.message, /expected a quoted topic or event such as "t\/#" but found t/);

  e = parseError('SELECT a b c FROM "t"');
  assert.deepEqual([e.line, e.col], [1, 12]);
  assert.match(e.message, /expected FROM but found c/);

  e = parseError('UPDATE x');
  assert.match(e.message, /^rule SQL 1:1: expected SELECT or FOREACH but found UPDATE$/);

  e = parseError('SELECT * FROM t/#');
  assert.equal(e.code, 'LEX');
  assert.match(e.message, /1:17: unexpected character "#"/);

  e = parseError('SELECT * FROM "t" WHERE a = 1 = 2');
  assert.deepEqual([e.line, e.col], [1, 31]);

  e = parseError("SELECT 'abc FROM \"t\"");
  assert.equal(e.code, 'LEX');
  assert.deepEqual([e.line, e.col], [1, 8]);
  assert.match(e.message, /unterminated string/);

  e = parseError('SELECT a FROM "t"\nWHERE a ; 1');
  assert.deepEqual([e.line, e.col], [2, 9]);
  assert.match(e.message, /unexpected character ";"/);

  e = parseError('SELECT CASE WHEN a THEN 1 FROM "t"');
  assert.match(e.message, /1:27: expected END but found FROM/);

  e = parseError('SELECT a FROM "t" WHERE a in 1');
  assert.match(e.message, /1:30: expected '\(' but found 1/);

  e = parseError('SELECT a FROM ');
  assert.match(e.message, /expected a quoted topic or event/);

  e = parseError('SELECT a FROM "t" WHERE x = 1 SELECT');
  assert.match(e.message, /1:31: expected WHERE or end of input but found SELECT/);
});

test('compile errors: unknown function (with its position), unknown event, invalid topic filter, module calls', () => {
  let e = parseError('SELECT clientid,\n   nosuch(payload) AS x FROM "t"');
  assert.equal(e.code, 'UNKNOWN_FUNCTION');
  assert.deepEqual([e.line, e.col], [2, 4]);
  assert.match(e.message, /unknown function nosuch\(\)/);

  e = parseError('SELECT * FROM "t", "$events/client_exploded"');
  assert.deepEqual([e.line, e.col], [1, 20]);
  assert.match(e.message, /unknown event "\$events\/client_exploded"/);

  e = parseError('SELECT * FROM "a/#/b"');
  assert.match(e.message, /1:15: invalid topic filter "a\/#\/b"/);

  e = parseError('SELECT emqx_rule_funcs_demo.is_my_topic(topic) FROM "t/#"');
  assert.match(e.message, /calls into modules/);

  e = parseError('FOREACH * FROM "t"');
  assert.match(e.message, /FOREACH takes expressions/);
});

test('function names are looked up in lower case, so UPPER() finds upper', () => {
  assert.doesNotThrow(() => compileRule(`SELECT UPPER(clientid) FROM "t"`, FNS));
});
