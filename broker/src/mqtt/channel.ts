/**
 * The MQTT channel: one per network connection, for MQTT 3.1 (MQIsdp), 3.1.1 and 5.0.
 *
 * States: `new` (waiting for CONNECT) → `auth` (authenticating; packets that arrive are
 * held) → `connected` → `closed`. Bytes from the Connection go straight into the parser;
 * each packet goes to its handler (connect.ts, publish.ts, subscribe.ts). Handlers report
 * protocol errors by throwing MqttError; `fail()` is the one place that turns an error into
 * CONNACK (during CONNECT) or DISCONNECT (v5, after CONNECT) and closes the connection.
 *
 * The channel only translates: a client's life across connections (takeover, resume, wills,
 * expiry) is the client manager's (clients/), routing is the broker's. The channel is the
 * session's Outlet: the session calls deliver/release, the channel encodes (topic alias,
 * subscription ids, remaining expiry, client's Maximum Packet Size) and writes. Writes in one
 * event-loop turn are corked and flushed together.
 *
 * Holding: while authentication runs, or an authorization answer is awaited, later packets
 * are held in arrival order (and the connection stops reading) so nothing overtakes.
 * Back-pressure: when more than the listener's high-water mark is buffered towards the client,
 * the channel stops reading from it until the output drains.
 * Rate limits (listener messages_rate / bytes_rate): a PUBLISH over the rate is held the same
 * way, reading paused, until the client's bucket has refilled (access/limiter.ts).
 */
import type { Connection, ConnectionHandler } from '../transport/index.js';
import type { Message, QoS } from '../types.js';
import type { Session } from '../session/session.js';
import type { Broker } from '../broker.js';
import type { ClientInfo } from '../hooks.js';
import type { ClientConnection, ClientManager } from '../clients/client-manager.js';
import { MqttParser, CodecError, encode, encodePublish, encodeAck, setPacketId, type Packet, type ParserHandler } from './codec/index.js';
import { ERRORS, MqttError, type ErrorCode } from '../errors.js';
import { reasonName } from './reason-names.js';
import type { ChannelSettings } from './settings.js';
import { encodeShared } from './publish-encoder.js';
import { handleConnect, handleAuth } from './connect.js';
import { handlePublish, handlePubrel } from './publish.js';
import { handleSubscribe, handleUnsubscribe } from './subscribe.js';
import { handleDisconnect } from './disconnect.js';
import { ClientLimiter, type ClientRateLimits } from '../access/limiter.js';

export type ChannelState = 'new' | 'auth' | 'connected' | 'closed';

/** Fixed per-listener facts a channel needs (one object per listener, shared by its connections). */
export interface ChannelListener {
  /** Bytes buffered towards a client above which it is not read from (and QoS 0 to it is dropped). */
  readonly highWaterMark: number;
  /** Incoming PUBLISH limits per client (messages_rate, bytes_rate); null or absent = none. */
  readonly clientLimits?: ClientRateLimits | null;
}

export interface Logger {
  info(o: object, m?: string): void; warn(o: object, m?: string): void;
  error(o: object, m?: string): void; debug(o: object, m?: string): void;
  isLevelEnabled?(level: string): boolean;
}

/** Channels written to during this event-loop turn; uncorked together in one setImmediate. */
const corked: Channel[] = [];
let flushScheduled = false;
function flushCorked(): void {
  flushScheduled = false;
  for (let i = 0; i < corked.length; i++) { const ch = corked[i]; ch.corked = false; ch.conn.uncork(); }
  corked.length = 0;
}

export class Channel implements ClientConnection {
  readonly conn: Connection;
  readonly broker: Broker;
  readonly clients: ClientManager;
  readonly cfg: ChannelSettings;
  readonly log: Logger;
  readonly parser: MqttParser;
  private readonly hwm: number;
  state: ChannelState = 'new';
  protocolVersion: 3 | 4 | 5 = 4;
  /** Who the client is: built once at CONNECT (NO_CLIENT before). */
  info: ClientInfo = NO_CLIENT;
  /** Keep alive in seconds, 0 = off. */
  keepalive = 0;
  /**
   * When the last bytes arrived: the low 32 bits of Date.now(), wrapping. A small integer stays in
   * the object, where a Date.now() would be a separate 16-byte number per channel; differences
   * taken with `| 0` are exact up to 24 days, and keep alive needs at most 1.5 × 65,535 s.
   */
  private rxClock: number;
  connectedAt: number;
  session: Session | null = null;
  /** MQTT 5: limits the client announced in CONNECT. */
  clientMaxPacket = NO_PACKET_LIMIT;
  clientTopicAliasMax = 0;
  /** Outbound topic aliases (topic → alias); inbound ones are `aliasIn`. */
  aliasOut: Map<string, number> | null = null;
  /** MQTT 5 enhanced authentication in progress or done. */
  authMethod: string | null = null;
  /** When the client's credential ends (ms since the epoch; a JWT's exp), 0 = never. */
  authExpireAt = 0;
  // Created on first use: most clients never need them, and an idle connection should cost little.
  private aliasInMap: Map<number, string> | null = null;
  private authStateObj: Record<string, unknown> | null = null;
  /** The rest of CONNECT handling, run when enhanced authentication succeeds. */
  pendingConnect: ((data: Buffer | null) => void) | null = null;
  /** Packets that arrived while authentication or an authorization check was running. */
  held: Packet[] | null = null;
  /** messages_rate / bytes_rate of the listener; null (one check per packet) when it sets none. */
  private readonly limiter: ClientLimiter | null;
  /** The booleans below, one bit each: six fields would be 48 bytes per channel, this one is 8. */
  private bits = CLEAN_START | PROBLEM_INFO;
  closeReason = '';
  /** Called once when the channel closes (the node's channel set uses it). */
  onClosed: ((this: Channel) => void) | null = null;

  constructor(conn: Connection, broker: Broker, clients: ClientManager, cfg: ChannelSettings, listener: ChannelListener, log: Logger) {
    this.conn = conn;
    this.broker = broker;
    this.clients = clients;
    this.cfg = cfg;
    this.hwm = listener.highWaterMark;
    this.limiter = listener.clientLimits ? new ClientLimiter(listener.clientLimits, Date.now()) : null;
    this.log = log;
    this.connectedAt = Date.now(); // until CONNECT: when the connection was accepted
    this.rxClock = this.connectedAt | 0;
    const io = new ChannelIo(this);
    this.parser = new MqttParser(io, { maxPacketSize: cfg.maxPacketSize });
    conn.setHandler(io);
  }

  /** The client asked for a new session. */
  get cleanStart(): boolean { return (this.bits & CLEAN_START) !== 0; }
  set cleanStart(on: boolean) { this.bits = on ? this.bits | CLEAN_START : this.bits & ~CLEAN_START; }
  /** MQTT 5: the client accepts reason strings and user properties on errors. */
  get requestProblemInfo(): boolean { return (this.bits & PROBLEM_INFO) !== 0; }
  set requestProblemInfo(on: boolean) { this.bits = on ? this.bits | PROBLEM_INFO : this.bits & ~PROBLEM_INFO; }
  /** True while packets are held (see the module comment). */
  get holding(): boolean { return (this.bits & HOLDING) !== 0; }
  set holding(on: boolean) { this.bits = on ? this.bits | HOLDING : this.bits & ~HOLDING; }
  /** Written to during this event-loop turn (in `corked`, flushed at its end). */
  get corked(): boolean { return (this.bits & CORKED) !== 0; }
  set corked(on: boolean) { this.bits = on ? this.bits | CORKED : this.bits & ~CORKED; }
  /** True while reading is paused because the client does not read what we send. */
  private get outputFull(): boolean { return (this.bits & OUTPUT_FULL) !== 0; }
  private set outputFull(on: boolean) { this.bits = on ? this.bits | OUTPUT_FULL : this.bits & ~OUTPUT_FULL; }
  /** True while reading is paused until the cluster link catches up. */
  private get clusterWait(): boolean { return (this.bits & CLUSTER_WAIT) !== 0; }
  private set clusterWait(on: boolean) { this.bits = on ? this.bits | CLUSTER_WAIT : this.bits & ~CLUSTER_WAIT; }
  /** A running client id or IP trace follows this connection (set by trace/tracer.ts): packets go to broker.trace. */
  get traced(): boolean { return (this.bits & TRACED) !== 0; }
  set traced(on: boolean) { this.bits = on ? this.bits | TRACED : this.bits & ~TRACED; }

  /** Inbound topic aliases (alias → topic), created on first use. */
  get aliasIn(): Map<number, string> { return (this.aliasInMap ??= new Map()); }
  /** State an authenticator keeps across the steps of enhanced authentication, created on first use. */
  get authState(): Record<string, unknown> { return (this.authStateObj ??= {}); }
  get clientId(): string { return this.info.clientId; }

  // ---- input ---------------------------------------------------------------------------

  /** @internal */ onData(buf: Buffer): void {
    this.rxClock = Date.now() | 0;
    this.broker.metrics.counters['bytes.received'] += buf.length;
    this.parser.execute(buf);
  }

  /** @internal */ onCodecError(e: CodecError): void {
    this.broker.metrics.counters['frame.error']++;
    const code: ErrorCode = e.reasonCode === 0x95 ? 'PACKET_TOO_LARGE' : e.reasonCode === 0x84 ? 'UNSUPPORTED_PROTOCOL_VERSION'
      : e.reasonCode === 0x82 ? 'PROTOCOL_ERROR' : 'MALFORMED_PACKET';
    // The CONNACK (or DISCONNECT) speaks the version the parser learned from CONNECT; an
    // unknown version or protocol name gets the v3 answer, CONNACK 0x01 [MQTT-3.1.2-2].
    if (this.state === 'new') this.protocolVersion = this.parser.protocolVersion === 5 ? 5 : 4;
    this.fail(code, e.message);
  }

  onPacket(p: Packet): void {
    if (this.state === 'closed') return;
    this.broker.metrics.counters['packets.received']++;
    if (this.holding && !(this.state === 'auth' && p.cmd === 'auth')) { (this.held ??= []).push(p); return; }
    if (this.limiter !== null && p.cmd === 'publish' && this.state === 'connected' && !this.admit(p)) return;
    try {
      this.dispatch(p);
    } catch (err) {
      if (err instanceof MqttError) this.fail(err.code, err.message);
      else { this.log.error({ clientid: this.clientId, err }, 'internal error handling packet'); this.fail('UNSPECIFIED_ERROR', 'internal error'); }
    }
  }

  private dispatch(p: Packet): void {
    // Log trace: one bit for this client, one field read per PUBLISH for topic traces (trace/tracer.ts).
    if ((this.bits & TRACED) !== 0 || (p.cmd === 'publish' && this.broker.traceTopics)) this.broker.trace!.packetIn(this, p);
    if (this.state === 'new') {
      // [MQTT-3.1.0-1] the first packet from the client MUST be CONNECT
      if (p.cmd !== 'connect') { this.close('not_connect_first', false); return; }
      handleConnect(this, p);
      return;
    }
    switch (p.cmd) {
      case 'publish': handlePublish(this, p); return;
      case 'puback': this.count('packets.puback.received'); if (!this.session!.puback(p.messageId!)) this.count('packets.puback.missed'); return;
      case 'pubrec':
        this.count('packets.pubrec.received');
        if (!this.session!.pubrec(p.messageId!, p.reasonCode ?? 0)) {
          this.count('packets.pubrec.missed');
          // [MQTT-4.3.3] reply PUBREL even for an unknown id so the client can finish; v5 says why
          this.send(encodeAck('pubrel', p.messageId!, this.protocolVersion, this.protocolVersion === 5 ? 0x92 : 0));
        }
        return;
      case 'pubrel': handlePubrel(this, p); return;
      case 'pubcomp': this.count('packets.pubcomp.received'); if (!this.session!.pubcomp(p.messageId!)) this.count('packets.pubcomp.missed'); return;
      case 'subscribe': handleSubscribe(this, p); return;
      case 'unsubscribe': handleUnsubscribe(this, p); return;
      case 'pingreq':
        this.count('packets.pingreq.received');
        this.send(PINGRESP);
        this.count('packets.pingresp.sent');
        return;
      case 'disconnect': handleDisconnect(this, p); return;
      case 'auth': handleAuth(this, p); return;
      // [MQTT-3.1.0-2] a second CONNECT is a protocol violation
      case 'connect': throw new MqttError('PROTOCOL_ERROR', 'second CONNECT');
      default: throw new MqttError('PROTOCOL_ERROR', `unexpected ${p.cmd} from client`);
    }
  }

  /**
   * Rate limits: a PUBLISH over the client's rate is held, first in line, with reading paused,
   * until the bucket has refilled; then it and the packets after it are replayed in order.
   */
  private admit(p: Packet): boolean {
    const wait = this.limiter!.admit((p.length ?? 0) + 2, Date.now());
    if (wait === 0) return true;
    (this.held ??= []).unshift(p);
    this.hold(true);
    this.count('client.rate_limited');
    this.limiter!.timer = setTimeout(rateRefilled, wait, this);
    return false;
  }

  /**
   * Holds later packets until releaseHeld(). `pauseReading` also stops reading the connection
   * (an authorization answer is awaited); during enhanced authentication reading goes on, since
   * the client's AUTH packets must get through.
   */
  hold(pauseReading: boolean): void {
    if (this.holding) return;
    this.holding = true;
    if (pauseReading) this.conn.pause();
  }

  /** Replays the held packets in order; stops again if one of them holds. */
  releaseHeld(): void {
    this.holding = false;
    const held = this.held;
    while (held !== null && held.length > 0 && !this.holding && this.state !== 'closed') this.onPacket(held.shift()!);
    if (this.holding || this.state === 'closed') return;
    this.held = null;
    if (!this.outputFull && !this.clusterWait) this.conn.resume();
  }

  /** @internal The rate-limit hold is over: replay what was held. */
  rateRefilled(): void {
    this.limiter!.timer = null;
    if (this.state !== 'closed') this.releaseHeld();
  }

  /**
   * The cluster link is congested (a node behind it is slower than the publishers here): stop
   * reading this publisher until the broker says the link caught up.
   */
  waitForCluster(): void {
    if (this.clusterWait || this.state === 'closed') return;
    this.clusterWait = true;
    this.conn.pause();
    // Made on the first wait (rare: a congested link), not per channel: a closure and its context are 96 bytes.
    this.broker.waitForCluster(this.clusterResume ??= () => this.onClusterRelieved());
  }
  private clusterResume: (() => void) | null = null;
  private onClusterRelieved(): void {
    this.clusterWait = false;
    if (!this.outputFull && !this.holding && this.state !== 'closed') this.conn.resume();
  }

  count(name: Parameters<Broker['metrics']['inc']>[0]): void { this.broker.metrics.counters[name]++; }

  // ---- output --------------------------------------------------------------------------

  send(buf: Buffer): boolean {
    if (this.conn.closed) return false;
    if (!this.corked) {
      this.corked = true;
      this.conn.cork();
      corked.push(this);
      if (!flushScheduled) { flushScheduled = true; setImmediate(flushCorked); }
    }
    this.broker.metrics.counters['packets.sent']++;
    this.broker.metrics.counters['bytes.sent'] += buf.length;
    if ((this.bits & TRACED) !== 0) this.broker.trace!.packetOut(this, buf);
    const ok = this.conn.write(buf);
    // The client does not read what we send: stop reading what it sends until the output drains.
    if (!ok && !this.outputFull && this.conn.bufferedAmount >= this.hwm) { this.outputFull = true; this.conn.pause(); }
    return ok;
  }

  /** @internal The transport flushed its queue: read again if we stopped for output. */
  onDrain(): void {
    if (!this.outputFull) return;
    this.outputFull = false;
    if (!this.holding && !this.clusterWait) this.conn.resume();
  }

  sendPacket(p: Packet): boolean { return this.send(encode(p, this.protocolVersion)); }

  writable(): boolean { return this.conn.bufferedAmount < this.hwm; }

  release(packetId: number): void {
    this.send(encodeAck('pubrel', packetId, this.protocolVersion));
    this.count('packets.pubrel.sent');
  }

  deliver(msg: Message, qos: QoS, packetId: number, dup: boolean, retain: boolean, subIds: number[] | null): boolean {
    let topic = msg.topic;
    let props: Record<string, unknown> | null = null;
    if (this.protocolVersion === 5) {
      const mp = msg.properties;
      if (mp !== null || subIds !== null || msg.expiresAt !== 0 || this.aliasOut !== null) {
        props = mp !== null ? { ...mp } : {};
        // [MQTT-3.3.2-6] the remaining lifetime, not the original interval
        if (msg.expiresAt !== 0) props.messageExpiryInterval = Math.max(0, Math.ceil((msg.expiresAt - Date.now()) / 1000));
        if (subIds !== null) props.subscriptionIdentifier = subIds.length === 1 ? subIds[0] : subIds;
        if (this.aliasOut !== null) {
          const alias = this.aliasOut.get(topic);
          if (alias !== undefined) { props.topicAlias = alias; topic = ''; }
          else if (this.aliasOut.size < this.clientTopicAliasMax) {
            const a = this.aliasOut.size + 1;
            this.aliasOut.set(topic, a);
            props.topicAlias = a;
          }
        }
      }
    }
    let buf: Buffer;
    if (props === null) {
      // Same bytes for every subscriber of this (message, version, QoS, retain): encode once.
      buf = encodeShared(msg, this.protocolVersion, qos, retain, dup);
      if (qos !== 0) buf = setPacketId(buf, packetId);
    } else {
      buf = encodePublish({ topic, payload: msg.payload, qos, retain, dup, messageId: packetId, properties: props }, this.protocolVersion);
    }
    // Never send a packet above the client's Maximum Packet Size [MQTT-3.1.2-24]
    if (buf.length > this.clientMaxPacket) {
      if (props !== null && props.topicAlias !== undefined && topic !== '') this.aliasOut!.delete(topic);
      return false;
    }
    // A traced client's output is read back in send(); others are offered to a running topic trace.
    if (this.broker.traceTopics && (this.bits & TRACED) === 0) this.broker.trace!.delivered(this, msg, qos, packetId, dup, retain);
    this.send(buf);
    const c = this.broker.metrics.counters;
    c['packets.publish.sent']++;
    c['messages.sent']++;
    if (qos === 0) c['messages.qos0.sent']++; else if (qos === 1) c['messages.qos1.sent']++; else c['messages.qos2.sent']++;
    return true;
  }

  // ---- errors and closing -------------------------------------------------------------------

  /** The one place that maps an error to CONNACK / DISCONNECT and closes. */
  fail(code: ErrorCode, detail?: string): void {
    if (this.state === 'closed') return;
    const spec = ERRORS[code];
    if (this.state === 'new' || this.state === 'auth') {
      const refused = this.protocolVersion === 5 || spec.v3connack !== 0;
      if (refused && this.broker.hooks.active('client.connack')) {
        this.broker.hooks.run('client.connack', this.info, reasonName(spec.reason), { keepalive: this.keepalive, cleanStart: this.cleanStart, expiryInterval: 0, connectedAt: 0 });
      }
      if (this.protocolVersion === 5) {
        const properties = this.requestProblemInfo && detail ? { reasonString: detail } : undefined;
        let buf = encode({ cmd: 'connack', sessionPresent: false, reasonCode: spec.reason, properties } as Packet, 5);
        // [MQTT-3.2.2-19] no Reason String when it would exceed the client's Maximum Packet Size
        if (buf.length > this.clientMaxPacket && properties !== undefined) buf = encode({ cmd: 'connack', sessionPresent: false, reasonCode: spec.reason } as Packet, 5);
        this.send(buf);
        this.count('packets.connack.error');
      } else if (spec.v3connack !== 0) {
        this.sendPacket({ cmd: 'connack', sessionPresent: false, returnCode: spec.v3connack } as Packet);
        this.count('packets.connack.error');
      }
    } else if (this.protocolVersion === 5) {
      this.sendDisconnect(spec.reason, this.requestProblemInfo ? detail : undefined);
    }
    this.log.debug({ clientid: this.clientId || undefined, peer: this.peer(), code, detail }, 'protocol error');
    this.close(code.toLowerCase(), true);
  }

  sendDisconnect(reasonCode: number, reasonString?: string, serverReference?: string): void {
    const properties: Record<string, unknown> = {};
    if (reasonString) properties.reasonString = reasonString;
    if (serverReference) properties.serverReference = serverReference;
    let buf = encode({ cmd: 'disconnect', reasonCode, properties } as Packet, 5);
    // [MQTT-3.14.2-3] no Reason String when it would exceed the client's Maximum Packet Size
    if (buf.length > this.clientMaxPacket && properties.reasonString !== undefined) {
      delete properties.reasonString;
      buf = encode({ cmd: 'disconnect', reasonCode, properties } as Packet, 5);
    }
    this.send(buf);
    this.count('packets.disconnect.sent');
  }

  /** Server-side close: takeover, kick from the API, shutdown, drain. */
  kick(code: ErrorCode, serverReference?: string): void {
    if (this.state === 'closed') return;
    if (this.protocolVersion === 5 && this.state === 'connected') this.sendDisconnect(ERRORS[code].reason, undefined, serverReference);
    // The server closes without the client's DISCONNECT 0x00, so the will goes out (delayed wills
    // are stored and survive a shutdown) [MQTT-3.1.2-8].
    this.close(code.toLowerCase(), true);
  }

  /**
   * Closes the connection once. A connected client's end goes to the client manager (session
   * detached or ended, will scheduled unless `publishWill` is false, disconnect reported).
   */
  close(reason: string, publishWill: boolean): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    if ((this.bits & TRACED) !== 0) this.broker.trace!.closed(this, reason);
    this.state = 'closed';
    this.closeReason = reason;
    this.held = null;
    if (this.limiter !== null) this.limiter.cancel();
    if (this.corked) { this.corked = false; this.conn.uncork(); }
    this.conn.end();
    if (this.onClosed !== null) this.onClosed();
    if (wasConnected) this.clients.closed(this, this.session, reason, publishWill);
  }

  /**
   * Called once a second by the node: CONNECT timeout, keep alive and the credential's expiry
   * (the session runs its own timers).
   */
  tick(now: number): void {
    if (this.state === 'new' || this.state === 'auth') {
      if (now - this.connectedAt > this.cfg.idleTimeoutMs) this.close('connect_timeout', false);
      return;
    }
    if (this.state !== 'connected') return;
    // EMQX's disconnect_after_expire: v5 DISCONNECT 0x87, v3 close; the will goes out, as EMQX's does.
    if (this.authExpireAt !== 0 && now >= this.authExpireAt) { this.fail('NOT_AUTHORIZED', 'authentication expired'); return; }
    // [MQTT-3.1.2-24] close after 1.5 × keep alive without a packet from the client
    // A client held back by its rate limit is not read, so its silence is ours, not its own.
    if (this.limiter !== null && this.limiter.timer !== null) { this.rxClock = now | 0; return; }
    if (this.keepalive > 0 && (((now | 0) - this.rxClock) | 0) > this.keepalive * 1000 * this.cfg.keepaliveMultiplier) this.fail('KEEP_ALIVE_TIMEOUT');
  }

  peer(): string { return `${this.conn.info.remoteAddress}:${this.conn.info.remotePort}`; }

  /** Builds the client's ClientInfo, once, when CONNECT names it. */
  identify(clientId: string, username: string | null): void {
    const ci = this.conn.info;
    this.info = {
      clientId, username, peerHost: ci.remoteAddress, peerPort: ci.remotePort, listener: ci.listener,
      protocol: 'mqtt', protocolVersion: this.protocolVersion, peerCert: ci.peerCert ?? null, isSuperuser: false,
    };
  }
}

// Channel.bits
const CLEAN_START = 1;
const PROBLEM_INFO = 2;
const HOLDING = 4;
const CORKED = 8;
const OUTPUT_FULL = 16;
const CLUSTER_WAIT = 32;
const TRACED = 64;

/**
 * clientMaxPacket when the client sets no Maximum Packet Size: larger than any MQTT packet
 * (268,435,460 bytes at most) and, unlike Infinity, a small integer (no heap number per channel).
 */
const NO_PACKET_LIMIT = 0x3fffffff;

/** The ClientInfo of a channel that has not sent CONNECT yet. */
const NO_CLIENT: ClientInfo = Object.freeze({
  clientId: '', username: null, peerHost: '', peerPort: 0, listener: '', protocol: 'mqtt', protocolVersion: 4, peerCert: null, isSuperuser: false,
}) as ClientInfo;

const PINGRESP = Buffer.from([0xd0, 0x00]);

function rateRefilled(ch: Channel): void {
  ch.rateRefilled();
}

/**
 * The parser's and the connection's callbacks for one channel: one small object per channel
 * instead of five closures (and their context) created in the constructor.
 */
class ChannelIo implements ParserHandler, ConnectionHandler {
  private readonly ch: Channel;
  constructor(ch: Channel) { this.ch = ch; }
  packet(p: Packet): void { this.ch.onPacket(p); }
  error(e: CodecError): void { this.ch.onCodecError(e); }
  data(buf: Buffer): void { this.ch.onData(buf); }
  drain(): void { this.ch.onDrain(); }
  close(err?: Error): void { this.ch.close(err ? 'sock_error' : 'sock_closed', true); }
}
