/**
 * Bad input: random statements built from the language's own tokens, and random bytes. Compiling
 * either succeeds or throws a RuleSqlError with a line and column inside the text; a compiled rule
 * run over odd columns returns an outcome and never throws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRule, RuleSqlError, type CompiledRule } from '../../../broker/src/rules/sql/index.js';
import { FNS } from './sql-helpers.js';

/** Deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCAB = [
  'SELECT', 'FOREACH', 'DO', 'INCASE', 'FROM', 'WHERE', 'AS', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'AND', 'OR', 'NOT', 'IN',
  'div', 'mod', '*', '+', '-', '/', '=', '!=', '<>', '<', '<=', '>', '>=', '=~', '(', ')', '[', ']', ',', '.',
  '"t/#"', '"$events/client_connected"', "'x'", "'t/+'", '1', '0', '-1', '2.5', '[1..3]', 'true', 'false',
  'payload', 'payload.a', 'payload.l[1]', 'a', 'item', 'topic', 'qos', 'upper(', 'abs(', 'nth(', 'map_new()', '\n', '-- c\n',
];

const COLUMNS: Record<string, unknown>[] = [
  {},
  { payload: '{"a": 1, "l": [1, "2", {"x": null}]}', topic: 't/a', qos: 1, a: 'str', item: [1] },
  { payload: 'not json', topic: '', qos: '1', a: { b: [] } },
  { payload: Buffer.from([0xff, 0xfe]), topic: 5, qos: null, a: [[]] },
];

function checkCompile(sql: string): CompiledRule | null {
  try {
    return compileRule(sql, FNS);
  } catch (e) {
    assert.ok(e instanceof RuleSqlError, `${String(e)} for ${JSON.stringify(sql)}`);
    const lines = sql.split('\n');
    assert.ok(e.line >= 1 && e.line <= lines.length, `line ${e.line} for ${JSON.stringify(sql)}`);
    assert.ok(e.col >= 1 && e.col <= lines[e.line - 1]!.length + 1, `col ${e.col} for ${JSON.stringify(sql)}`);
    return null;
  }
}

test('random token sequences: RuleSqlError or a rule whose run never throws', () => {
  let compiled = 0;
  for (let seed = 1; seed <= 4000; seed++) {
    const rnd = prng(seed);
    const head = rnd() < 0.5 ? 'SELECT ' : 'FOREACH ';
    const n = 1 + Math.floor(rnd() * 14);
    const body: string[] = [];
    for (let i = 0; i < n; i++) body.push(VOCAB[Math.floor(rnd() * VOCAB.length)]!);
    const tail = rnd() < 0.7 ? ' FROM "t/#"' + (rnd() < 0.5 ? ' WHERE ' + body.slice(0, 3).join(' ') : '') : '';
    const sql = head + body.join(' ') + tail;
    const rule = checkCompile(sql);
    if (rule === null) continue;
    compiled++;
    for (const cols of COLUMNS) {
      const o = rule.run(cols);
      assert.ok(o.status === 'passed' || o.status === 'no_result' || o.status === 'failed', sql);
    }
  }
  assert.ok(compiled > 20, `only ${compiled} random statements compiled`);
});

/** A random well-formed expression, so that run() meets every operator over odd values. */
function expr(rnd: () => number, depth: number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  if (depth <= 0 || rnd() < 0.25) {
    return pick(['1', '0', '-2', '2.5', "'x'", "'3'", 'true', 'false', '[1, 2]', '[1..3]', 'payload', 'payload.a', 'payload.l[1]',
      'payload.l[-1].x', 'a', 'a.b[1]', 'topic', 'qos', 'missing', 'item', 'payload.l[1..2]']);
  }
  const e = () => expr(rnd, depth - 1);
  switch (Math.floor(rnd() * 8)) {
    case 0: return `(${e()} ${pick(['+', '-', '*', '/', 'div', 'mod'])} ${e()})`;
    case 1: return `(${e()} ${pick(['=', '!=', '<>', '<', '<=', '>', '>=', '=~'])} ${e()})`;
    case 2: return `(${e()} ${pick(['and', 'or'])} ${e()})`;
    case 3: return `(not ${e()})`;
    case 4: return `(${e()} ${pick(['in', 'not in'])} (${e()}, ${e()}))`;
    case 5: return `CASE WHEN ${e()} THEN ${e()} ELSE ${e()} END`;
    case 6: return `${pick(['upper', 'abs', 'is_map', 'is_not_null'])}(${e()})`;
    default: return `-(${e()})`;
  }
}

test('random well-formed statements compile, and run() over odd columns returns an outcome', () => {
  const counts = { passed: 0, no_result: 0, failed: 0 };
  for (let seed = 1; seed <= 1500; seed++) {
    const rnd = prng(seed);
    const sql = rnd() < 0.5
      ? `SELECT ${expr(rnd, 3)} AS v, ${expr(rnd, 2)} FROM "t/#" WHERE ${expr(rnd, 3)}`
      : `FOREACH ${expr(rnd, 2)} AS item DO ${expr(rnd, 2)} AS v INCASE ${expr(rnd, 2)} FROM "t/#"`;
    let rule: CompiledRule;
    try {
      rule = compileRule(sql, FNS);
    } catch (e) {
      assert.fail(`${String(e)} for ${sql}`);
    }
    for (const cols of COLUMNS) {
      const o = rule.run(cols);
      counts[o.status]++;
      if (o.status === 'failed') assert.ok(o.error.message.length > 0 && o.error.clause !== null, sql);
    }
  }
  // Each kind of outcome happens, so the generator reaches all three.
  assert.ok(counts.passed > 20 && counts.no_result > 100 && counts.failed > 100, JSON.stringify(counts));
});

test('random bytes and truncated statements are refused with a position', () => {
  const rnd = prng(42);
  for (let i = 0; i < 500; i++) {
    const len = Math.floor(rnd() * 40);
    let s = '';
    for (let k = 0; k < len; k++) s += String.fromCharCode(Math.floor(rnd() * 128));
    checkCompile(s);
  }
  const full = `FOREACH payload.sensors as s DO s.name AS n, CASE WHEN s.idx > 1 THEN 'hi' ELSE 'lo' END AS lvl INCASE s.idx in (1, 2) FROM "t/#" WHERE qos = 1`;
  for (let cut = 0; cut < full.length; cut++) checkCompile(full.slice(0, cut));
});
