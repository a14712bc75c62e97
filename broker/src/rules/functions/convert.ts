/**
 * Type conversion (emqx_utils_conv): str, str_utf8, str_utf16_le, bool, int, float, float2str,
 * map. Strings are parsed the way Erlang's binary_to_integer / binary_to_float do: an integer
 * is digits with an optional sign; a float needs digits on both sides of the point
 * ('3.14', '3.14e4'), so '1e5', ' 1' and '1.' are errors.
 */
import { ArgError, badArg } from './errors.js';
import { def, type Family } from './family.js';
import {
  anyToText, compact, intResult, isMap, smallInt, text, toFixedExact, type RuleMap,
} from './values.js';

const INTEGER = /^[+-]?\d+$/;
const FLOAT = /^[+-]?\d+\.\d+(?:[eE][+-]?\d+)?$/;

function floorToInt(x: number, arg: number): number | bigint {
  if (!Number.isFinite(x)) return badArg(arg, 'a finite number', x);
  const f = Math.floor(x);
  return Number.isSafeInteger(f) ? f : intResult(BigInt(f));
}

export function toInt(v: unknown, arg: number): number | bigint {
  if (typeof v === 'bigint') return intResult(v);
  if (typeof v === 'number') return floorToInt(v, arg);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' || v instanceof Uint8Array) {
    const s = text(v, arg);
    if (INTEGER.test(s)) return intResult(BigInt(s));
    if (FLOAT.test(s)) return floorToInt(Number(s), arg);
  }
  return badArg(arg, 'an integer, a float, a boolean or a numeric string', v);
}

export function toFloat(v: unknown, arg: number): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' || v instanceof Uint8Array) {
    const s = text(v, arg);
    if (FLOAT.test(s) || INTEGER.test(s)) {
      const x = Number(s);
      if (Number.isFinite(x)) return x;
    }
  }
  return badArg(arg, 'a number or a numeric string', v);
}

function decimals(v: unknown, arg: number, min: number): number {
  const d = smallInt(v, arg);
  if (d < min || d > 253) return badArg(arg, `an integer in ${min}..253`, v);
  return d;
}

function toBool(v: unknown): boolean {
  if (v === true || v === 'true' || v === 1 || v === 1n) return true;
  if (v === false || v === 'false' || v === 0 || v === 0n) return false;
  if (v instanceof Uint8Array) return toBool(text(v, 1));
  return badArg(1, "true, false, 1, 0, 'true' or 'false'", v);
}

export function toMap(v: unknown, arg: number): RuleMap {
  if (isMap(v)) return v;
  if (typeof v === 'string' || v instanceof Uint8Array) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text(v, arg));
    } catch {
      throw new ArgError(arg, `argument ${arg} is not valid JSON`);
    }
    if (isMap(parsed)) return parsed;
    return badArg(arg, 'a JSON object', v);
  }
  if (Array.isArray(v) && v.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string')) {
    return Object.fromEntries(v as [string, unknown][]);
  }
  return badArg(arg, 'a map, a JSON object string or an array of [key, value] pairs', v);
}

export const CONVERT: Family = {
  str: def(1, 1, (v: unknown) => anyToText(v, 1)),
  str_utf8: def(1, 1, (v: unknown) => anyToText(v, 1)),
  str_utf16_le: def(1, 1, (v: unknown) => Buffer.from(anyToText(v, 1), 'utf16le')),
  bool: def(1, 1, toBool),
  int: def(1, 1, (v: unknown) => toInt(v, 1)),
  float: def(1, 2, (v: unknown, d?: unknown) => {
    const x = toFloat(v, 1);
    return d === undefined ? x : Number(toFixedExact(x, decimals(d, 2, 1)));
  }),
  float2str: def(2, 2, (v: unknown, d: unknown) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return badArg(1, 'a float', v);
    return compact(toFixedExact(v, decimals(d, 2, 0)));
  }),
  map: def(1, 1, (v: unknown) => toMap(v, 1)),
};
