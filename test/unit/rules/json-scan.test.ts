/**
 * The flat-object scan behind `payload.x` (rules/sql/json-scan.ts) agrees with JSON.parse: the
 * same value for every key on valid flat objects, SLOW (never a wrong answer) on anything it does
 * not read — nesting, escapes, bad numbers, trailing commas, text after the object — checked
 * over a corpus of edge cases and random mutations of valid objects.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { topLevelValue, topLevelValueBytes, SLOW } from '../../../broker/src/rules/sql/json-scan.js';

function viaParse(s: string, key: string): unknown {
  const v = JSON.parse(s) as unknown;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  return Object.prototype.hasOwnProperty.call(v, key) ? (v as Record<string, unknown>)[key] : undefined;
}

/**
 * Both scans (text, bytes) answer SLOW or exactly what JSON.parse of the decoded text gives;
 * invalid JSON is always SLOW.
 */
function agrees(s: string | Buffer, key: string): void {
  const text = typeof s === 'string' ? s : s.toString();
  const answers = [topLevelValueBytes(Buffer.from(s as string), Buffer.from(key))];
  if (typeof s === 'string') answers.push(topLevelValue(s, key));
  let want: unknown;
  try { want = viaParse(text, key); } catch {
    for (const got of answers) assert.equal(got, SLOW, `invalid JSON ${JSON.stringify(text)} must be SLOW`);
    return;
  }
  for (const got of answers) if (got !== SLOW) assert.deepStrictEqual(got, want, `${JSON.stringify(text)} [${key}]`);
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
  it('reads bytes like the decoded text: non-ASCII keys and values, invalid UTF-8 inside a string', () => {
    const k = Buffer.from('hé');
    assert.equal(topLevelValueBytes(Buffer.from('{"hé":"über","x":2}'), k), 'über');
    assert.equal(topLevelValueBytes(Buffer.from('{"x":-12,"y":3.25e2}'), Buffer.from('y')), 325);
    const bad = Buffer.concat([Buffer.from('{"s":"a'), Buffer.from([0xff, 0xc3]), Buffer.from('","x":1}')]);
    agrees(bad, 's');
    agrees(bad, 'x');
    assert.equal(topLevelValueBytes(bad, Buffer.from('x')), 1);
  });

  it('never disagrees with JSON.parse over random mutations', () => {
    const seeds = ['{"x":42,"pad":"aaaa"}', '{"t":-0.5e-3,"ok":true,"n":null,"s":"v"}', '{ "a" : 1 , "b" : false }', '{"x":1,"x":"two"}'];
    const alphabet = '{}[]":,.-+eE0123456789 tfnrulsax\\\t\n\u00e9';
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
  it('decimals read from bytes are the same doubles JSON.parse gives', () => {
    let seed = 99;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    for (let k = 0; k < 50000; k++) {
      const digits = 1 + rnd(17);
      let t = '';
      for (let d = 0; d < digits; d++) t += String(rnd(10));
      const dot = rnd(digits + 1);
      let num = (dot > 0 && dot < digits ? `${t.slice(0, dot)}.${t.slice(dot)}` : t).replace(/^0+(?=\d)/, '');
      if (rnd(2) === 1) num = `-${num}`;
      const text = `{"x":${num}}`;
      const got = topLevelValueBytes(Buffer.from(text), Buffer.from('x'));
      assert.ok(Object.is(got, (JSON.parse(text) as { x: number }).x), text);
    }
  });
});
