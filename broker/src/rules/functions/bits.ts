/**
 * Bit operations on integers (Erlang's band/bor/bxor/bnot/bsl/bsr: arbitrary precision, two's
 * complement semantics for negatives, so BigInt here — JS `&` would cut to 32 bits) and bit
 * sequence operations on binaries (bitsize, bytesize, subbits).
 */
import { ArgError, badArg } from './errors.js';
import { def, type Family } from './family.js';
import { BitString, big, intResult, smallInt, text } from './values.js';

/** Shifts past this would build a multi-megabyte integer out of one rule argument. */
const MAX_SHIFT = 65536;

function shift(n: unknown): bigint {
  const s = smallInt(n, 2);
  if (Math.abs(s) > MAX_SHIFT) throw new ArgError(2, `shift of ${s} bits is beyond the supported ${MAX_SHIFT}`);
  return BigInt(s);
}

interface Bits {
  readonly bytes: Uint8Array;
  readonly bitLength: number;
}

function bitsOf(v: unknown, arg: number): Bits {
  if (v instanceof BitString) return v;
  if (v instanceof Uint8Array) return { bytes: v, bitLength: v.length * 8 };
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return { bytes: b, bitLength: b.length * 8 };
  }
  return badArg(arg, 'a binary', v);
}

function bitAt(src: Bits, i: number): number {
  return (src.bytes[i >> 3]! >> (7 - (i & 7))) & 1;
}

/** `len` bits from bit `off`, most significant first. */
function readBig(src: Bits, off: number, len: number): bigint {
  let v = 0n;
  let i = 0;
  for (; i < len && ((off + i) & 7) !== 0; i++) v = (v << 1n) | BigInt(bitAt(src, off + i));
  for (; i + 8 <= len; i += 8) v = (v << 8n) | BigInt(src.bytes[(off + i) >> 3]!);
  for (; i < len; i++) v = (v << 1n) | BigInt(bitAt(src, off + i));
  return v;
}

function slice(src: Bits, off: number, len: number): Buffer | BitString {
  const out = Buffer.alloc(Math.ceil(len / 8));
  for (let i = 0; i < len; i++) if (bitAt(src, off + i)) out[i >> 3]! |= 0x80 >> (i & 7);
  return len % 8 === 0 ? out : new BitString(out, len);
}

/**
 * Erlang's little-endian integer of `len` bits: whole bytes from the start are the least
 * significant; a trailing partial byte holds the most significant bits.
 */
function littleEndian(v: bigint, len: number): bigint {
  const full = Math.floor(len / 8);
  const rest = len % 8;
  let out = 0n;
  for (let i = 0; i < full; i++) {
    const byte = (v >> BigInt(len - 8 * (i + 1))) & 0xffn;
    out |= byte << BigInt(8 * i);
  }
  if (rest > 0) out |= (v & ((1n << BigInt(rest)) - 1n)) << BigInt(8 * full);
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

function toFloat(v: bigint, len: number): number {
  let x: number;
  if (len === 16) x = halfToFloat(Number(v));
  else if (len === 32) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(Number(v));
    x = b.readFloatBE(0);
  } else if (len === 64) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    x = b.readDoubleBE(0);
  } else throw new ArgError(3, `a float is 16, 32 or 64 bits, not ${len}`);
  if (!Number.isFinite(x)) throw new ArgError(1, 'the bits are not a finite float');
  return x;
}

const TYPES = new Set(['integer', 'float', 'bits']);
const SIGNS = new Set(['signed', 'unsigned']);
const ENDIANS = new Set(['big', 'little']);

function option(v: unknown, arg: number, allowed: Set<string>): string {
  const s = typeof v === 'string' || v instanceof Uint8Array ? text(v, arg) : undefined;
  if (s === undefined || !allowed.has(s)) return badArg(arg, `one of ${[...allowed].map((x) => `'${x}'`).join(', ')}`, v);
  return s;
}

/**
 * subbits(Bin, [Start = 1,] Len [, Type = 'integer', Signedness = 'unsigned', Endianness = 'big']).
 * Start is 1-based; past the end → undefined; a Len longer than what is left takes what is left.
 */
function subbits(binArg: unknown, ...rest: unknown[]): unknown {
  const src = bitsOf(binArg, 1);
  const [startArg, lenArg] = rest.length === 1 ? [1, rest[0]] : [rest[0], rest[1]];
  const lenPos = rest.length === 1 ? 2 : 3;
  const start = smallInt(startArg, 2);
  const len = smallInt(lenArg, lenPos);
  if (len < 0) return badArg(lenPos, 'a non-negative integer', lenArg);
  const type = rest.length > 2 ? option(rest[2], 4, TYPES) : 'integer';
  const sign = rest.length > 3 ? option(rest[3], 5, SIGNS) : 'unsigned';
  const endian = rest.length > 4 ? option(rest[4], 6, ENDIANS) : 'big';
  const off = start - 1;
  if (off < 0 || off >= src.bitLength) return undefined;
  const n = Math.min(len, src.bitLength - off);
  if (type === 'bits') return slice(src, off, n);
  if (type === 'integer' && endian === 'big' && n <= 48) {
    // The common case (a field of a binary payload) in plain numbers: no BigInt allocation.
    let x = 0;
    for (let i = 0; i < n; i++) x = x * 2 + bitAt(src, off + i);
    return sign === 'signed' && n > 0 && x >= 2 ** (n - 1) ? x - 2 ** n : x;
  }
  let v = readBig(src, off, n);
  if (endian === 'little') v = littleEndian(v, n);
  if (type === 'float') return toFloat(v, n);
  if (sign === 'signed' && n > 0 && v >> BigInt(n - 1) === 1n) v -= 1n << BigInt(n);
  return intResult(v);
}

export const BITS: Family = {
  bitnot: def(1, 1, (x: unknown) => intResult(~big(x, 1))),
  bitand: def(2, 2, (x: unknown, y: unknown) => intResult(big(x, 1) & big(y, 2))),
  bitor: def(2, 2, (x: unknown, y: unknown) => intResult(big(x, 1) | big(y, 2))),
  bitxor: def(2, 2, (x: unknown, y: unknown) => intResult(big(x, 1) ^ big(y, 2))),
  bitsl: def(2, 2, (x: unknown, n: unknown) => intResult(big(x, 1) << shift(n))),
  bitsr: def(2, 2, (x: unknown, n: unknown) => intResult(big(x, 1) >> shift(n))),
  bitsize: def(1, 1, (b: unknown) => bitsOf(b, 1).bitLength),
  bytesize: def(1, 1, (b: unknown) => {
    const bits = bitsOf(b, 1);
    if (bits.bitLength % 8 !== 0) return badArg(1, 'a binary (whole bytes)', b);
    return bits.bitLength / 8;
  }),
  subbits: def(2, 6, subbits),
};
