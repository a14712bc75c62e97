/**
 * Mathematical functions. Erlang's math module raises `badarith` where C would return NaN or
 * ±Infinity (log(0), sqrt(-1), acos(2), an overflowing power…); here every such result is a
 * RuleFunctionError, so a rule fails the same way it does in EMQX.
 */
import { ArgError } from './errors.js';
import { def, type Family } from './family.js';
import { num, big, intResult } from './values.js';

function finite(x: number): number {
  if (!Number.isFinite(x)) throw new ArgError(1, `the argument is outside the function's domain (result ${x})`);
  return x;
}

function unary(f: (x: number) => number) {
  return def(1, 1, (x: unknown) => finite(f(num(x, 1))));
}

/** floor/ceil/round return integers, which may be beyond 2^53 for large floats. */
function toInt(x: number): number | bigint {
  if (!Number.isFinite(x)) throw new ArgError(1, `cannot convert ${x} to an integer`);
  return Number.isSafeInteger(x) ? x : intResult(BigInt(x));
}

function integral(f: (x: number) => number) {
  return def(1, 1, (x: unknown) => (typeof x === 'bigint' ? x : toInt(f(num(x, 1)))));
}

export const MATH: Family = {
  abs: def(1, 1, (x: unknown) => (typeof x === 'bigint' ? (x < 0n ? -x : x) : Math.abs(num(x, 1)))),
  acos: unary(Math.acos),
  acosh: unary(Math.acosh),
  asin: unary(Math.asin),
  asinh: unary(Math.asinh),
  atan: unary(Math.atan),
  atanh: unary(Math.atanh),
  cos: unary(Math.cos),
  cosh: unary(Math.cosh),
  sin: unary(Math.sin),
  sinh: unary(Math.sinh),
  tan: unary(Math.tan),
  tanh: unary(Math.tanh),
  exp: unary(Math.exp),
  log: unary((x) => (x > 0 ? Math.log(x) : NaN)),
  log10: unary((x) => (x > 0 ? Math.log10(x) : NaN)),
  log2: unary((x) => (x > 0 ? Math.log2(x) : NaN)),
  sqrt: unary((x) => (x >= 0 ? Math.sqrt(x) : NaN)),
  ceil: integral(Math.ceil),
  floor: integral(Math.floor),
  // Erlang rounds halves away from zero: round(-4.5) = -5 (Math.round gives -4).
  round: integral((x) => Math.sign(x) * Math.round(Math.abs(x))),
  power: def(2, 2, (x: unknown, y: unknown) => finite(Math.pow(num(x, 1), num(y, 2)))),
  fmod: def(2, 2, (x: unknown, y: unknown) => finite(num(x, 1) % num(y, 2))),
  random: def(0, 0, () => Math.random()),
  // Integer division and remainder, as EMQX's `div` and `mod` (rem: the sign follows X).
  div: def(2, 2, (x: unknown, y: unknown) => {
    const d = big(y, 2);
    if (d === 0n) throw new ArgError(2, 'division by zero');
    return intResult(big(x, 1) / d);
  }),
  mod: def(2, 2, (x: unknown, y: unknown) => {
    const d = big(y, 2);
    if (d === 0n) throw new ArgError(2, 'division by zero');
    return intResult(big(x, 1) % d);
  }),
};
