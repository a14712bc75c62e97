/**
 * A JWT's ACL claim (`acl` by default) turned into the rules every source speaks (AclRule).
 * EMQX 5 accepts two shapes, and so do we:
 *
 * - the rule list: `[{"permission": "allow", "action": "publish", "topic": "t/${username}", "qos": [1, 2], "retain": false}, …]`
 *   with `topics` for several topics, `"eq t/#"` for a literal topic, actions `publish|pub`,
 *   `subscribe|sub`, `all`, and optional conditions `username_re`, `clientid_re`, `ipaddr`.
 *   Rules the token does not match leave the decision to the next authorization source;
 * - the older map `{"pub": [topics], "sub": [topics], "all": [topics]}`: everything listed is
 *   allowed and anything else is denied — the token's own closed list, never "no match".
 *
 * A malformed claim is an error (the token is then refused), never a rule silently dropped:
 * dropping a deny would widen what the client may do.
 */
import type { AclRule, TopicPattern, Who } from '../types.js';
import type { QoS } from '../../types.js';

export type AclParse = { ok: true; rules: AclRule[] } | { ok: false; error: string };

/** The claim's value → rules; `error` says which rule and field is wrong. */
export function aclFromClaim(claim: unknown): AclParse {
  if (Array.isArray(claim)) {
    const rules: AclRule[] = [];
    for (let i = 0; i < claim.length; i++) {
      const r = ruleFromRaw(claim[i]);
      if (typeof r === 'string') return { ok: false, error: `acl rule ${i}: ${r}` };
      rules.push(r);
    }
    return { ok: true, rules };
  }
  if (claim !== null && typeof claim === 'object') return legacyMap(claim as Record<string, unknown>);
  return { ok: false, error: `acl claim must be a list of rules or a {pub, sub, all} map, got ${typeof claim}` };
}

const DENY_REST: readonly string[] = ['#', '$SYS/#', '$delayed/#'];

const LEGACY: ReadonlyArray<[key: string, action: AclRule['action']]> = [['pub', 'publish'], ['sub', 'subscribe'], ['all', 'all']];

function legacyMap(m: Record<string, unknown>): AclParse {
  const rules: AclRule[] = [];
  for (const [key, action] of LEGACY) {
    const v = m[key];
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every((t) => typeof t === 'string' && t !== '')) return { ok: false, error: `acl.${key} must be a list of topics` };
    if (v.length > 0) rules.push({ permission: 'allow', who: 'all', action, topics: v as string[] });
  }
  // EMQX answers "deny" when none of the map's topics match: the map is the whole allowance.
  // '#' never reaches a `$` topic [MQTT-4.7.2-1], so those the broker serves are named too.
  rules.push({ permission: 'deny', who: 'all', action: 'all', topics: DENY_REST });
  return { ok: true, rules };
}

const KNOWN = new Set(['permission', 'action', 'topic', 'topics', 'qos', 'retain', 'username_re', 'clientid_re', 'ipaddr',
  // EMQX drops exact username/clientid from rules a client brings (they name the client itself).
  'username', 'clientid']);

function ruleFromRaw(raw: unknown): AclRule | string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'must be an object';
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    // zone and listener conditions have no counterpart in Petrel's rules; ignoring one would widen an allow.
    if (!KNOWN.has(k)) return `unsupported field '${k}'`;
  }
  if (r.permission !== 'allow' && r.permission !== 'deny') return `permission must be allow or deny, got ${JSON.stringify(r.permission)}`;
  const action = r.action === 'publish' || r.action === 'pub' ? 'publish'
    : r.action === 'subscribe' || r.action === 'sub' ? 'subscribe' : r.action === 'all' ? 'all' : null;
  if (action === null) return `action must be publish, subscribe or all, got ${JSON.stringify(r.action)}`;
  let rawTopics: unknown[];
  if (typeof r.topic === 'string') rawTopics = [r.topic];
  else if (Array.isArray(r.topics)) rawTopics = r.topics;
  else return "needs 'topic' (a string) or 'topics' (a list)";
  const topics: TopicPattern[] = [];
  for (const t of rawTopics) {
    if (typeof t !== 'string' || t === '') return `topics must be non-empty strings, got ${JSON.stringify(t)}`;
    topics.push(t.startsWith('eq ') ? { eq: t.slice(3) } : t);
  }
  const rule: { -readonly [K in keyof AclRule]: AclRule[K] } = { permission: r.permission, who: 'all', action, topics };
  const qos = parseQos(r.qos);
  if (typeof qos === 'string') return qos;
  if (qos !== undefined) rule.qos = qos;
  if (action !== 'subscribe') {
    const retain = parseRetain(r.retain);
    if (typeof retain === 'string') return retain;
    if (retain !== undefined) rule.retain = retain;
  }
  const who = parseWho(r);
  if ('error' in who) return who.error;
  rule.who = who.who;
  return rule;
}

function qosAtom(v: unknown): QoS | null {
  if (v === 0 || v === '0') return 0;
  if (v === 1 || v === '1') return 1;
  if (v === 2 || v === '2') return 2;
  return null;
}

function parseQos(v: unknown): readonly QoS[] | undefined | string {
  if (v === undefined || v === null) return undefined;
  const items = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : [v];
  const out: QoS[] = [];
  for (const it of items) {
    const q = qosAtom(it);
    if (q === null) return `qos must be 0, 1, 2, a list of them or "0,1", got ${JSON.stringify(v)}`;
    out.push(q);
  }
  return out.length === 3 ? undefined : out;
}

function parseRetain(v: unknown): boolean | undefined | string {
  if (v === undefined || v === null || v === 'all') return undefined;
  if (v === true || v === 1 || v === '1' || v === 'true') return true;
  if (v === false || v === 0 || v === '0' || v === 'false') return false;
  return `retain must be true, false or "all", got ${JSON.stringify(v)}`;
}

function parseWho(r: Record<string, unknown>): { who: Who } | { error: string } {
  const all: Who[] = [];
  for (const [key, make] of [['username_re', (re: string): Who => ({ username: { re } })], ['clientid_re', (re: string): Who => ({ clientid: { re } })]] as const) {
    const v = r[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '') return { error: `${key} must be a non-empty regular expression` };
    try { new RegExp(v); } catch { return { error: `${key} is not a valid regular expression: ${JSON.stringify(v)}` }; }
    all.push(make(v));
  }
  if (r.ipaddr !== undefined) {
    if (typeof r.ipaddr !== 'string' || r.ipaddr === '') return { error: 'ipaddr must be an address or CIDR string' };
    all.push({ ipaddr: r.ipaddr });
  }
  if (all.length === 0) return { who: 'all' };
  return { who: all.length === 1 ? all[0]! : { and: all } };
}
