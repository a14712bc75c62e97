/**
 * Encoding and decoding: base64 (with EMQX's 'urlsafe' and 'no_padding' options), JSON, and
 * hex (bin2hexstr upper-case, as in EMQX; hexstr2bin takes either case and an odd length).
 * Decoders are strict: a character outside the alphabet is an error, not silently skipped.
 */
import { ArgError, badArg } from './errors.js';
import { def, type Family } from './family.js';
import { BitString, big, bytes, jsonEncode, text } from './values.js';

interface B64Options { urlsafe: boolean; padding: boolean }

function b64Options(opts: readonly unknown[], first: number): B64Options {
  const o = { urlsafe: false, padding: true };
  opts.forEach((v, i) => {
    const s = text(v, first + i);
    if (s === 'urlsafe') o.urlsafe = true;
    else if (s === 'no_padding') o.padding = false;
    // EMQX ignores any other option; so do we.
  });
  return o;
}

function b64Encode(d: unknown, ...opts: unknown[]): string {
  const o = b64Options(opts, 2);
  let s = bytes(d, 1).toString(o.urlsafe ? 'base64url' : 'base64');
  if (o.urlsafe && o.padding) s += '='.repeat((4 - (s.length % 4)) % 4);
  if (!o.urlsafe && !o.padding) s = s.replace(/=+$/, '');
  return s;
}

function b64Decode(d: unknown, ...opts: unknown[]): Buffer {
  const o = b64Options(opts, 2);
  // Erlang's base64:decode skips whitespace and nothing else.
  const s = text(d, 1).replace(/[ \t\r\n]/g, '');
  const alphabet = o.urlsafe ? /^[A-Za-z0-9_-]*={0,2}$/ : /^[A-Za-z0-9+/]*={0,2}$/;
  const body = s.replace(/=+$/, '');
  const validLength = o.padding ? s.length % 4 === 0 : body.length % 4 !== 1;
  if (!alphabet.test(s) || !validLength) throw new ArgError(1, 'argument 1 is not valid base64');
  return Buffer.from(body, o.urlsafe ? 'base64url' : 'base64');
}

const HEX = /^[0-9a-fA-F]*$/;

function hexToBin(s: string, arg: number): Buffer {
  if (!HEX.test(s)) return badArg(arg, 'a string of hex digits', s);
  return Buffer.from(s.length % 2 === 1 ? '0' + s : s, 'hex');
}

/**
 * Bit strings that are not whole bytes are padded with zero bits in front; if that padding is
 * 4 bits or more, the first (all-zero) hex digit is left out: <<1:4, 2>> → '102'.
 */
function binToHex(v: unknown): string {
  if (!(v instanceof BitString)) return bytes(v, 1).toString('hex').toUpperCase();
  const pad = 8 - (v.bitLength % 8);
  let n = 0n;
  for (let i = 0; i < v.bitLength; i++) n = (n << 1n) | BigInt((v.bytes[i >> 3]! >> (7 - (i & 7))) & 1);
  const hex = n.toString(16).toUpperCase().padStart(((v.bitLength + pad) / 8) * 2, '0');
  return pad >= 4 ? hex.slice(1) : hex;
}

function json(d: unknown): unknown {
  try {
    return JSON.parse(text(d, 1));
  } catch (err) {
    if (err instanceof ArgError) throw err;
    throw new ArgError(1, `argument 1 is not valid JSON: ${(err as Error).message}`);
  }
}

export const ENCODE: Family = {
  base64_encode: def(1, 3, b64Encode),
  base64_decode: def(1, 3, b64Decode),
  json_encode: def(1, 1, (d: unknown) => jsonEncode(d, 1)),
  json_decode: def(1, 1, json),
  bin2hexstr: def(1, 2, (b: unknown, prefix?: unknown) => (prefix === undefined ? '' : text(prefix, 2)) + binToHex(b)),
  sqlserver_bin2hexstr: def(1, 1, (b: unknown) => '0x' + binToHex(b)),
  hexstr2bin: def(1, 2, (s: unknown, prefix?: unknown) => {
    const str = text(s, 1);
    if (prefix === undefined) return hexToBin(str, 1);
    const p = text(prefix, 2);
    if (!str.startsWith(p)) throw new ArgError(2, `argument 1 does not start with the prefix ${JSON.stringify(p)}`);
    return hexToBin(str.slice(p.length), 1);
  }),
  int2hexstr: def(1, 1, (n: unknown) => big(n, 1).toString(16).toUpperCase()),
};
