/** Shared bits of the rule SQL tests: run a statement over columns and get its outputs. */
import assert from 'node:assert/strict';
import { compileRule, type Columns, type FunctionTable, type Output, type RuleOutcome } from '../../../broker/src/rules/sql/index.js';

/** A stand-in for the built-in function table (written in parallel in rules/functions). */
export const FNS: FunctionTable = {
  upper: (s) => { if (typeof s !== 'string') throw new Error('upper needs a string'); return s.toUpperCase(); },
  abs: (n) => { if (typeof n !== 'number') throw new Error('abs needs a number'); return Math.abs(n); },
  nth: (n, l) => (l as unknown[])[(n as number) - 1],
  tokens: (s, sep) => (s as string).split(sep as string).filter((x) => x.length > 0),
  is_not_null: (v) => v !== undefined && v !== null,
  is_map: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  json_decode: (s) => JSON.parse(s as string),
  map_get: (k, m, d) => (typeof m === 'object' && m !== null && (k as string) in m ? (m as Record<string, unknown>)[k as string] : d),
  sublist: (start, len, l) => (l as unknown[]).slice((start as number) - 1, (start as number) - 1 + (len as number)),
  map_new: () => ({}),
};

export function outcome(sql: string, cols: Columns, fns: FunctionTable = FNS): RuleOutcome {
  return compileRule(sql, fns).run(cols);
}

/** The single output of a SELECT that passed. */
export function one(sql: string, cols: Columns, fns: FunctionTable = FNS): Output {
  const o = outcome(sql, cols, fns);
  if (o.status !== 'passed') assert.fail(o.status === 'failed' ? `failed: ${o.error.message}` : 'no result');
  assert.equal(o.outputs.length, 1);
  return o.outputs[0]!;
}

/** The outputs of a FOREACH (passed or no_result). */
export function many(sql: string, cols: Columns, fns: FunctionTable = FNS): Output[] {
  const o = outcome(sql, cols, fns);
  assert.notEqual(o.status, 'failed', o.status === 'failed' ? o.error.message : '');
  return o.status === 'failed' ? [] : o.outputs;
}

export function passes(sql: string, cols: Columns, fns: FunctionTable = FNS): boolean {
  const o = outcome(sql, cols, fns);
  assert.notEqual(o.status, 'failed', o.status === 'failed' ? o.error.message : '');
  return o.status === 'passed';
}
