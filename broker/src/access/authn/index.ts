/**
 * Authentication: the chains of authenticators (global and per listener) installed on the
 * broker's `client.authenticate` hook, and what the REST API may ask of them (AuthnAdmin).
 * See docs/authentication.md.
 */
import type { Hooks } from '../../hooks.js';
import type { AccessContext } from '../types.js';
import { parseBind } from '../../config/bind.js';
import { Chain, ChainError, ChainSet, CHAIN_NAMESPACE, GLOBAL_KEY, parsePosition, type Member } from './chain.js';
import { parseAuthnList, type AuthnEntry } from './registry.js';
import { userDbOf, type UserDb } from './user-db.js';
import { redact } from './redact.js';
import { sharedOf } from '../shared-store.js';

export { parseAuthnList, parseAuthnSetting, AUTHENTICATOR_KINDS, type AuthnEntry } from './registry.js';
export { ChainError } from './chain.js';
export { UserDbError, type UserDb, type UserRow, type ImportResult } from './user-db.js';
export { checkPassword, hashPassword, parseHashAlgorithm, type HashAlgorithm } from './password-hash.js';

/** What the REST API (/api/v5/authentication…) may ask; the global chain's authenticators. */
export interface AuthnAdmin {
  /** Each authenticator's config as written, with `id` and `enable` filled in. */
  list(): Array<Record<string, unknown>>;
  get(id: string): Record<string, unknown> | undefined;
  /** Rejects with ChainError (BAD_REQUEST, ALREADY_EXISTS). */
  create(raw: unknown): Promise<Record<string, unknown>>;
  update(id: string, raw: unknown): Promise<Record<string, unknown>>;
  delete(id: string): Promise<void>;
  /** `front`, `rear`, `before:{id}`, `after:{id}`. */
  move(id: string, position: string): Promise<void>;
  /** EMQX's status shape: metrics (total, success, failed, nomatch, rates), status, per node. */
  status(id: string): Record<string, unknown> | undefined;
  /** Every authenticator of the global chain with its counters (Prometheus: petrel_authn_*). */
  counters(): Array<{ id: string; enable: boolean; total: number; success: number; failed: number; nomatch: number }>;
  /** The authenticator's user database; ChainError NOT_FOUND / BAD_REQUEST (it has none). */
  users(id: string): UserDb;
}

export interface AuthnService {
  readonly admin: AuthnAdmin;
  readonly chains: ChainSet;
  close(): Promise<void>;
}

export interface ListenerAuthn {
  /** 'tcp:default'. */
  id: string;
  bind: string;
  enable: boolean;
  /** null = the global chain applies. */
  authentication: readonly AuthnEntry[] | null;
}

export interface AuthnOptions {
  hooks: Hooks;
  ctx: AccessContext;
  nodeName: string;
  /** The configuration file's `authentication`; null = not set there (the chain saved by REST applies, if any). */
  global: readonly AuthnEntry[] | null;
  listeners: readonly ListenerAuthn[];
}

/** What REST shows of an entry: as written, secrets redacted, with `id` and `enable`. */
const view = (e: AuthnEntry): Record<string, unknown> => ({ id: e.id, ...(redact(e.raw) as Record<string, unknown>), enable: e.enable });

function isLoopbackBind(bind: string): boolean {
  const b = parseBind(bind);
  if (!b.ok) return false;
  const h = b.value.host;
  return h.startsWith('127.') || h === '::1' || h === 'localhost';
}

/**
 * Builds every chain (bootstrap files read: a bad one rejects, naming the file and line) and
 * installs the hook. Warns loudly when a listener open to the network has no authenticator.
 */
export async function installAuthn(o: AuthnOptions): Promise<AuthnService> {
  const global = globalChain(o);
  const chains = new ChainSet(o.ctx, o.hooks);
  try {
    await chains.set(chains.global, global);
    for (const l of o.listeners) {
      if (l.authentication === null) continue;
      const c = new Chain(l.id);
      chains.listeners.set(l.id, c);
      await chains.set(c, l.authentication);
    }
  } catch (err) {
    await chains.close();
    throw err;
  }
  chains.follow(o.global ?? []);
  for (const l of o.listeners) {
    if (!l.enable || !chains.chainOf(l.id).open || isLoopbackBind(l.bind)) continue;
    o.ctx.log.warn({ listener: l.id, bind: l.bind },
      `NO AUTHENTICATION on listener ${l.id} (${l.bind}): anyone who can reach it may connect, publish and subscribe. Configure 'authentication' (see docs/authentication.md).`);
  }
  return { admin: adminOf(chains, o.nodeName), chains, close: () => chains.close() };
}

/**
 * The global chain to start with. The file's `authentication`, when set, wins (as emqx.conf wins
 * over the REST API's cluster.hocon since EMQX 5.1) and a chain saved by REST is dropped, with a
 * warning; when the file does not set it, the chain last saved through REST applies. A saved
 * chain that no longer parses fails the start: falling back to no authentication would open
 * the broker.
 */
function globalChain(o: AuthnOptions): readonly AuthnEntry[] {
  const shared = sharedOf(o.ctx);
  const saved = shared.get(CHAIN_NAMESPACE, GLOBAL_KEY);
  if (o.global !== null) {
    if (saved !== undefined) {
      shared.del(CHAIN_NAMESPACE, GLOBAL_KEY).catch((err: Error) => o.ctx.log.warn({ err: err.message }, 'authentication: the chain saved through the REST API could not be dropped'));
      o.ctx.log.warn({ saved }, 'authentication: the configuration file sets the chain; the changes made to it through the REST API are discarded');
    }
    return o.global;
  }
  if (saved === undefined) return [];
  const p = parseAuthnList(saved);
  if (!p.ok) throw new Error(`authentication: the chain saved through the REST API (store namespace ${CHAIN_NAMESPACE}) is invalid: ${p.error}; set 'authentication' in the configuration file to replace it`);
  o.ctx.log.info({ authenticators: p.value.map((e) => e.id) }, 'authentication: using the chain saved through the REST API');
  return p.value;
}

function memberOf(chains: ChainSet, id: string): Member {
  const m = chains.global.find(id);
  if (m === undefined) throw new ChainError('NOT_FOUND', `authenticator '${id}' does not exist`);
  return m;
}

function adminOf(chains: ChainSet, nodeName: string): AuthnAdmin {
  return {
    list: () => chains.global.entries().map(view),
    get: (id) => { const m = chains.global.find(id); return m && view(m.entry); },
    create: async (raw) => view(await chains.create(raw)),
    update: async (id, raw) => view(await chains.update(id, raw)),
    delete: (id) => chains.delete(id),
    move: async (id, position) => {
      const p = parsePosition(position);
      if (p === undefined) throw new ChainError('BAD_REQUEST', `position ${JSON.stringify(position)}: expected front, rear, before:{id} or after:{id}`);
      await chains.move(id, p);
    },
    status: (id) => {
      const m = chains.global.find(id);
      if (m === undefined) return undefined;
      const metrics = { ...m.metrics, rate: 0, rate_last5m: 0, rate_max: 0 };
      const status = m.auth === null ? 'disconnected' : 'connected';
      return {
        metrics, node_metrics: [{ node: nodeName, metrics }],
        status, node_status: [{ node: nodeName, status }],
        resource_metrics: {}, node_resource_metrics: [], node_error: [],
      };
    },
    counters: () => chains.global.members.map((m) => ({ id: m.entry.id, enable: m.entry.enable, ...m.metrics })),
    users: (id) => {
      const m = memberOf(chains, id);
      const db = m.auth === null ? undefined : userDbOf(m.auth);
      if (db === undefined) {
        throw new ChainError('BAD_REQUEST', m.auth === null ? `authenticator '${id}' is disabled` : `authenticator '${id}' has no user database`);
      }
      return db;
    },
  };
}
