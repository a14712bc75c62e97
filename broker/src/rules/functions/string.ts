/**
 * String functions (emqx_variform_bif). EMQX's string module counts and cuts in grapheme
 * clusters, so strlen('a\r\nb') is 3 and reverse keeps 'é' (e + combining accent) together;
 * the same here through Intl.Segmenter, with a fast path for text that has no clusters.
 * A string argument may be a Buffer (UTF-8) or true/false; undefined and null are errors,
 * as in EMQX.
 */
import { ArgError, badArg } from './errors.js';
import { def, type Family } from './family.js';
import { anyToText, array, smallInt, text } from './values.js';
import { REGEX } from './regex.js';
import { sprintf } from './sprintf.js';
import { unescape } from './unescape.js';

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
// Any non-ASCII character or a CR LF pair may form a multi-unit cluster.
const MAY_CLUSTER = /[^\x00-\x7f]|\r\n/;

export function graphemes(s: string): string[] {
  if (!MAY_CLUSTER.test(s)) return s.split('');
  return Array.from(segmenter.segment(s), (x) => x.segment);
}

function option(v: unknown, arg: number, allowed: readonly string[]): string {
  const s = v === undefined ? undefined : text(v, arg);
  if (s === undefined || !allowed.includes(s)) return badArg(arg, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v);
  return s;
}

// Erlang's string:trim whitespace: Unicode White_Space; CR LF goes as one cluster.
const LEADING_WS = /^[\s\u0085]+/;
const TRAILING_WS = /[\s\u0085]+$/;

function trimChars(s: string, chars: string, where: 'leading' | 'trailing'): string {
  const set = new Set(graphemes(chars));
  const g = graphemes(s);
  let i = 0;
  let j = g.length;
  if (where === 'leading') while (i < j && set.has(g[i]!)) i++;
  else while (j > i && set.has(g[j - 1]!)) j--;
  return g.slice(i, j).join('');
}

function substr(sv: unknown, startv: unknown, lenv?: unknown): string {
  const g = graphemes(text(sv, 1));
  const start = smallInt(startv, 2);
  if (start < 0) return badArg(2, 'a non-negative integer', startv);
  if (lenv === undefined) return g.slice(start).join('');
  const len = smallInt(lenv, 3);
  if (len < 0) return badArg(3, 'a non-negative integer', lenv);
  return g.slice(start, start + len).join('');
}

function splitAt(s: string, sep: string, where: string): string[] {
  if (sep === '') return [s];
  if (where === 'all') return s.split(sep);
  const i = where === 'leading' ? s.indexOf(sep) : s.lastIndexOf(sep);
  return i < 0 ? [s] : [s.slice(0, i), s.slice(i + sep.length)];
}

const SPLIT_OPTIONS = ['notrim', 'leading', 'leading_notrim', 'trailing', 'trailing_notrim'] as const;

function split(sv: unknown, pv: unknown, ov?: unknown): string[] {
  const s = text(sv, 1);
  const p = text(pv, 2);
  const o = ov === undefined ? 'trim' : option(ov, 3, SPLIT_OPTIONS);
  const where = o === 'trim' || o === 'notrim' ? 'all' : o.replace('_notrim', '');
  const parts = splitAt(s, p, where);
  return o === 'trim' || !o.endsWith('notrim') ? parts.filter((x) => x !== '') : parts;
}

function tokens(sv: unknown, sepv: unknown, crlf?: unknown): string[] {
  const s = text(sv, 1);
  const seps = new Set(graphemes(text(sepv, 2)));
  if (crlf !== undefined) {
    option(crlf, 3, ['nocrlf']);
    seps.add('\r').add('\n').add('\r\n');
  }
  const out: string[] = [];
  let cur = '';
  for (const g of graphemes(s)) {
    if (seps.has(g)) {
      if (cur !== '') out.push(cur);
      cur = '';
    } else cur += g;
  }
  if (cur !== '') out.push(cur);
  return out;
}

function pad(sv: unknown, lenv: unknown, dirv?: unknown, charv?: unknown): string {
  const s = text(sv, 1);
  const len = smallInt(lenv, 2);
  const dir = dirv === undefined ? 'trailing' : option(dirv, 3, ['trailing', 'leading', 'both']);
  // EMQX takes the pad string as one character, however many it holds.
  const ch = charv === undefined ? ' ' : text(charv, 4);
  const missing = len - graphemes(s).length;
  if (missing <= 0) return s;
  if (dir === 'leading') return ch.repeat(missing) + s;
  if (dir === 'trailing') return s + ch.repeat(missing);
  const left = Math.floor(missing / 2);
  return ch.repeat(left) + s + ch.repeat(missing - left);
}

function replace(sv: unknown, pv: unknown, rv: unknown, wv?: unknown): string {
  const s = text(sv, 1);
  const p = text(pv, 2);
  const r = text(rv, 3);
  const where = wv === undefined ? 'all' : option(wv, 4, ['all', 'leading', 'trailing']);
  if (p === '') return s;
  if (where === 'all') return s.split(p).join(r);
  const i = where === 'leading' ? s.indexOf(p) : s.lastIndexOf(p);
  return i < 0 ? s : s.slice(0, i) + r + s.slice(i + p.length);
}

function find(sv: unknown, pv: unknown, dv?: unknown): string {
  const s = text(sv, 1);
  const p = text(pv, 2);
  const dir = dv === undefined ? 'leading' : option(dv, 3, ['leading', 'trailing']);
  const i = dir === 'leading' ? s.indexOf(p) : s.lastIndexOf(p);
  return i < 0 ? '' : s.slice(i);
}

function joinToString(a: unknown, b?: unknown): string {
  const [sep, list] = b === undefined ? [', ', array(a, 1)] : [text(a, 1), array(b, 2)];
  return list.map((x) => anyToText(x, b === undefined ? 1 : 2)).join(sep);
}

function concat(a: unknown, b?: unknown): string {
  if (b === undefined && Array.isArray(a)) return a.map((x) => anyToText(x, 1)).join('');
  return anyToText(a, 1) + anyToText(b, 2);
}

export const STRING: Family = {
  lower: def(1, 1, (s: unknown) => text(s, 1).toLowerCase()),
  upper: def(1, 1, (s: unknown) => text(s, 1).toUpperCase()),
  trim: def(1, 1, (s: unknown) => text(s, 1).replace(LEADING_WS, '').replace(TRAILING_WS, '')),
  ltrim: def(1, 1, (s: unknown) => text(s, 1).replace(LEADING_WS, '')),
  rtrim: def(1, 2, (s: unknown, chars?: unknown) =>
    chars === undefined ? text(s, 1).replace(TRAILING_WS, '') : trimChars(text(s, 1), text(chars, 2), 'trailing')),
  reverse: def(1, 1, (s: unknown) => graphemes(text(s, 1)).reverse().join('')),
  strlen: def(1, 1, (s: unknown) => graphemes(text(s, 1)).length),
  substr: def(2, 3, substr),
  split: def(2, 3, split),
  tokens: def(2, 3, tokens),
  concat: def(1, 2, concat),
  sprintf: def(1, Infinity, (f: unknown, ...args: unknown[]) => sprintf(text(f, 1), args)),
  sprintf_s: def(2, 2, (f: unknown, args: unknown) => sprintf(text(f, 1), array(args, 2))),
  pad: def(2, 4, pad),
  replace: def(3, 4, replace),
  find: def(2, 3, find),
  ascii: def(1, 1, (c: unknown) => {
    const b = Buffer.from(text(c, 1), 'utf8');
    if (b.length === 0) throw new ArgError(1, 'argument 1 is an empty string');
    return b[0];
  }),
  rm_prefix: def(2, 2, (s: unknown, p: unknown) => {
    const str = text(s, 1);
    const pre = text(p, 2);
    return str.startsWith(pre) ? str.slice(pre.length) : str;
  }),
  join_to_string: def(1, 2, joinToString),
  unescape: def(1, 1, (s: unknown) => unescape(text(s, 1))),
  ...REGEX,
};
