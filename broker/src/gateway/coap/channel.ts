/**
 * The CoAP channel: one per remote address:port of a gateway listener. It answers requests
 * (RFC 7252: a CON request gets a piggybacked ACK, a NON one a NON response, a duplicate gets
 * the same answer again, §4.5), routes them — `/mqtt/connection` to connection.ts, `/ps/…` to
 * pubsub.ts — and turns the session's deliveries into Observe notifications (observe.ts).
 *
 * States: `idle` (a peer, no client yet) → `auth` (access chain, session opening) →
 * `connected` (a client in /api/v5/clients, with a session) → `closed`. With
 * `connection_required` a peer becomes a client by `POST /mqtt/connection`; without it, also
 * by its first `/ps` request (the query's clientid, username and password, as EMQX reads them).
 *
 * A client silent for 1.5 × `heartbeat` is closed; a peer that never became one, after
 * `idle_timeout`. A malformed datagram is counted and dropped (a CON one answered with Reset);
 * the peer is kept, so a flood from one address:port costs one peer.
 */
import { randomBytes } from 'node:crypto';
import type { ClientConnection } from '../../clients/client-manager.js';
import type { ErrorCode } from '../../errors.js';
import type { ClientInfo } from '../../hooks.js';
import type { Session } from '../../session/session.js';
import type { Message, QoS } from '../../types.js';
import type { GatewayContext } from '../context.js';
import type { UdpListenerConfig } from '../config.js';
import type { CoapConfig } from './config.js';
import { Blockwise } from './blockwise.js';
import { decode, encode, METHODS, unknownCritical, uriPath, type CoapMessage } from './message.js';
import { Notifier } from './observe.js';
import { handleConnection, needsToken } from './connection.js';
import { handlePubsub } from './pubsub.js';

export type CoapState = 'idle' | 'auth' | 'connected' | 'closed';

export interface CoapPeer {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly listener: string;
  send(buf: Buffer): boolean;
  close(): void;
}

export interface CoapShared {
  readonly ctx: GatewayContext;
  readonly cfg: CoapConfig;
  /**
   * EMQX's token takeover: a request from a new address:port carrying the clientid and token
   * of a connected client moves that client to `from`'s peer; it is returned (null: no such client).
   */
  readonly adopt: (from: CoapChannel, clientId: string, token: string) => CoapChannel | null;
}

export interface Reply { code: string; payload?: Buffer | string; options?: Array<{ name: string; value: Buffer }> }

/** Answers kept for duplicate detection (RFC 7252 §4.5): at most this many, for EXCHANGE_LIFETIME. */
const MAX_REMEMBERED = 64;
const EXCHANGE_LIFETIME_MS = 247_000;

const NO_CLIENT: ClientInfo = Object.freeze({
  clientId: '', username: null, peerHost: '', peerPort: 0, listener: '', protocol: 'CoAP', protocolVersion: 1, peerCert: null, isSuperuser: false,
}) as ClientInfo;

export class CoapChannel implements ClientConnection {
  peer: CoapPeer;
  readonly shared: CoapShared;
  readonly listener: UdpListenerConfig;
  state: CoapState = 'idle';
  info: ClientInfo = NO_CLIENT;
  readonly cleanStart = true;
  keepalive: number;
  connectedAt = 0;
  lastRx: number;
  session: Session | null = null;
  mountpoint = '';
  /** The connection token given in the 2.01 answer to `POST /mqtt/connection`. */
  token: string | null = null;
  /** The clientid the client gave (its `info.clientId` may be a `clientinfo_override`). */
  claimedId = '';
  /** While the access chain runs for a connectionless /ps request, later ones wait on it. */
  connecting: Promise<unknown> | null = null;
  readonly blocks: Blockwise;
  readonly notifier: Notifier;
  private opened = false;
  private nextMid: number;
  /** Message id → the answer sent (null while it is being worked out). */
  private readonly answered = new Map<number, { buf: Buffer | null; at: number }>();
  onClosed: ((ch: CoapChannel) => void) | null = null;

  constructor(peer: CoapPeer, shared: CoapShared, listener: UdpListenerConfig, now: number) {
    this.peer = peer;
    this.shared = shared;
    this.listener = listener;
    this.lastRx = now;
    this.keepalive = Math.ceil(shared.cfg.heartbeatMs / 1000);
    this.blocks = new Blockwise(shared.cfg.blockwise.maxBodySize, shared.cfg.blockwise.exchangeLifetimeMs);
    this.notifier = new Notifier(this);
    this.nextMid = randomBytes(2).readUInt16BE(0);
  }

  get ctx(): GatewayContext { return this.shared.ctx; }

  // ---- input ---------------------------------------------------------------------------

  datagram(buf: Buffer): void {
    if (this.state === 'closed') return;
    const c = this.ctx.broker.metrics.counters;
    const r = decode(buf);
    if (!r.ok) {
      this.ctx.metrics.malformed++;
      c['frame.error']++;
      this.ctx.log.debug({ peer: this.peerName(), err: r.reason }, 'malformed CoAP datagram dropped');
      if (r.con) this.reset(r.messageId);
      return;
    }
    this.lastRx = Date.now();
    c['packets.received']++;
    const m = r.msg;
    try {
      this.handle(m);
    } catch (err) {
      this.ctx.log.error({ err, clientid: this.info.clientId }, 'internal error handling a CoAP message');
      if (m.type === 'con' || m.type === 'non') this.reply(m, { code: '5.00', payload: 'internal error' });
    }
  }

  private handle(m: CoapMessage): void {
    if (m.type === 'ack') { this.notifier.acked(m.messageId); return; }
    if (m.type === 'rst') { this.notifier.reset(m.messageId); return; }
    if (m.code === '0.00') {
      // CoAP ping (§4.3): an empty CON is answered with Reset; an empty NON is meaningless.
      if (m.type === 'con') this.reset(m.messageId);
      return;
    }
    if (!m.code.startsWith('0.')) {
      // A response from the client to a request we never make: reject a CON one (§4.2).
      if (m.type === 'con') this.reset(m.messageId);
      return;
    }
    const seen = this.answered.get(m.messageId);
    if (seen !== undefined) {
      if (seen.buf !== null && m.type === 'con') this.sendRaw(seen.buf);
      return;
    }
    this.remember(m.messageId, null);
    this.request(m);
  }

  private request(m: CoapMessage): void {
    const method = METHODS[m.code];
    if (method === undefined) { this.reply(m, { code: '4.05', payload: 'method not allowed' }); return; }
    const bad = unknownCritical(m);
    if (bad !== null) { this.reply(m, { code: '4.02', payload: `unsupported critical option ${bad}` }); return; }
    const path = uriPath(m);
    if (path[0] === 'mqtt') {
      if (path.length !== 2 || path[1] !== 'connection') { this.reply(m, { code: '4.04', payload: 'not found' }); return; }
      handleConnection(this, m, method);
      return;
    }
    if (path[0] !== 'ps') { this.reply(m, { code: '4.04', payload: 'not found' }); return; }
    if (this.shared.cfg.connectionRequired) {
      const who = needsToken(this, m);
      if (who === null) return; // answered
      who.pubsub(m, method, path);
      return;
    }
    this.pubsub(m, method, path);
  }

  /** @internal */ pubsub(m: CoapMessage, method: string, path: string[]): void { handlePubsub(this, m, method, path); }

  // ---- becoming a client ---------------------------------------------------------------

  /**
   * The access chain, then the session (clean, ending with the client, as EMQX's CoAP
   * sessions do). Resolves with null, or the CoAP code and text of a refusal.
   */
  connect(clientId: string, username: string | null, password: string | null): Promise<{ code: string; message: string } | null> {
    const p = this.connectNow(clientId, username, password);
    this.connecting = p;
    const done = (): void => { if (this.connecting === p) this.connecting = null; };
    p.then(done, done);
    return p;
  }

  private async connectNow(clientId: string, username: string | null, password: string | null): Promise<{ code: string; message: string } | null> {
    const ctx = this.ctx;
    ctx.broker.metrics.counters['packets.connect.received']++;
    if (clientId.length === 0 && ctx.cfg.clientinfoOverride.clientid === null) return { code: '4.00', message: 'clientid is required' };
    if (clientId.length > ctx.limits.maxClientIdLen) return { code: '4.00', message: 'clientid too long' };
    const who = ctx.identify({
      clientId, username, password: password === null ? null : Buffer.from(password),
      peerHost: this.peer.remoteAddress, peerPort: this.peer.remotePort, listener: this.peer.listener,
    });
    this.state = 'auth';
    this.claimedId = clientId;
    this.info = who.info;
    this.mountpoint = who.mountpoint;
    const r = await ctx.authenticate(who.info, who.password, this.listener.enableAuthn);
    if (this.state !== 'auth') return { code: '5.03', message: 'closed' };
    if (!r.ok) {
      this.state = 'idle';
      ctx.broker.metrics.counters['packets.connack.error']++;
      return { code: '4.01', message: `unauthorized: ${r.reason}` };
    }
    const { session } = await ctx.open(this, { cleanStart: true, expiry: 0, will: null });
    if (this.state !== 'auth') { ctx.closed(this, session, 'closed_while_opening', false); return { code: '5.03', message: 'closed' }; }
    this.opened = true;
    this.session = session;
    this.state = 'connected';
    this.connectedAt = Date.now();
    this.token = String(randomBytes(4).readUInt32BE(0));
    ctx.broker.metrics.counters['client.connack']++;
    ctx.activate(this, session);
    return null;
  }

  // ---- output --------------------------------------------------------------------------

  /** Answers a request: piggybacked on the ACK of a CON, a NON response to a NON (§5.2). */
  reply(req: CoapMessage, r: Reply): void {
    if (this.state === 'closed' && req.type === 'non') return;
    const con = req.type === 'con';
    const payload = r.payload === undefined ? Buffer.alloc(0) : typeof r.payload === 'string' ? Buffer.from(r.payload) : r.payload;
    const buf = encode({ type: con ? 'ack' : 'non', code: r.code, messageId: con ? req.messageId : this.nextMessageId(), token: req.token, options: r.options ?? [], payload });
    this.remember(req.messageId, buf);
    this.ctx.broker.metrics.counters['packets.sent']++;
    this.sendRaw(buf);
  }

  /** An empty Reset: "this message made no sense to me" (§4.2, §4.3). */
  private reset(mid: number): void {
    this.sendRaw(encode({ type: 'rst', code: '0.00', messageId: mid, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }));
  }

  sendRaw(buf: Buffer): void {
    this.ctx.broker.metrics.counters['bytes.sent'] += buf.length;
    this.peer.send(buf);
  }

  nextMessageId(): number {
    const id = this.nextMid;
    this.nextMid = (id + 1) & 0xffff;
    return id;
  }

  /** @internal (observe.ts) */ countSent(): void {
    this.ctx.metrics.sent++;
    const c = this.ctx.broker.metrics.counters;
    c['messages.sent']++;
    c['packets.publish.sent']++;
    c['packets.sent']++;
  }

  /** @internal An observation the client stopped acknowledging: its subscription goes too. */
  unsubscribeObserved(filter: string, why: string): void {
    if (this.session !== null) this.ctx.unsubscribe(this.session, this.mountpoint, filter);
    this.ctx.log.debug({ clientid: this.info.clientId, filter, why }, 'CoAP observation dropped');
  }

  private remember(mid: number, buf: Buffer | null): void {
    const a = this.answered;
    if (buf === null || !a.has(mid)) {
      a.delete(mid);
      if (a.size >= MAX_REMEMBERED) a.delete(a.keys().next().value!);
    }
    a.set(mid, { buf, at: Date.now() });
  }

  // ---- the session's Outlet ------------------------------------------------------------

  deliver(msg: Message, qos: QoS, packetId: number, dup: boolean): boolean {
    if (this.state !== 'connected') return false;
    return this.notifier.deliver(msg, qos, packetId, dup);
  }

  /** QoS 2: the client's ACK was its PUBREC; nothing more to ask it, so the delivery completes. */
  release(packetId: number): void { this.session?.pubcomp(packetId); }

  writable(): boolean { return true; }

  // ---- timers and the end --------------------------------------------------------------

  tick(now: number): void {
    if (this.state === 'closed') return;
    const limit = this.opened ? this.shared.cfg.heartbeatMs * 1.5 : this.ctx.cfg.idleTimeoutMs;
    if (now - this.lastRx > limit) { this.close(this.opened ? 'heartbeat_timeout' : 'idle_timeout', true); return; }
    this.notifier.tick(now);
    this.blocks.expire(now);
    for (const [mid, e] of this.answered) if (now - e.at > EXCHANGE_LIFETIME_MS) this.answered.delete(mid);
  }

  kick(code: ErrorCode): void { this.close(code.toLowerCase(), true); }

  close(reason: string, publishWill: boolean, fromPeer = false): void {
    if (this.state === 'closed') return;
    const wasAuth = this.state === 'auth';
    this.state = 'closed';
    this.notifier.clear();
    // A client still opening (wasAuth) is closed by connect() when its session arrives.
    if (this.opened) this.ctx.closed(this, this.session, reason, publishWill);
    else if (wasAuth) this.ctx.log.debug({ clientid: this.info.clientId, reason }, 'CoAP client closed while connecting');
    if (!fromPeer) this.peer.close();
    this.onClosed?.(this);
  }

  peerName(): string { return `${this.peer.remoteAddress}:${this.peer.remotePort}`; }
}
