/**
 * The channel's side of log tracing: which connections a running trace follows, and the
 * lines their packets and decisions become.
 *
 * Cost for everyone else is the point. A client id or IP trace is matched once, when a client
 * sends CONNECT (and again for every connection whenever the set of running traces changes);
 * a match sets the channel's `traced` bit, and the channel asks this tracer about a packet
 * only when that bit is set. So an untraced client pays one bit test per packet. Topic traces
 * cannot be decided per connection: while one runs, the broker's `traceTopics` flag is set
 * and each PUBLISH received or delivered is compared with the running topic filters; with no
 * topic trace that is one field read per PUBLISH.
 *
 * Packets a traced client sends are logged as they are dispatched; what the broker sends it
 * is read back from the bytes written (a second parser per traced connection), so every
 * packet type is covered without touching each place that answers a client. Lines go to
 * each trace's TraceFile, which writes later, off the publish path.
 */
import { MqttParser, type Packet, type ParserHandler } from '../mqtt/codec/index.js';
import type { ClientInfo } from '../hooks.js';
import type { Message, QoS } from '../types.js';
import type { TraceDef } from './definition.js';
import type { TraceFile } from './trace-file.js';
import { formatLine, packetFields, type PayloadOptions, type TraceTag } from './format.js';
import { filterMatches } from '../router/topic.js';

/** What the tracer needs of a channel (mqtt/channel.ts implements it). */
export interface TracedChannel {
  readonly info: ClientInfo;
  readonly state: string;
  readonly protocolVersion: 3 | 4 | 5;
  /** Set by the tracer: a running client id or IP trace follows this connection. */
  traced: boolean;
}

/** The calls a channel makes, each only when its `traced` bit (or the broker's traceTopics flag) says so. */
export interface ChannelTracer {
  /** CONNECT named the client: start following it if a trace matches, and log the CONNECT. */
  identify(ch: TracedChannel, connect: Packet): void;
  packetIn(ch: TracedChannel, p: Packet): void;
  /** Bytes the broker wrote to a traced client (whole packets). */
  packetOut(ch: TracedChannel, buf: Buffer): void;
  /** A PUBLISH delivered to an untraced client while a topic trace runs. */
  delivered(ch: TracedChannel, msg: Message, qos: QoS, packetId: number, dup: boolean, retain: boolean): void;
  authn(ch: TracedChannel, reasonCode: string, anonymous: boolean): void;
  authz(ch: TracedChannel, action: 'publish' | 'subscribe', topic: string, result: string): void;
  closed(ch: TracedChannel, reason: string): void;
}

/** A running trace on this node. */
export interface ActiveTrace {
  readonly def: TraceDef;
  readonly file: TraceFile;
  readonly payload: PayloadOptions;
}

const NONE: readonly ActiveTrace[] = [];

/** The IPv4 address inside an IPv4-mapped IPv6 one (a dual-stack listener's peers). */
const plainIp = (ip: string): string => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);

/** One followed connection: its traces and the parser reading back what is sent to it. */
class Follow implements ParserHandler {
  traces: readonly ActiveTrace[];
  out: MqttParser | null;
  private readonly ch: TracedChannel;
  private readonly tracer: Tracer;
  constructor(tracer: Tracer, ch: TracedChannel, traces: readonly ActiveTrace[]) {
    this.tracer = tracer;
    this.ch = ch;
    this.traces = traces;
    this.out = new MqttParser(this, { maxPacketSize: 0x10000000, protocolVersion: ch.protocolVersion });
  }
  packet(p: Packet): void { this.tracer.sent(this.ch, this.traces, p); }
  // The broker's own bytes do not parse: stop reading them back rather than log garbage.
  error(): void { this.out = null; }
}

export class Tracer implements ChannelTracer {
  private clientTraces: readonly ActiveTrace[] = NONE;
  private topicTraces: readonly ActiveTrace[] = NONE;
  /** Each topic trace's filter split into levels, once. */
  private levels: ReadonlyArray<readonly string[]> = [];
  private readonly follows = new Map<TracedChannel, Follow>();
  private readonly flags: { traceTopics: boolean };
  private readonly channels: () => Iterable<TracedChannel>;

  /** `flags`: the broker, whose traceTopics the channels read; `channels`: every live connection. */
  constructor(flags: { traceTopics: boolean }, channels: () => Iterable<TracedChannel>) {
    this.flags = flags;
    this.channels = channels;
  }

  /** The running traces changed: follow exactly the connections they match from now on. */
  setRunning(active: readonly ActiveTrace[]): void {
    this.clientTraces = active.filter((t) => t.def.type !== 'topic');
    this.topicTraces = active.filter((t) => t.def.type === 'topic');
    this.levels = this.topicTraces.map((t) => t.def.filter.split('/'));
    this.flags.traceTopics = this.topicTraces.length > 0;
    for (const ch of this.channels()) this.evaluate(ch);
  }

  /** How many traces run (setRunning's last list). */
  get running(): number { return this.clientTraces.length + this.topicTraces.length; }

  private evaluate(ch: TracedChannel): Follow | null {
    if (ch.state === 'closed' || ch.info.clientId === '') return null;
    const ip = plainIp(ch.info.peerHost);
    const id = ch.info.clientId;
    const match = this.clientTraces.filter((t) => (t.def.type === 'clientid' ? t.def.filter === id : plainIp(t.def.filter) === ip));
    let f = this.follows.get(ch) ?? null;
    if (match.length === 0) {
      if (f !== null) { this.follows.delete(ch); ch.traced = false; }
      return null;
    }
    if (f === null) { f = new Follow(this, ch, match); this.follows.set(ch, f); } else f.traces = match;
    ch.traced = true;
    return f;
  }

  identify(ch: TracedChannel, connect: Packet): void {
    if (this.clientTraces.length === 0) return;
    const f = this.evaluate(ch);
    if (f !== null) this.packet(ch, f.traces, connect, 'mqtt_packet_received');
  }

  packetIn(ch: TracedChannel, p: Packet): void {
    if (ch.info.clientId === '') return; // a PUBLISH before CONNECT: the channel closes it
    this.packet(ch, ch.traced ? this.follows.get(ch)?.traces ?? NONE : NONE, p, 'mqtt_packet_received');
  }

  packetOut(ch: TracedChannel, buf: Buffer): void {
    const f = this.follows.get(ch);
    if (f !== undefined && f.out !== null) f.out.execute(buf);
  }

  /** @internal A packet read back from a followed connection's output. */
  sent(ch: TracedChannel, traces: readonly ActiveTrace[], p: Packet): void {
    this.packet(ch, traces, p, 'mqtt_packet_sent');
  }

  delivered(ch: TracedChannel, msg: Message, qos: QoS, packetId: number, dup: boolean, retain: boolean): void {
    const topical = this.topicsOf(msg.topic);
    if (topical.length === 0) return;
    const p = { cmd: 'publish', topic: msg.topic, payload: msg.payload, qos, retain, dup, messageId: packetId } as unknown as Packet;
    this.write(ch, topical, p, 'mqtt_packet_sent');
  }

  authn(ch: TracedChannel, reasonCode: string, anonymous: boolean): void {
    const traces = this.follows.get(ch)?.traces ?? NONE;
    const ok = reasonCode === 'success';
    this.event(ch, traces, 'AUTHN', ok ? 'authentication_success' : 'authentication_failure',
      { reason_code: reasonCode, anonymous, is_superuser: ch.info.isSuperuser, username: ch.info.username ?? '' });
  }

  authz(ch: TracedChannel, action: 'publish' | 'subscribe', topic: string, result: string): void {
    const traces = this.follows.get(ch)?.traces ?? NONE;
    this.event(ch, traces, 'AUTHZ', result === 'allow' ? 'authorization_permission_allowed' : 'authorization_permission_denied', { action, topic });
  }

  closed(ch: TracedChannel, reason: string): void {
    const f = this.follows.get(ch);
    if (f === undefined) return;
    this.follows.delete(ch);
    ch.traced = false;
    this.event(ch, f.traces, 'CONNECTION', 'client_disconnected', { reason });
  }

  /** A packet to the client's traces, and (a PUBLISH) to the topic traces its topic matches. */
  private packet(ch: TracedChannel, traces: readonly ActiveTrace[], p: Packet, msg: string): void {
    const topical = p.cmd === 'publish' && this.topicTraces.length > 0 ? this.topicsOf((p as { topic: string }).topic) : NONE;
    if (traces.length > 0) this.write(ch, traces, p, msg);
    if (topical.length > 0) this.write(ch, topical, p, msg);
  }

  private write(ch: TracedChannel, traces: readonly ActiveTrace[], p: Packet, msg: string): void {
    const peername = `${ch.info.peerHost}:${ch.info.peerPort}`;
    for (const t of traces) {
      t.file.write(formatLine({ tag: 'MQTT', clientid: ch.info.clientId, peername, msg, fields: { packet: packetFields(p, t.payload) } }, t.def.formatter));
    }
  }

  private event(ch: TracedChannel, traces: readonly ActiveTrace[], tag: TraceTag, msg: string, fields: Record<string, unknown>): void {
    const peername = `${ch.info.peerHost}:${ch.info.peerPort}`;
    for (const t of traces) t.file.write(formatLine({ tag, clientid: ch.info.clientId, peername, msg, fields }, t.def.formatter));
  }

  /** The running topic traces whose filter matches the topic (no allocation unless one does). */
  private topicsOf(topic: string): readonly ActiveTrace[] {
    let out: ActiveTrace[] | null = null;
    const ts = this.topicTraces;
    for (let i = 0; i < ts.length; i++) if (filterMatches(this.levels[i]!, topic)) (out ??= []).push(ts[i]!);
    return out ?? NONE;
  }
}
