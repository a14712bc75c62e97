/**
 * EMQX's built-in rule SQL functions, by their EMQX names (lower case). The SQL engine looks a
 * call up here and applies it to the evaluated arguments:
 *
 *   FUNCTIONS['subbits'](payload, 1, 8)
 *
 * Every entry checks its argument count and throws only RuleFunctionError: a wrong type, a
 * value outside a function's domain, bad JSON or base64, all name the function and, where one
 * is to blame, the argument. The engine counts that as a failed rule evaluation.
 * Value conventions (strings vs Buffers, bigints, undefined vs null) are in values.ts.
 */
import { ArgError, RuleFunctionError } from './errors.js';
import type { Family, FnDef } from './family.js';
import { ARRAY } from './array.js';
import { BITS } from './bits.js';
import { COMPRESS } from './compress.js';
import { CONVERT } from './convert.js';
import { ENCODE } from './encode.js';
import { HASH } from './hash.js';
import { MAP } from './map.js';
import { MATH } from './math.js';
import { MISC } from './misc.js';
import { STRING } from './string.js';
import { TIME } from './time.js';

export { RuleFunctionError } from './errors.js';
export { BitString } from './values.js';

export type RuleFunction = (...args: unknown[]) => unknown;

function arity({ min, max }: FnDef): string {
  if (min === max) return `${min} argument${min === 1 ? '' : 's'}`;
  return max === Infinity ? `at least ${min} arguments` : `${min} to ${max} arguments`;
}

function guard(name: string, d: FnDef): RuleFunction {
  const { fn, min, max } = d;
  return (...args: unknown[]): unknown => {
    if (args.length < min || args.length > max) {
      throw new RuleFunctionError(name, `takes ${arity(d)}, got ${args.length}`);
    }
    try {
      return fn(...args);
    } catch (err) {
      if (err instanceof RuleFunctionError) throw err;
      if (err instanceof ArgError) throw new RuleFunctionError(name, err.message, err.arg);
      throw new RuleFunctionError(name, err instanceof Error ? err.message : String(err));
    }
  };
}

const FAMILIES: readonly Family[] = [MATH, BITS, CONVERT, STRING, MAP, ARRAY, HASH, COMPRESS, ENCODE, TIME, MISC];

function build(): Readonly<Record<string, RuleFunction>> {
  const table: Record<string, RuleFunction> = Object.create(null) as Record<string, RuleFunction>;
  for (const family of FAMILIES) {
    for (const [name, d] of Object.entries(family)) {
      if (name in table) throw new Error(`rule function ${name} is defined twice`);
      table[name] = guard(name, d);
    }
  }
  return Object.freeze(table);
}

/** Lower-case EMQX name → function. A name that is not here is not supported. */
export const FUNCTIONS: Readonly<Record<string, RuleFunction>> = build();
