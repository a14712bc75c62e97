/**
 * One ACL rule as external backends store it — a SQL row, a Redis hash entry, an item of an HTTP
 * answer's `acl` list — in EMQX 5's raw rule format:
 *
 *   permission  allow | deny
 *   action      publish | pub | subscribe | sub | all
 *   topic       one filter ("eq t/#" = that literal string), or `topics`: a list of them
 *   qos         0 | 1 | 2, "0,1", [0, 1]    (absent: all)
 *   retain      true | false | 1 | 0 | "all" (absent: either)
 *   username_re, clientid_re, ipaddr        (optional conditions on who)
 *
 * A row's other columns (`username`, `clientid`…) are ignored, as EMQX does: they belong in the
 * query's WHERE, and the row is already this client's.
 */
import type { AclRule, Parsed, TopicPattern, Who } from '../types.js';
import type { QoS } from '../../types.js';

type Raw = Record<string, unknown>;

const text = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'number' || typeof v === 'bigint' ? String(v) : undefined;

function fail(error: string): { ok: false; error: string } { return { ok: false, error }; }

function topicOf(raw: string): TopicPattern {
  return raw.startsWith('eq ') ? { eq: raw.slice(3) } : raw;
}

function topics(row: Raw): Parsed<TopicPattern[]> {
  const one = text(row.topic);
  if (one !== undefined && one !== '') return { ok: true, value: [topicOf(one)] };
  let many = row.topics;
  if (typeof many === 'string') { try { many = JSON.parse(many); } catch { return fail(`'topics' is not a JSON list: ${many}`); } }
  if (Array.isArray(many) && many.length > 0 && many.every((t) => typeof t === 'string' && t !== '')) {
    return { ok: true, value: (many as string[]).map(topicOf) };
  }
  return fail(`no 'topic' (or 'topics' list) in ${JSON.stringify(row)}`);
}

function qosOf(v: unknown): Parsed<QoS[] | undefined> {
  if (v === undefined || v === null || v === '') return { ok: true, value: undefined };
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : [v];
  const out: QoS[] = [];
  for (const q of list) {
    const n = typeof q === 'string' ? Number(q.trim()) : q;
    if (n !== 0 && n !== 1 && n !== 2) return fail(`invalid qos ${JSON.stringify(v)} (0, 1, 2 or a list of them)`);
    out.push(n);
  }
  return { ok: true, value: out };
}

function retainOf(v: unknown): Parsed<boolean | undefined> {
  if (v === undefined || v === null || v === 'all' || v === '') return { ok: true, value: undefined };
  if (v === true || v === 1 || v === '1' || v === 'true') return { ok: true, value: true };
  if (v === false || v === 0 || v === '0' || v === 'false') return { ok: true, value: false };
  return fail(`invalid retain ${JSON.stringify(v)} (true, false, 1, 0 or all)`);
}

function whoOf(row: Raw): Parsed<Who> {
  const conds: Who[] = [];
  for (const [key, make] of [
    ['username_re', (re: string): Who => ({ username: { re } })],
    ['clientid_re', (re: string): Who => ({ clientid: { re } })],
    ['ipaddr', (ip: string): Who => ({ ipaddr: ip })],
  ] as const) {
    const v = text(row[key]);
    if (v === undefined || v === '') continue;
    if (key !== 'ipaddr') { try { new RegExp(v); } catch { return fail(`invalid ${key} ${JSON.stringify(v)}`); } }
    conds.push(make(v));
  }
  return { ok: true, value: conds.length === 0 ? 'all' : conds.length === 1 ? conds[0] : { and: conds } };
}

/** Column names as the row gives them, case-insensitively (MySQL may upper-case aliases). */
function lower(row: Raw): Raw {
  const out: Raw = {};
  for (const [k, v] of Object.entries(row)) out[k.toLowerCase()] = v;
  return out;
}

export function parseRuleRow(input: Raw): Parsed<AclRule> {
  const row = lower(input);
  const permission = text(row.permission)?.toLowerCase();
  if (permission !== 'allow' && permission !== 'deny') return fail(`invalid permission ${JSON.stringify(row.permission ?? null)} (allow or deny)`);
  const a = text(row.action)?.toLowerCase();
  const action = a === 'pub' || a === 'publish' ? 'publish' : a === 'sub' || a === 'subscribe' ? 'subscribe' : a === 'all' ? 'all' : undefined;
  if (action === undefined) return fail(`invalid action ${JSON.stringify(row.action ?? null)} (publish, subscribe or all)`);
  const t = topics(row); if (!t.ok) return t;
  const q = qosOf(row.qos); if (!q.ok) return q;
  const r = retainOf(row.retain); if (!r.ok) return r;
  const who = whoOf(row); if (!who.ok) return who;
  const rule: { -readonly [K in keyof AclRule]: AclRule[K] } = { permission, who: who.value, action, topics: t.value };
  if (q.value !== undefined) rule.qos = q.value;
  if (r.value !== undefined && action !== 'subscribe') rule.retain = r.value;
  return { ok: true, value: rule };
}

/**
 * Rules from many rows; a bad row is reported through `onBad` and skipped (EMQX logs it and
 * goes on with the next row), so one broken row cannot open or close everything else.
 */
export function parseRuleRows(rows: readonly Raw[], onBad: (error: string) => void): AclRule[] {
  const out: AclRule[] = [];
  for (const row of rows) {
    const r = parseRuleRow(row);
    if (r.ok) out.push(r.value); else onBad(r.error);
  }
  return out;
}
