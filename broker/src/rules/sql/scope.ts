/**
 * Which names an expression reads and a SELECT list writes: the compiler runs WHERE before SELECT
 * when the two do not meet, so a rule whose WHERE is false builds no output.
 */
import type { Expr, Field } from './ast.js';

/** First names of every path an expression reads. */
export function namesUsed(e: Expr, into = new Set<string>()): Set<string> {
  const visit = (x: Expr): void => {
    switch (x.kind) {
      case 'path':
        into.add((x.steps[0] as { key: string }).key);
        for (const s of x.steps) if ('indexBy' in s) visit(s.indexBy);
        break;
      case 'list': x.items.forEach(visit); break;
      case 'slice': visit(x.target); break;
      case 'neg': case 'not': visit(x.arg); break;
      case 'arith': case 'compare': case 'and': case 'or': visit(x.left); visit(x.right); break;
      case 'in': visit(x.arg); x.list.forEach(visit); break;
      case 'case':
        if (x.on) visit(x.on);
        for (const w of x.whens) { visit(w.when); visit(w.then); }
        if (x.otherwise) visit(x.otherwise);
        break;
      case 'call': x.args.forEach(visit); break;
      default: break;
    }
  };
  visit(e);
  return into;
}

/** Top-level names a SELECT list writes (ephemeral names of unnamed expressions cannot be read). */
export function outputNames(fields: readonly Field[]): Set<string> {
  const out = new Set<string>();
  for (const f of fields) {
    if (f.kind === 'star') continue;
    const a = f.alias ?? (f.expr.kind === 'path' ? f.expr.steps : f.expr.kind === 'slice' && f.expr.target.kind === 'path' ? f.expr.target.steps : null);
    if (a && 'key' in a[0]!) out.add(a[0].key);
    else if (f.expr.kind === 'const' && typeof f.expr.value === 'string') out.add(f.expr.value);
  }
  return out;
}

export function intersects(a: Set<string>, b: Set<string>): boolean {
  for (const x of a) if (b.has(x)) return true;
  return false;
}

/** In columnsRead's answer: the statement reads `payload` whole, not only fields of it. */
export const PAYLOAD_WHOLE = '\u0000payload';

/**
 * The columns a whole statement may read (first names of its paths), for building only those;
 * null when it may read any: `SELECT *`, or a function called without arguments (EMQX lets such
 * a function answer with a function of the columns).
 */
export function columnsRead(statement: unknown): Set<string> | null {
  const out = new Set<string>();
  let all = false;
  const visit = (x: unknown): void => {
    if (all || x === null || typeof x !== 'object') return;
    if (Array.isArray(x)) { for (const e of x) visit(e); return; }
    const o = x as Record<string, unknown>;
    if (o.kind === 'star' || (o.kind === 'call' && Array.isArray(o.args) && o.args.length === 0)) { all = true; return; }
    if (o.kind === 'path') {
      const steps = o.steps as Array<{ key?: unknown }>;
      const first = steps[0];
      if (typeof first?.key === 'string') out.add(first.key);
      // `payload` itself (not only `payload.<key>…`): its text must be built.
      if (first?.key === 'payload' && typeof steps[1]?.key !== 'string') out.add(PAYLOAD_WHOLE);
    }
    for (const k of Object.keys(o)) if (k !== 'pos') visit(o[k]);
  };
  visit(statement);
  return all ? null : out;
}
