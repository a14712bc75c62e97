/**
 * What the rule language's operators do to values, as EMQX's runtime does it (facts re-derived
 * from emqx_rule_runtime / emqx_rule_funcs / emqx_rule_maps):
 *
 * - Comparison: both sides missing → compared as equal (`a = b` holds when neither exists); one side
 *   missing → false whatever the operator. A number against a string converts the string to a number
 *   (a string that is not one is an evaluation error); `true`/`false`/`null` against a string
 *   compare as their names. Otherwise Erlang's term order decides across types:
 *   number < boolean/null < object < array < string.
 * - `+` adds numbers and, if either side is a string, concatenates (the other side turned to text).
 *   `- * /` need numbers; `div` and `mod` need integers (truncating, the sign of `mod` follows the
 *   dividend); a zero divisor is an evaluation error.
 * - `IN` and `CASE x WHEN v` use exact equality (no conversion; 1 and '1' differ).
 *
 * Strings are JS strings; a payload that is not valid UTF-8 stays a Buffer and compares as bytes.
 */
import { RuleEvalError } from './errors.js';
import { topicMatches } from '../../router/topic.js';

export type Json = unknown;

/** Erlang's order of types, for comparisons across them. */
function rank(v: unknown): number {
  switch (typeof v) {
    case 'number': return 0;
    case 'boolean': return 1;
    case 'string': return 5;
    case 'object':
      if (v === null) return 1;
      if (Buffer.isBuffer(v)) return 5;
      if (Array.isArray(v)) return 4;
      return 3;
    default: return 6;
  }
}

function atomName(v: boolean | null): string { return v === null ? 'null' : v ? 'true' : 'false'; }

/** Converts a string compared with a number, as EMQX's binary_to_integer / binary_to_float. */
function toNumberStrict(s: string): number {
  const t = s.trim();
  if (/^[-+]?\d+$/.test(t) || /^[-+]?\d+\.\d+([eE][-+]?\d+)?$/.test(t)) return Number(t);
  throw new RuleEvalError(`cannot compare a number with the string ${JSON.stringify(s)}`);
}

/** -1, 0 or 1 in EMQX's order; `a` and `b` are both defined. */
export function order(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && (typeof b === 'string' || Buffer.isBuffer(b))) return order(a, toNumberStrict(String(b)));
  if ((typeof a === 'string' || Buffer.isBuffer(a)) && typeof b === 'number') return order(toNumberStrict(String(a)), b);
  const ra = rank(a);
  const rb = rank(b);
  if (ra === 1 && rb === 5) return order(atomName(a as boolean | null), String(b));
  if (ra === 5 && rb === 1) return order(String(a), atomName(b as boolean | null));
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1: return order(atomName(a as boolean | null), atomName(b as boolean | null));
    case 5: return Buffer.compare(asBuffer(a), asBuffer(b));
    case 4: {
      const x = a as unknown[];
      const y = b as unknown[];
      for (let i = 0; i < x.length && i < y.length; i++) {
        const c = order(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
    }
    case 3: {
      const kx = Object.keys(a as object);
      const ky = Object.keys(b as object);
      if (kx.length !== ky.length) return kx.length < ky.length ? -1 : 1;
      return deepEqual(a, b) ? 0 : order(JSON.stringify(a), JSON.stringify(b));
    }
    default: return 0;
  }
}

function asBuffer(v: unknown): Buffer { return Buffer.isBuffer(v) ? v : Buffer.from(String(v)); }

/** `=`-family operators; `undefined` is a missing field. */
export function compare(op: string, a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) {
    if (a !== b) return false;
    return op === '=' || op === '<=' || op === '>=';
  }
  if (op === '=~') return typeof a === 'string' && typeof b === 'string' && topicMatches(b, a);
  const c = order(a, b);
  switch (op) {
    case '=': return c === 0;
    case '!=': case '<>': return c !== 0;
    case '<': return c < 0;
    case '<=': return c <= 0;
    case '>': return c > 0;
    default: return c >= 0; // '>='
  }
}

/** Exact equality (Erlang's =:=), for IN and CASE x WHEN v. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const y = b as unknown[];
    if (a.length !== y.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], y[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/**
 * A matcher for one topic filter, split once; the topic is walked with indexOf and compared in
 * place, so a match allocates nothing. [MQTT-4.7.2-1]: a wildcard first level never matches `$…`.
 */
export function filterMatcher(filter: string): (topic: string) => boolean {
  const levels = filter.split('/');
  const n = levels.length;
  if (filter.length === 0) return () => false;
  if (!filter.includes('+') && !filter.includes('#')) return (topic) => topic === filter;
  const wildFirst = levels[0] === '+' || levels[0] === '#';
  return (topic) => {
    if (topic.length === 0) return false;
    if (wildFirst && topic.charCodeAt(0) === 36 /* $ */) return false;
    let ti = 0;
    for (let i = 0; i < n; i++) {
      const fl = levels[i]!;
      if (fl === '#') return true; // this level and below, and the parent level too
      if (ti > topic.length) return false; // the topic has fewer levels than the filter
      let te = topic.indexOf('/', ti);
      if (te < 0) te = topic.length;
      if (fl !== '+' && (te - ti !== fl.length || !topic.startsWith(fl, ti))) return false;
      ti = te + 1;
    }
    return ti > topic.length; // every topic level consumed
  };
}

/** Text of a value for string concatenation, as EMQX's str/1 (floats: at most 10 decimals). */
export function toText(v: unknown): string {
  switch (typeof v) {
    case 'string': return v;
    case 'number': return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(10)));
    case 'boolean': return v ? 'true' : 'false';
    case 'undefined': return 'undefined';
    case 'object':
      if (v === null) return 'null';
      if (Buffer.isBuffer(v)) return v.toString('utf8');
      return JSON.stringify(v);
    default: return String(v);
  }
}

export function arith(op: string, a: unknown, b: unknown): unknown {
  if (typeof a === 'number' && typeof b === 'number') {
    switch (op) {
      case '+': return a + b;
      case '-': return a - b;
      case '*': return a * b;
      case '/':
        if (b === 0) throw new RuleEvalError('division by zero');
        return a / b;
      case 'div': case 'mod':
        if (!Number.isInteger(a) || !Number.isInteger(b)) throw new RuleEvalError(`${op} needs integers, got ${toText(a)} and ${toText(b)}`);
        if (b === 0) throw new RuleEvalError('division by zero');
        return op === 'div' ? Math.trunc(a / b) : a % b;
    }
  }
  if (op === '+' && (typeof a === 'string' || typeof b === 'string')) return toText(a) + toText(b);
  throw new RuleEvalError(`bad arguments for '${op}': ${describeValue(a)} and ${describeValue(b)}`);
}

export function negate(a: unknown): number {
  if (typeof a !== 'number') throw new RuleEvalError(`cannot negate ${describeValue(a)}`);
  return -a;
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return `${typeof v} ${String(v)}`;
  if (Buffer.isBuffer(v)) return `binary of ${v.length} bytes`;
  return Array.isArray(v) ? 'an array' : 'an object';
}
