/**
 * Compiles a parsed rule into closures: every expression becomes a function of the evaluation
 * environment, built once, so a message costs a few calls and no tree walking. Column lookups,
 * constant comparisons and topic matches are specialised at compile time.
 *
 * Evaluation order and scope are EMQX's: SELECT fields run left to right and see the aliases made
 * before them; WHERE sees the columns with the selected fields over them. When WHERE names nothing
 * that SELECT makes, it runs first and a false WHERE skips the SELECT (the outcome is the same,
 * except that a SELECT which would have failed on such a message is not counted as failed).
 * FOREACH: the last field is the list iterated (named by its alias, else `item`); earlier aliased
 * fields become columns for the later ones; INCASE filters items; DO shapes each one, and without
 * DO an item's output is every column plus the item.
 */
import type { Expr, Field, PathStep, Pos, Statement } from './ast.js';
import { RuleEvalError, RuleSqlError, type RuleEvalClause } from './errors.js';
import { isEventName, type EventName } from './context.js';
import { decodePayload, getIndex, getKey, putPath, range, slice, type Step } from './paths.js';
import { topLevelValue, topLevelValueBytes, SLOW } from './json-scan.js';
import { arith, compare, deepEqual, filterMatcher, negate } from './values.js';
import { parse } from './parser.js';
import { columnsRead, intersects, namesUsed, outputNames } from './scope.js';
import { validTopicFilter } from '../../router/topic.js';

export type SqlFunction = (...args: unknown[]) => unknown;
/** Functions by lower-case name; EMQX's built-ins live in rules/functions. */
export type FunctionTable = Readonly<Record<string, SqlFunction>>;
export type Columns = Record<string, unknown>;
export type Output = Record<string, unknown>;

export type RuleOutcome =
  | { readonly status: 'passed'; readonly outputs: Output[] }
  /** WHERE was false, or FOREACH produced nothing. */
  | { readonly status: 'no_result'; readonly outputs: Output[] }
  | { readonly status: 'failed'; readonly error: RuleEvalError };

export interface CompiledRule {
  readonly sql: string;
  readonly kind: 'select' | 'foreach';
  /** The FROM list as written. */
  readonly from: readonly string[];
  /** Topic filters for published messages. */
  readonly topics: readonly string[];
  /** `$events/<name>` sources, by name. */
  readonly events: readonly EventName[];
  /** `$bridges/…` sources, as written (an MQTT bridge's ingress). */
  readonly bridges: readonly string[];
  /** The columns the statement may read; null: any (`SELECT *`). */
  readonly reads: ReadonlySet<string> | null;
  /** True when a message on `topic` feeds this rule. */
  matches(topic: string): boolean;
  /** Runs the rule over one context; never throws. */
  run(columns: Columns): RuleOutcome;
}

const NONE = Symbol('none');
/** WHERE false: the most frequent answer, shared (nothing reads or changes its empty list). */
const NO_RESULT: RuleOutcome = Object.freeze({ status: 'no_result' as const, outputs: Object.freeze([]) as unknown as Output[] });

/** Per-run state: the columns, the fields selected so far, the payload decoded once. */
class Env {
  sel: Output | null = null;
  /**
   * WHERE reads the columns with the selection merged over them, so a selected field that is
   * undefined hides the column of that name; SELECT fields instead fall back to the column.
   */
  merged = false;
  private raw: unknown = NONE;
  private scanned = false;
  private decoded: unknown = undefined;
  constructor(public cols: Columns) {}
  /**
   * `payload.<key>`: read by one scan when the payload is a flat JSON object not decoded yet
   * (json-scan.ts), else from the decoded payload.
   */
  payloadKey(raw: unknown, key: string, keyBytes: Buffer): unknown {
    // Only the run's first read scans: a rule whose WHERE reads one field and fails (the common
    // case) never builds the object; one that reads on decodes once and reads the rest from it.
    if (!this.scanned && raw !== this.raw) {
      if (typeof raw === 'string') {
        this.scanned = true;
        const v = topLevelValue(raw, key);
        if (v !== SLOW) return v;
      } else if (Buffer.isBuffer(raw)) {
        this.scanned = true;
        const v = topLevelValueBytes(raw, keyBytes);
        if (v !== SLOW) return v;
      }
    }
    return getKey(this.payload(raw), key);
  }
  payload(raw: unknown): unknown {
    if (raw !== this.raw) {
      this.decoded = decodePayload(raw, this.cols);
      this.raw = raw;
    }
    return this.decoded;
  }
}

type Fn = (env: Env) => unknown;

export function compileRule(sql: string, functions: FunctionTable = {}): CompiledRule {
  return new RuleCompiler(sql, functions).build(parse(sql));
}

class RuleCompiler {
  private ephemeral = 0;
  constructor(private readonly sql: string, private readonly functions: FunctionTable) {}

  build(st: Statement): CompiledRule {
    const topics: string[] = [];
    const events: EventName[] = [];
    const bridges: string[] = [];
    for (const f of st.from) {
      if (f.name.startsWith('$events/')) {
        const name = f.name.slice(8);
        if (!isEventName(name)) throw new RuleSqlError('PARSE', f.pos.line, f.pos.col, `unknown event "${f.name}"`);
        events.push(name);
      } else if (f.name.startsWith('$bridges/')) {
        bridges.push(f.name);
      } else {
        if (!validTopicFilter(f.name, Infinity)) throw new RuleSqlError('PARSE', f.pos.line, f.pos.col, `invalid topic filter "${f.name}"`);
        topics.push(f.name);
      }
    }
    const exact = new Set(topics.filter((t) => !t.includes('+') && !t.includes('#')));
    const wild = topics.filter((t) => !exact.has(t)).map(filterMatcher);
    const matches = (topic: string): boolean => {
      if (exact.has(topic)) return true;
      for (let i = 0; i < wild.length; i++) if (wild[i]!(topic)) return true;
      return false;
    };
    const run = st.type === 'select' ? this.select(st) : this.foreach(st);
    return { sql: this.sql, kind: st.type, from: st.from.map((f) => f.name), topics, events, bridges, reads: columnsRead(st), matches, run };
  }

  private select(st: Extract<Statement, { type: 'select' }>): (cols: Columns) => RuleOutcome {
    const fields = this.fields(st.fields);
    const where = st.where === null ? null : this.cond(st.where);
    const whereFirst = where !== null && !intersects(namesUsed(st.where!), outputNames(st.fields));
    return (cols) => {
      const env = new Env(cols);
      let clause: RuleEvalClause = 'where';
      try {
        if (whereFirst && where!(env) !== true) return NO_RESULT;
        clause = 'select';
        const out = fields(env);
        if (where !== null && !whereFirst) {
          clause = 'where';
          env.sel = out;
          env.merged = true;
          if (where(env) !== true) return { status: 'no_result', outputs: [] };
        }
        return { status: 'passed', outputs: [out] };
      } catch (e) {
        return failed(e, clause);
      }
    };
  }

  private foreach(st: Extract<Statement, { type: 'foreach' }>): (cols: Columns) => RuleOutcome {
    const collect = st.fields.map((f) => {
      if (f.kind === 'star') throw new RuleSqlError('PARSE', f.pos.line, f.pos.col, 'FOREACH takes expressions, not *');
      return { expr: this.expr(f.expr), alias: f.alias ? this.alias(f.alias) : this.defaultAlias(f.expr), named: f.alias !== null,
        isPayload: f.expr.kind === 'path' && f.expr.steps.length === 1 && (f.expr.steps[0] as { key?: string }).key === 'payload' };
    });
    const last = collect.pop()!;
    const lastAlias = st.fields[st.fields.length - 1] as Extract<Field, { kind: 'field' }>;
    const itemKey = lastAlias.alias !== null && lastAlias.alias.length === 1 && 'key' in lastAlias.alias[0]! ? lastAlias.alias[0].key : 'item';
    const where = st.where === null ? null : this.cond(st.where);
    const incase = st.incase === null ? null : this.cond(st.incase);
    const doFields = st.doFields === null ? null : this.fields(st.doFields);
    return (cols) => {
      const env = new Env(cols);
      let clause: RuleEvalClause = 'foreach';
      try {
        const out: Output = {};
        env.sel = out;
        for (const f of collect) {
          const v = f.expr(env);
          putInto(out, f.alias(env), v);
          if (f.named) {
            if (env.cols === cols) env.cols = { ...cols };
            putInto(env.cols, f.alias(env), v);
          }
        }
        let list = last.expr(env);
        putInto(out, last.alias(env), list);
        if (last.isPayload) list = env.payload(list);
        const items = Array.isArray(list) ? list : [];
        const base: Columns = { ...cols, ...out };
        if (where !== null) {
          clause = 'where';
          const w = new Env(base);
          if (where(w) !== true) return { status: 'no_result', outputs: [] };
        }
        const outputs: Output[] = [];
        for (const item of items) {
          const row: Columns = { ...base, [itemKey]: item };
          const e = new Env(row);
          if (incase !== null) {
            clause = 'incase';
            if (incase(e) !== true) continue;
          }
          if (doFields === null) outputs.push(row);
          else {
            clause = 'do';
            outputs.push(doFields(e));
          }
        }
        return { status: outputs.length > 0 ? 'passed' : 'no_result', outputs };
      } catch (e) {
        return failed(e, clause);
      }
    };
  }

  /** A SELECT or DO list: builds the output object, each field seeing the ones before it. */
  private fields(list: readonly Field[]): (env: Env) => Output {
    const steps = list.map((f): ((env: Env, out: Output) => void) => {
      if (f.kind === 'star') return (env, out) => { Object.assign(out, env.cols); };
      const expr = this.expr(f.expr);
      const alias = f.alias ? this.alias(f.alias) : this.defaultAlias(f.expr);
      return (env, out) => { putInto(out, alias(env), expr(env)); };
    });
    return (env) => {
      const out: Output = {};
      const saved = env.sel;
      env.sel = out;
      try {
        for (let i = 0; i < steps.length; i++) steps[i]!(env, out);
      } finally {
        env.sel = saved;
      }
      return out;
    };
  }

  private alias(path: readonly PathStep[]): (env: Env) => Step[] {
    const parts = path.map((s): ((env: Env) => Step) => {
      if ('key' in s) { const step = { key: s.key }; return () => step; }
      if ('index' in s) { const step = { index: s.index }; return () => step; }
      const by = this.expr(s.indexBy);
      return (env) => { const v = by(env); return { index: typeof v === 'number' ? v : undefined }; };
    });
    if (parts.every((_, i) => !('indexBy' in path[i]!))) {
      const fixed = parts.map((p) => p(undefined as unknown as Env));
      return () => fixed;
    }
    return (env) => parts.map((p) => p(env));
  }

  /** The output name of a field without AS, as EMQX: a column's name, a path, a string's text. */
  private defaultAlias(e: Expr): (env: Env) => Step[] {
    if (e.kind === 'path') return this.alias(e.steps);
    if (e.kind === 'slice' && e.target.kind === 'path') return this.alias(e.target.steps);
    if (e.kind === 'const' && typeof e.value === 'string') { const s = [{ key: e.value }]; return () => s; }
    // EMQX names these `_v_<type>_…` with a timestamp; a counter keeps ours stable per rule.
    const type = e.kind === 'arith' || e.kind === 'compare' ? 'op' : e.kind === 'call' ? `fun_${e.name}` : e.kind;
    const s = [{ key: `_v_${type}_${++this.ephemeral}` }];
    return () => s;
  }

  /** A condition: anything but `true` fails it. */
  private cond(e: Expr): Fn { return this.expr(e); }

  expr(e: Expr): Fn {
    switch (e.kind) {
      case 'const': { const v = e.value; return () => v; }
      case 'path': return this.path(e.steps);
      case 'list': {
        const items = e.items.map((x) => this.expr(x));
        return (env) => items.map((f) => f(env));
      }
      case 'range': { const r = range(e.from, e.to); return () => r.slice(); }
      case 'slice': {
        const t = this.expr(e.target);
        const { from, to } = e;
        return (env) => slice(t(env), from, to);
      }
      case 'neg': { const a = this.expr(e.arg); return (env) => negate(a(env)); }
      case 'arith': {
        const l = this.expr(e.left);
        const r = this.expr(e.right);
        const op = e.op;
        return (env) => arith(op, l(env), r(env));
      }
      case 'compare': return this.compare(e);
      case 'and': {
        const l = this.expr(e.left);
        const r = this.expr(e.right);
        return (env) => l(env) === true && r(env) === true;
      }
      case 'or': {
        const l = this.expr(e.left);
        const r = this.expr(e.right);
        return (env) => l(env) === true || r(env) === true;
      }
      case 'not': {
        const a = this.expr(e.arg);
        return (env) => { const v = a(env); return typeof v === 'boolean' ? !v : false; };
      }
      case 'in': {
        const a = this.expr(e.arg);
        const items = e.list.map((x) => this.expr(x));
        const hit = !e.negated;
        return (env) => {
          const v = a(env);
          for (let i = 0; i < items.length; i++) if (deepEqual(v, items[i]!(env))) return hit;
          return !hit;
        };
      }
      case 'case': return this.caseExpr(e);
      case 'call': return this.call(e.name, e.args, e.pos);
    }
  }

  private compare(e: Extract<Expr, { kind: 'compare' }>): Fn {
    const l = this.expr(e.left);
    const op = e.op;
    if (e.right.kind === 'const') {
      const c = e.right.value;
      // The common `WHERE qos = 1` / `WHERE username = 'x'`: decide same-typed values inline.
      if (op === '=' && (typeof c === 'number' || typeof c === 'string')) {
        return (env) => { const v = l(env); return typeof v === typeof c ? v === c : compare(op, v, c); };
      }
      if (op === '=~' && typeof c === 'string') {
        const m = filterMatcher(c);
        return (env) => { const v = l(env); return typeof v === 'string' && m(v); };
      }
      return (env) => compare(op, l(env), c);
    }
    const r = this.expr(e.right);
    return (env) => compare(op, l(env), r(env));
  }

  private caseExpr(e: Extract<Expr, { kind: 'case' }>): Fn {
    const whens = e.whens.map((w) => ({ when: this.expr(w.when), then: this.expr(w.then) }));
    const otherwise = e.otherwise === null ? () => undefined : this.expr(e.otherwise);
    if (e.on === null) {
      return (env) => {
        for (let i = 0; i < whens.length; i++) if (whens[i]!.when(env) === true) return whens[i]!.then(env);
        return otherwise(env);
      };
    }
    const on = this.expr(e.on);
    return (env) => {
      const v = on(env);
      for (let i = 0; i < whens.length; i++) if (deepEqual(v, whens[i]!.when(env))) return whens[i]!.then(env);
      return otherwise(env);
    };
  }

  private call(name: string, argExprs: readonly Expr[], pos: Pos): Fn {
    const lower = name.toLowerCase();
    const f = Object.prototype.hasOwnProperty.call(this.functions, lower) ? this.functions[lower] : undefined;
    if (typeof f !== 'function') throw new RuleSqlError('UNKNOWN_FUNCTION', pos.line, pos.col, `unknown function ${name}()`);
    const args = argExprs.map((a) => this.expr(a));
    const invoke = (env: Env, vals: unknown[]): unknown => {
      let r: unknown;
      try {
        r = f(...vals);
        // EMQX lets a function answer with a function of the columns (topic(), clientid(), …).
        if (typeof r === 'function') r = (r as (c: Columns) => unknown)(env.cols);
      } catch (err) {
        if (err instanceof RuleEvalError) throw err;
        throw new RuleEvalError(`${name}(): ${err instanceof Error ? err.message : String(err)}`);
      }
      return r;
    };
    switch (args.length) {
      case 0: return (env) => invoke(env, []);
      case 1: { const [a] = args as [Fn]; return (env) => invoke(env, [a(env)]); }
      case 2: { const [a, b] = args as [Fn, Fn]; return (env) => invoke(env, [a(env), b(env)]); }
      default: return (env) => invoke(env, args.map((a) => a(env)));
    }
  }

  /** A column or a path into one: the selected fields first, then the columns. */
  private path(steps: readonly PathStep[]): Fn {
    const first = (steps[0] as { key: string }).key;
    const own = first in Object.prototype; // `constructor`, `toString`…: only the object's own key counts
    const top = own
      ? (o: Record<string, unknown>) => (Object.prototype.hasOwnProperty.call(o, first) ? o[first] : undefined)
      : (o: Record<string, unknown>) => o[first];
    const hides = (env: Env, s: Output): boolean => env.merged && Object.prototype.hasOwnProperty.call(s, first);
    if (steps.length === 1) {
      return (env) => {
        const s = env.sel;
        if (s !== null) { const v = top(s); if (v !== undefined || hides(env, s)) return v; }
        return top(env.cols);
      };
    }
    const rest = steps.slice(1).map((s): ((env: Env, v: unknown) => unknown) => {
      if ('key' in s) { const k = s.key; return (_env, v) => getKey(v, k); }
      if ('index' in s) { const i = s.index; return (_env, v) => getIndex(v, i); }
      const by = this.expr(s.indexBy);
      return (env, v) => getIndex(v, by(env));
    });
    const isPayload = first === 'payload';
    const payloadKey = isPayload && 'key' in steps[1]! ? (steps[1] as { key: string }).key : null;
    const keyBytes = Buffer.from(payloadKey ?? '');
    const walk = payloadKey !== null
      ? (env: Env, o: Record<string, unknown>): unknown => {
        let v = top(o);
        if (v === undefined) return undefined;
        v = env.payloadKey(v, payloadKey, keyBytes);
        for (let i = 1; i < rest.length && v !== undefined; i++) v = rest[i]!(env, v);
        return v;
      }
      : (env: Env, o: Record<string, unknown>): unknown => {
        let v = top(o);
        if (v === undefined) return undefined;
        if (isPayload) v = env.payload(v);
        for (let i = 0; i < rest.length && v !== undefined; i++) v = rest[i]!(env, v);
        return v;
      };
    return (env) => {
      const s = env.sel;
      if (s !== null) { const v = walk(env, s); if (v !== undefined || hides(env, s)) return v; }
      return walk(env, env.cols);
    };
  }
}

function putInto(out: Output, steps: readonly Step[], value: unknown): void {
  const head = steps[0] as { key?: string };
  if (head.key === undefined) return; // an alias never starts with an index
  out[head.key] = steps.length === 1 ? value : putPath(out[head.key], steps, value, 1);
}

function failed(e: unknown, clause: RuleEvalClause): RuleOutcome {
  const error = e instanceof RuleEvalError ? e : new RuleEvalError(e instanceof Error ? e.message : String(e));
  error.clause = clause;
  return { status: 'failed', error };
}
