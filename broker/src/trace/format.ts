/**
 * What one trace line says, and how it is written: a timestamp, a tag (MQTT, AUTHN, AUTHZ,
 * CONNECTION), the client (`clientid@ip:port`), a message name and its fields — as text
 * (EMQX's trace formatter: `2026-12-04T14:00:00.123Z [MQTT] c1@127.0.0.1:50000 msg:
 * mqtt_packet_received, packet: PUBLISH(Q1, R0, D0, Topic=a/b, PacketId=1, Payload=hi)`) or
 * as one JSON object a line.
 *
 * A packet is described once into fields (`packetFields`) that both formats render. CONNECT
 * never shows its password (only that one was given); a payload follows the trace's
 * payload_encode (text, hex, hidden) and is cut at payload_limit bytes.
 */
import type { Packet } from '../mqtt/codec/index.js';
import type { Formatter, PayloadEncode } from './definition.js';

export type TraceTag = 'MQTT' | 'AUTHN' | 'AUTHZ' | 'CONNECTION';

/** One event of one client, before formatting. */
export interface TraceEvent {
  tag: TraceTag;
  clientid: string;
  /** `ip:port` of the client. */
  peername: string;
  msg: string;
  /** Extra fields in order; a `packet` field holds packetFields() output. */
  fields: Record<string, unknown>;
}

export interface PayloadOptions { encode: PayloadEncode; limit: number }

/** The payload as the trace shows it: text, hex or hidden, cut at the limit (the cut says how long it was). */
export function formatPayload(payload: Buffer | string | undefined | null, o: PayloadOptions): string {
  if (o.encode === 'hidden') return '******';
  const buf = payload === undefined || payload === null ? EMPTY : typeof payload === 'string' ? Buffer.from(payload) : payload;
  const cut = buf.length > o.limit ? buf.subarray(0, o.limit) : buf;
  const s = o.encode === 'hex' ? cut.toString('hex').toUpperCase() : cut.toString('utf8');
  return cut === buf ? s : `${s}...(${buf.length} bytes)`;
}

const EMPTY = Buffer.alloc(0);

type Fields = Record<string, unknown>;

/** A packet as named fields, `type` first (PUBLISH, CONNACK, …). */
export function packetFields(p: Packet, o: PayloadOptions): Fields {
  const a = p as unknown as Record<string, unknown>;
  const type = p.cmd.toUpperCase();
  const f: Fields = { type };
  switch (p.cmd) {
    case 'connect': {
      f.ClientId = a.clientId;
      f.ProtoName = a.protocolId;
      f.ProtoVsn = a.protocolVersion;
      f.CleanStart = a.clean;
      f.KeepAlive = a.keepalive;
      if (a.username !== undefined) f.Username = a.username;
      if (a.password !== undefined) f.Password = '******';
      const w = a.will as Record<string, unknown> | undefined;
      if (w) f.Will = { Topic: w.topic, Qos: w.qos, Retain: w.retain, Payload: formatPayload(w.payload as Buffer, o) };
      break;
    }
    case 'connack':
      f.AckFlags = a.sessionPresent ? 1 : 0;
      f.ReasonCode = a.reasonCode ?? a.returnCode ?? 0;
      break;
    case 'publish':
      f.Q = a.qos; f.R = a.retain ? 1 : 0; f.D = a.dup ? 1 : 0;
      f.Topic = a.topic;
      if ((a.qos as number) > 0) f.PacketId = a.messageId;
      f.Payload = formatPayload(a.payload as Buffer, o);
      break;
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp':
      f.PacketId = a.messageId;
      f.ReasonCode = a.reasonCode ?? 0;
      break;
    case 'subscribe':
      f.PacketId = a.messageId;
      f.TopicFilters = (a.subscriptions as Array<{ topic: string; qos: number }>).map((s) => `${s.topic}(qos=${s.qos})`);
      break;
    case 'suback':
      f.PacketId = a.messageId;
      f.ReasonCodes = a.granted;
      break;
    case 'unsubscribe':
      f.PacketId = a.messageId;
      f.TopicFilters = a.unsubscriptions;
      break;
    case 'unsuback':
      f.PacketId = a.messageId;
      if (a.granted !== undefined) f.ReasonCodes = a.granted;
      break;
    case 'disconnect': case 'auth':
      f.ReasonCode = a.reasonCode ?? 0;
      break;
    default:
      break;
  }
  if (a.properties !== undefined && p.cmd !== 'connect') {
    const props = a.properties as Record<string, unknown>;
    const keep: Fields = {};
    for (const [k, v] of Object.entries(props)) if (k !== 'authenticationData' && k !== 'correlationData') keep[k] = v;
    if (Object.keys(keep).length > 0) f.Properties = keep;
  }
  return f;
}

/** `PUBLISH(Q1, R0, D0, Topic=a, …)`: the text form of packetFields. */
export function packetText(f: Fields): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(f)) {
    if (k === 'type') continue;
    if (k === 'Q' || k === 'R' || k === 'D') { parts.push(`${k}${String(v)}`); continue; }
    parts.push(`${k}=${valueText(v)}`);
  }
  return `${String(f.type)}(${parts.join(', ')})`;
}

function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'Buffer' ? '<binary>' : x));
}

/** One line, newline included. */
export function formatLine(e: TraceEvent, formatter: Formatter, now = new Date()): string {
  const time = now.toISOString();
  if (formatter === 'json') {
    const o: Fields = { time, level: 'debug', tag: e.tag, clientid: e.clientid, peername: e.peername, msg: e.msg };
    for (const [k, v] of Object.entries(e.fields)) o[k] = v;
    return JSON.stringify(o, (_k, x: unknown) => (typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'Buffer' ? '<binary>' : x)) + '\n';
  }
  let s = `${time} [${e.tag}] ${e.clientid}@${e.peername} msg: ${e.msg}`;
  for (const [k, v] of Object.entries(e.fields)) {
    const t = k === 'packet' && typeof v === 'object' && v !== null ? packetText(v as Fields) : valueText(v);
    s += `, ${k}: ${t}`;
  }
  return s + '\n';
}
