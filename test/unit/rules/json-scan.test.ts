/**
 * The flat-object scan behind `payload.x` (rules/sql/json-scan.ts) agrees with JSON.parse: the
 * same value for every key on valid flat objects, SLOW (never a wrong answer) on anything it does
 * not read — nesting, escapes, bad numbers, trailing commas, text after the object — checked
 * over a corpus of edge cases and random mutations of valid objects.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { topLevelValue, SLOW } from '../../../broker/src/rules/sql/json-scan.js';

function viaParse(s: string, key: string): unknown {
  const v = JSON.parse(s) as unknown;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  return Object.prototype.hasOwnProperty.call(v, key) ? (v as Record<string, unknown>)[key] : undefined;
}

/** The scan either answers SLOW or exactly what JSON.parse gives; invalid JSON is always SLOW. */
function agrees(s: string, key: string): void {
  const got = topLevelValue(s, key);
  let want: unknown;
  try { want = viaParse(s, key); } catch {
    assert.equal(got, SLOW, `invalid JSON ${JSON.stringify(s)} must be SLOW`);
    return;
  }
  if (got !== SLOW) assert.deepStrictEqual(got, want, `${JSON.stringify(s)} [${key}]`);
}

describe('topLevelValue', () => {
  it('reads flat objects like JSON.parse', () => {
    assert.equal(topLevelValue('{"x":42,"pad":"aaa"}', 'x'), 42);
    assert.equal(topLevelValue(' { "x" : -1.5e3 , "y":true } ', 'x'), -1500);
    assert.equal(topLevelValue('{"x":1,"x":2}', 'x'), 2);
    assert.equal(topLevelValue('{"a":null}', 'a'), null);
    assert.equal(topLevelValue('{"a":"h\u00e9llo"}', 'a'), 'h\u00e9llo');
    assert.equal(topLevelValue('{"a":1}', 'b'), undefined);
    assert.equal(topLevelValue('{}', 'b'), undefined);
    assert.equal(topLevelValue('{"__proto__":5}', '__proto__'), 5);
  });
  it('answers SLOW for what it does not read, and for invalid JSON', () => {
    for (const s of ['{"a":{"b":1}}', '{"a":[1]}', '{"a":"x\\"y"}', '{"a\\u0041":1}', '[1]', '42', '"s"', '',
      '{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":+1}', '{"a":-}', '{"a":1e}', '{"a":1,}', '{,}', '{"a":1}x', '{"a" 1}',
      '{"a":tru}', '{"a":truex}', '{"a":"\u0001"}', '{"a":1', '{"a":"x']) {
      assert.equal(topLevelValue(s, 'a'), SLOW, JSON.stringify(s));
    }
  });
  it('never disagrees with JSON.parse over random mutations', () => {
    const seeds = ['{"x":42,"pad":"aaaa"}', '{"t":-0.5e-3,"ok":true,"n":null,"s":"v"}', '{ "a" : 1 , "b" : false }', '{"x":1,"x":"two"}'];
    const alphabet = '{}[]":,.-+eE0123456789 tfnrulsax\\\t\n';
    let seed = 12345;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    for (let k = 0; k < 20000; k++) {
      let s = seeds[rnd(seeds.length)]!;
      for (let m = rnd(3) + 1; m > 0; m--) {
        const at = rnd(s.length + 1);
        const op = rnd(3);
        const ch = alphabet[rnd(alphabet.length)]!;
        s = op === 0 ? s.slice(0, at) + ch + s.slice(at) : op === 1 ? s.slice(0, at) + s.slice(at + 1) : s.slice(0, at) + ch + s.slice(at + 1);
      }
      for (const key of ['x', 'a', 't', 'pad', 'zz']) agrees(s, key);
    }
  });
});
