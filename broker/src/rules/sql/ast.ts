/**
 * The syntax tree of one EMQX rule statement, as the parser builds it and the compiler consumes
 * it. Every node keeps the position where it starts so a compile error (an unknown function) can
 * name line and column like a parse error does.
 */

/** 1-based line and column of a token in the SQL text. */
export interface Pos {
  readonly line: number;
  readonly col: number;
}

/**
 * One step of a path. Indexes are EMQX's: 1-based, negative counts from the end; `[0]` reads as
 * "head" and `[-0]` as "tail", which only mean something on the left of `AS` (insert first/last).
 */
export type PathStep =
  | { readonly key: string }
  | { readonly index: number | 'head' | 'tail' }
  | { readonly indexBy: Expr };

export type ArithOp = '+' | '-' | '*' | '/' | 'div' | 'mod';
export type CompareOp = '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | '=~';

export type Expr =
  | { readonly kind: 'const'; readonly value: unknown; readonly pos: Pos }
  /** A column, an alias, or a path into one: `clientid`, `payload.a[1].b`, `"quoted name"`. */
  | { readonly kind: 'path'; readonly steps: readonly PathStep[]; readonly pos: Pos }
  | { readonly kind: 'list'; readonly items: readonly Expr[]; readonly pos: Pos }
  /** `[1..4]`: the list 1, 2, 3, 4. */
  | { readonly kind: 'range'; readonly from: number; readonly to: number; readonly pos: Pos }
  /** `x[2..-1]`: a slice of a list (1-based, inclusive, negative from the end). */
  | { readonly kind: 'slice'; readonly target: Expr; readonly from: number; readonly to: number; readonly pos: Pos }
  | { readonly kind: 'neg'; readonly arg: Expr; readonly pos: Pos }
  | { readonly kind: 'arith'; readonly op: ArithOp; readonly left: Expr; readonly right: Expr; readonly pos: Pos }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly left: Expr; readonly right: Expr; readonly pos: Pos }
  | { readonly kind: 'and' | 'or'; readonly left: Expr; readonly right: Expr; readonly pos: Pos }
  | { readonly kind: 'not'; readonly arg: Expr; readonly pos: Pos }
  | { readonly kind: 'in'; readonly arg: Expr; readonly list: readonly Expr[]; readonly negated: boolean; readonly pos: Pos }
  /** `CASE WHEN c THEN v … END` (on = null) or `CASE x WHEN v THEN r … END`. */
  | {
      readonly kind: 'case';
      readonly on: Expr | null;
      readonly whens: readonly { readonly when: Expr; readonly then: Expr }[];
      readonly otherwise: Expr | null;
      readonly pos: Pos;
    }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Expr[]; readonly pos: Pos };

/** One entry of a SELECT, FOREACH or DO list. */
export type Field =
  | { readonly kind: 'star'; readonly pos: Pos }
  | { readonly kind: 'field'; readonly expr: Expr; readonly alias: readonly PathStep[] | null; readonly pos: Pos };

/** A topic filter, `$events/<name>` or `$bridges/<type>:<name>`, where it stands in the SQL. */
export interface FromItem {
  readonly name: string;
  readonly pos: Pos;
}

export interface SelectStatement {
  readonly type: 'select';
  readonly fields: readonly Field[];
  readonly from: readonly FromItem[];
  readonly where: Expr | null;
}

/** `FOREACH fields [DO fields] [INCASE cond] FROM … [WHERE cond]`: the last field is the list iterated. */
export interface ForeachStatement {
  readonly type: 'foreach';
  readonly fields: readonly Field[];
  readonly doFields: readonly Field[] | null;
  readonly incase: Expr | null;
  readonly from: readonly FromItem[];
  readonly where: Expr | null;
}

export type Statement = SelectStatement | ForeachStatement;
