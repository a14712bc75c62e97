/**
 * MQTT-SN 1.2 codec: every message of the specification (section 5.4) and the Encapsulated
 * message (5.5), decoded from and encoded to one UDP datagram.
 *
 * A datagram is one whole message, so unlike the MQTT parser there is nothing to resume: the
 * transport (transport/udp.ts) hands over exactly one datagram per call, and a message that
 * does not fill its datagram exactly is malformed rather than "waiting for more".
 *
 * Header (5.2): Length (1 octet; or 0x01 followed by 2 octets when the message is longer than
 * 255 octets — the length counts itself) then MsgType. Flags (5.3.4): DUP bit 7, QoS bits 6-5
 * (0b11 = QoS −1, "publish without connection"), Retain bit 4, Will bit 3, CleanSession bit 2,
 * TopicIdType bits 1-0 (0 normal id / topic name, 1 predefined id, 2 short name, 3 reserved).
 *
 * decode() never throws: malformed input comes back as { ok: false, code, message }, and
 * every code is listed in SN_ERRORS.
 */
import { isUtf8 } from 'node:buffer';

export const MSG = {
  ADVERTISE: 0x00, SEARCHGW: 0x01, GWINFO: 0x02, CONNECT: 0x04, CONNACK: 0x05,
  WILLTOPICREQ: 0x06, WILLTOPIC: 0x07, WILLMSGREQ: 0x08, WILLMSG: 0x09, REGISTER: 0x0a, REGACK: 0x0b,
  PUBLISH: 0x0c, PUBACK: 0x0d, PUBCOMP: 0x0e, PUBREC: 0x0f, PUBREL: 0x10, SUBSCRIBE: 0x12, SUBACK: 0x13,
  UNSUBSCRIBE: 0x14, UNSUBACK: 0x15, PINGREQ: 0x16, PINGRESP: 0x17, DISCONNECT: 0x18,
  WILLTOPICUPD: 0x1a, WILLTOPICRESP: 0x1b, WILLMSGUPD: 0x1c, WILLMSGRESP: 0x1d, ENCAPSULATED: 0xfe,
} as const;

/**
 * Return codes (5.3.10), and EMQX's extensions above 0x80 (so EMQX users' devices see the
 * same codes): not authorized, limit exceeded.
 */
export const RC = { ACCEPTED: 0x00, CONGESTION: 0x01, INVALID_TOPIC_ID: 0x02, NOT_SUPPORTED: 0x03, NOT_AUTHORIZED: 0x80, EXCEED_LIMITATION: 0x83 } as const;

/** TopicIdType (5.3.4). */
export const TOPIC = { NORMAL: 0, PREDEFINED: 1, SHORT: 2 } as const;
export type TopicIdType = 0 | 1 | 2;
/** −1 is "QoS −1": a PUBLISH from a client that never connected, to a predefined or short topic. */
export type SnQoS = -1 | 0 | 1 | 2;

export type SnMessage =
  | { type: 'advertise'; gwId: number; duration: number }
  | { type: 'searchgw'; radius: number }
  | { type: 'gwinfo'; gwId: number; gwAdd: Buffer }
  | { type: 'connect'; will: boolean; cleanSession: boolean; protocolId: number; duration: number; clientId: string }
  | { type: 'connack'; returnCode: number }
  | { type: 'willtopicreq' }
  /** An empty WILLTOPIC (topic '') deletes the will (5.4.7). */
  | { type: 'willtopic'; qos: SnQoS; retain: boolean; topic: string }
  | { type: 'willmsgreq' }
  | { type: 'willmsg'; payload: Buffer }
  | { type: 'register'; topicId: number; msgId: number; topicName: string }
  | { type: 'regack'; topicId: number; msgId: number; returnCode: number }
  /** For a short topic name, topicId holds its two characters as a 16-bit number. */
  | { type: 'publish'; dup: boolean; qos: SnQoS; retain: boolean; topicIdType: TopicIdType; topicId: number; msgId: number; payload: Buffer }
  | { type: 'puback'; topicId: number; msgId: number; returnCode: number }
  | { type: 'pubrec' | 'pubrel' | 'pubcomp' | 'unsuback'; msgId: number }
  /** topicName for NORMAL and SHORT, topicId for PREDEFINED (the other one is '' / 0). */
  | { type: 'subscribe' | 'unsubscribe'; dup: boolean; qos: SnQoS; topicIdType: TopicIdType; msgId: number; topicName: string; topicId: number }
  | { type: 'suback'; qos: SnQoS; topicId: number; msgId: number; returnCode: number }
  /** clientId '' = a plain ping; a client id = a sleeping client checking for messages (6.14). */
  | { type: 'pingreq'; clientId: string }
  | { type: 'pingresp' }
  /** duration null = a plain DISCONNECT; a number = go to sleep for that many seconds (6.14). */
  | { type: 'disconnect'; duration: number | null }
  | { type: 'willtopicupd'; qos: SnQoS; retain: boolean; topic: string }
  | { type: 'willmsgupd'; payload: Buffer }
  | { type: 'willtopicresp' | 'willmsgresp'; returnCode: number }
  | { type: 'encapsulated'; radius: number; nodeId: Buffer; inner: SnMessage };

export type SnErrorCode = keyof typeof SN_ERRORS;

/** Every reason decode() refuses a datagram. */
export const SN_ERRORS = {
  SN_TOO_SHORT: 'shorter than the smallest MQTT-SN message (2 octets)',
  SN_BAD_LENGTH: 'the Length field does not equal the datagram length',
  SN_UNKNOWN_TYPE: 'MsgType is reserved or unknown',
  SN_BAD_BODY: 'the message body is too short or too long for its type',
  SN_BAD_FLAGS: 'the Flags octet holds a reserved value',
  SN_BAD_STRING: 'a topic name or client id is not valid UTF-8',
} as const;

export type DecodeResult = { ok: true; msg: SnMessage } | { ok: false; code: SnErrorCode; message: string };

class Malformed {
  constructor(readonly code: SnErrorCode, readonly detail: string) {}
}

const fail = (code: SnErrorCode, detail: string): never => { throw new Malformed(code, detail); };

export function decode(buf: Buffer): DecodeResult {
  try {
    return { ok: true, msg: decodeMessage(buf, true) };
  } catch (e) {
    if (e instanceof Malformed) return { ok: false, code: e.code, message: `${SN_ERRORS[e.code]}: ${e.detail}` };
    return { ok: false, code: 'SN_BAD_BODY', message: `undecodable: ${(e as Error).message}` };
  }
}

function decodeMessage(buf: Buffer, outer: boolean): SnMessage {
  if (buf.length < 2) fail('SN_TOO_SHORT', `${buf.length} octet(s)`);
  let len = buf[0];
  let at = 1;
  if (len === 0x01) {
    if (buf.length < 4) fail('SN_TOO_SHORT', 'three-octet length form cut short');
    len = buf.readUInt16BE(1);
    at = 3;
    if (len < 4) fail('SN_BAD_LENGTH', `three-octet length ${len}`);
  }
  const type = buf[at];
  // The Encapsulated header's Length covers only itself; the wrapped message follows.
  if (type === MSG.ENCAPSULATED) {
    if (!outer) fail('SN_UNKNOWN_TYPE', 'nested Encapsulated message');
    if (len < at + 2 || len > buf.length) fail('SN_BAD_LENGTH', `Encapsulated header length ${len} of ${buf.length}`);
    const ctrl = buf[at + 1];
    if ((ctrl & 0xfc) !== 0) fail('SN_BAD_FLAGS', `Ctrl 0x${ctrl.toString(16)}`);
    return { type: 'encapsulated', radius: ctrl & 0x03, nodeId: Buffer.from(buf.subarray(at + 2, len)), inner: decodeMessage(buf.subarray(len), false) };
  }
  if (len !== buf.length) fail('SN_BAD_LENGTH', `Length ${len}, datagram ${buf.length}`);
  return decodeBody(type, buf.subarray(at + 1));
}

function exact(b: Buffer, n: number, what: string): void {
  if (b.length !== n) fail('SN_BAD_BODY', `${what} needs ${n} octet(s) after MsgType, got ${b.length}`);
}
function atLeast(b: Buffer, n: number, what: string): void {
  if (b.length < n) fail('SN_BAD_BODY', `${what} needs at least ${n} octet(s) after MsgType, got ${b.length}`);
}
function text(b: Buffer, what: string): string {
  if (!isUtf8(b)) fail('SN_BAD_STRING', what);
  return b.toString('utf8');
}

function qosOf(flags: number): SnQoS {
  const q = (flags >> 5) & 0x03;
  return q === 3 ? -1 : (q as 0 | 1 | 2);
}
function topicTypeOf(flags: number, what: string): TopicIdType {
  const t = flags & 0x03;
  if (t === 3) fail('SN_BAD_FLAGS', `${what}: TopicIdType 0b11 is reserved`);
  return t as TopicIdType;
}

function decodeBody(type: number, b: Buffer): SnMessage {
  switch (type) {
    case MSG.ADVERTISE: exact(b, 3, 'ADVERTISE'); return { type: 'advertise', gwId: b[0], duration: b.readUInt16BE(1) };
    case MSG.SEARCHGW: exact(b, 1, 'SEARCHGW'); return { type: 'searchgw', radius: b[0] };
    case MSG.GWINFO: atLeast(b, 1, 'GWINFO'); return { type: 'gwinfo', gwId: b[0], gwAdd: Buffer.from(b.subarray(1)) };
    case MSG.CONNECT: {
      atLeast(b, 4, 'CONNECT');
      const f = b[0];
      return { type: 'connect', will: (f & 0x08) !== 0, cleanSession: (f & 0x04) !== 0, protocolId: b[1], duration: b.readUInt16BE(2), clientId: text(b.subarray(4), 'CONNECT client id') };
    }
    case MSG.CONNACK: exact(b, 1, 'CONNACK'); return { type: 'connack', returnCode: b[0] };
    case MSG.WILLTOPICREQ: exact(b, 0, 'WILLTOPICREQ'); return { type: 'willtopicreq' };
    case MSG.WILLTOPIC:
    case MSG.WILLTOPICUPD: {
      const t = type === MSG.WILLTOPIC ? 'willtopic' : 'willtopicupd';
      if (b.length === 0) return { type: t, qos: 0, retain: false, topic: '' };
      const f = b[0];
      return { type: t, qos: qosOf(f), retain: (f & 0x10) !== 0, topic: text(b.subarray(1), 'will topic') };
    }
    case MSG.WILLMSGREQ: exact(b, 0, 'WILLMSGREQ'); return { type: 'willmsgreq' };
    case MSG.WILLMSG: return { type: 'willmsg', payload: Buffer.from(b) };
    case MSG.WILLMSGUPD: return { type: 'willmsgupd', payload: Buffer.from(b) };
    case MSG.REGISTER: atLeast(b, 4, 'REGISTER'); return { type: 'register', topicId: b.readUInt16BE(0), msgId: b.readUInt16BE(2), topicName: text(b.subarray(4), 'REGISTER topic name') };
    case MSG.REGACK: exact(b, 5, 'REGACK'); return { type: 'regack', topicId: b.readUInt16BE(0), msgId: b.readUInt16BE(2), returnCode: b[4] };
    case MSG.PUBLISH: {
      atLeast(b, 5, 'PUBLISH');
      const f = b[0];
      return {
        type: 'publish', dup: (f & 0x80) !== 0, qos: qosOf(f), retain: (f & 0x10) !== 0, topicIdType: topicTypeOf(f, 'PUBLISH'),
        topicId: b.readUInt16BE(1), msgId: b.readUInt16BE(3), payload: Buffer.from(b.subarray(5)),
      };
    }
    case MSG.PUBACK: exact(b, 5, 'PUBACK'); return { type: 'puback', topicId: b.readUInt16BE(0), msgId: b.readUInt16BE(2), returnCode: b[4] };
    case MSG.PUBREC: exact(b, 2, 'PUBREC'); return { type: 'pubrec', msgId: b.readUInt16BE(0) };
    case MSG.PUBREL: exact(b, 2, 'PUBREL'); return { type: 'pubrel', msgId: b.readUInt16BE(0) };
    case MSG.PUBCOMP: exact(b, 2, 'PUBCOMP'); return { type: 'pubcomp', msgId: b.readUInt16BE(0) };
    case MSG.UNSUBACK: exact(b, 2, 'UNSUBACK'); return { type: 'unsuback', msgId: b.readUInt16BE(0) };
    case MSG.SUBSCRIBE:
    case MSG.UNSUBSCRIBE: {
      const t = type === MSG.SUBSCRIBE ? 'subscribe' : 'unsubscribe';
      atLeast(b, 4, t.toUpperCase());
      const f = b[0];
      const topicIdType = topicTypeOf(f, t.toUpperCase());
      const rest = b.subarray(3);
      let topicName = '';
      let topicId = 0;
      if (topicIdType === TOPIC.NORMAL) topicName = text(rest, 'topic name');
      else {
        exact(rest, 2, `${t.toUpperCase()} topic id / short name`);
        if (topicIdType === TOPIC.PREDEFINED) topicId = rest.readUInt16BE(0);
        else topicName = text(rest, 'short topic name');
      }
      return { type: t, dup: (f & 0x80) !== 0, qos: qosOf(f), topicIdType, msgId: b.readUInt16BE(1), topicName, topicId };
    }
    case MSG.SUBACK: exact(b, 6, 'SUBACK'); return { type: 'suback', qos: qosOf(b[0]), topicId: b.readUInt16BE(1), msgId: b.readUInt16BE(3), returnCode: b[5] };
    case MSG.PINGREQ: return { type: 'pingreq', clientId: text(b, 'PINGREQ client id') };
    case MSG.PINGRESP: exact(b, 0, 'PINGRESP'); return { type: 'pingresp' };
    case MSG.DISCONNECT:
      if (b.length === 0) return { type: 'disconnect', duration: null };
      exact(b, 2, 'DISCONNECT');
      return { type: 'disconnect', duration: b.readUInt16BE(0) };
    case MSG.WILLTOPICRESP: exact(b, 1, 'WILLTOPICRESP'); return { type: 'willtopicresp', returnCode: b[0] };
    case MSG.WILLMSGRESP: exact(b, 1, 'WILLMSGRESP'); return { type: 'willmsgresp', returnCode: b[0] };
    default: return fail('SN_UNKNOWN_TYPE', `0x${type.toString(16).padStart(2, '0')}`);
  }
}

// ---- encoding --------------------------------------------------------------------------

const qosBits = (q: SnQoS): number => (q === -1 ? 3 : q) << 5;
const u16 = (n: number): Buffer => { const b = Buffer.allocUnsafe(2); b.writeUInt16BE(n & 0xffff, 0); return b; };

/** Prepends the header, choosing the 1- or 3-octet Length form. */
function frame(type: number, body: Buffer): Buffer {
  const n = body.length + 2;
  if (n <= 255) {
    const out = Buffer.allocUnsafe(n);
    out[0] = n; out[1] = type; body.copy(out, 2);
    return out;
  }
  const total = body.length + 4;
  if (total > 0xffff) throw new RangeError(`MQTT-SN message of ${total} octets exceeds 65535`);
  const out = Buffer.allocUnsafe(total);
  out[0] = 0x01; out.writeUInt16BE(total, 1); out[3] = type; body.copy(out, 4);
  return out;
}

export function encode(m: SnMessage): Buffer {
  switch (m.type) {
    case 'advertise': return frame(MSG.ADVERTISE, Buffer.concat([Buffer.from([m.gwId]), u16(m.duration)]));
    case 'searchgw': return frame(MSG.SEARCHGW, Buffer.from([m.radius]));
    case 'gwinfo': return frame(MSG.GWINFO, Buffer.concat([Buffer.from([m.gwId]), m.gwAdd]));
    case 'connect':
      return frame(MSG.CONNECT, Buffer.concat([Buffer.from([(m.will ? 0x08 : 0) | (m.cleanSession ? 0x04 : 0), m.protocolId]), u16(m.duration), Buffer.from(m.clientId)]));
    case 'connack': return frame(MSG.CONNACK, Buffer.from([m.returnCode]));
    case 'willtopicreq': return frame(MSG.WILLTOPICREQ, Buffer.alloc(0));
    case 'willtopic':
    case 'willtopicupd': {
      const t = m.type === 'willtopic' ? MSG.WILLTOPIC : MSG.WILLTOPICUPD;
      if (m.topic === '') return frame(t, Buffer.alloc(0));
      return frame(t, Buffer.concat([Buffer.from([qosBits(m.qos) | (m.retain ? 0x10 : 0)]), Buffer.from(m.topic)]));
    }
    case 'willmsgreq': return frame(MSG.WILLMSGREQ, Buffer.alloc(0));
    case 'willmsg': return frame(MSG.WILLMSG, m.payload);
    case 'willmsgupd': return frame(MSG.WILLMSGUPD, m.payload);
    case 'register': return frame(MSG.REGISTER, Buffer.concat([u16(m.topicId), u16(m.msgId), Buffer.from(m.topicName)]));
    case 'regack': return frame(MSG.REGACK, Buffer.concat([u16(m.topicId), u16(m.msgId), Buffer.from([m.returnCode])]));
    case 'publish': {
      const f = (m.dup ? 0x80 : 0) | qosBits(m.qos) | (m.retain ? 0x10 : 0) | m.topicIdType;
      return frame(MSG.PUBLISH, Buffer.concat([Buffer.from([f]), u16(m.topicId), u16(m.msgId), m.payload]));
    }
    case 'puback': return frame(MSG.PUBACK, Buffer.concat([u16(m.topicId), u16(m.msgId), Buffer.from([m.returnCode])]));
    case 'pubrec': return frame(MSG.PUBREC, u16(m.msgId));
    case 'pubrel': return frame(MSG.PUBREL, u16(m.msgId));
    case 'pubcomp': return frame(MSG.PUBCOMP, u16(m.msgId));
    case 'unsuback': return frame(MSG.UNSUBACK, u16(m.msgId));
    case 'subscribe':
    case 'unsubscribe': {
      const f = (m.dup ? 0x80 : 0) | (m.type === 'subscribe' ? qosBits(m.qos) : 0) | m.topicIdType;
      const topic = m.topicIdType === TOPIC.PREDEFINED ? u16(m.topicId) : Buffer.from(m.topicName);
      return frame(m.type === 'subscribe' ? MSG.SUBSCRIBE : MSG.UNSUBSCRIBE, Buffer.concat([Buffer.from([f]), u16(m.msgId), topic]));
    }
    case 'suback': return frame(MSG.SUBACK, Buffer.concat([Buffer.from([qosBits(m.qos)]), u16(m.topicId), u16(m.msgId), Buffer.from([m.returnCode])]));
    case 'pingreq': return frame(MSG.PINGREQ, Buffer.from(m.clientId));
    case 'pingresp': return frame(MSG.PINGRESP, Buffer.alloc(0));
    case 'disconnect': return frame(MSG.DISCONNECT, m.duration === null ? Buffer.alloc(0) : u16(m.duration));
    case 'willtopicresp': return frame(MSG.WILLTOPICRESP, Buffer.from([m.returnCode]));
    case 'willmsgresp': return frame(MSG.WILLMSGRESP, Buffer.from([m.returnCode]));
    case 'encapsulated': {
      const hdr = 3 + m.nodeId.length;
      if (hdr > 255) throw new RangeError('Encapsulated wireless node id longer than 252 octets');
      return Buffer.concat([Buffer.from([hdr, MSG.ENCAPSULATED, m.radius & 0x03]), m.nodeId, encode(m.inner)]);
    }
  }
}

/** A short topic name's two characters as the 16-bit TopicId a PUBLISH carries (5.3.11). */
export const shortNameToId = (name: string): number => {
  const b = Buffer.from(name);
  return b.length === 2 ? b.readUInt16BE(0) : -1;
};
export const idToShortName = (id: number): string => u16(id).toString('latin1');
