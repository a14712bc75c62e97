/**
 * The authentication chain, as EMQX runs it (emqx_authn_chains): the authenticators of the
 * client's chain are asked in order —
 *
 * - `allow` or `deny` stops the chain and is the answer;
 * - `ignore` (user unknown here, token not for this authenticator), a thrown error or a
 *   rejected promise passes to the next one (errors logged with the authenticator's id);
 * - when every one ignored, the client is refused: NOT_AUTHORIZED (v5 0x87, v3 CONNACK 5);
 * - a chain with no enabled authenticator lets everyone in (EMQX's default security profile).
 *
 * A client's chain is its listener's own (`listeners.<type>.<name>.authentication`) when the
 * listener has one, else the global one (`authentication`). Each authenticator counts total,
 * success, failed and nomatch, as EMQX's /status shows them.
 *
 * Chains change in place (REST): a new member list is built, swapped in, and the members no
 * longer used are closed; members whose config did not change are kept, with their counters.
 */
import type { AuthRequest, AuthResult, Hooks } from '../../hooks.js';
import type { AccessContext, Authenticator, AuthnOutcome } from '../types.js';
import { findKind, parseAuthnEntry, parseAuthnList, type AuthnEntry } from './registry.js';
import { deobfuscate } from './redact.js';
import { sharedOf } from '../shared-store.js';

export interface AuthnCounters { total: number; success: number; failed: number; nomatch: number }

export interface Member {
  readonly entry: AuthnEntry;
  /** null while disabled (`enable: false`). */
  readonly auth: Authenticator | null;
  readonly metrics: AuthnCounters;
  /** Log throttling of this member's errors: when the last line went out, and how many were held back since. */
  lastLogAt: number;
  held: number;
}

/** Thrown by chain changes; `code` is what the REST API answers with. */
export class ChainError extends Error {
  readonly code: 'NOT_FOUND' | 'ALREADY_EXISTS' | 'BAD_REQUEST';
  constructor(code: ChainError['code'], message: string) { super(message); this.name = 'ChainError'; this.code = code; }
}

/** Where REST changes to the global chain are kept (the raw entries, in order). */
export const CHAIN_NAMESPACE = 'authn_chain';
export const GLOBAL_KEY = 'global';

const NOT_AUTHORIZED: AuthResult = Object.freeze({ result: 'deny', reason: 'NOT_AUTHORIZED' });
/** A failing backend under a connect storm writes one line per this many ms, with a count of the rest. */
const LOG_EVERY_MS = 10_000;

const sameRaw = (a: AuthnEntry, b: AuthnEntry): boolean => JSON.stringify(a.raw) === JSON.stringify(b.raw);

export class Chain {
  readonly name: string;
  members: readonly Member[] = [];
  /** Members that are enabled, in order: what authenticate() walks. */
  private active: readonly Member[] = [];

  constructor(name: string) { this.name = name; }

  get open(): boolean { return this.active.length === 0; }

  entries(): AuthnEntry[] { return this.members.map((m) => m.entry); }

  find(id: string): Member | undefined { return this.members.find((m) => m.entry.id === id); }

  /** Swaps the member list in; returns the authenticators no longer used (for the caller to close). */
  swap(members: readonly Member[]): Authenticator[] {
    const kept = new Set(members.map((m) => m.auth));
    const gone = this.members.filter((m) => m.auth !== null && !kept.has(m.auth)).map((m) => m.auth!);
    this.members = members;
    this.active = members.filter((m) => m.auth !== null);
    return gone;
  }

  /** Runs the chain; undefined = nobody to ask (anonymous). */
  async authenticate(req: AuthRequest, ctx: AccessContext): Promise<AuthResult | undefined> {
    const list = this.active;
    if (list.length === 0) return undefined;
    // One multi-step exchange (SCRAM) counts once, at its first packet.
    const first = req.phase !== 'continue';
    for (let i = 0; i < list.length; i++) {
      const m = list[i];
      if (first) m.metrics.total++;
      let out: AuthnOutcome;
      try {
        out = await m.auth!.authenticate(req);
      } catch (err) {
        m.metrics.nomatch++;
        this.logFailure(m, ctx, req, err instanceof Error ? err.message : String(err));
        continue;
      }
      switch (out.result) {
        case 'allow':
          m.metrics.success++;
          if (out.acl !== undefined) ctx.clientAcl.set(req.client, out.acl);
          return allowed(out);
        case 'deny':
          m.metrics.failed++;
          return { result: 'deny', reason: out.reason ?? 'NOT_AUTHORIZED' };
        case 'continue':
          return { result: 'continue', data: out.data };
        default:
          m.metrics.nomatch++;
          if (out.error !== undefined) this.logFailure(m, ctx, req, out.error);
      }
    }
    return NOT_AUTHORIZED;
  }

  private logFailure(m: Member, ctx: AccessContext, req: AuthRequest, error: string): void {
    const now = Date.now();
    if (now - m.lastLogAt < LOG_EVERY_MS) { m.held++; return; }
    ctx.log.warn({ chain: this.name, authenticator: m.entry.id, clientid: req.client.clientId, error, suppressed: m.held },
      `authenticator ${m.entry.id} failed (${error}); asking the next one`);
    m.lastLogAt = now;
    m.held = 0;
  }
}

/** The hook's answer for an authenticator's allow: only the fields it set, so the common one stays small. */
function allowed(out: Extract<AuthnOutcome, { result: 'allow' }>): AuthResult {
  const r: Extract<AuthResult, { result: 'allow' }> = { result: 'allow', isSuperuser: out.isSuperuser === true };
  if (out.data !== undefined) r.data = out.data;
  if (out.expireAt !== undefined) r.expireAt = out.expireAt;
  return r;
}

/** Context an authenticator is created with: the node's, plus the chain it belongs to. */
export type ChainContext = AccessContext & { chainName: string };

/**
 * Builds the members for `entries`, reusing from `current` those whose config is unchanged.
 * New authenticators are awaited until ready (their bootstrap files read); if one fails, the
 * ones created here are closed and the error is thrown, so the running chain stays as it was.
 */
export async function buildMembers(chainName: string, entries: readonly AuthnEntry[], current: readonly Member[], ctx: AccessContext): Promise<Member[]> {
  const created: Authenticator[] = [];
  const members: Member[] = [];
  try {
    for (const entry of entries) {
      const old = current.find((m) => m.entry.id === entry.id);
      if (old !== undefined && sameRaw(old.entry, entry)) { members.push(old); continue; }
      let auth: Authenticator | null = null;
      if (entry.enable) {
        const kind = findKind(entry.mechanism, entry.backend);
        if (kind === undefined) throw new ChainError('BAD_REQUEST', `${entry.id}: no such authenticator`);
        const cctx: ChainContext = { ...ctx, chainName };
        auth = kind.create(entry.config, cctx);
        created.push(auth);
        const ready = (auth as { ready?: Promise<void> }).ready;
        if (ready !== undefined) await ready;
      }
      members.push({ entry, auth, metrics: old?.metrics ?? { total: 0, success: 0, failed: 0, nomatch: 0 }, lastLogAt: 0, held: 0 });
    }
  } catch (err) {
    await Promise.all(created.map((a) => a.close().catch(() => {})));
    throw err;
  }
  return members;
}

export type Position = { to: 'front' } | { to: 'rear' } | { to: 'before' | 'after'; id: string };

/** EMQX's positions: `front`, `rear`, `before:{id}`, `after:{id}`. */
export function parsePosition(s: string): Position | undefined {
  if (s === 'front' || s === 'rear') return { to: s };
  const m = /^(before|after):(.+)$/.exec(s);
  return m ? { to: m[1] as 'before' | 'after', id: m[2] } : undefined;
}

/**
 * The node's chains and their changes. Every change is serialised (one at a time) and applied
 * in place: the `client.authenticate` hook is installed while some chain has an enabled
 * authenticator and removed otherwise, so an open broker pays nothing per connect.
 */
export class ChainSet {
  readonly global = new Chain('global');
  readonly listeners = new Map<string, Chain>();
  private readonly ctx: AccessContext;
  private readonly hooks: Hooks;
  private removeHook: (() => void) | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private unwatch: (() => void) | null = null;

  constructor(ctx: AccessContext, hooks: Hooks) {
    this.ctx = ctx;
    this.hooks = hooks;
  }

  /** The chain a listener's clients go through. */
  chainOf(listener: string): Chain { return this.listeners.get(listener) ?? this.global; }

  readonly authenticate = (req: AuthRequest): Promise<AuthResult | undefined> => this.chainOf(req.client.listener).authenticate(req, this.ctx);

  /** Sets a chain's entries (start-up, or a REST change), closing what is no longer used. */
  async set(chain: Chain, entries: readonly AuthnEntry[]): Promise<void> {
    const members = await buildMembers(chain.name, entries, chain.members, this.ctx);
    const gone = chain.swap(members);
    this.syncHook();
    await Promise.all(gone.map((a) => a.close().catch((err) => this.ctx.log.warn({ err, authenticator: a.id }, 'authenticator close failed'))));
  }

  /** Runs `fn` after every change queued before it. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private syncHook(): void {
    let any = !this.global.open;
    for (const c of this.listeners.values()) any ||= !c.open;
    if (any && this.removeHook === null) this.removeHook = this.hooks.add('client.authenticate', this.authenticate);
    else if (!any && this.removeHook !== null) { this.removeHook(); this.removeHook = null; }
  }

  // ------------------------------------------------------------ changes to the global chain (REST)

  /**
   * Applies a REST change to the global chain and saves it, so it outlives a restart (and, on a
   * cluster, reaches every node). When it cannot be saved the chain goes back to what it was.
   */
  private async change(entries: readonly AuthnEntry[]): Promise<void> {
    const before = this.global.entries();
    await this.set(this.global, entries);
    try {
      await sharedOf(this.ctx).put(CHAIN_NAMESPACE, GLOBAL_KEY, entries.map((e) => ({ ...e.raw })));
    } catch (err) {
      await this.set(this.global, before);
      throw err;
    }
  }

  /**
   * Follows the chain other nodes save (a cluster): their REST changes rebuild this node's
   * global chain; when the saved chain is dropped (a node whose configuration file sets the
   * chain started), this node goes back to `fromFile`, its own file's chain (or none).
   */
  follow(fromFile: readonly AuthnEntry[]): void {
    this.unwatch ??= sharedOf(this.ctx).watch(CHAIN_NAMESPACE, (key, value) => {
      if (key !== GLOBAL_KEY) return;
      let entries = fromFile;
      if (value !== undefined) {
        const p = parseAuthnList(value);
        if (!p.ok) { this.ctx.log.error({ err: p.error }, 'authentication: the chain another node saved is invalid here; this node keeps its chain'); return; }
        entries = p.value;
      }
      void this.serial(() => this.set(this.global, entries)).then(
        () => this.ctx.log.info({ authenticators: entries.map((e) => e.id) }, 'authentication: chain changed on another node; applied here'),
        (err: Error) => this.ctx.log.error({ err: err.message }, 'authentication: the chain another node saved cannot start here; this node keeps its chain'));
    });
  }

  create(raw: unknown): Promise<AuthnEntry> {
    return this.serial(async () => {
      const e = parseEntry(raw);
      if (this.global.find(e.id)) throw new ChainError('ALREADY_EXISTS', `authenticator ${e.id} is already in the chain`);
      await this.change([...this.global.entries(), e]);
      return e;
    });
  }

  update(id: string, raw: unknown): Promise<AuthnEntry> {
    return this.serial(async () => {
      const cur = this.global.find(id);
      if (cur === undefined) throw notFound(id);
      const e = parseEntry(deobfuscate(raw, cur.entry.raw));
      if (e.id !== id) throw new ChainError('BAD_REQUEST', `the body describes ${e.id}, not ${id}: mechanism and backend cannot change`);
      await this.change(this.global.entries().map((x) => (x.id === id ? e : x)));
      return e;
    });
  }

  delete(id: string): Promise<void> {
    return this.serial(async () => {
      if (!this.global.find(id)) throw notFound(id);
      await this.change(this.global.entries().filter((x) => x.id !== id));
    });
  }

  move(id: string, pos: Position): Promise<void> {
    return this.serial(async () => {
      const entries = this.global.entries();
      const e = entries.find((x) => x.id === id);
      if (e === undefined) throw notFound(id);
      const rest = entries.filter((x) => x !== e);
      let at: number;
      if (pos.to === 'front') at = 0;
      else if (pos.to === 'rear') at = rest.length;
      else {
        const i = rest.findIndex((x) => x.id === pos.id);
        if (i < 0) throw notFound(pos.id);
        at = pos.to === 'before' ? i : i + 1;
      }
      rest.splice(at, 0, e);
      await this.change(rest);
    });
  }

  async close(): Promise<void> {
    this.unwatch?.();
    this.unwatch = null;
    await this.queue;
    if (this.removeHook !== null) { this.removeHook(); this.removeHook = null; }
    const all = [this.global, ...this.listeners.values()];
    await Promise.all(all.flatMap((c) => c.swap([])).map((a) => a.close().catch(() => {})));
  }
}

const notFound = (id: string): ChainError => new ChainError('NOT_FOUND', `authenticator '${id}' does not exist`);

function parseEntry(raw: unknown): AuthnEntry {
  const p = parseAuthnEntry(raw);
  if (!p.ok) throw new ChainError('BAD_REQUEST', p.error);
  return p.value;
}
