/**
 * An action's `sql` for pgsql and mysql: every `${path}` becomes a bound parameter (`$n` for
 * PostgreSQL, `?` for MySQL), never text spliced into the statement; a placeholder written in
 * quotes (`'${clientid}'`, as many EMQX examples do) is bound the same way, quotes dropped.
 *
 * Values keep their type: a number is bound as a number, a boolean as a boolean; maps and lists
 * as JSON text; a payload's bytes as UTF-8 text; a path that finds nothing as NULL.
 *
 * Batching: an `INSERT … VALUES (…)` ending with its one tuple becomes one multi-row INSERT per
 * batch (`VALUES (…), (…), …`), as EMQX does; any other statement runs once per item inside one
 * transaction, so a batch is all-or-nothing either way.
 */
import { lookup } from '../template.js';
import { SinkConfigError } from './types.js';

type Step = string | number;
export type Style = 'pg' | 'mysql';
export type SqlValue = string | number | boolean | null;

export interface SqlTemplate {
  /** The statement with markers for one row (pg: $1…$n). */
  text: string;
  paths: Step[][];
  /** For the VALUES form: the statement up to VALUES, and the tuple with `?` markers. */
  insert: { head: string; tuple: string } | null;
}

export function parseSqlTemplate(sql: string, style: Style, where: string): SqlTemplate {
  if (sql.trim() === '') throw new SinkConfigError(`${where}: a statement is required`);
  const paths: Step[][] = [];
  let out = '';
  let i = 0;
  let quote: string | null = null;
  while (i < sql.length) {
    const c = sql[i]!;
    if (sql.startsWith('${', i)) {
      const close = sql.indexOf('}', i + 2);
      if (close < 0) throw new SinkConfigError(`${where}: '\${' at ${i + 1} has no closing '}'`);
      const path = parsePath(sql.slice(i + 2, close).trim(), where);
      paths.push(path);
      const marker = style === 'pg' ? `$${paths.length}` : '?';
      // '${x}': the quotes go with the placeholder.
      if (quote !== null && out.endsWith(quote) && sql[close + 1] === quote) {
        out = out.slice(0, -1) + marker;
        quote = null;
        i = close + 2;
        continue;
      }
      if (quote !== null) throw new SinkConfigError(`${where}: placeholder \${${sql.slice(i + 2, close)}} inside a quoted string; write it alone ('\${x}') or outside quotes`);
      out += marker;
      i = close + 1;
      continue;
    }
    if (quote === null && (c === "'" || c === '"' || c === '`')) quote = c;
    else if (quote !== null && c === quote) quote = null;
    out += c;
    i++;
  }
  if (quote !== null) throw new SinkConfigError(`${where}: unterminated ${quote} quote`);
  return { text: out, paths, insert: valuesForm(out, style) };
}

/** `INSERT … VALUES (tuple)` with nothing after the tuple (a trailing ';' aside). */
function valuesForm(text: string, style: Style): SqlTemplate['insert'] {
  if (!/^\s*insert\s/i.test(text)) return null;
  const m = /\bvalues\s*\(/gi;
  let last: RegExpExecArray | null = null;
  for (let x = m.exec(text); x !== null; x = m.exec(text)) last = x;
  if (last === null) return null;
  const open = last.index + last[0].length - 1;
  let depth = 0;
  let end = -1;
  let quote: string | null = null;
  for (let j = open; j < text.length; j++) {
    const c = text[j]!;
    if (quote !== null) { if (c === quote) quote = null; continue; }
    if (c === "'" || c === '"' || c === '`') { quote = c; continue; }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) { end = j; break; }
  }
  if (end < 0 || !/^\s*;?\s*$/.test(text.slice(end + 1))) return null;
  const tuple = style === 'pg' ? text.slice(open, end + 1).replace(/\$\d+/g, '?') : text.slice(open, end + 1);
  return { head: text.slice(0, open), tuple };
}

/** One row's parameters, from one rule output. */
export function renderRow(t: SqlTemplate, output: Record<string, unknown>): SqlValue[] {
  return t.paths.map((p) => sqlValue(lookup(output, p)));
}

export function sqlValue(v: unknown): SqlValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : Buffer.isBuffer(x) ? x.toString('utf8') : x));
}

/** The multi-row INSERT for `rows` and its flat parameters. */
export function batchInsert(t: SqlTemplate, rows: SqlValue[][], style: Style): { text: string; values: SqlValue[] } {
  const ins = t.insert!;
  const values: SqlValue[] = [];
  let n = 0;
  const tuples = rows.map((row) => {
    values.push(...row);
    return style === 'pg' ? ins.tuple.replace(/\?/g, () => `$${++n}`) : ins.tuple;
  });
  return { text: `${ins.head}${tuples.join(', ')}`, values };
}

function parsePath(p: string, where: string): Step[] {
  if (p === '') throw new SinkConfigError(`${where}: empty placeholder \${}`);
  const steps: Step[] = [];
  for (const part of p.split('.')) {
    const m = /^([^[\]]*)((?:\[-?\d+\])*)$/.exec(part);
    if (m === null) throw new SinkConfigError(`${where}: bad placeholder \${${p}}`);
    if (m[1] !== '') steps.push(m[1]!.replace(/^'(.*)'$/, '$1'));
    for (const idx of m[2]!.matchAll(/\[(-?\d+)\]/g)) steps.push(Number(idx[1]));
  }
  return steps;
}
