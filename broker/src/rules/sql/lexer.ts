/**
 * Tokens of EMQX's rule SQL (its rulesql lexer, re-derived): keywords are case-insensitive;
 * 'single quotes' make a string and "double quotes" a name (a topic in FROM, a column elsewhere);
 * neither has escape sequences (EMQX's `unescape()` exists for that), and a doubled quote does not
 * end the token. `[1..4]` is one range token. `-- comment` runs to the end of the line.
 */
import { RuleSqlError } from './errors.js';
import type { Pos } from './ast.js';

export const KEYWORDS = new Set([
  'AND', 'AS', 'CASE', 'IF', 'ELSE', 'ELSIF', 'FROM', 'IN', 'NOT', 'OR', 'SELECT', 'WHEN', 'THEN',
  'FOREACH', 'INCASE', 'END', 'DO', 'WHERE', 'DIV', 'MOD',
]);

export type Token =
  | { readonly t: 'kw'; readonly v: string; readonly text: string; readonly pos: Pos }
  | { readonly t: 'name'; readonly v: string; readonly quoted: boolean; readonly pos: Pos }
  | { readonly t: 'string'; readonly v: string; readonly pos: Pos }
  | { readonly t: 'int' | 'float'; readonly v: number; readonly text: string; readonly pos: Pos }
  | { readonly t: 'range'; readonly from: number; readonly to: number; readonly pos: Pos }
  | { readonly t: 'op'; readonly v: string; readonly pos: Pos }
  | { readonly t: 'eof'; readonly pos: Pos };

const NAME_START = /[A-Za-z]/;
const NAME_REST = /[A-Za-z0-9_$@~]/;
const RANGE = /\[([-+]?\d+)\.\.([-+]?\d+)\]/y;
const NUMBER = /(\d+)(\.\d+)?([eE][-+]?\d+)?[fFdD]?/y;
const TWO_CHAR_OPS = new Set(['=~', '!=', '<>', '<=', '>=']);
const ONE_CHAR_OPS = '=<>+-*/()[],.';

export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (at: number): Pos => ({ line, col: at - lineStart + 1 });
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === '\n') { i++; line++; lineStart = i; continue; }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
      continue;
    }
    const start = pos(i);
    if (c === "'" || c === '"') {
      const end = quotedEnd(sql, i, c);
      if (end < 0) throw new RuleSqlError('LEX', start.line, start.col, `unterminated ${c === "'" ? 'string' : 'quoted name'} starting here`);
      const text = sql.slice(i + 1, end);
      out.push(c === "'" ? { t: 'string', v: text, pos: start } : { t: 'name', v: text, quoted: true, pos: start });
      // A quoted token may span lines: keep the line count right for what follows.
      for (let k = i; k < end; k++) if (sql[k] === '\n') { line++; lineStart = k + 1; }
      i = end + 1;
      continue;
    }
    if (c === '[') {
      RANGE.lastIndex = i;
      const m = RANGE.exec(sql);
      if (m) {
        out.push({ t: 'range', from: Number(m[1]), to: Number(m[2]), pos: start });
        i += m[0].length;
        continue;
      }
    }
    if (c >= '0' && c <= '9') {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(sql)!;
      const isFloat = m[2] !== undefined || m[3] !== undefined;
      const text = m[0].replace(/[fFdD]$/, '');
      if (!isFloat && /[fFdD]$/.test(m[0])) {
        throw new RuleSqlError('LEX', start.line, start.col, `bad number ${JSON.stringify(m[0])}`);
      }
      out.push({ t: isFloat ? 'float' : 'int', v: Number(text), text, pos: start });
      i += m[0].length;
      continue;
    }
    if (NAME_START.test(c)) {
      let j = i + 1;
      while (j < n && NAME_REST.test(sql[j]!)) j++;
      const word = sql.slice(i, j);
      const upper = word.toUpperCase();
      out.push(KEYWORDS.has(upper) ? { t: 'kw', v: upper, text: word, pos: start } : { t: 'name', v: word, quoted: false, pos: start });
      i = j;
      continue;
    }
    const two = sql.slice(i, i + 2);
    if (TWO_CHAR_OPS.has(two)) { out.push({ t: 'op', v: two, pos: start }); i += 2; continue; }
    if (ONE_CHAR_OPS.includes(c)) { out.push({ t: 'op', v: c, pos: start }); i++; continue; }
    throw new RuleSqlError('LEX', start.line, start.col, `unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ t: 'eof', pos: pos(i) });
  return out;
}

/** Index of the closing quote; a doubled quote inside belongs to the token, as in EMQX's lexer. */
function quotedEnd(sql: string, open: number, q: string): number {
  let i = open + 1;
  for (;;) {
    const j = sql.indexOf(q, i);
    if (j < 0) return -1;
    if (sql[j + 1] === q) { i = j + 2; continue; }
    return j;
  }
}

/** How a token reads in an error message. */
export function describe(tok: Token): string {
  switch (tok.t) {
    case 'eof': return 'end of input';
    case 'kw': return tok.v;
    case 'name': return tok.quoted ? `"${tok.v}"` : tok.v;
    case 'string': return `'${tok.v}'`;
    case 'int': case 'float': return tok.text;
    case 'range': return `[${tok.from}..${tok.to}]`;
    case 'op': return `'${tok.v}'`;
  }
}
