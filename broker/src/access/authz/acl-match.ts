/**
 * ACL rules matched against one authorization request: the first rule whose who, action and
 * topic all match decides (`allow`/`deny`); none → `nomatch`. Every source speaks these rules
 * (acl.conf, YAML, the built-in database, Redis and SQL rows, HTTP answers, JWT `acl` claims).
 *
 * Rules are compiled once (regexes, CIDRs, topic levels, placeholder positions) and the compiled
 * form is remembered per rules array, so a source that holds its array pays nothing per check.
 *
 * Topics — publish asks "does the rule's filter match this topic name"; subscribe asks about a
 * filter, which stands for every topic it can receive. We answer that question by set logic,
 * which is stricter than EMQX (EMQX matches the requested filter's `+`/`#` as if they were
 * ordinary words, so a rule `a/+` lets a client subscribe `a/#`):
 *   - an `allow` rule applies when its filter COVERS the requested one (every topic the request
 *     can receive is allowed): rule `a/+` covers `a/b` and `a/+`, not `a/#`, `+/b` or `#`;
 *   - a `deny` rule applies when its filter OVERLAPS the requested one (some topic could reach
 *     the client through it): a deny on `a/b` catches `a/#`, `+/b`, `+/+` and `#`.
 * A topic name has no wildcards, so for publish both reduce to ordinary matching. The `$` rule
 * holds throughout: a leading wildcard never reaches `$SYS/…` [MQTT-4.7.2-1].
 * `{eq: t}` compares the requested string with t literally (`{eq: '#'}` is the filter `#` only).
 * A string `"eq t"` is read as `{eq: 't'}`, as EMQX does for database rows.
 * `{all: true}` is EMQX's rule without topics (`{allow, all}.`, or `all` in the topics place):
 * it matches every topic and every filter, `$`-topics included, where `#` stops at `$`.
 *
 * Placeholders `${username}` `${clientid}` `${peerhost}` `${cert_common_name}` `${cert_subject}`
 * are filled per request. A value that is missing (no username, no certificate), empty, or
 * holds `+`, `#` or `/` makes that topic of the rule match nothing, so a client named `#` or
 * `a/b` cannot widen a rule like `users/${username}/#`; nor can a value starting with `$` fill
 * a topic's first level (a client named `$SYS`).
 *
 * Who: `all`; `{username|clientid: s}` exact, or `{…: {re: s}}` a JavaScript regular expression
 * (EMQX's PCRE syntax is the same for the usual cases); `{ipaddr: cidr}` / `{ipaddrs: [cidr…]}`
 * IPv4 or IPv6 addresses or CIDR blocks (an IPv4-mapped IPv6 peer `::ffff:a.b.c.d` counts as
 * a.b.c.d); `{and: […]}` (empty = everyone), `{or: […]}` (empty = no one).
 */
import { BlockList, isIP } from 'node:net';
import type { AuthzRequest, ClientInfo } from '../../hooks.js';
import type { AclRule, AuthzAnswer, TopicPattern, Who } from '../types.js';

/** A rule that cannot be compiled; `message` names the rule (by index) and what is wrong. */
export class AclError extends Error {
  constructor(message: string) { super(message); this.name = 'AclError'; }
}

type WhoTest = (c: ClientInfo) => boolean;

const PLACEHOLDERS = ['username', 'clientid', 'peerhost', 'cert_common_name', 'cert_subject'] as const;
type Placeholder = typeof PLACEHOLDERS[number];

/** One level of a rule filter: a literal (`+`/`#` included), or a template to fill per request. */
type Level = string | ReadonlyArray<string | { ph: Placeholder }>;

interface CompiledTopic {
  /** `{all: true}`: matches whatever is asked. */
  readonly all: boolean;
  /** `{eq: …}`: the literal string the request must equal; null for a filter. */
  readonly eq: string | null;
  readonly levels: readonly Level[];
  readonly templated: boolean;
}

export interface CompiledRule {
  readonly allow: boolean;
  readonly who: WhoTest;
  readonly publish: boolean;
  readonly subscribe: boolean;
  /** Bit q set = QoS q covered. */
  readonly qosMask: number;
  readonly retain: boolean | undefined;
  readonly topics: readonly CompiledTopic[];
}

// ---------------------------------------------------------------- compile

const compiledCache = new WeakMap<readonly AclRule[], readonly CompiledRule[]>();

/** Compiles rules (throws AclError naming the first bad rule). */
export function compileRules(rules: readonly AclRule[]): readonly CompiledRule[] {
  let c = compiledCache.get(rules);
  if (c === undefined) {
    c = rules.map((r, i) => compileRule(r, `rule ${i + 1}`));
    compiledCache.set(rules, c);
  }
  return c;
}

export function compileRule(r: AclRule, where: string): CompiledRule {
  if (r.permission !== 'allow' && r.permission !== 'deny') throw new AclError(`${where}: permission must be allow or deny, not ${JSON.stringify(r.permission)}`);
  if (r.action !== 'publish' && r.action !== 'subscribe' && r.action !== 'all') throw new AclError(`${where}: action must be publish, subscribe or all, not ${JSON.stringify(r.action)}`);
  let qosMask = 7;
  if (r.qos !== undefined) {
    qosMask = 0;
    for (const q of r.qos) {
      if (q !== 0 && q !== 1 && q !== 2) throw new AclError(`${where}: qos must be 0, 1 or 2, not ${JSON.stringify(q)}`);
      qosMask |= 1 << q;
    }
  }
  if (r.retain !== undefined && typeof r.retain !== 'boolean') throw new AclError(`${where}: retain must be true or false`);
  if (!Array.isArray(r.topics)) throw new AclError(`${where}: topics must be a list`);
  return {
    allow: r.permission === 'allow',
    who: compileWho(r.who, where),
    publish: r.action !== 'subscribe',
    subscribe: r.action !== 'publish',
    qosMask,
    retain: r.retain,
    topics: r.topics.map((t, i) => compileTopic(t, `${where}, topic ${i + 1}`)),
  };
}

function compileWho(w: Who, where: string): WhoTest {
  if (w === 'all') return () => true;
  if (typeof w !== 'object' || w === null) throw new AclError(`${where}: who must be all or an object, not ${JSON.stringify(w)}`);
  const keys = Object.keys(w);
  if (keys.length !== 1) throw new AclError(`${where}: who must have exactly one of username, clientid, ipaddr, ipaddrs, and, or (got ${keys.join(', ') || 'none'})`);
  const o = w as Record<string, unknown>;
  if ('username' in o) { const m = compileString(o.username, `${where}: username`); return (c) => c.username !== null && m(c.username); }
  if ('clientid' in o) { const m = compileString(o.clientid, `${where}: clientid`); return (c) => m(c.clientId); }
  if ('ipaddr' in o) return compileCidrs([o.ipaddr], `${where}: ipaddr`);
  if ('ipaddrs' in o) {
    if (!Array.isArray(o.ipaddrs)) throw new AclError(`${where}: ipaddrs must be a list of addresses or CIDRs`);
    return compileCidrs(o.ipaddrs, `${where}: ipaddrs`);
  }
  if ('and' in o || 'or' in o) {
    const isAnd = 'and' in o;
    const list = isAnd ? o.and : o.or;
    if (!Array.isArray(list)) throw new AclError(`${where}: ${isAnd ? 'and' : 'or'} must be a list`);
    const parts = list.map((x, i) => compileWho(x as Who, `${where}, ${isAnd ? 'and' : 'or'} item ${i + 1}`));
    return isAnd ? (c) => parts.every((p) => p(c)) : (c) => parts.some((p) => p(c));
  }
  throw new AclError(`${where}: unknown who '${keys[0]}' (known: all, username, clientid, ipaddr, ipaddrs, and, or)`);
}

function compileString(v: unknown, where: string): (s: string) => boolean {
  if (typeof v === 'string') return (s) => s === v;
  if (typeof v === 'object' && v !== null && typeof (v as { re?: unknown }).re === 'string') {
    let re: RegExp;
    try { re = new RegExp((v as { re: string }).re); } catch (err) { throw new AclError(`${where}: bad regular expression: ${(err as Error).message}`); }
    return (s) => re.test(s);
  }
  throw new AclError(`${where}: must be a string or {re: "regex"}`);
}

function compileCidrs(list: readonly unknown[], where: string): WhoTest {
  const bl = new BlockList();
  for (const item of list) {
    if (typeof item !== 'string') throw new AclError(`${where}: ${JSON.stringify(item)} is not an address`);
    const slash = item.indexOf('/');
    const addr = slash < 0 ? item : item.slice(0, slash);
    const fam = isIP(addr);
    if (fam === 0) throw new AclError(`${where}: '${item}' is not an IPv4/IPv6 address or CIDR`);
    const type = fam === 4 ? 'ipv4' : 'ipv6';
    if (slash < 0) { bl.addAddress(addr, type); continue; }
    const bits = item.slice(slash + 1);
    const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (prefix < 0 || prefix > (fam === 4 ? 32 : 128)) throw new AclError(`${where}: '${item}' has a bad prefix length`);
    bl.addSubnet(addr, prefix, type);
  }
  return (c) => {
    const fam = isIP(c.peerHost);
    return fam !== 0 && bl.check(c.peerHost, fam === 4 ? 'ipv4' : 'ipv6');
  };
}

const PH_RE = /\$\{([^}]*)\}/g;

/** The topic of a rule without topics (EMQX's `all`). */
export const ALL_TOPICS: TopicPattern = Object.freeze({ all: true as const });
const COMPILED_ALL: CompiledTopic = Object.freeze({ all: true, eq: null, levels: [], templated: false });

function compileTopic(t: TopicPattern, where: string): CompiledTopic {
  if (typeof t === 'object' && t !== null) {
    if (typeof (t as { eq?: unknown }).eq === 'string') return { all: false, eq: (t as { eq: string }).eq, levels: [], templated: false };
    if ((t as { all?: unknown }).all === true) return COMPILED_ALL;
  }
  if (typeof t !== 'string') throw new AclError(`${where}: a topic must be a string, {eq: "topic"} or {all: true}, not ${JSON.stringify(t)}`);
  if (t.startsWith('eq ')) return { all: false, eq: t.slice(3), levels: [], templated: false };
  if (t === '') throw new AclError(`${where}: empty topic`);
  const raw = t.split('/');
  let templated = false;
  const levels: Level[] = raw.map((lv, i) => {
    if ((lv.includes('+') && lv !== '+') || (lv.includes('#') && (lv !== '#' || i !== raw.length - 1))) {
      throw new AclError(`${where}: '${t}' is not a valid topic filter ('+' and '#' fill a whole level, '#' only the last)`);
    }
    if (!lv.includes('${')) return lv;
    const parts: Array<string | { ph: Placeholder }> = [];
    let last = 0;
    for (const m of lv.matchAll(PH_RE)) {
      const name = m[1] as Placeholder;
      if (!PLACEHOLDERS.includes(name)) throw new AclError(`${where}: unknown placeholder \${${m[1]}} in '${t}' (known: ${PLACEHOLDERS.map((p) => `\${${p}}`).join(' ')})`);
      if (m.index > last) parts.push(lv.slice(last, m.index));
      parts.push({ ph: name });
      last = m.index + m[0].length;
    }
    if (last < lv.length) parts.push(lv.slice(last));
    templated = true;
    return parts;
  });
  return { all: false, eq: null, levels, templated };
}

// ---------------------------------------------------------------- match

/** The first matching rule's permission, or 'nomatch'. Throws AclError for a rule that does not compile. */
export function matchRules(rules: readonly AclRule[], req: AuthzRequest): AuthzAnswer {
  return matchCompiled(compileRules(rules), req);
}

export function matchCompiled(rules: readonly CompiledRule[], req: AuthzRequest): AuthzAnswer {
  const pub = req.action === 'publish';
  const qbit = 1 << req.qos;
  let words: string[] | null = null;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (pub ? !r.publish : !r.subscribe) continue;
    if ((r.qosMask & qbit) === 0) continue;
    if (pub && r.retain !== undefined && r.retain !== req.retain) continue;
    if (!r.who(req.client)) continue;
    words ??= req.topic.split('/');
    if (topicsMatch(r, req, words)) return r.allow ? 'allow' : 'deny';
  }
  return 'nomatch';
}

function topicsMatch(r: CompiledRule, req: AuthzRequest, words: readonly string[]): boolean {
  for (const t of r.topics) {
    if (t.all) return true;
    if (t.eq !== null) { if (t.eq === req.topic) return true; continue; }
    const filter = t.templated ? render(t.levels, req.client) : (t.levels as readonly string[]);
    if (filter === null) continue;
    if (r.allow ? covers(filter, words) : overlaps(filter, words)) return true;
  }
  return false;
}

function placeholderValue(c: ClientInfo, ph: Placeholder): string | null | undefined {
  switch (ph) {
    case 'username': return c.username;
    case 'clientid': return c.clientId;
    case 'peerhost': return c.peerHost;
    case 'cert_common_name': return c.peerCert?.cn;
    // EMQX fills it with the client's `dn`: RFC 4514, most specific first ("CN=dev1,O=Acme,C=SE").
    case 'cert_subject': return c.peerCert?.dn;
  }
}

/** The rule's filter for this client, or null when a value is missing or would inject wildcards or levels. */
function render(levels: readonly Level[], c: ClientInfo): string[] | null {
  const out: string[] = new Array(levels.length);
  for (let i = 0; i < levels.length; i++) {
    const lv = levels[i];
    if (typeof lv === 'string') { out[i] = lv; continue; }
    let s = '';
    for (const p of lv) {
      if (typeof p === 'string') { s += p; continue; }
      const v = placeholderValue(c, p.ph);
      if (v === null || v === undefined || v === '' || /[+#/]/.test(v)) return null;
      s += v;
    }
    if (i === 0 && s.charCodeAt(0) === 36 /* $ */ && !(typeof lv[0] === 'string' && lv[0].startsWith('$'))) return null;
    out[i] = s;
  }
  return out;
}

const isWild = (w: string): boolean => w === '+' || w === '#';

/** Every topic `req` can match is matched by `filter`. */
export function covers(filter: readonly string[], req: readonly string[]): boolean {
  const dollar = req.length > 0 && req[0].charCodeAt(0) === 36;
  for (let i = 0; ; i++) {
    const f = filter[i];
    if (f === '#') return !(i === 0 && dollar);
    if (i === req.length) return f === undefined;
    if (f === undefined) return false;
    const r = req[i];
    if (r === '#') return false;
    if (f === '+') { if (i === 0 && dollar) return false; continue; }
    if (r === '+' || f !== r) return false;
  }
}

/** Some topic is matched by both `filter` and `req`. */
export function overlaps(filter: readonly string[], req: readonly string[]): boolean {
  for (let i = 0; ; i++) {
    const f = filter[i];
    const r = req[i];
    if (f === undefined && r === undefined) return true;
    if (i === 0 && f !== undefined && r !== undefined) {
      // A leading wildcard on one side never meets a `$` level on the other.
      if ((isWild(f) && !isWild(r) && r.charCodeAt(0) === 36) || (isWild(r) && !isWild(f) && f.charCodeAt(0) === 36)) return false;
    }
    if (f === '#' || r === '#') return true;
    if (f === undefined || r === undefined) return false;
    if (f === '+' || r === '+') continue;
    if (f !== r) return false;
  }
}
