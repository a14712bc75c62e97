/**
 * Recursive-descent parser for EMQX's rule SQL: tokens → `Statement`. It accepts what EMQX's
 * rulesql grammar accepts (SELECT / FOREACH … DO … INCASE, FROM with quoted topics, WHERE,
 * CASE, IN / NOT IN, paths with 1-based indexes and ranges, list literals, `AS` optional before
 * an alias) and is a little more lenient where EMQX's grammar is needlessly strict: any
 * expression may appear as a field or a function argument.
 *
 * Precedence, loosest first, as in rulesql: OR, AND, NOT, comparison (non-associative) and IN,
 * `+ -`, `* / div mod`, unary `- +`.
 */
import type { ArithOp, CompareOp, Expr, Field, FromItem, PathStep, Pos, Statement } from './ast.js';
import { RuleSqlError } from './errors.js';
import { describe, tokenize, type Token } from './lexer.js';

const COMPARE_OPS = new Set(['=', '!=', '<>', '<', '<=', '>', '>=', '=~']);

export function parse(sql: string): Statement {
  return new Parser(tokenize(sql)).statement();
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  private get tok(): Token { return this.toks[this.i]!; }
  private next(): Token { return this.toks[this.i++]!; }
  private isKw(v: string): boolean { const t = this.tok; return t.t === 'kw' && t.v === v; }
  private isOp(v: string): boolean { const t = this.tok; return t.t === 'op' && t.v === v; }
  private fail(expected: string, tok: Token = this.tok): never {
    throw new RuleSqlError('PARSE', tok.pos.line, tok.pos.col, `expected ${expected} but found ${describe(tok)}`);
  }
  private expectKw(v: string): void { if (!this.isKw(v)) this.fail(v); this.i++; }
  private expectOp(v: string): void { if (!this.isOp(v)) this.fail(`'${v}'`); this.i++; }

  statement(): Statement {
    if (this.isKw('SELECT')) {
      this.i++;
      const fields = this.fields();
      const from = this.from();
      const where = this.where();
      this.end();
      return { type: 'select', fields, from, where };
    }
    if (this.isKw('FOREACH')) {
      this.i++;
      const fields = this.fields();
      let doFields: Field[] | null = null;
      let incase: Expr | null = null;
      if (this.isKw('DO')) { this.i++; doFields = this.fields(); }
      if (this.isKw('INCASE')) { this.i++; incase = this.expr(); }
      const from = this.from();
      const where = this.where();
      this.end();
      return { type: 'foreach', fields, doFields, incase, from, where };
    }
    return this.fail('SELECT or FOREACH');
  }

  private end(): void { if (this.tok.t !== 'eof') this.fail('WHERE or end of input'); }

  private from(): FromItem[] {
    this.expectKw('FROM');
    const out: FromItem[] = [];
    for (;;) {
      const t = this.tok;
      if ((t.t === 'name' && t.quoted) || t.t === 'string') {
        if (t.v.length === 0) this.fail('a non-empty topic or event', t);
        out.push({ name: t.v, pos: t.pos });
        this.i++;
      } else {
        this.fail('a quoted topic or event such as "t/#"');
      }
      if (!this.isOp(',')) return out;
      this.i++;
    }
  }

  private where(): Expr | null {
    if (!this.isKw('WHERE')) return null;
    this.i++;
    return this.expr();
  }

  private fields(): Field[] {
    const out: Field[] = [];
    for (;;) {
      out.push(this.field());
      if (!this.isOp(',')) return out;
      this.i++;
    }
  }

  private field(): Field {
    const pos = this.tok.pos;
    if (this.isOp('*')) { this.i++; return { kind: 'star', pos }; }
    const expr = this.expr();
    let alias: PathStep[] | null = null;
    if (this.isKw('AS')) {
      this.i++;
      alias = this.aliasPath();
    } else if (this.tok.t === 'name') {
      alias = this.aliasPath(); // EMQX lets `AS` be left out: `SELECT clientid cid FROM …`
    }
    return { kind: 'field', expr, alias, pos };
  }

  private aliasPath(): PathStep[] {
    const t = this.tok;
    if (t.t !== 'name') this.fail('an alias name');
    this.i++;
    return this.pathRest([{ key: t.v }]);
  }

  /** `.key`, `.'quoted key'`, `.1` and `[index]` steps after a name (EMQX would need `.'end'` for a keyword). */
  private pathRest(steps: PathStep[]): PathStep[] {
    for (;;) {
      if (this.isOp('.')) {
        this.i++;
        const t = this.next();
        if (t.t === 'name' || t.t === 'string') steps.push({ key: t.v });
        else if (t.t === 'int') steps.push({ key: t.text });
        else if (t.t === 'kw') steps.push({ key: t.text }); // `payload.end`: after a dot a keyword can only be a key
        else this.fail('a key after "."', t);
      } else if (this.isOp('[')) {
        this.i++;
        steps.push(this.index());
        this.expectOp(']');
      } else {
        return steps;
      }
    }
  }

  private index(): PathStep {
    let sign = 1;
    let signed = false;
    if (this.isOp('-') || this.isOp('+')) { sign = (this.next() as { v: string }).v === '-' ? -1 : 1; signed = true; }
    const t = this.tok;
    if (t.t === 'int') {
      this.i++;
      if (t.v === 0) return { index: sign < 0 ? 'tail' : 'head' };
      return { index: sign * t.v };
    }
    if (signed) this.fail('an integer index');
    if (t.t === 'name') {
      this.i++;
      return { indexBy: { kind: 'path', steps: this.pathRest([{ key: t.v }]), pos: t.pos } };
    }
    return this.fail('an index: an integer or a column');
  }

  expr(): Expr { return this.or(); }

  private or(): Expr {
    let left = this.and();
    while (this.isKw('OR')) {
      const pos = this.next().pos;
      left = { kind: 'or', left, right: this.and(), pos };
    }
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.isKw('AND')) {
      const pos = this.next().pos;
      left = { kind: 'and', left, right: this.not(), pos };
    }
    return left;
  }

  private not(): Expr {
    if (this.isKw('NOT')) {
      const pos = this.next().pos;
      return { kind: 'not', arg: this.not(), pos };
    }
    return this.predicate();
  }

  private predicate(): Expr {
    const left = this.additive();
    const t = this.tok;
    if (t.t === 'op' && COMPARE_OPS.has(t.v)) {
      this.i++;
      const right = this.additive();
      if (this.tok.t === 'op' && COMPARE_OPS.has(this.tok.v)) this.fail('AND, OR or the end of the comparison (comparisons do not chain)');
      return { kind: 'compare', op: t.v as CompareOp, left, right, pos: t.pos };
    }
    if (this.isKw('IN')) {
      this.i++;
      return { kind: 'in', arg: left, list: this.inList(), negated: false, pos: t.pos };
    }
    if (this.isKw('NOT') && this.toks[this.i + 1]?.t === 'kw' && (this.toks[this.i + 1] as { v: string }).v === 'IN') {
      this.i += 2;
      return { kind: 'in', arg: left, list: this.inList(), negated: true, pos: t.pos };
    }
    return left;
  }

  private inList(): Expr[] {
    this.expectOp('(');
    const items = [this.expr()];
    while (this.isOp(',')) { this.i++; items.push(this.expr()); }
    this.expectOp(')');
    return items;
  }

  private additive(): Expr {
    let left = this.multiplicative();
    while (this.isOp('+') || this.isOp('-')) {
      const t = this.next() as { v: string; pos: Pos };
      left = { kind: 'arith', op: t.v as ArithOp, left, right: this.multiplicative(), pos: t.pos };
    }
    return left;
  }

  private multiplicative(): Expr {
    let left = this.unary();
    for (;;) {
      const t = this.tok;
      let op: ArithOp;
      if (t.t === 'op' && (t.v === '*' || t.v === '/')) op = t.v;
      else if (t.t === 'kw' && (t.v === 'DIV' || t.v === 'MOD')) op = t.v === 'DIV' ? 'div' : 'mod';
      else return left;
      this.i++;
      left = { kind: 'arith', op, left, right: this.unary(), pos: t.pos };
    }
  }

  private unary(): Expr {
    if (this.isOp('-') || this.isOp('+')) {
      const t = this.next() as { v: string; pos: Pos };
      const arg = this.unary();
      if (t.v === '+') return arg;
      if (arg.kind === 'const' && typeof arg.value === 'number') return { kind: 'const', value: -arg.value, pos: t.pos };
      return { kind: 'neg', arg, pos: t.pos };
    }
    return this.primary();
  }

  private primary(): Expr {
    const t = this.tok;
    switch (t.t) {
      case 'int': case 'float': this.i++; return { kind: 'const', value: t.v, pos: t.pos };
      case 'string': this.i++; return { kind: 'const', value: t.v, pos: t.pos };
      case 'range': this.i++; return { kind: 'range', from: t.from, to: t.to, pos: t.pos };
      case 'name': return this.nameExpr();
      case 'kw':
        if (t.v === 'CASE') return this.caseExpr();
        break;
      case 'op':
        if (t.v === '(') {
          this.i++;
          const e = this.expr();
          this.expectOp(')');
          return e;
        }
        if (t.v === '[') return this.listExpr();
        break;
      case 'eof': break;
    }
    return this.fail('an expression');
  }

  private listExpr(): Expr {
    const pos = this.next().pos;
    const items: Expr[] = [];
    if (!this.isOp(']')) {
      items.push(this.expr());
      while (this.isOp(',')) { this.i++; items.push(this.expr()); }
    }
    this.expectOp(']');
    return { kind: 'list', items, pos };
  }

  private nameExpr(): Expr {
    const t = this.next() as Extract<Token, { t: 'name' }>;
    if (!t.quoted && this.isOp('(')) return this.call(t.v, t.pos);
    if (!t.quoted && (t.v === 'true' || t.v === 'false')) return { kind: 'const', value: t.v === 'true', pos: t.pos };
    const steps = this.pathRest([{ key: t.v }]);
    if (this.isOp('(')) {
      // `module.func(…)`: EMQX's calls into an Erlang module have no meaning here.
      this.fail(`a column (calls into modules such as ${steps.map((s) => ('key' in s ? s.key : '?')).join('.')}() are not supported)`);
    }
    let e: Expr = { kind: 'path', steps, pos: t.pos };
    const r = this.tok;
    if (r.t === 'range') {
      this.i++;
      e = { kind: 'slice', target: e, from: r.from, to: r.to, pos: r.pos };
    }
    return e;
  }

  private call(name: string, pos: Pos): Expr {
    this.expectOp('(');
    const args: Expr[] = [];
    if (!this.isOp(')')) {
      args.push(this.expr());
      while (this.isOp(',')) { this.i++; args.push(this.expr()); }
    }
    this.expectOp(')');
    return { kind: 'call', name, args, pos };
  }

  private caseExpr(): Expr {
    const pos = this.next().pos;
    const on = this.isKw('WHEN') ? null : this.expr();
    const whens: { when: Expr; then: Expr }[] = [];
    while (this.isKw('WHEN')) {
      this.i++;
      const when = this.expr();
      this.expectKw('THEN');
      whens.push({ when, then: this.expr() });
    }
    if (whens.length === 0) this.fail('WHEN');
    let otherwise: Expr | null = null;
    if (this.isKw('ELSE')) { this.i++; otherwise = this.expr(); }
    this.expectKw('END');
    return { kind: 'case', on, whens, otherwise, pos };
  }
}
