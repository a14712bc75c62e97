// Examples quoted from EMQX's "Built-in SQL Functions" page (Mathematical Functions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, close, fails } from './fn-helpers.js';

const doc: [string, unknown[], number][] = [
  ['acos', [0.5], 1.0471975511965976],
  ['acosh', [1.5], 0.9624236501192069],
  ['asin', [0.5], 0.5235987755982988],
  ['asinh', [0.5], 0.48121182505960347],
  ['atan', [0.5], 0.46364760900080615],
  ['atanh', [0.5], 0.5493061443340549],
  ['cos', [0.5], 0.8775825618903728],
  ['cosh', [0.5], 1.1276259652063807],
  ['exp', [1], 2.718281828459045],
  ['fmod', [6.5, 2.5], 1.5],
  ['log', [7.38905609893065], 2.0],
  ['log10', [100], 2.0],
  ['log2', [8], 3.0],
  ['power', [2, 3], 8.0],
  ['sin', [0.5], 0.479425538604203],
  ['sinh', [0.5], 0.5210953054937474],
  ['sqrt', [9], 3.0],
  ['tan', [0.5], 0.5463024898437905],
  ['tanh', [0.5], 0.46211715726000974],
];

for (const [name, args, expected] of doc) {
  test(`${name}(${args.join(', ')}) = ${expected}; a string argument fails`, () => {
    close(call(name, ...args), expected);
    fails(name, args.map(() => 'x'), 1);
    fails(name, [], undefined);
  });
}

test("abs(-12) = 12, abs(-1.2) = 1.2; abs('a') fails", () => {
  assert.equal(call('abs', -12), 12);
  assert.equal(call('abs', -1.2), 1.2);
  assert.equal(call('abs', -(2n ** 70n)), 2n ** 70n);
  fails('abs', ['a'], 1);
  fails('abs', [undefined], 1);
});

test('ceil(0.8) = 1, floor(3.6) = 3, round(4.5) = 5 (halves away from zero, as Erlang)', () => {
  assert.equal(call('ceil', 0.8), 1);
  assert.equal(call('floor', 3.6), 3);
  assert.equal(call('round', 4.5), 5);
  assert.equal(call('round', -4.5), -5);
  assert.equal(call('round', 1.34), 1); // 4.x docs: round(1.34) = 1, round(1.54) = 2
  assert.equal(call('round', 1.54), 2);
  assert.equal(call('floor', 1e300) as bigint > 0n, true);
  for (const f of ['ceil', 'floor', 'round']) fails(f, ['1.5'], 1);
});

test('log2(8.5) = 3.0874628412503395; log10(1000) = 3, log2(1024) = 10 (4.x docs)', () => {
  close(call('log2', 8.5), 3.0874628412503395);
  close(call('log10', 1000), 3);
  close(call('log2', 1024), 10);
});

test('fmod(-32, 5) = -2, power(2, 10) = 1024 (4.x docs)', () => {
  assert.equal(call('fmod', -32, 5), -2);
  assert.equal(call('power', 2, 10), 1024);
});

test('domain errors are rule failures, as Erlang badarith: log(0), sqrt(-1), acos(2), fmod(1, 0), power(10, 400)', () => {
  fails('log', [0], 1);
  fails('log10', [-1], 1);
  fails('sqrt', [-1], 1);
  fails('acos', [2], 1);
  fails('atanh', [1], 1);
  fails('fmod', [1, 0]);
  fails('power', [10, 400]);
  fails('exp', [1000]);
});

test('random() is in [0, 1) and takes no argument', () => {
  for (let i = 0; i < 100; i++) {
    const r = call('random') as number;
    assert.ok(r >= 0 && r < 1);
  }
  fails('random', [1]);
});

test('div and mod are integer division and remainder (sign of the dividend)', () => {
  assert.equal(call('div', 7, 2), 3);
  assert.equal(call('div', -7, 2), -3);
  assert.equal(call('mod', -7, 2), -1);
  fails('div', [1, 0], 2);
  fails('mod', [1.5, 2], 1);
});
