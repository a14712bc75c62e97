/**
 * The two ways a rule goes wrong. `RuleSqlError` is raised once, when the SQL is parsed or compiled,
 * and names line and column. `RuleEvalError` is raised while a message is evaluated (a function
 * given the wrong types, arithmetic on a string, a payload that is not JSON): the rule's run
 * returns it as a `failed` outcome for the caller to count; it never escapes to the broker.
 */

export type RuleSqlErrorCode = 'LEX' | 'PARSE' | 'UNKNOWN_FUNCTION' | 'EMPTY_FROM';

export class RuleSqlError extends Error {
  readonly code: RuleSqlErrorCode;
  readonly line: number;
  readonly col: number;
  constructor(code: RuleSqlErrorCode, line: number, col: number, detail: string) {
    super(`rule SQL ${line}:${col}: ${detail}`);
    this.name = 'RuleSqlError';
    this.code = code;
    this.line = line;
    this.col = col;
  }
}

/** Which clause was running, with EMQX's names for the failure (select_and_transform_error, …). */
export type RuleEvalClause = 'select' | 'where' | 'foreach' | 'incase' | 'do';

export class RuleEvalError extends Error {
  /** Set by the rule's run to the clause that failed. */
  clause: RuleEvalClause | null = null;
  constructor(detail: string) {
    super(detail);
    this.name = 'RuleEvalError';
  }
}
