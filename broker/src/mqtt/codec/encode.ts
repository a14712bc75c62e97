/**
 * Encoders. Hot packets (PUBLISH and the four publish acknowledgements) are written by hand into
 * one exactly-sized buffer; everything else is delegated to mqtt-packet's generate(), whose output
 * our parser reads back identically.
 *
 * Fan-out trick: a QoS>0 PUBLISH is encoded once and then stamped per subscriber with
 * setPacketId()/setDup(), which copy the buffer and patch two bytes (resp. one bit) instead of
 * re-encoding topic, properties and payload.
 */
import mqttPacket from 'mqtt-packet';
import { PROP_BY_NAME } from './constants.js';
import type { Packet, ProtocolVersion } from './types.js';

// By default mqtt-packet builds a table of 65,536 two-byte buffers the first time it writes a
// packet id (~17 ms and ~6 MB of heap, in the middle of the first SUBACK); the rare packets that
// go through it here do not need it. Same bytes either way.
(mqttPacket.writeToStream as unknown as { cacheNumbers: boolean }).cacheNumbers = false;

export interface PublishInput {
  topic: string | Buffer;
  payload: Buffer | string;
  qos: 0 | 1 | 2;
  retain: boolean;
  dup: boolean;
  messageId?: number;
  properties?: object | null;
}

export type AckCmd = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';

const ACK_HEADER: Readonly<Record<AckCmd, number>> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 };

function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

function writeVarint(buf: Buffer, off: number, n: number): number {
  do {
    let c = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) c |= 0x80;
    buf[off++] = c;
  } while (n > 0);
  return off;
}

/**
 * Encode an MQTT 5 property list, Property Length prefix included, in the object's key order
 * (mqtt-packet's order too). Arrays become repeated properties; userProperties values may be
 * strings or arrays of strings. Unknown names or wrong value types throw TypeError.
 */
export function encodeProperties(props: object | null | undefined): Buffer {
  if (props === null || props === undefined) return Buffer.from([0]);
  const parts: Buffer[] = [];
  const push = (id: number, type: string, name: string, v: unknown): void => {
    switch (type) {
      case 'byte':
        if (typeof v !== 'boolean') throw new TypeError(`property ${name} must be a boolean`);
        parts.push(Buffer.from([id, v ? 1 : 0]));
        return;
      case 'int8':
        parts.push(Buffer.from([id, num(name, v, 0xff)]));
        return;
      case 'int16': {
        const b = Buffer.allocUnsafe(3);
        b[0] = id;
        b.writeUInt16BE(num(name, v, 0xffff), 1);
        parts.push(b);
        return;
      }
      case 'int32': {
        const b = Buffer.allocUnsafe(5);
        b[0] = id;
        b.writeUInt32BE(num(name, v, 0xffffffff), 1);
        parts.push(b);
        return;
      }
      case 'var': {
        const n = num(name, v, 268_435_455);
        const b = Buffer.allocUnsafe(1 + varintSize(n));
        b[0] = id;
        writeVarint(b, 1, n);
        parts.push(b);
        return;
      }
      case 'string':
        if (typeof v !== 'string') throw new TypeError(`property ${name} must be a string`);
        parts.push(Buffer.from([id]), lenPrefixed(Buffer.from(v, 'utf8')));
        return;
      case 'binary':
        parts.push(Buffer.from([id]), lenPrefixed(Buffer.isBuffer(v) ? v : Buffer.from(String(v))));
        return;
      default:
        throw new TypeError(`property ${name}: unsupported type`);
    }
  };
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined) continue;
    const def = PROP_BY_NAME.get(name);
    if (def === undefined) throw new TypeError(`unknown MQTT 5 property ${name}`);
    if (def.type === 'pair') {
      if (typeof value !== 'object' || value === null) throw new TypeError('userProperties must be an object');
      for (const k of Object.getOwnPropertyNames(value)) {
        const vs = (value as Record<string, unknown>)[k];
        for (const v of Array.isArray(vs) ? vs : [vs]) {
          parts.push(Buffer.from([def.id]), lenPrefixed(Buffer.from(k, 'utf8')), lenPrefixed(Buffer.from(String(v), 'utf8')));
        }
      }
    } else if (Array.isArray(value)) {
      for (const v of value) push(def.id, def.type, name, v);
    } else {
      push(def.id, def.type, name, value);
    }
  }
  const body = Buffer.concat(parts);
  const out = Buffer.allocUnsafe(varintSize(body.length) + body.length);
  body.copy(out, writeVarint(out, 0, body.length));
  return out;
}

function num(name: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new TypeError(`property ${name}: invalid value ${String(v)}`);
  return v;
}

function lenPrefixed(b: Buffer): Buffer {
  if (b.length > 0xffff) throw new RangeError('string or binary longer than 65535 bytes');
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

// One-entry cache of the last topic's UTF-8 bytes: consecutive publishes (and the deliveries of
// one message) mostly share their topic, and copying cached bytes beats re-encoding the string.
let lastTopic = '';
let lastTopicBytes: Uint8Array = new Uint8Array(0);

/** Encode a PUBLISH (fast path). Byte-identical to mqtt-packet's generate(). */
export function encodePublish(p: PublishInput, protocolVersion: ProtocolVersion): Buffer {
  const topic = p.topic as string | Buffer;
  let topicBytes: Uint8Array;
  if (topic === lastTopic) {
    topicBytes = lastTopicBytes;
  } else if (typeof topic === 'string') {
    topicBytes = lastTopicBytes = Buffer.from(topic, 'utf8');
    lastTopic = topic;
  } else if (Buffer.isBuffer(topic)) {
    topicBytes = topic; // mqtt-packet also accepts a Buffer topic
  } else {
    throw new TypeError('PUBLISH topic must be a string or Buffer');
  }
  if (topicBytes.length > 0xffff) throw new RangeError('topic longer than 65535 bytes');
  const topicLen = topicBytes.length;
  const payload = typeof p.payload === 'string' ? Buffer.from(p.payload, 'utf8') : p.payload;
  const qos = p.qos;
  let props: Buffer | null = null;
  if (protocolVersion === 5) props = p.properties ? encodeProperties(p.properties) : null;
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + (protocolVersion === 5 ? (props === null ? 1 : props.length) : 0) + payload.length;
  if (remaining > 268_435_455) throw new RangeError('packet too large to encode');
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  buf[0] = 0x30 | (p.dup ? 0x08 : 0) | (qos << 1) | (p.retain ? 1 : 0);
  let off = writeVarint(buf, 1, remaining);
  buf[off++] = topicLen >> 8;
  buf[off++] = topicLen & 0xff;
  buf.set(topicBytes, off);
  off += topicLen;
  if (qos > 0) {
    const id = p.messageId;
    if (typeof id !== 'number' || id < 1 || id > 0xffff) throw new TypeError('QoS>0 PUBLISH needs a messageId in 1..65535');
    buf[off++] = id >> 8;
    buf[off++] = id & 0xff;
  }
  if (protocolVersion === 5) {
    if (props === null) buf[off++] = 0;
    else off += props.copy(buf, off);
  }
  buf.set(payload, off);
  return buf;
}

/** Offset of the packet identifier in an encoded QoS>0 PUBLISH. */
function packetIdOffset(encoded: Buffer): number {
  if ((encoded[0]! & 0xf0) !== 0x30 || (encoded[0]! & 0x06) === 0) throw new TypeError('not an encoded QoS>0 PUBLISH');
  let i = 1;
  while (encoded[i]! & 0x80) i++;
  i++;
  return i + 2 + ((encoded[i]! << 8) | encoded[i + 1]!);
}

/** Copy of an encoded QoS>0 PUBLISH with its packet identifier replaced. */
export function setPacketId(encodedPublish: Buffer, messageId: number): Buffer {
  const off = packetIdOffset(encodedPublish);
  const out = Buffer.allocUnsafe(encodedPublish.length);
  out.set(encodedPublish);
  out[off] = messageId >> 8;
  out[off + 1] = messageId & 0xff;
  return out;
}

/** Copy of an encoded QoS>0 PUBLISH with the DUP flag set or cleared (for redelivery). */
export function setDup(encodedPublish: Buffer, dup: boolean): Buffer {
  packetIdOffset(encodedPublish);
  const out = Buffer.allocUnsafe(encodedPublish.length);
  out.set(encodedPublish);
  out[0] = dup ? out[0]! | 0x08 : out[0]! & ~0x08;
  return out;
}

/**
 * Encode PUBACK / PUBREC / PUBREL / PUBCOMP. MQTT 5: reason code 0 without properties is omitted
 * (remaining length 2), a non-zero reason code without properties is sent without a Property
 * Length (remaining length 3, [MQTT-3.4.2.1]).
 */
export function encodeAck(cmd: AckCmd, messageId: number, protocolVersion: ProtocolVersion, reasonCode = 0, properties?: object | null): Buffer {
  const header = ACK_HEADER[cmd];
  if (protocolVersion !== 5 || (reasonCode === 0 && !hasKeys(properties))) {
    const b = Buffer.allocUnsafe(4);
    b[0] = header;
    b[1] = 2;
    b[2] = messageId >> 8;
    b[3] = messageId & 0xff;
    return b;
  }
  if (!hasKeys(properties)) {
    const b = Buffer.allocUnsafe(5);
    b[0] = header;
    b[1] = 3;
    b[2] = messageId >> 8;
    b[3] = messageId & 0xff;
    b[4] = reasonCode;
    return b;
  }
  const props = encodeProperties(properties);
  const remaining = 3 + props.length;
  const b = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  b[0] = header;
  let off = writeVarint(b, 1, remaining);
  b[off++] = messageId >> 8;
  b[off++] = messageId & 0xff;
  b[off++] = reasonCode;
  props.copy(b, off);
  return b;
}

function hasKeys(o: object | null | undefined): o is object {
  if (o === null || o === undefined) return false;
  for (const k in o) if ((o as Record<string, unknown>)[k] !== undefined) return true;
  return false;
}

const PINGREQ = Buffer.from([0xc0, 0]);
const PINGRESP = Buffer.from([0xd0, 0]);

/** Encode any packet, like mqtt-packet's generate(packet, { protocolVersion }). */
export function encode(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  switch (packet.cmd) {
    case 'publish':
      return encodePublish(packet as unknown as PublishInput, protocolVersion);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return encodeAck(packet.cmd, packet.messageId ?? 0, protocolVersion, packet.reasonCode ?? 0, packet.properties);
    case 'pingreq':
      return Buffer.from(PINGREQ);
    case 'pingresp':
      return Buffer.from(PINGRESP);
    default:
      return mqttPacket.generate(packet, { protocolVersion });
  }
}
