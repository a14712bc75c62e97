/**
 * The one error a rule SQL function may throw. The rule engine counts it as a rule failure
 * (EMQX: "the current SQL execution fails, incrementing the failure count by one") and goes on
 * with the next message; nothing else ever escapes a function in FUNCTIONS (index.ts wraps each
 * one and turns any other exception into this).
 */
export class RuleFunctionError extends Error {
  override readonly name = 'RuleFunctionError';
  /** Lower-case EMQX function name, e.g. `subbits`. */
  readonly fn: string;
  /** 1-based position of the offending argument, when one argument is to blame. */
  readonly arg: number | undefined;

  constructor(fn: string, message: string, arg?: number) {
    super(`${fn}: ${message}`);
    this.fn = fn;
    this.arg = arg;
  }
}

/**
 * Thrown by family code, which does not know the name it is registered under; index.ts adds
 * the function name and turns it into a RuleFunctionError.
 */
export class ArgError extends Error {
  readonly arg: number;
  constructor(arg: number, message: string) {
    super(message);
    this.arg = arg;
  }
}

/** Argument `arg` (1-based) is not what the function accepts. */
export function badArg(arg: number, expected: string, value: unknown): never {
  throw new ArgError(arg, `argument ${arg} must be ${expected}, got ${describe(value)}`);
}

/** A short, safe rendering of a value for error messages (never the whole payload). */
export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `integer ${v}` : `float ${v}`;
  if (typeof v === 'bigint') return `integer ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (v instanceof Uint8Array) return `binary (${v.length} bytes)`;
  if (Array.isArray(v)) return `array (${v.length} items)`;
  if (typeof v === 'object' && 'bitLength' in v) return `bitstring (${(v as { bitLength: number }).bitLength} bits)`;
  return typeof v === 'object' ? 'map' : typeof v;
}
