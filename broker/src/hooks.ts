/**
 * Hook points: the closed list of places where authentication, authorization, rules,
 * metrics and future features plug into the broker without touching the channel.
 *
 * Three kinds:
 * - decision hooks (`client.connect`, `client.authenticate`, `client.authorize`) run in
 *   priority order and the first callback that returns a decision wins; `undefined` means "no
 *   opinion, ask the next". They may answer with a promise (a database, an HTTP service);
 *   `client.authorize` is asked through access/authorizer.ts, which keeps a synchronous fast
 *   path and a per-client result cache;
 * - the transforming hook `message.publish` runs before routing: a callback may return a
 *   replacement message, or null to drop the message (counted in messages.dropped.hook);
 * - notification hooks run every callback; a callback that throws is logged and skipped.
 *   Slow consumers register with `addAsync`, which puts a bounded queue (util/bounded-dispatch.ts)
 *   between the broker and the callback: nothing slow ever runs inside publish.
 *
 * The hot path asks `hooks.active(name)` (one array length check) before building arguments,
 * so an unused hook costs nothing per message.
 */
import type { Message, Subscription, QoS } from './types.js';
import { BoundedDispatch, type BoundedDispatchOptions } from './util/bounded-dispatch.js';

/**
 * Who a client is, built once when it connects (whatever its protocol) and kept for its
 * whole connection — by the will too, so a will is authorized as its client was.
 */
export interface ClientInfo {
  readonly clientId: string;
  readonly username: string | null;
  readonly peerHost: string;
  readonly peerPort: number;
  /** Listener id, e.g. 'tcp:default'. */
  readonly listener: string;
  /** 'mqtt' (gateways: 'coap', 'mqttsn', 'ocpp'). */
  readonly protocol: string;
  /** MQTT: 3, 4 or 5; other protocols their own version number. */
  readonly protocolVersion: number;
  /** A verified client certificate (transport/types.ts PeerCert); `dn` in EMQX's form, most specific first. */
  readonly peerCert?: { cn?: string; dn?: string; subject?: Record<string, string> } | null;
  /** Set by authentication: superusers skip authorization. */
  isSuperuser: boolean;
}

/** Answer of the pre-authentication hook `client.connect` (banned lists, flapping, rate limits). */
export type ConnectVerdict = { result: 'deny'; reason: 'BANNED' | 'NOT_AUTHORIZED' | 'SERVER_BUSY' | 'QUOTA_EXCEEDED' | 'CLIENT_ID_NOT_VALID' };

/** Input to `client.authenticate`: CONNECT credentials, or one step of an MQTT 5 AUTH exchange. */
export interface AuthRequest {
  client: ClientInfo;
  password: Buffer | null;
  /** MQTT 5 enhanced authentication: method and data of the CONNECT or AUTH packet. */
  method: string | null;
  data: Buffer | null;
  /** 'connect' for CONNECT, 'continue' for AUTH 0x18, 'reauth' for AUTH 0x19. */
  phase: 'connect' | 'continue' | 'reauth';
  /** Scratch space kept for the duration of one enhanced-auth exchange. */
  state: Record<string, unknown>;
}

export type AuthResult =
  /**
   * `expireAt` (ms since the epoch): the credential's end (a JWT's `exp` with EMQX's
   * `disconnect_after_expire`); the connection is closed when it passes, and a re-authentication
   * replaces it.
   */
  | { result: 'allow'; isSuperuser?: boolean; data?: Buffer; expireAt?: number }
  | { result: 'deny'; reason?: 'BAD_USERNAME_OR_PASSWORD' | 'NOT_AUTHORIZED' | 'BANNED' | 'BAD_AUTHENTICATION_METHOD' }
  | { result: 'continue'; data: Buffer };

export interface AuthzRequest {
  client: ClientInfo;
  action: 'publish' | 'subscribe';
  topic: string;
  qos: QoS;
  retain: boolean;
  /** Set by the source that decided (its type: 'file', 'built_in_database', 'http', …), for `client.check_authz_complete`. */
  source?: string;
}

export type AuthzResult = 'allow' | 'deny';

/** What `client.connack` reports about the connection a CONNACK answered. */
export interface ConnackInfo {
  keepalive: number;
  cleanStart: boolean;
  /** Session expiry in seconds. */
  expiryInterval: number;
  /** 0 when the CONNACK refused the client. */
  connectedAt: number;
}

/** What `client.check_authn_complete` reports: EMQX's reason_code ('success', 'not_authorized', …). */
export interface AuthnOutcome {
  reasonCode: string;
  isSuperuser: boolean;
  isAnonymous: boolean;
}

export interface HookSignatures {
  /** Before authentication: may refuse the client (banned, flapping…). */
  'client.connect': (client: ClientInfo) => ConnectVerdict | undefined | Promise<ConnectVerdict | undefined>;
  'client.authenticate': (req: AuthRequest) => AuthResult | undefined | Promise<AuthResult | undefined>;
  'client.authorize': (req: AuthzRequest) => AuthzResult | undefined | Promise<AuthzResult | undefined>;
  /** A CONNACK was sent: `reasonCode` is EMQX's reason name ('success', 'not_authorized', 'banned', …). */
  'client.connack': (client: ClientInfo, reasonCode: string, conn: ConnackInfo) => void;
  /** Authentication ended (allowed or refused). */
  'client.check_authn_complete': (client: ClientInfo, outcome: AuthnOutcome) => void;
  /** An authorization answer: `source` is the deciding source's type, 'cache' or 'default' (no source matched). */
  'client.check_authz_complete': (client: ClientInfo, action: 'publish' | 'subscribe', topic: string, result: AuthzResult, source: string) => void;
  'client.connected': (client: ClientInfo) => void;
  'client.disconnected': (client: ClientInfo, reason: string) => void;
  'session.created': (clientId: string) => void;
  'session.resumed': (clientId: string) => void;
  'session.terminated': (clientId: string, reason: string) => void;
  'session.subscribed': (clientId: string, sub: Subscription) => void;
  'session.unsubscribed': (clientId: string, filter: string) => void;
  /** Before routing: return a message to replace it, null to drop it, nothing to keep it. */
  'message.publish': (msg: Message) => Message | null | undefined | void;
  'message.delivered': (clientId: string, msg: Message) => void;
  'message.acked': (clientId: string, msg: Message) => void;
  /** `clientId` null: the message itself was dropped (reason 'no_subscribers'); else its delivery to that client. */
  'message.dropped': (msg: Message, clientId: string | null, reason: string) => void;
}

export type HookName = keyof HookSignatures;
/** Hooks whose callbacks return nothing the broker uses: the ones addAsync accepts. */
export type NotificationHook = Exclude<HookName, 'client.connect' | 'client.authenticate' | 'client.authorize' | 'message.publish'>;
export const HOOK_NAMES: readonly HookName[] = [
  'client.connect', 'client.authenticate', 'client.authorize', 'client.connack', 'client.check_authn_complete',
  'client.check_authz_complete', 'client.connected', 'client.disconnected',
  'session.created', 'session.resumed', 'session.terminated', 'session.subscribed', 'session.unsubscribed',
  'message.publish', 'message.delivered', 'message.acked', 'message.dropped',
];

interface Entry<F> { fn: F; priority: number }

export class Hooks {
  private readonly table = new Map<HookName, Entry<unknown>[]>();
  /** Bumped on every add and remove: caches of hook answers (the authorizer's) compare it. */
  generation = 0;
  private readonly onError: (name: HookName, err: unknown) => void;

  constructor(onError: (name: HookName, err: unknown) => void = () => {}) {
    this.onError = onError;
    for (const n of HOOK_NAMES) this.table.set(n, []);
  }

  /** Registers a callback; higher priority runs first. Returns a function that removes it. */
  add<N extends HookName>(name: N, fn: HookSignatures[N], priority = 0): () => void {
    const list = this.table.get(name);
    if (!list) throw new Error(`unknown hook point '${String(name)}'; known: ${HOOK_NAMES.join(', ')}`);
    const entry = { fn, priority };
    list.push(entry);
    list.sort((a, b) => b.priority - a.priority);
    this.generation++;
    return () => { const i = list.indexOf(entry); if (i >= 0) { list.splice(i, 1); this.generation++; } };
  }

  active(name: HookName): boolean { return this.table.get(name)!.length > 0; }

  /** Runs a notification hook: every callback, errors logged and skipped. */
  run<N extends HookName>(name: N, ...args: Parameters<HookSignatures[N]>): void {
    const list = this.table.get(name)!;
    for (let i = 0; i < list.length; i++) {
      try { (list[i].fn as (...a: unknown[]) => unknown)(...args); } catch (err) { this.onError(name, err); }
    }
  }

  /**
   * Registers a notification callback behind a bounded queue: the broker only enqueues the
   * arguments; the callback runs on a later turn. Past `maxQueue` waiting calls new ones are
   * dropped and counted (`dispatch.dropped`). Returns the dispatch (for its counters) and a
   * function that removes the callback.
   */
  addAsync<N extends NotificationHook>(name: N, fn: HookSignatures[N], opts: BoundedDispatchOptions & { priority?: number }): { dispatch: BoundedDispatch<Parameters<HookSignatures[N]>>; remove: () => void } {
    const call = fn as (...a: unknown[]) => unknown;
    const dispatch = new BoundedDispatch<Parameters<HookSignatures[N]>>((args) => call(...args), {
      ...opts, onError: opts.onError ?? ((err) => this.onError(name, err)),
    });
    const enqueue = ((...args: Parameters<HookSignatures[N]>) => { dispatch.push(args); }) as unknown as HookSignatures[N];
    const remove = this.add(name, enqueue, opts.priority ?? 0);
    return { dispatch, remove };
  }

  /**
   * Runs `message.publish`: each callback may replace the message or drop it (null). Returns
   * the message to route, or null when a callback dropped it.
   */
  transform(msg: Message): Message | null {
    const list = this.table.get('message.publish')!;
    let m = msg;
    for (let i = 0; i < list.length; i++) {
      try {
        const r = (list[i].fn as HookSignatures['message.publish'])(m);
        if (r === null) return null;
        if (r !== undefined) m = r;
      } catch (err) { this.onError('message.publish', err); }
    }
    return m;
  }

  /** The callbacks of a decision hook in order (the authorizer and the connect gate walk them). */
  chain<N extends 'client.connect' | 'client.authorize'>(name: N): ReadonlyArray<HookSignatures[N]> {
    return this.table.get(name)!.map((e) => e.fn as HookSignatures[N]);
  }

  /** Reports a failed callback (for callers that run a chain themselves). */
  failed(name: HookName, err: unknown): void { this.onError(name, err); }

  /** Runs the pre-authentication chain (`client.connect`): the first defined answer wins; an error refuses. */
  async connect(client: ClientInfo): Promise<ConnectVerdict | undefined> {
    const list = this.table.get('client.connect')!;
    for (let i = 0; i < list.length; i++) {
      try {
        const r = await (list[i].fn as HookSignatures['client.connect'])(client);
        if (r !== undefined) return r;
      } catch (err) { this.onError('client.connect', err); return { result: 'deny', reason: 'NOT_AUTHORIZED' }; }
    }
    return undefined;
  }

  /** Runs the (possibly async) authentication chain: the first defined answer wins. */
  async authenticate(req: AuthRequest): Promise<AuthResult | undefined> {
    const list = this.table.get('client.authenticate')!;
    for (let i = 0; i < list.length; i++) {
      try {
        const r = await (list[i].fn as HookSignatures['client.authenticate'])(req);
        if (r !== undefined) return r;
      } catch (err) { this.onError('client.authenticate', err); return { result: 'deny', reason: 'NOT_AUTHORIZED' }; }
    }
    return undefined;
  }
}
