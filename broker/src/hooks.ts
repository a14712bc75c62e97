/**
 * Hook points: the closed list of places where authentication, authorization, rules,
 * metrics and future features plug into the broker without touching the channel.
 *
 * Two kinds:
 * - decision hooks (`client.authenticate`, `client.authorize`) run in priority order and the
 *   first callback that returns a decision wins; `undefined` means "no opinion, ask the next";
 * - notification hooks run every callback; a callback that throws is logged and skipped.
 *
 * The hot path asks `hooks.active(name)` (one array length check) before building arguments,
 * so an unused hook costs nothing per message.
 */
import type { Message, Subscription, QoS } from './types.js';

export interface ClientInfo {
  clientId: string;
  username: string | null;
  peerHost: string;
  peerPort: number;
  listener: string;
  protocolVersion: 3 | 4 | 5;
  peerCert?: { cn?: string; subject?: Record<string, string> } | null;
}

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
  | { result: 'allow'; isSuperuser?: boolean; data?: Buffer }
  | { result: 'deny'; reason?: 'BAD_USERNAME_OR_PASSWORD' | 'NOT_AUTHORIZED' | 'BANNED' | 'BAD_AUTHENTICATION_METHOD' }
  | { result: 'continue'; data: Buffer };

export interface AuthzRequest {
  client: ClientInfo;
  action: 'publish' | 'subscribe';
  topic: string;
  qos: QoS;
  retain: boolean;
}

export type AuthzResult = 'allow' | 'deny';

export interface HookSignatures {
  'client.authenticate': (req: AuthRequest) => AuthResult | undefined | Promise<AuthResult | undefined>;
  'client.authorize': (req: AuthzRequest) => AuthzResult | undefined;
  'client.connected': (client: ClientInfo) => void;
  'client.disconnected': (client: ClientInfo, reason: string) => void;
  'session.created': (clientId: string) => void;
  'session.resumed': (clientId: string) => void;
  'session.terminated': (clientId: string, reason: string) => void;
  'session.subscribed': (clientId: string, sub: Subscription) => void;
  'session.unsubscribed': (clientId: string, filter: string) => void;
  'message.publish': (msg: Message) => void;
  'message.delivered': (clientId: string, msg: Message) => void;
  'message.acked': (clientId: string, msg: Message) => void;
  'message.dropped': (msg: Message, clientId: string | null, reason: string) => void;
}

export type HookName = keyof HookSignatures;
export const HOOK_NAMES: readonly HookName[] = [
  'client.authenticate', 'client.authorize', 'client.connected', 'client.disconnected',
  'session.created', 'session.resumed', 'session.terminated', 'session.subscribed', 'session.unsubscribed',
  'message.publish', 'message.delivered', 'message.acked', 'message.dropped',
];

interface Entry<F> { fn: F; priority: number }

export class Hooks {
  private readonly table = new Map<HookName, Entry<unknown>[]>();
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
    return () => { const i = list.indexOf(entry); if (i >= 0) list.splice(i, 1); };
  }

  active(name: HookName): boolean { return this.table.get(name)!.length > 0; }

  /** Runs a notification hook: every callback, errors logged and skipped. */
  run<N extends HookName>(name: N, ...args: Parameters<HookSignatures[N]>): void {
    const list = this.table.get(name)!;
    for (let i = 0; i < list.length; i++) {
      try { (list[i].fn as (...a: unknown[]) => unknown)(...args); } catch (err) { this.onError(name, err); }
    }
  }

  /** Runs a synchronous decision hook: the first defined answer wins. */
  decide<N extends 'client.authorize'>(name: N, ...args: Parameters<HookSignatures[N]>): AuthzResult | undefined {
    const list = this.table.get(name)!;
    for (let i = 0; i < list.length; i++) {
      try {
        const r = (list[i].fn as (...a: unknown[]) => AuthzResult | undefined)(...args);
        if (r !== undefined) return r;
      } catch (err) { this.onError(name, err); return 'deny'; }
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
