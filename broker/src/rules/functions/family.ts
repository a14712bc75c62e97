/**
 * A family file (math.ts, string.ts…) exports a Family: EMQX name → arity range and body.
 * index.ts checks the arity and wraps the body so that only RuleFunctionError escapes.
 */
export interface FnDef {
  readonly min: number;
  readonly max: number;
  // Arguments are checked inside each body; `any[]` lets bodies name their parameters.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly fn: (...args: any[]) => unknown;
}

export type Family = Readonly<Record<string, FnDef>>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function def(min: number, max: number, fn: (...args: any[]) => unknown): FnDef {
  return { min, max, fn };
}
