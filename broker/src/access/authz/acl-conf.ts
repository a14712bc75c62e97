/**
 * EMQX's acl.conf: a list of Erlang terms, each a rule tuple ended by a dot.
 *
 *   {allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.
 *   {allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.
 *   {deny, all, subscribe, ["$SYS/#", {eq, "#"}]}.
 *   {allow, {'and', [{clientid, "c1"}, {ipaddr, "10.0.0.0/8"}]}, {publish, [{qos, [0,1]}, {retain, false}]}, ["t/${clientid}"]}.
 *   {allow, all}.
 *
 * Read in two steps: a small Erlang term reader (atoms, quoted atoms, strings, binaries
 * `<<"…">>`, integers, tuples, lists, `%` comments), then each term turned into an AclRule.
 * Every error names line:column of the offending term.
 *
 * EMQX aliases are accepted: `user`/`client` for `username`/`clientid`, `pubsub` for `all`,
 * `{retain, all}` for either flag. A rule without topics — `{allow, all}.`, or `all` in the
 * topics place (`{deny, all, publish, all}.`, also `[…, all]`) — matches every topic, `$SYS/…`
 * included, as EMQX's does; the filter `"#"` keeps the MQTT rule and never reaches a `$`-topic.
 * `{security_profile, legacy}` matches everyone and
 * `hardened` no one: Petrel behaves as EMQX's legacy profile (no_match defaults to allow).
 * EMQX-only conditions (`zone`, `listener`, `client_attr`) are refused with a clear error.
 */
import type { AclRule, TopicPattern, Who } from '../types.js';
import type { QoS } from '../../types.js';
import { ALL_TOPICS, compileRule } from './acl-match.js';

export class AclConfError extends Error {
  constructor(message: string) { super(message); this.name = 'AclConfError'; }
}

// ---------------------------------------------------------------- terms

type Term =
  | { t: 'atom'; v: string; pos: string }
  | { t: 'str'; v: string; pos: string }
  | { t: 'int'; v: number; pos: string }
  | { t: 'tuple'; v: Term[]; pos: string }
  | { t: 'list'; v: Term[]; pos: string };

const NUM = /-?\d+/y;
const ATOM = /[a-z][A-Za-z0-9_@]*/y;
const BLANK = /(?:[ \t\r\n]+|%[^\n]*)*/y;

/**
 * Offsets are turned into line:column only when a term is made (one pass over the text in
 * total, as terms come in order) — a large file is read in one linear scan.
 */
class Reader {
  private i = 0;
  private lineAt = 0;
  private line = 1;
  private lineStart = 0;
  constructor(private readonly src: string, private readonly file: string) {}

  pos(at = this.i): string {
    if (at < this.lineAt) { this.lineAt = 0; this.line = 1; this.lineStart = 0; }
    for (let k = this.lineAt; k < at; k++) if (this.src.charCodeAt(k) === 10) { this.line++; this.lineStart = k + 1; }
    this.lineAt = at;
    return `${this.file}:${this.line}:${at - this.lineStart + 1}`;
  }
  fail(msg: string, pos = this.pos()): never { throw new AclConfError(`${pos}: ${msg}`); }

  /** Skips blanks and `%` comments; true when input is left. */
  skip(): boolean {
    BLANK.lastIndex = this.i;
    BLANK.exec(this.src);
    this.i = BLANK.lastIndex;
    return this.i < this.src.length;
  }

  peek(): string { this.skip(); return this.src[this.i] ?? ''; }

  expect(ch: string, what: string): void {
    if (this.peek() !== ch) this.fail(`expected ${what}, found ${this.found()}`);
    this.i++;
  }

  found(): string { return this.i >= this.src.length ? 'end of file' : `'${this.src[this.i]}'`; }

  private sticky(re: RegExp): string | null {
    re.lastIndex = this.i;
    const m = re.exec(this.src);
    if (m === null) return null;
    this.i = re.lastIndex;
    return m[0];
  }

  term(): Term {
    this.skip();
    const pos = this.pos();
    const ch = this.src[this.i] ?? '';
    if (ch === '{' || ch === '[') {
      const close = ch === '{' ? '}' : ']';
      this.i++;
      const items: Term[] = [];
      if (this.peek() !== close) {
        for (;;) {
          items.push(this.term());
          const n = this.peek();
          if (n === ',') { this.i++; continue; }
          if (n === close) break;
          this.fail(`expected ',' or '${close}', found ${this.found()}`);
        }
      }
      this.i++;
      return { t: ch === '{' ? 'tuple' : 'list', v: items, pos };
    }
    if (ch === '"') return { t: 'str', v: this.quoted('"', pos), pos };
    if (ch === "'") return { t: 'atom', v: this.quoted("'", pos), pos };
    if (ch === '<' && this.src.startsWith('<<', this.i)) {
      this.i += 2;
      if (this.peek() !== '"') this.fail('expected a string inside <<…>>');
      const v = this.quoted('"', this.pos());
      if (!this.src.startsWith('>>', this.i)) this.fail(`expected '>>', found ${this.found()}`);
      this.i += 2;
      return { t: 'str', v, pos };
    }
    const num = this.sticky(NUM);
    if (num !== null) return { t: 'int', v: Number(num), pos };
    const atom = this.sticky(ATOM);
    if (atom !== null) return { t: 'atom', v: atom, pos };
    return this.fail(`unexpected ${this.found()}`);
  }

  private quoted(q: string, start: string): string {
    this.i++;
    let out = '';
    for (;;) {
      const close = this.src.indexOf(q, this.i);
      const esc = this.src.indexOf('\\', this.i);
      if (close < 0) this.fail(`unterminated ${q === '"' ? 'string' : 'quoted atom'}`, start);
      if (esc < 0 || esc > close) { out += this.src.slice(this.i, close); this.i = close + 1; return out; }
      out += this.src.slice(this.i, esc);
      const e = this.src[esc + 1];
      const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', s: ' ', '\\': '\\', '"': '"', "'": "'" };
      if (e === undefined || map[e] === undefined) { this.i = esc; this.fail(`unsupported escape '\\${e ?? ''}'`); }
      out += map[e];
      this.i = esc + 2;
    }
  }
}

/** Reads every dot-terminated term of the file. */
export function readTerms(src: string, file = 'acl.conf'): Term[] {
  const r = new Reader(src, file);
  const out: Term[] = [];
  while (r.skip()) {
    out.push(r.term());
    r.expect('.', "'.' after the rule");
  }
  return out;
}

// ---------------------------------------------------------------- rules

const show = (t: Term): string =>
  t.t === 'atom' ? t.v : t.t === 'str' ? JSON.stringify(t.v) : t.t === 'int' ? String(t.v)
    : t.t === 'tuple' ? `{${t.v.map(show).join(', ')}}` : `[${t.v.map(show).join(', ')}]`;

const bad = (t: Term, msg: string): never => { throw new AclConfError(`${t.pos}: ${msg}, found ${show(t).slice(0, 80)}`); };
const isAtom = (t: Term, ...names: string[]): boolean => t.t === 'atom' && names.includes(t.v);

/** Parses acl.conf text into rules, in file order. `file` names it in errors. */
export function parseAclConf(src: string, file = 'acl.conf'): AclRule[] {
  const rules: AclRule[] = [];
  for (const term of readTerms(src, file)) {
    const r = toRule(term);
    if (r === null) continue;
    // Values only a compile checks (a regex, a CIDR, a topic filter) are reported at the rule's place too.
    try { compileRule(r, term.pos); } catch (err) { throw new AclConfError((err as Error).message); }
    rules.push(r);
  }
  return rules;
}

function toRule(t: Term): AclRule | null {
  if (t.t !== 'tuple' || (t.v.length !== 2 && t.v.length !== 4)) return bad(t, 'a rule is {Permission, Who, Action, Topics} or {Permission, all}');
  const [p, who] = t.v;
  if (!isAtom(p, 'allow', 'deny')) return bad(p, 'permission must be allow or deny');
  const permission = (p as { v: string }).v as 'allow' | 'deny';
  if (t.v.length === 2) {
    if (isAtom(who, 'all')) return { permission, who: 'all', action: 'all', topics: [ALL_TOPICS] };
    if (who.t === 'tuple' && who.v.length === 2 && isAtom(who.v[0], 'security_profile')) {
      return { permission, who: securityProfile(who.v[1]), action: 'all', topics: [ALL_TOPICS] };
    }
    return bad(who, 'a two-element rule is {allow|deny, all} or {allow|deny, {security_profile, legacy|hardened}}');
  }
  const { action, qos, retain } = toAction(t.v[2]);
  const rule: AclRule = { permission, who: toWho(who), action, topics: toTopics(t.v[3]) };
  if (qos !== undefined) rule.qos = qos;
  if (retain !== undefined) rule.retain = retain;
  return rule;
}

function securityProfile(t: Term): Who {
  if (isAtom(t, 'legacy')) return 'all';
  if (isAtom(t, 'hardened')) return { or: [] };
  return bad(t, 'security_profile is legacy or hardened');
}

function toWho(t: Term): Who {
  if (isAtom(t, 'all')) return 'all';
  if (t.t !== 'tuple' || t.v.length !== 2 || t.v[0].t !== 'atom') return bad(t, 'who must be all or {username|clientid|ipaddr|ipaddrs|and|or, …}');
  const [k, v] = t.v;
  const key = (k as { v: string }).v;
  switch (key) {
    case 'user': case 'username': return { username: matchValue(v) } as Who;
    case 'client': case 'clientid': return { clientid: matchValue(v) } as Who;
    case 'ipaddr': return { ipaddr: str(v, 'ipaddr takes an address or CIDR string') };
    case 'ipaddrs':
      if (v.t !== 'list') return bad(v, 'ipaddrs takes a list of address or CIDR strings');
      return { ipaddrs: v.v.map((x) => str(x, 'ipaddrs takes a list of address or CIDR strings')) };
    case 'and': case 'or':
      if (v.t !== 'list') return bad(v, `'${key}' takes a list of conditions`);
      return key === 'and' ? { and: v.v.map(toWho) } : { or: v.v.map(toWho) };
    case 'security_profile': return securityProfile(v);
    case 'zone': case 'listener': case 'client_attr':
      return bad(t, `the condition '${key}' is not supported by Petrel`);
    default: return bad(k, `unknown condition '${key}' (known: all, username, clientid, ipaddr, ipaddrs, 'and', 'or')`);
  }
}

function str(t: Term, msg: string): string {
  if (t.t !== 'str') return bad(t, msg);
  return t.v;
}

function matchValue(t: Term): string | { re: string } {
  if (t.t === 'str') return t.v;
  if (t.t === 'tuple' && t.v.length === 2 && isAtom(t.v[0], 're')) return { re: str(t.v[1], 're takes a string') };
  return bad(t, 'expected a string or {re, "regex"}');
}

function toAction(t: Term): { action: AclRule['action']; qos?: QoS[]; retain?: boolean } {
  if (isAtom(t, 'publish', 'subscribe', 'all')) return { action: (t as { v: AclRule['action'] }).v };
  if (isAtom(t, 'pubsub')) return { action: 'all' };
  if (t.t !== 'tuple' || t.v.length !== 2 || !isAtom(t.v[0], 'publish', 'subscribe', 'all', 'pubsub') || t.v[1].t !== 'list') {
    return bad(t, 'action must be publish, subscribe, all or {Action, [{qos, …}, {retain, …}]}');
  }
  const out: { action: AclRule['action']; qos?: QoS[]; retain?: boolean } = { action: isAtom(t.v[0], 'pubsub') ? 'all' : (t.v[0] as { v: AclRule['action'] }).v };
  for (const opt of t.v[1].v) {
    if (opt.t !== 'tuple' || opt.v.length !== 2) return bad(opt, 'action options are {qos, …} and {retain, …}');
    const [k, v] = opt.v;
    if (isAtom(k, 'qos')) {
      const items = v.t === 'list' ? v.v : [v];
      out.qos = items.map((q) => (q.t === 'int' && q.v >= 0 && q.v <= 2 ? q.v as QoS : bad(q, 'qos is 0, 1, 2 or a list of them')));
    } else if (isAtom(k, 'retain')) {
      if (isAtom(v, 'true')) out.retain = true;
      else if (isAtom(v, 'false')) out.retain = false;
      else if (!isAtom(v, 'all')) bad(v, 'retain is true, false or all');
    } else bad(k, 'action options are {qos, …} and {retain, …}');
  }
  return out;
}

function toTopics(t: Term): TopicPattern[] {
  const items = t.t === 'list' ? t.v : [t];
  return items.map((x): TopicPattern => {
    if (x.t === 'str') return x.v;
    if (isAtom(x, 'all')) return ALL_TOPICS;
    if (x.t === 'tuple' && x.v.length === 2 && isAtom(x.v[0], 'eq')) return { eq: str(x.v[1], 'eq takes a topic string') };
    return bad(x, 'a topic is a string, {eq, "topic"} or all');
  });
}
