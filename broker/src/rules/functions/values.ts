/**
 * How EMQX's rule values map onto JavaScript, decided once for every function:
 *
 * - EMQX binaries are both text and bytes. Text is a JS `string`; raw bytes (a payload that is
 *   not text, the result of gzip/hexstr2bin/base64_decode…) are a `Buffer`. Every function that
 *   takes a string also takes a Buffer (read as UTF-8), and every function that takes bytes also
 *   takes a string (its UTF-8 bytes).
 * - Bit strings whose length is not a multiple of 8 (subbits(…, 'bits')) are a `BitString`.
 * - Integers are JS numbers while they are safe integers (|n| ≤ 2^53 − 1); past that a function
 *   returns a `bigint`, as Erlang integers have no limit. Inputs may be either.
 * - A float with an integral value (2.0) cannot be told from an integer in JS: is_float(2.0) is
 *   false here, and str(2.0) is '2', where EMQX says true and '2.0'.
 * - EMQX's `undefined` (a missing field) is `undefined`; JSON `null` is `null`; maps are plain
 *   objects; arrays are arrays; true/false are booleans.
 */
import { badArg } from './errors.js';

export class BitString {
  /** Bits, left-aligned: the last byte's low (8 - bitLength % 8) bits are zero. */
  readonly bytes: Buffer;
  readonly bitLength: number;
  constructor(bytes: Buffer, bitLength: number) {
    this.bytes = bytes;
    this.bitLength = bitLength;
  }
}

export type RuleMap = Record<string, unknown>;

export function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

export function isMap(v: unknown): v is RuleMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof BitString);
}

export function isInt(v: unknown): v is number | bigint {
  return typeof v === 'bigint' || Number.isInteger(v);
}

/** A string argument: a string, bytes read as UTF-8, or true/false (atoms in EMQX). */
export function text(v: unknown, arg: number): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  if (typeof v === 'boolean') return String(v);
  return badArg(arg, 'a string', v);
}

/** A binary argument: bytes, or a string's UTF-8 bytes. */
export function bytes(v: unknown, arg: number): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return badArg(arg, 'a binary', v);
}

export function num(v: unknown, arg: number): number {
  if (typeof v === 'number' && !Number.isNaN(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  return badArg(arg, 'a number', v);
}

export function big(v: unknown, arg: number): bigint {
  if (typeof v === 'bigint') return v;
  if (Number.isInteger(v)) return BigInt(v as number);
  return badArg(arg, 'an integer', v);
}

/** An integer that must fit a JS number (a position, a length, a count). */
export function smallInt(v: unknown, arg: number): number {
  if (Number.isSafeInteger(v)) return v as number;
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return badArg(arg, 'an integer', v);
}

export function array(v: unknown, arg: number): unknown[] {
  if (Array.isArray(v)) return v;
  return badArg(arg, 'an array', v);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** An integer result: a number when safe, else a bigint. */
export function intResult(b: bigint): number | bigint {
  return b <= MAX_SAFE && b >= -MAX_SAFE ? Number(b) : b;
}

/** Splits a finite double into mantissa · 2^exponent, exactly. */
function decompose(x: number): [bigint, number] {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  const hi = dv.getUint32(0);
  const lo = dv.getUint32(4);
  const e = (hi >>> 20) & 0x7ff;
  const m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  return e === 0 ? [m, -1074] : [m | (1n << 52n), e - 1075];
}

/**
 * The exact decimal value of `x` rounded to `decimals` places (half to even), as Erlang's
 * float_to_binary(X, [{decimals, D}]) prints it: float2str(20.2, 17) = '20.19999999999999928'.
 * Number#toFixed stops at 100 places; EMQX allows 253.
 */
export function toFixedExact(x: number, decimals: number): string {
  const neg = x < 0;
  const [mant, exp] = decompose(Math.abs(x));
  const p10 = 10n ** BigInt(decimals);
  let scaled: bigint;
  if (exp >= 0) {
    scaled = (mant << BigInt(exp)) * p10;
  } else {
    const n = mant * p10;
    const den = 1n << BigInt(-exp);
    scaled = n / den;
    const twice = (n % den) * 2n;
    if (twice > den || (twice === den && (scaled & 1n) === 1n)) scaled += 1n;
  }
  const digits = scaled.toString().padStart(decimals + 1, '0');
  const cut = digits.length - decimals;
  const sign = neg && scaled !== 0n ? '-' : '';
  return decimals === 0 ? sign + digits : `${sign}${digits.slice(0, cut)}.${digits.slice(cut)}`;
}

/** Erlang's `compact` option: trailing zeros go, one digit after the point stays. */
export function compact(fixed: string): string {
  if (!fixed.includes('.')) return fixed;
  return fixed.replace(/(\.\d*?[0-9])0+$/, '$1');
}

/** How EMQX turns a number into text (emqx_utils_conv:bin/1): floats keep at most 10 decimals. */
export function numberToText(n: number | bigint): string {
  if (typeof n === 'bigint') return n.toString();
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  return compact(toFixedExact(n, 10));
}

/**
 * Any value as text, as EMQX's str/1, concat and join_to_string do it: maps and arrays as JSON,
 * undefined as 'undefined', null as 'null'.
 */
export function anyToText(v: unknown, arg: number): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return numberToText(v);
  if (typeof v === 'boolean') return String(v);
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return text(v, arg);
  if (Array.isArray(v) || isMap(v)) return jsonEncode(v, arg);
  return badArg(arg, 'a value that has a text form', v);
}

/** JSON text of a rule value; binaries become strings, bigints stay exact. */
export function jsonEncode(v: unknown, arg: number): string {
  if (v === null || v === undefined) return v === null ? 'null' : '"undefined"';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return String(v);
    case 'bigint':
      return v.toString();
    case 'number':
      if (!Number.isFinite(v)) return badArg(arg, 'JSON-encodable (finite numbers)', v);
      return JSON.stringify(v);
    default:
  }
  if (v instanceof Uint8Array) return JSON.stringify(text(v, arg));
  if (Array.isArray(v)) return `[${v.map((x) => jsonEncode(x, arg)).join(',')}]`;
  if (isMap(v)) {
    const parts: string[] = [];
    for (const k of Object.keys(v)) parts.push(`${JSON.stringify(k)}:${jsonEncode(v[k], arg)}`);
    return `{${parts.join(',')}}`;
  }
  return badArg(arg, 'JSON-encodable', v);
}

/** Erlang term equality (==) over rule values, used by contains/2. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    // eslint-disable-next-line eqeqeq
    return a == b;
  }
  if ((typeof a === 'string' || a instanceof Uint8Array) && (typeof b === 'string' || b instanceof Uint8Array)) {
    return Buffer.compare(bytes(a, 1), bytes(b, 1)) === 0;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}
