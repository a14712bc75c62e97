/**
 * The shapes every access-control part shares: an authenticator of the authentication chain,
 * a source of the authorization chain, and the ACL rule all sources speak (acl.conf, YAML
 * rules, the built-in database, Redis and SQL rows, HTTP answers, a JWT's `acl` claim).
 *
 * The chains themselves (access/authn/chain.ts, access/authz/chain.ts) plug into the broker's
 * decision hooks (`client.authenticate`, `client.authorize`); nothing here touches a channel.
 */
import type { AuthRequest, AuthzRequest, ClientInfo } from '../hooks.js';
import type { Store } from '../store/index.js';
import type { Logger } from '../log.js';
import type { QoS } from '../types.js';
import type { SharedStore } from './shared-store.js';

// ---------------------------------------------------------------- ACL rules

/** Who a rule applies to, as EMQX's acl.conf writes it (`{username, {re, "^dev"}}`, `{ipaddr, "10.0.0.0/8"}`…). */
export type Who =
  | 'all'
  | { username: string } | { username: { re: string } }
  | { clientid: string } | { clientid: { re: string } }
  | { ipaddr: string }
  | { ipaddrs: readonly string[] }
  | { and: readonly Who[] }
  | { or: readonly Who[] };

/**
 * A topic of a rule: a filter (may hold `+`/`#` and placeholders `${username}`, `${clientid}`,
 * `${peerhost}`, `${cert_common_name}`, `${cert_subject}`), or `{eq: …}`: the literal string
 * only, wildcards included as characters, or `{all: true}`: every topic and filter, `$SYS/…`
 * included (EMQX's rule without topics, `{allow, all}.`; the filter `#` never reaches `$`-topics).
 */
export type TopicPattern = string | { eq: string } | { all: true };

export interface AclRule {
  permission: 'allow' | 'deny';
  who: Who;
  action: 'publish' | 'subscribe' | 'all';
  /** QoS levels the rule covers; absent = all. */
  qos?: readonly QoS[];
  /** Publish only: the retain flag the rule covers; absent = either. */
  retain?: boolean;
  topics: readonly TopicPattern[];
}

export type AuthzAnswer = 'allow' | 'deny' | 'nomatch';

// ---------------------------------------------------------------- authentication

/**
 * What one authenticator says. `ignore` passes to the next authenticator (user not found, token
 * not for this authenticator, backend unreachable: `error` says which, and is logged).
 */
export type AuthnOutcome =
  | { result: 'allow'; isSuperuser?: boolean; acl?: readonly AclRule[]; data?: Buffer; expireAt?: number }
  | { result: 'deny'; reason?: 'BAD_USERNAME_OR_PASSWORD' | 'NOT_AUTHORIZED' | 'BAD_AUTHENTICATION_METHOD' }
  | { result: 'continue'; data: Buffer }
  | { result: 'ignore'; error?: string };

export interface Authenticator {
  /** EMQX's id: `password_based:built_in_database`, `jwt`, `scram:built_in_database`, `password_based:redis`… */
  readonly id: string;
  readonly mechanism: 'password_based' | 'jwt' | 'scram';
  readonly backend: string;
  authenticate(req: AuthRequest): AuthnOutcome | Promise<AuthnOutcome>;
  /** Connections, pools and timers released. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------- authorization

export interface AuthzSource {
  /** `file`, `built_in_database`, `redis`, `postgresql`, `mysql`, `http`. */
  readonly type: string;
  authorize(req: AuthzRequest): AuthzAnswer | Promise<AuthzAnswer>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- kinds: config → running part

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * One kind of authenticator (`password_based` + `redis`, `jwt`, …): validates its config entry
 * (EMQX's keys; an error names the key) and builds the running authenticator. The registry
 * (access/authn/registry.ts) lists every kind.
 */
export interface AuthenticatorKind<C = any> {
  readonly mechanism: Authenticator['mechanism'];
  /** `built_in_database`, `redis`, `postgresql`, `mysql`, `http`; JWT has none (''). */
  readonly backend: string;
  parse(raw: Record<string, unknown>): Parsed<C>;
  create(cfg: C, ctx: AccessContext): Authenticator;
}

/** One kind of authorization source, as AuthenticatorKind (registry: access/authz/registry.ts). */
export interface AuthzSourceKind<C = any> {
  readonly type: string;
  parse(raw: Record<string, unknown>): Parsed<C>;
  create(cfg: C, ctx: AccessContext): AuthzSource;
}

// ---------------------------------------------------------------- what parts get

/** Everything an authenticator or source may need from the node. */
export interface AccessContext {
  /** The node's store: the built-in database, banned list and rules persist under their own namespaces. */
  store: Store;
  /**
   * Where users, rules, bans and REST-changed chains live (access/shared-store.ts): etcd on a
   * cluster. Absent = the node's store (sharedOf(ctx)).
   */
  shared?: SharedStore;
  log: Logger;
  /** Resolves relative file names in config (bootstrap files, acl.conf, keys). */
  configDir: string;
  /**
   * ACL rules a client brought with its authentication (a JWT `acl` claim, an HTTP authn
   * answer): written by the authentication chain, checked first by the authorization chain.
   */
  clientAcl: WeakMap<ClientInfo, readonly AclRule[]>;
}
