import assert from 'node:assert/strict';
import { FUNCTIONS, RuleFunctionError } from '../../../broker/src/rules/functions/index.js';

/** Calls a rule function by its EMQX name, as the SQL engine will. */
export function call(name: string, ...args: unknown[]): unknown {
  const f = FUNCTIONS[name];
  assert.ok(f, `function ${name} is in FUNCTIONS`);
  return f(...args);
}

/** The call fails with a RuleFunctionError naming the function (and the argument, if given). */
export function fails(name: string, args: unknown[], arg?: number): RuleFunctionError {
  let caught: unknown;
  try {
    call(name, ...args);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof RuleFunctionError, `${name}(${args.map(String).join(', ')}) throws a RuleFunctionError, got ${String(caught)}`);
  assert.equal(caught.fn, name);
  assert.ok(caught.message.startsWith(`${name}: `), caught.message);
  if (arg !== undefined) assert.equal(caught.arg, arg, caught.message);
  return caught;
}

export function hex(v: unknown): string {
  assert.ok(Buffer.isBuffer(v), 'a Buffer');
  return v.toString('hex').toUpperCase();
}

export function close(actual: unknown, expected: number, eps = 1e-12): void {
  assert.equal(typeof actual, 'number');
  assert.ok(Math.abs((actual as number) - expected) <= eps * Math.max(1, Math.abs(expected)), `${String(actual)} ≈ ${expected}`);
}
