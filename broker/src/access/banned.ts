/**
 * The banned list, as EMQX keeps it: a ban names a client by one of six keys —
 *
 *   clientid, username, peerhost      exact: looked up in one map (three lookups a CONNECT);
 *   clientid_re, username_re          a regular expression searched in the value (unanchored,
 *                                     as EMQX's re:run: "^dev" anchors, "dev" matches "a-dev-1");
 *   peerhost_net                      a CIDR block ("10.0.0.0/8", "fd00::/8");
 *
 * — with who banned it (`by`), why (`reason`), since when (`at`) and until when (`until`, epoch
 * seconds, or `infinity`). A ban whose `until` has passed is ignored at once and removed by
 * the next purge (a timer, and every listing). Rules (the last three kinds) sit in a short
 * array: a CONNECT walks it only when it is not empty.
 *
 * Bans live in the node's store (namespace 'banned', key "<as>\0<who>"), so they survive a
 * restart; on a cluster in etcd (access/shared-store.ts), so a ban added on one node refuses the
 * client on every node. Adding a ban — here or on another node — calls `onChange` (the connect
 * guard kicks matching connected clients). Changes apply here at once; `written` is the promise
 * of the last change's write (REST awaits it: on a cluster, stored in etcd).
 */
import { BlockList, isIP } from 'node:net';
import type { Store } from '../store/index.js';
import { asShared, type SharedStore } from './shared-store.js';

export const BAN_KINDS = ['clientid', 'username', 'peerhost', 'clientid_re', 'username_re', 'peerhost_net'] as const;
export type BanKind = typeof BAN_KINDS[number];

export interface Ban {
  readonly as: BanKind;
  /** Normalized: a peerhost in canonical form, a CIDR with its host bits cleared (IPv4). */
  readonly who: string;
  readonly by: string;
  readonly reason: string;
  /** Epoch seconds. */
  readonly at: number;
  /** Epoch seconds; Infinity = never expires. */
  readonly until: number;
}

/** What a ban is checked against (a ClientInfo has these). */
export interface BanSubject {
  readonly clientId: string;
  readonly username: string | null;
  readonly peerHost: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const NS = 'banned';
const keyOf = (as: BanKind, who: string): string => `${as}\u0000${who}`;
export const nowSec = (): number => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------- parsing

/** A peer address in the form ClientInfo.peerHost has (IPv4-mapped IPv6 unwrapped, IPv6 compressed); null = not an address. */
export function normalizeHost(s: string): string | null {
  let h = s.trim().toLowerCase();
  if (h.startsWith('::ffff:') && isIP(h.slice(7)) === 4) h = h.slice(7);
  const v = isIP(h);
  if (v === 0) return null;
  return v === 4 ? h : new URL(`http://[${h}]/`).hostname.slice(1, -1);
}

interface Net { family: 'ipv4' | 'ipv6'; text: string; list: BlockList }

function parseNet(s: string): Parsed<Net> {
  const slash = s.indexOf('/');
  const addr = normalizeHost(slash < 0 ? s : s.slice(0, slash));
  const bits = slash < 0 ? NaN : Number(s.slice(slash + 1));
  if (addr === null || !Number.isInteger(bits)) return { ok: false, error: `"${s}" is not a CIDR block such as "10.0.0.0/8" or "fd00::/8"` };
  const family = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
  if (bits < 0 || bits > (family === 'ipv4' ? 32 : 128)) return { ok: false, error: `"${s}": prefix length /${bits} out of range for ${family}` };
  let net = addr;
  if (family === 'ipv4') {
    const n = addr.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const masked = bits === 0 ? 0 : (n - (n % 2 ** (32 - bits)));
    net = [24, 16, 8, 0].map((sh) => Math.floor(masked / 2 ** sh) % 256).join('.');
  }
  const list = new BlockList();
  list.addSubnet(net, bits, family);
  return { ok: true, value: { family, text: `${net}/${bits}`, list } };
}

/** `who` checked and normalized for its kind: an address, a CIDR, a regular expression that compiles. */
export function parseWho(as: BanKind, who: string): Parsed<string> {
  if (who.length === 0) return { ok: false, error: 'who must not be empty' };
  switch (as) {
    case 'clientid': case 'username': return { ok: true, value: who };
    case 'peerhost': {
      const h = normalizeHost(who);
      return h === null ? { ok: false, error: `"${who}" is not an IP address` } : { ok: true, value: h };
    }
    case 'peerhost_net': {
      const n = parseNet(who);
      return n.ok ? { ok: true, value: n.value.text } : n;
    }
    case 'clientid_re': case 'username_re':
      try { new RegExp(who); return { ok: true, value: who }; } catch (err) { return { ok: false, error: `"${who}" is not a regular expression: ${(err as Error).message}` }; }
  }
}

/** The last second a Date holds (8.64e15 ms after the epoch). */
const MAX_EPOCH_SEC = 8_640_000_000_000;

/** RFC 3339 text, epoch seconds (number or digits), or (until only) "infinity". */
export function parseTime(v: unknown, name: string, allowInfinity: boolean): Parsed<number> {
  if (allowInfinity && v === 'infinity') return { ok: true, value: Infinity };
  const epoch = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : null;
  if (epoch !== null) {
    // A time JavaScript cannot render (nor EMQX answer with) is refused, not turned into a 500.
    if (!(epoch >= 0 && epoch <= MAX_EPOCH_SEC)) return { ok: false, error: `${name}: epoch seconds must be from 0 to ${MAX_EPOCH_SEC}; got ${JSON.stringify(v)}` };
    return { ok: true, value: Math.floor(epoch) };
  }
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(v.trim())) {
    const ms = Date.parse(v.trim());
    if (Number.isFinite(ms)) return { ok: true, value: Math.floor(ms / 1000) };
  }
  return { ok: false, error: `${name}: expected an RFC 3339 time such as "2030-01-01T00:00:00+08:00" or epoch seconds${allowInfinity ? ', or "infinity"' : ''}; got ${JSON.stringify(v)}` };
}

/**
 * A ban from the fields EMQX's API and bootstrap file use. Defaults as EMQX: by "mgmt_api"
 * (or `defaultBy`), reason "", at now, until infinity. A ban already expired is refused.
 */
export function parseBan(raw: Record<string, unknown>, now: number, defaultBy = 'mgmt_api'): Parsed<Ban> {
  const as = raw.as;
  if (typeof as !== 'string' || !(BAN_KINDS as readonly string[]).includes(as)) return { ok: false, error: `as: expected one of ${BAN_KINDS.join(', ')}; got ${JSON.stringify(as)}` };
  if (typeof raw.who !== 'string') return { ok: false, error: `who: expected a string; got ${JSON.stringify(raw.who)}` };
  const who = parseWho(as as BanKind, raw.who);
  if (!who.ok) return { ok: false, error: `who: ${who.error}` };
  for (const k of ['by', 'reason'] as const) {
    if (raw[k] !== undefined && typeof raw[k] !== 'string') return { ok: false, error: `${k}: expected a string; got ${JSON.stringify(raw[k])}` };
  }
  const at = raw.at === undefined ? { ok: true as const, value: now } : parseTime(raw.at, 'at', false);
  if (!at.ok) return at;
  const until = raw.until === undefined ? { ok: true as const, value: Infinity } : parseTime(raw.until, 'until', true);
  if (!until.ok) return until;
  if (until.value <= now) return { ok: false, error: `until: ${formatTime(until.value)} has already passed; an expired ban cannot be created` };
  return {
    ok: true,
    value: Object.freeze({ as: as as BanKind, who: who.value, by: (raw.by as string | undefined) ?? defaultBy, reason: (raw.reason as string | undefined) ?? '', at: at.value, until: until.value }),
  };
}

/** EMQX renders times as RFC 3339 with the offset spelled out ("+00:00"), `until` possibly "infinity". */
export function formatTime(sec: number): string {
  if (sec === Infinity) return 'infinity';
  return new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export function formatBan(b: Ban): { as: BanKind; who: string; by: string; reason: string; at: string; until: string } {
  return { as: b.as, who: b.who, by: b.by, reason: b.reason, at: formatTime(b.at), until: formatTime(b.until) };
}

// ---------------------------------------------------------------- matching

interface Rule { readonly ban: Ban; readonly test: (s: BanSubject) => boolean }

function ruleOf(ban: Ban): Rule {
  switch (ban.as) {
    case 'clientid_re': { const re = new RegExp(ban.who); return { ban, test: (s) => re.test(s.clientId) }; }
    case 'username_re': { const re = new RegExp(ban.who); return { ban, test: (s) => s.username !== null && re.test(s.username) }; }
    case 'peerhost_net': {
      const n = parseNet(ban.who);
      if (!n.ok) throw new Error(n.error);
      const { list, family } = n.value;
      return { ban, test: (s) => (isIP(s.peerHost) === 4 ? 'ipv4' : 'ipv6') === family && isIP(s.peerHost) !== 0 && list.check(s.peerHost, family) };
    }
    default: throw new Error(`not a rule: ${ban.as}`);
  }
}

/** A test of whether `ban` names a client (expiry aside): to walk the connected clients once. */
export function banMatcher(ban: Ban): (s: BanSubject) => boolean {
  switch (ban.as) {
    case 'clientid': return (s) => s.clientId === ban.who;
    case 'username': return (s) => s.username === ban.who;
    case 'peerhost': return (s) => s.peerHost === ban.who;
    default: return ruleOf(ban).test;
  }
}

// ---------------------------------------------------------------- the list

export type CreateResult = { ok: true; ban: Ban } | { ok: false; exists: Ban };

export class BannedList {
  private readonly store: SharedStore;
  /** Every ban by "<as>\0<who>", in the order they were added. */
  private readonly all = new Map<string, Ban>();
  private rules: Rule[] = [];
  private purgeTimer: NodeJS.Timeout | null = null;
  /** Called after a ban is added (kicks, hook registration) and after any removal (`ban` null). */
  onChange: ((ban: Ban | null) => void) | null = null;

  /** The write of the last change (resolved when there is nothing to write). */
  written: Promise<void> = Promise.resolve();
  private readonly unwatch: () => void;

  constructor(store: Store | SharedStore) {
    this.store = asShared(store);
    this.unwatch = this.store.watch(NS, (key, value) => this.remote(key, value));
  }

  /** Another node added, changed or removed a ban (or a write was taken back). */
  private remote(key: string, value: unknown): void {
    if (value === undefined) {
      const b = this.all.get(key);
      if (b === undefined) return;
      this.forget(key, b);
      this.onChange?.(null);
      return;
    }
    const raw = value as Record<string, unknown>;
    const ban = parseBan({ ...raw, until: raw.until === null ? 'infinity' : raw.until }, nowSec());
    if (!ban.ok) return; // expired already, or not readable: the purge removes it
    this.put(ban.value, false);
    this.onChange?.(ban.value);
  }

  private forget(key: string, b: Ban): void {
    this.all.delete(key);
    if (b.as.endsWith('_re') || b.as === 'peerhost_net') this.rules = this.rules.filter((r) => r.ban !== b);
  }

  /** Records a write as the last change's, without an unhandled rejection when nobody awaits it. */
  private track(w: Promise<void>): void {
    w.catch(() => { /* the store logged it and took it back */ });
    this.written = w;
  }

  get size(): number { return this.all.size; }

  /** Reads the stored bans, dropping the expired ones. Returns how many are active. */
  load(now = nowSec()): number {
    for (const [key, v] of this.store.scan(NS)) {
      const raw = v as Record<string, unknown>;
      // A stored ban that no longer parses (edited by hand, an older format) is dropped like an expired one.
      const ban = parseBan({ ...raw, until: raw.until === null ? 'infinity' : raw.until }, now);
      if (!ban.ok) { this.track(this.store.del(NS, key)); continue; }
      this.put(ban.value, false);
    }
    return this.all.size;
  }

  /** Purges expired bans every `everyMs` (EMQX: once a minute). */
  start(everyMs = 60_000): void {
    this.purgeTimer ??= setInterval(() => this.purge(), everyMs);
    this.purgeTimer.unref();
  }

  stop(): void {
    if (this.purgeTimer !== null) { clearInterval(this.purgeTimer); this.purgeTimer = null; }
    this.unwatch();
  }

  /** The ban that refuses this client now, or null. */
  check(s: BanSubject, now = nowSec()): Ban | null {
    if (this.all.size === 0) return null;
    let b = this.all.get(keyOf('clientid', s.clientId));
    if (b !== undefined && b.until > now) return b;
    if (s.username !== null) {
      b = this.all.get(keyOf('username', s.username));
      if (b !== undefined && b.until > now) return b;
    }
    b = this.all.get(keyOf('peerhost', s.peerHost));
    if (b !== undefined && b.until > now) return b;
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) if (rules[i].ban.until > now && rules[i].test(s)) return rules[i].ban;
    return null;
  }

  /** Adds a ban unless an active one with the same as/who exists (EMQX: delete it first to change it). */
  create(ban: Ban, now = nowSec()): CreateResult {
    const old = this.all.get(keyOf(ban.as, ban.who));
    if (old !== undefined && old.until > now) return { ok: false, exists: old };
    this.put(ban, true);
    return { ok: true, ban };
  }

  /** Adds or replaces a ban (the flapping detector's). */
  ensure(ban: Ban): void { this.put(ban, true); }

  look(as: BanKind, who: string): Ban | null { return this.all.get(keyOf(as, who)) ?? null; }

  delete(as: BanKind, who: string): boolean {
    const key = keyOf(as, who);
    const b = this.all.get(key);
    if (b === undefined) return false;
    this.forget(key, b);
    this.track(this.store.del(NS, key));
    this.onChange?.(null);
    return true;
  }

  clear(): void {
    this.all.clear();
    this.rules = [];
    this.track(this.store.delPrefix(NS, ''));
    this.onChange?.(null);
  }

  /** Active bans, oldest first (expired ones are purged on the way). */
  list(now = nowSec()): Ban[] {
    this.purge(now);
    return [...this.all.values()];
  }

  /** Removes expired bans; returns how many. */
  purge(now = nowSec()): number {
    let n = 0;
    for (const [key, b] of this.all) {
      if (b.until > now) continue;
      this.all.delete(key);
      // Every node purges: deleting a key already gone is harmless.
      this.track(this.store.del(NS, key));
      n++;
    }
    if (n > 0) {
      this.rules = this.rules.filter((r) => r.ban.until > now);
      this.onChange?.(null);
    }
    return n;
  }

  private put(ban: Ban, persist: boolean): void {
    const key = keyOf(ban.as, ban.who);
    const old = this.all.get(key);
    if (old !== undefined) { this.all.delete(key); this.rules = this.rules.filter((r) => r.ban !== old); }
    this.all.set(key, ban);
    if (ban.as.endsWith('_re') || ban.as === 'peerhost_net') this.rules.push(ruleOf(ban));
    if (persist) {
      this.track(this.store.put(NS, key, { as: ban.as, who: ban.who, by: ban.by, reason: ban.reason, at: ban.at, until: ban.until === Infinity ? null : ban.until }));
      this.onChange?.(ban);
    }
  }
}
