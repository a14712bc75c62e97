/**
 * unescape/1: SQL string literals keep backslashes as typed, so '\n' in a rule is two
 * characters; unescape turns C escapes and \xHH… into the characters they name. An unknown
 * escape or a hex code that is not a Unicode scalar value is an error, as in EMQX.
 */
import { ArgError } from './errors.js';

const SIMPLE: Readonly<Record<string, string>> = {
  '\\': '\\', n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', "'": "'", '"': '"', '?': '?', a: '\x07',
};

export function unescape(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const e = s[i + 1]!;
    const simple = SIMPLE[e];
    if (simple !== undefined) {
      out += simple;
      i += 1;
      continue;
    }
    const hex = e === 'x' ? /^[0-9a-fA-F]+/.exec(s.slice(i + 2)) : null;
    if (hex === null) throw new ArgError(1, `unrecognized escape sequence \\${e}`);
    const code = parseInt(hex[0], 16);
    if (hex[0].length > 8 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      throw new ArgError(1, `\\x${hex[0]} is not a valid Unicode character`);
    }
    out += String.fromCodePoint(code);
    i += 1 + hex[0].length;
  }
  return out;
}
