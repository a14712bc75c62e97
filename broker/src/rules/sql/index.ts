/** EMQX's rule SQL: parse, compile to closures, and the columns a rule evaluates over. */
export { tokenize, KEYWORDS, type Token } from './lexer.js';
export { parse } from './parser.js';
export type * from './ast.js';
export { RuleSqlError, RuleEvalError, type RuleSqlErrorCode, type RuleEvalClause } from './errors.js';
export { compileRule, type CompiledRule, type RuleOutcome, type FunctionTable, type SqlFunction, type Columns, type Output } from './compile.js';
export * from './context.js';
