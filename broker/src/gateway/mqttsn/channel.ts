/**
 * The MQTT-SN channel: one per remote address:port of a gateway listener, turning MQTT-SN 1.2
 * messages into the broker calls every client makes (gateway/context.ts), and the session's
 * deliveries into PUBLISH (registering topic ids first when the client does not know them).
 *
 * States (spec 6.14, client side mirrored): `new` → (CONNECT with Will: `will` while
 * WILLTOPIC/WILLMSG are asked for) → `auth` → `connected` ⇄ `asleep` (DISCONNECT with a
 * duration) ⇄ `awake` (PINGREQ with the client id: what was buffered goes out, then PINGRESP
 * and back to `asleep`) → `closed`.
 *
 * A datagram is a whole message, so nothing is held back for ordering: an authorization answer
 * that comes as a promise answers its own message when it settles. A malformed datagram is
 * counted and dropped; the peer is kept until it connects or idle_timeout passes.
 */
import type { ClientConnection } from '../../clients/client-manager.js';
import type { ErrorCode } from '../../errors.js';
import type { AuthzResult, ClientInfo } from '../../hooks.js';
import type { Session } from '../../session/session.js';
import type { Message, QoS } from '../../types.js';
import type { GatewayContext } from '../context.js';
import type { UdpListenerConfig } from '../config.js';
import { decode, encode, RC, TOPIC, type SnMessage } from './codec.js';
import { TopicRegistry } from './topics.js';
import { handleIncomingPublish } from './publish-in.js';
import { handleSubscribe, handleUnsubscribe } from './subscribe.js';
import { onWillMsg, onWillTopic, onWillUpdate, willOf, type SnWill } from './will.js';

export type SnState = 'new' | 'will' | 'auth' | 'connected' | 'asleep' | 'awake' | 'closed';

/** Where the channel's datagrams go (a DatagramPeer; a plain object in unit tests). */
export interface SnPeer {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly listener: string;
  send(buf: Buffer): boolean;
  close(): void;
}

/** Gateway-wide facts every channel shares. */
export interface SnShared {
  readonly ctx: GatewayContext;
  readonly gatewayId: number;
  readonly enableQos3: boolean;
  readonly topics: () => TopicRegistry;
  /**
   * A sleeping client woke up from a new UDP port (NAT, a radio that rebinds): the sleeping
   * channel of `clientId` at the same address moves to `from`'s peer and is returned; null when
   * there is none.
   */
  readonly adopt: (from: SnChannel, clientId: string) => SnChannel | null;
}

/** A delivery waiting for the client: asleep, or its topic id being registered. */
interface Held { msg: Message; qos: QoS; pid: number; dup: boolean; retain: boolean }
interface PendingRegister { name: string; id: number; msgId: number; sentAt: number; held: Held[] }

const NO_CLIENT: ClientInfo = Object.freeze({
  clientId: '', username: null, peerHost: '', peerPort: 0, listener: '', protocol: 'MQTT-SN', protocolVersion: 1, peerCert: null, isSuperuser: false,
}) as ClientInfo;

export class SnChannel implements ClientConnection {
  /** Replaced when a sleeping client wakes from a new port (SnShared.adopt). */
  peer: SnPeer;
  readonly shared: SnShared;
  readonly listener: UdpListenerConfig;
  state: SnState = 'new';
  info: ClientInfo = NO_CLIENT;
  cleanStart = true;
  keepalive = 0;
  connectedAt = 0;
  lastRx: number;
  session: Session | null = null;
  mountpoint = '';
  registry: TopicRegistry;
  /** Seconds the client said it sleeps (DISCONNECT with Duration). */
  sleepSec = 0;
  private opened = false;
  private password: Buffer | null = null;
  /** The will given in CONNECT or updated since (will.ts). */
  will: SnWill | null = null;
  private buffered: Held[] | null = null;
  private releases: number[] | null = null;
  private registering: PendingRegister[] | null = null;
  private nextMsgId = 1;
  /** Set while answering an Encapsulated message: replies are wrapped the same way. */
  private encap: { radius: number; nodeId: Buffer } | null = null;
  onClosed: ((ch: SnChannel) => void) | null = null;

  constructor(peer: SnPeer, shared: SnShared, listener: UdpListenerConfig, now: number) {
    this.peer = peer;
    this.shared = shared;
    this.listener = listener;
    this.lastRx = now;
    this.registry = shared.topics();
  }

  get ctx(): GatewayContext { return this.shared.ctx; }

  // ---- input ---------------------------------------------------------------------------

  datagram(buf: Buffer): void {
    if (this.state === 'closed') return;
    const r = decode(buf);
    if (!r.ok) {
      this.ctx.metrics.malformed++;
      this.ctx.broker.metrics.counters['frame.error']++;
      // The peer is kept (it expires after idle_timeout): forgetting it would make each datagram
      // of a flood a new peer, spending max_conn_rate that clients connecting meanwhile need.
      this.ctx.log.debug({ peer: this.peerName(), code: r.code, err: r.message }, 'malformed MQTT-SN datagram dropped');
      return;
    }
    this.lastRx = Date.now();
    this.ctx.broker.metrics.counters['packets.received']++;
    let m = r.msg;
    if (m.type === 'encapsulated') { this.encap = { radius: m.radius, nodeId: m.nodeId }; m = m.inner; } else this.encap = null;
    try {
      this.handle(m);
    } catch (err) {
      this.ctx.log.error({ err, clientid: this.info.clientId }, 'internal error handling an MQTT-SN message');
      this.close('internal_error', true);
    }
  }

  /** @internal One decoded message (also a PINGREQ handed over by adopt()). */
  handle(m: SnMessage): void {
    switch (m.type) {
      case 'searchgw': this.send({ type: 'gwinfo', gwId: this.shared.gatewayId, gwAdd: Buffer.alloc(0) }); return;
      case 'advertise': case 'gwinfo': return; // another gateway's announcements: nothing to do
      case 'connect': this.onConnect(m); return;
      case 'willtopic': onWillTopic(this, m.topic, m.qos, m.retain); return;
      case 'willmsg': onWillMsg(this, m.payload); return;
      case 'pingreq': this.onPing(m.clientId); return;
      default:
        // A sleeping client may still publish and acknowledge; during CONNECT (will, auth) a
        // retransmitted message is ignored; before CONNECT it is refused.
        if (this.state === 'new') { if (m.type === 'publish' && m.qos === -1) handleIncomingPublish(this, m); else this.refuseUnconnected(m); return; }
        if (this.state === 'will' || this.state === 'auth') return;
        if (m.type === 'publish') { handleIncomingPublish(this, m); return; }
        this.handleConnected(m);
    }
  }

  private handleConnected(m: SnMessage): void {
    const s = this.session!;
    const c = this.ctx.broker.metrics.counters;
    switch (m.type) {
      case 'register': {
        const t = this.ctx.topicName(this.mountpoint, m.topicName);
        const id = t === null || /[+#]/.test(m.topicName) ? -2 : this.registry.register(m.topicName);
        this.send({ type: 'regack', topicId: id < 0 ? 0 : id, msgId: m.msgId, returnCode: id === -2 ? RC.NOT_SUPPORTED : id === -1 ? RC.EXCEED_LIMITATION : RC.ACCEPTED });
        return;
      }
      case 'regack': this.onRegack(m.msgId, m.topicId, m.returnCode); return;
      case 'puback':
        c['packets.puback.received']++;
        if (m.returnCode === RC.INVALID_TOPIC_ID) this.forgetId(m.topicId);
        if (!s.puback(m.msgId)) c['packets.puback.missed']++;
        return;
      case 'pubrec':
        c['packets.pubrec.received']++;
        if (!s.pubrec(m.msgId, 0)) { c['packets.pubrec.missed']++; this.send({ type: 'pubrel', msgId: m.msgId }); }
        return;
      case 'pubcomp': c['packets.pubcomp.received']++; if (!s.pubcomp(m.msgId)) c['packets.pubcomp.missed']++; return;
      case 'pubrel':
        c['packets.pubrel.received']++;
        if (!s.releaseRel(m.msgId)) c['packets.pubrel.missed']++;
        this.send({ type: 'pubcomp', msgId: m.msgId });
        return;
      case 'subscribe': handleSubscribe(this, m); return;
      case 'unsubscribe': handleUnsubscribe(this, m); return;
      case 'disconnect': this.onDisconnect(m.duration); return;
      case 'willtopicupd': onWillUpdate(this, m.topic, m.qos, m.retain, null); return;
      case 'willmsgupd': onWillUpdate(this, null, 0, false, m.payload); return;
      default: this.ctx.log.debug({ clientid: this.info.clientId, type: m.type }, 'unexpected MQTT-SN message from a client; ignored');
    }
  }

  /** Connected and listening (awake counts: it is between PINGREQ and PINGRESP). */
  live(): boolean { return this.state === 'connected' || this.state === 'awake'; }

  /** A message that needs a connection, from a peer that has none: spec 6.? says DISCONNECT. */
  private refuseUnconnected(m: SnMessage): void {
    if (m.type === 'disconnect' || m.type === 'pingresp') { this.close('disconnected', false); return; }
    this.send({ type: 'disconnect', duration: null });
    this.close('not_connected', false);
  }

  // ---- CONNECT and the will ------------------------------------------------------------

  private onConnect(m: Extract<SnMessage, { type: 'connect' }>): void {
    const ctx = this.ctx;
    ctx.broker.metrics.counters['packets.connect.received']++;
    // Over UDP a lost CONNACK makes the client send CONNECT again: answer it again.
    if (this.state === 'connected' && m.clientId === this.info.clientId) { this.keepalive = m.duration; this.send({ type: 'connack', returnCode: RC.ACCEPTED }); return; }
    if (this.state === 'asleep' || this.state === 'awake') { this.keepalive = m.duration; this.state = 'connected'; this.send({ type: 'connack', returnCode: RC.ACCEPTED }); this.flushBuffered(); return; }
    if (this.state !== 'new') return;
    if (m.protocolId !== 0x01) { this.connack(RC.NOT_SUPPORTED, 'unsupported_protocol'); return; }
    const override = ctx.cfg.clientinfoOverride.clientid !== null;
    if ((m.clientId.length === 0 && !override) || m.clientId.length > ctx.limits.maxClientIdLen) { this.connack(RC.NOT_SUPPORTED, 'bad_clientid'); return; }
    const who = ctx.identify({
      clientId: m.clientId, username: null, password: null, peerHost: this.peer.remoteAddress, peerPort: this.peer.remotePort, listener: this.peer.listener,
    });
    this.info = who.info;
    this.password = who.password;
    this.mountpoint = who.mountpoint;
    this.keepalive = m.duration;
    this.cleanStart = m.cleanSession;
    if (m.will) { this.state = 'will'; this.send({ type: 'willtopicreq' }); return; }
    this.authenticate();
  }

  /** @internal (will.ts) CONNECT is complete: the access chain, then the session. */
  authenticate(): void {
    this.state = 'auth';
    this.ctx.authenticate(this.info, this.password, this.listener.enableAuthn).then((r) => {
      if (this.state !== 'auth') return;
      if (!r.ok) { this.connack(RC.NOT_AUTHORIZED, `auth_${r.reason.toLowerCase()}`); return; }
      const ctx = this.ctx;
      return ctx.open(this, {
        cleanStart: this.cleanStart, expiry: this.cleanStart ? 0 : ctx.limits.sessionExpirySec, will: willOf(this),
      }).then(({ session }) => {
        if (this.state !== 'auth') { ctx.closed(this, session, 'closed_while_opening', false); return; }
        this.opened = true;
        this.session = session;
        this.state = 'connected';
        this.connectedAt = Date.now();
        this.send({ type: 'connack', returnCode: RC.ACCEPTED });
        ctx.broker.metrics.counters['client.connack']++;
        ctx.activate(this, session);
      });
    }).catch((err) => {
      this.ctx.log.error({ err, clientid: this.info.clientId }, 'MQTT-SN connect failed');
      if (this.state === 'auth') this.connack(RC.CONGESTION, 'open_failed');
    });
  }

  /** @internal Refuses the CONNECT and forgets the peer. */
  connack(rc: number, reason: string): void {
    this.send({ type: 'connack', returnCode: rc });
    this.ctx.broker.metrics.counters['packets.connack.error']++;
    this.close(reason, false);
  }

  // ---- sleeping (6.14) -----------------------------------------------------------------

  private onDisconnect(duration: number | null): void {
    this.ctx.broker.metrics.counters['packets.disconnect.received']++;
    if (duration === null || duration === 0) {
      this.send({ type: 'disconnect', duration: null });
      this.close('normal', false);
      return;
    }
    this.sleepSec = duration;
    this.state = 'asleep';
    this.send({ type: 'disconnect', duration: null });
  }

  private onPing(clientId: string): void {
    this.ctx.broker.metrics.counters['packets.pingreq.received']++;
    if (this.state === 'asleep' && (clientId === '' || clientId === this.info.clientId)) {
      this.state = 'awake';
      this.flushBuffered();
      this.state = 'asleep';
    } else if (this.state === 'new') {
      const sleeper = clientId === '' ? null : this.shared.adopt(this, clientId);
      if (sleeper !== null) sleeper.handle({ type: 'pingreq', clientId });
      else this.refuseUnconnected({ type: 'pingreq', clientId });
      return;
    }
    this.send({ type: 'pingresp' });
  }

  private flushBuffered(): void {
    const held = this.buffered;
    const rel = this.releases;
    this.buffered = null;
    this.releases = null;
    if (rel !== null) for (const pid of rel) this.release(pid);
    if (held !== null) for (const h of held) this.deliver(h.msg, h.qos, h.pid, h.dup, h.retain);
  }

  // ---- output: the session's Outlet ----------------------------------------------------

  deliver(msg: Message, qos: QoS, packetId: number, dup: boolean, retain: boolean): boolean {
    if (this.state === 'closed') return false;
    if (this.state === 'asleep') return this.hold({ msg, qos, pid: packetId, dup, retain });
    const topic = this.ctx.unmount(this.mountpoint, msg.topic);
    const out = this.registry.outgoing(topic);
    if (out.type === 'register') return this.register(topic, { msg, qos, pid: packetId, dup, retain });
    if (msg.payload.length > 65000) return false;
    this.send({ type: 'publish', dup, qos, retain, topicIdType: out.type, topicId: out.id, msgId: qos === 0 ? 0 : packetId, payload: msg.payload });
    this.ctx.metrics.sent++;
    const c = this.ctx.broker.metrics.counters;
    c['messages.sent']++;
    c['packets.publish.sent']++;
    return true;
  }

  release(packetId: number): void {
    if (this.state === 'asleep') { (this.releases ??= []).push(packetId); return; }
    this.send({ type: 'pubrel', msgId: packetId });
  }

  /** UDP has no send buffer to fill: the kernel drops what it cannot take. */
  writable(): boolean { return true; }

  private hold(h: Held): boolean {
    const b = (this.buffered ??= []);
    if (h.qos !== 0 && b.some((x) => x.qos !== 0 && x.pid === h.pid)) return true; // a resend of one already held
    if (b.length >= this.ctx.limits.maxBuffered) return false;
    b.push(h);
    return true;
  }

  /** The client does not know this topic's id: REGISTER it, and hold the message until REGACK (6.10). */
  private register(name: string, h: Held): boolean {
    const list = (this.registering ??= []);
    const p = list.find((r) => r.name === name);
    if (p !== undefined) {
      if (h.qos === 0 || !p.held.some((x) => x.qos !== 0 && x.pid === h.pid)) p.held.push(h);
      return true;
    }
    const id = this.registry.register(name);
    if (id < 0) return false;
    this.registry.forget(name); // bound only once the client accepts it
    const msgId = this.msgId();
    list.push({ name, id, msgId, sentAt: Date.now(), held: [h] });
    this.send({ type: 'register', topicId: id, msgId, topicName: name });
    return true;
  }

  private onRegack(msgId: number, topicId: number, rc: number): void {
    const list = this.registering;
    const i = list === null ? -1 : list.findIndex((r) => r.msgId === msgId);
    if (i < 0) return;
    const p = list!.splice(i, 1)[0];
    if (list!.length === 0) this.registering = null;
    const s = this.session!;
    if (rc !== RC.ACCEPTED) {
      // The client refuses the topic: what waited for it cannot be delivered.
      for (const h of p.held) { if (h.qos === 1) s.puback(h.pid); else if (h.qos === 2) s.pubrec(h.pid, 0x80); }
      return;
    }
    this.registry.bind(p.id, p.name);
    // A sleeping client that answers is awake for as long as it takes to send what waited.
    const asleep = this.state === 'asleep';
    if (asleep) this.state = 'awake';
    for (const h of p.held) this.deliver(h.msg, h.qos, h.pid, h.dup, h.retain);
    if (asleep) this.state = 'asleep';
  }

  private forgetId(id: number): void {
    const name = this.registry.resolve(TOPIC.NORMAL, id);
    if (name !== undefined) this.registry.forget(name);
  }

  private msgId(): number {
    const id = this.nextMsgId;
    this.nextMsgId = id >= 0xffff ? 1 : id + 1;
    return id;
  }

  send(m: SnMessage): void {
    if (this.state === 'closed') return;
    const enc = this.encap;
    const buf = encode(enc === null ? m : { type: 'encapsulated', radius: enc.radius, nodeId: enc.nodeId, inner: m });
    const c = this.ctx.broker.metrics.counters;
    c['packets.sent']++;
    c['bytes.sent'] += buf.length;
    this.peer.send(buf);
  }

  // ---- timers and the end --------------------------------------------------------------

  /** Once a second: idle peers, keep alive (1.5 × duration, as MQTT), sleep expiry, REGISTER resends. */
  tick(now: number): void {
    if (this.state === 'closed') return;
    if (!this.opened) {
      if (now - this.lastRx > this.ctx.cfg.idleTimeoutMs) this.close('idle_timeout', false);
      return;
    }
    const period = this.state === 'asleep' ? this.sleepSec : this.keepalive;
    if (period > 0 && now - this.lastRx > period * 1500) { this.close(this.state === 'asleep' ? 'asleep_timeout' : 'keepalive_timeout', true); return; }
    const retry = this.ctx.limits.retryIntervalMs || 30_000;
    if (this.registering !== null && this.state !== 'asleep') for (const r of this.registering) {
      if (now - r.sentAt < retry) continue;
      r.sentAt = now;
      this.send({ type: 'register', topicId: r.id, msgId: r.msgId, topicName: r.name });
    }
  }

  kick(code: ErrorCode): void {
    if (this.state === 'closed') return;
    this.send({ type: 'disconnect', duration: null });
    this.close(code.toLowerCase(), true);
  }

  /** Ends the channel; `fromPeer` when the transport already forgot the peer. */
  close(reason: string, publishWill: boolean, fromPeer = false): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.buffered = null;
    this.registering = null;
    if (this.opened) this.ctx.closed(this, this.session, reason, publishWill);
    if (!fromPeer) this.peer.close();
    this.onClosed?.(this);
  }

  peerName(): string { return `${this.peer.remoteAddress}:${this.peer.remotePort}`; }

  /** @internal for the publish handler */ authorizeThen(topic: string, qos: QoS, retain: boolean, then: (v: AuthzResult) => void): void {
    const v = this.ctx.authorize(this.info, 'publish', topic, qos, retain);
    if (typeof v === 'string') { then(v); return; }
    v.then((x) => { if (this.state !== 'closed') then(x); }, (err) => { this.ctx.log.error({ err, clientid: this.info.clientId }, 'authorization failed'); then('deny'); });
  }
}
