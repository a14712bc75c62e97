/**
 * Body decoders: turn the variable header and payload of one complete packet into a packet object.
 *
 * The framing parser (parser.ts) hands us a buffer and the [start, end) range holding exactly the
 * remaining-length bytes of one packet. Each decoder walks that range with bounds checks and builds
 * an object with the same shape as mqtt-packet 9's parser output: the fixed keys cmd, retain, qos,
 * dup, length, topic, payload first (as mqtt-packet's Packet constructor sets them), then the
 * type's own keys in mqtt-packet's order. Any violation throws a CodecError; the parser catches it.
 *
 * Payloads, passwords, will payloads and binary properties are zero-copy views (subarray) into the
 * buffer given to us, like ws's receiver: the parser owns that buffer when a packet spans chunks,
 * otherwise it is the socket chunk itself.
 */
import { isUtf8 } from 'node:buffer';
import {
  AUTH_CODES, CMD_NAMES, DISCONNECT_CODES, PROP_BY_ID, PUBACK_PUBREC_CODES, PUBREL_PUBCOMP_CODES,
  SUBACK_CODES, T_AUTH, T_CONNACK, T_CONNECT, T_DISCONNECT, T_PINGREQ, T_PINGRESP, T_PUBACK, T_PUBCOMP,
  T_PUBLISH, T_PUBREC, T_PUBREL, T_SUBACK, T_SUBSCRIBE, T_UNSUBACK, T_UNSUBSCRIBE, UNSUBACK_CODES, WILL_PROPS,
} from './constants.js';
import { CodecError, type CodecErrorCode } from './errors.js';
import type { Packet } from './types.js';

/** Node's undocumented but long-stable Buffer methods; they skip toString()'s encoding dispatch. */
interface FastSlice {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** Mutable packet under construction (plain object; typed loosely while it is being filled in). */
type Building = Record<string, unknown>;

/** Decoding context: the parser's view of the connection that affects how bodies are read. */
export interface DecodeContext {
  protocolVersion: 3 | 4 | 5;
  bridgeMode: boolean;
}

const NO_BYTES = Buffer.alloc(0);
const TOPIC_CACHE_MAX = 128;

/** Cursor over one packet body. One instance per parser, reused for every packet. */
export class BodyReader {
  buf: Buffer = NO_BYTES;
  pos = 0;
  end = 0;
  type = 0;
  /** Last PUBLISH topic if ASCII and up to 128 bytes (its bytes are its char codes), see topic(). */
  private topicLen = -1;
  private topicStr = '';

  fail(code: CodecErrorCode, message: string): never {
    throw new CodecError(code, message, CMD_NAMES[this.type]);
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('MALFORMED', 'packet too short');
    return this.buf[this.pos++]!;
  }

  u16(): number {
    const p = this.pos;
    if (p + 2 > this.end) this.fail('MALFORMED', 'packet too short');
    this.pos = p + 2;
    return (this.buf[p]! << 8) | this.buf[p + 1]!;
  }

  u32(): number {
    const p = this.pos;
    if (p + 4 > this.end) this.fail('MALFORMED', 'packet too short');
    this.pos = p + 4;
    return this.buf.readUInt32BE(p);
  }

  /** Variable Byte Integer, at most 4 bytes. [MQTT-1.5.5] */
  varint(): number {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 4; i++) {
      const c = this.u8();
      value += (c & 0x7f) * mul;
      if ((c & 0x80) === 0) return value;
      mul *= 128;
    }
    return this.fail('MALFORMED', 'variable byte integer longer than 4 bytes');
  }

  /** UTF-8 Encoded String: well-formed, no U+0000. [MQTT-1.5.4-1] [MQTT-1.5.4-2] */
  string(): string {
    const len = this.u16();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) this.fail('MALFORMED', 'string runs past end of packet');
    this.pos = end;
    const buf = this.buf;
    let i = start;
    while (i < end) {
      const c = buf[i]!;
      if (c === 0 || c > 0x7f) break;
      i++;
    }
    if (i === end) return (buf as unknown as FastSlice).latin1Slice(start, end);
    for (let j = i; j < end; j++) if (buf[j] === 0) this.fail('BAD_UTF8', 'string contains U+0000');
    if (!isUtf8(buf.subarray(i, end))) this.fail('BAD_UTF8', 'string is not well-formed UTF-8');
    return (buf as unknown as FastSlice).utf8Slice(start, end);
  }

  /**
   * PUBLISH topic: like string(), but remembers the last ASCII topic of this connection. Devices
   * publish to the same few topics over and over; when the bytes match, the cached string is
   * returned without allocating (comparing a few bytes is cheaper than building a string).
   */
  topic(): string {
    const len = this.u16();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) this.fail('MALFORMED', 'topic runs past end of packet');
    if (len !== this.topicLen) return this.newTopic(start, end);
    const cached = this.topicStr;
    const buf = this.buf;
    for (let i = 0; i < len; i++) {
      if (buf[start + i] !== cached.charCodeAt(i)) return this.newTopic(start, end);
    }
    this.pos = end;
    return this.topicStr;
  }

  private newTopic(start: number, end: number): string {
    this.pos = start - 2;
    const s = this.string();
    const len = end - start;
    if (len <= TOPIC_CACHE_MAX && len === s.length) {
      // ASCII only (one byte per UTF-16 unit), so the string's char codes are its bytes.
      this.topicLen = len;
      this.topicStr = s;
    }
    return s;
  }

  /** Binary Data: two-byte length then bytes (zero-copy view). */
  binary(): Buffer {
    const len = this.u16();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) this.fail('MALFORMED', 'binary data runs past end of packet');
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  /** Packet Identifier that must be non-zero. [MQTT-2.2.1-3] */
  packetId(): number {
    const id = this.u16();
    if (id === 0) this.fail('PROTOCOL_ERROR', 'packet identifier must be non-zero');
    return id;
  }

  expectEnd(): void {
    if (this.pos !== this.end) this.fail('MALFORMED', 'unexpected bytes after end of packet');
  }

  /**
   * MQTT 5 property list for packet type `where` (WILL_PROPS for will properties). Returns null
   * when the list is empty so callers can omit the key, as mqtt-packet does.
   */
  properties(where: number): Record<string, unknown> | null {
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.end) this.fail('MALFORMED', 'properties run past end of packet');
    if (len === 0) return null;
    const outerEnd = this.end;
    this.end = end;
    const result: Record<string, unknown> = {};
    while (this.pos < end) {
      const id = this.u8();
      const def = PROP_BY_ID[id];
      if (def === undefined) this.fail('MALFORMED', `unknown property identifier 0x${id.toString(16)}`);
      if ((def.allowed & (1 << where)) === 0) {
        this.fail('MALFORMED', `property ${def.name} not allowed in ${where === WILL_PROPS ? 'will properties' : CMD_NAMES[where]}`);
      }
      const name = def.name;
      if (def.type === 'pair') {
        const k = this.string();
        const v = this.string();
        let up = result.userProperties as Record<string, string | string[]> | undefined;
        if (up === undefined) result.userProperties = up = Object.create(null) as Record<string, string | string[]>;
        const prev = up[k];
        if (prev === undefined) up[k] = v;
        else if (Array.isArray(prev)) prev.push(v);
        else up[k] = [prev, v];
        continue;
      }
      let value: unknown;
      switch (def.type) {
        case 'byte': {
          const v = this.u8();
          if (v > 1) this.fail('PROTOCOL_ERROR', `${name} must be 0 or 1`);
          value = v !== 0;
          break;
        }
        case 'int8': {
          const v = this.u8();
          if (v > 1) this.fail('PROTOCOL_ERROR', `${name} must be 0 or 1`); // only maximumQoS
          value = v;
          break;
        }
        case 'int16': {
          const v = this.u16();
          if (v === 0 && (id === 0x21 || id === 0x23)) this.fail('PROTOCOL_ERROR', `${name} must not be 0`);
          value = v;
          break;
        }
        case 'int32': {
          const v = this.u32();
          if (v === 0 && id === 0x27) this.fail('PROTOCOL_ERROR', `${name} must not be 0`);
          value = v;
          break;
        }
        case 'var': {
          const v = this.varint();
          if (v === 0) this.fail('PROTOCOL_ERROR', `${name} must not be 0`);
          value = v;
          break;
        }
        case 'string':
          value = this.string();
          break;
        default:
          value = this.binary();
      }
      const prev = result[name];
      if (prev === undefined) {
        result[name] = value;
      } else if (id === 0x0b && where === T_PUBLISH) {
        // Only Subscription Identifier may repeat (server → client PUBLISH). [MQTT-3.3.4-3]
        if (Array.isArray(prev)) prev.push(value);
        else result[name] = [prev, value];
      } else {
        this.fail('PROTOCOL_ERROR', `property ${name} included more than once`);
      }
    }
    this.end = outerEnd;
    return result;
  }
}

function base(type: number, first: number, length: number): Building {
  return {
    cmd: CMD_NAMES[type], retain: (first & 1) !== 0, qos: (first >> 1) & 3, dup: (first & 8) !== 0,
    length, topic: null, payload: null,
  };
}

function decodePublish(r: BodyReader, first: number, ctx: DecodeContext): Building {
  const qos = (first >> 1) & 3;
  const p: Building = {
    cmd: 'publish', retain: (first & 1) !== 0, qos, dup: (first & 8) !== 0,
    length: r.end - r.pos, topic: r.topic(), payload: null,
  };
  if (qos > 0) p.messageId = r.packetId();
  if (ctx.protocolVersion === 5) {
    const props = r.properties(T_PUBLISH);
    if (props !== null) p.properties = props;
  }
  p.payload = r.buf.subarray(r.pos, r.end);
  r.pos = r.end;
  return p;
}

function isName(buf: Buffer, pos: number, len: number, name: string): boolean {
  if (len !== name.length) return false;
  for (let i = 0; i < len; i++) if (buf[pos + i] !== name.charCodeAt(i)) return false;
  return true;
}

function decodeConnect(r: BodyReader, p: Building, ctx: DecodeContext): void {
  const nameLen = r.u16();
  if (r.pos + nameLen > r.end) r.fail('MALFORMED', 'protocol name runs past end of packet');
  const isMqtt = isName(r.buf, r.pos, nameLen, 'MQTT');
  const isMqisdp = !isMqtt && isName(r.buf, r.pos, nameLen, 'MQIsdp');
  if (!isMqtt && !isMqisdp) r.fail('BAD_PROTOCOL_NAME', 'protocol name must be "MQTT" or "MQIsdp"'); // [MQTT-3.1.2-1]
  r.pos += nameLen;
  p.protocolId = isMqtt ? 'MQTT' : 'MQIsdp';
  let version = r.u8();
  const bridge = version >= 128;
  if (bridge) version -= 128;
  if (isMqtt ? version !== 4 && version !== 5 : version !== 3) {
    r.fail('UNSUPPORTED_PROTOCOL_VERSION', `unsupported protocol version ${version} for ${String(p.protocolId)}`); // [MQTT-3.1.2-2]
  }
  p.protocolVersion = version;
  if (bridge) p.bridgeMode = true;
  // From here on errors are reported in this CONNECT's protocol version.
  ctx.protocolVersion = version as 3 | 4 | 5;
  ctx.bridgeMode = bridge;

  const flags = r.u8();
  if (flags & 0x01) r.fail('MALFORMED', 'CONNECT reserved flag must be 0'); // [MQTT-3.1.2-3]
  const hasWill = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  const hasUsername = (flags & 0x80) !== 0;
  let will: Building | null = null;
  if (hasWill) {
    if (willQos === 3) r.fail('MALFORMED', 'will QoS must not be 3'); // [MQTT-3.1.2-14]
    will = { retain: willRetain, qos: willQos };
    p.will = will;
  } else if (willQos !== 0 || willRetain) {
    r.fail('MALFORMED', 'will QoS and will retain must be 0 without a will'); // [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15]
  }
  if (hasPassword && !hasUsername && version !== 5) {
    r.fail('MALFORMED', 'password flag set without username flag'); // [MQTT-3.1.2-22]
  }
  p.clean = (flags & 0x02) !== 0;
  p.keepalive = r.u16();
  if (version === 5) {
    const props = r.properties(T_CONNECT);
    if (props !== null) p.properties = props;
  }
  p.clientId = r.string();
  if (will !== null) {
    if (version === 5) {
      const props = r.properties(WILL_PROPS);
      if (props !== null) will.properties = props;
    }
    will.topic = r.string();
    will.payload = r.binary();
  }
  if (hasUsername) p.username = r.string();
  if (hasPassword) p.password = r.binary();
  r.expectEnd();
}

function decodeConnack(r: BodyReader, p: Building, ctx: DecodeContext): void {
  const flags = r.u8();
  if (flags > 1) r.fail('MALFORMED', 'CONNACK flags bits 7-1 must be 0'); // [MQTT-3.2.2-1]
  p.sessionPresent = flags === 1;
  if (ctx.protocolVersion === 5) {
    p.reasonCode = r.u8();
    if (r.pos < r.end) {
      const props = r.properties(T_CONNACK);
      if (props !== null) p.properties = props;
    }
  } else {
    p.returnCode = r.u8();
  }
  r.expectEnd();
}

function decodeConfirmation(r: BodyReader, p: Building, type: number, ctx: DecodeContext): void {
  p.messageId = r.u16();
  if (ctx.protocolVersion === 5) {
    const len = r.end - r.pos + 2;
    if (len > 2) {
      const rc = r.u8();
      const table = type === T_PUBACK || type === T_PUBREC ? PUBACK_PUBREC_CODES : PUBREL_PUBCOMP_CODES;
      if (table[rc] !== 1) r.fail('MALFORMED', `invalid ${CMD_NAMES[type]} reason code 0x${rc.toString(16)}`);
      p.reasonCode = rc;
    } else {
      p.reasonCode = 0;
    }
    if (len > 3) {
      const props = r.properties(type);
      if (props !== null) p.properties = props;
    }
  }
  r.expectEnd();
}

function decodeSubscribe(r: BodyReader, p: Building, ctx: DecodeContext): void {
  const subs: Building[] = [];
  p.subscriptions = subs;
  p.messageId = r.packetId();
  const v5 = ctx.protocolVersion === 5;
  if (v5) {
    const props = r.properties(T_SUBSCRIBE);
    if (props !== null) p.properties = props;
  }
  while (r.pos < r.end) {
    const topic = r.string();
    const opts = r.u8();
    const qos = opts & 3;
    if (v5) {
      if (opts & 0xc0) r.fail('MALFORMED', 'subscription options reserved bits must be 0'); // [MQTT-3.8.3-5]
      if (qos === 3) r.fail('PROTOCOL_ERROR', 'subscription QoS must not be 3');
      const rh = (opts >> 4) & 3;
      if (rh === 3) r.fail('PROTOCOL_ERROR', 'retain handling must not be 3');
      subs.push({ topic, qos, nl: (opts & 0x04) !== 0, rap: (opts & 0x08) !== 0, rh });
    } else {
      if (opts & 0xfc) r.fail('MALFORMED', 'requested QoS byte reserved bits must be 0'); // [MQTT-3-8.3-4]
      if (qos === 3) r.fail('MALFORMED', 'requested QoS must not be 3'); // [MQTT-3-8.3-4]
      if (ctx.bridgeMode) subs.push({ topic, qos, rh: 0, rap: true, nl: true });
      else subs.push({ topic, qos });
    }
  }
  if (subs.length === 0) r.fail('PROTOCOL_ERROR', 'SUBSCRIBE must contain at least one topic filter'); // [MQTT-3.8.3-3]
}

function decodeSuback(r: BodyReader, p: Building, ctx: DecodeContext): void {
  const granted: number[] = [];
  p.granted = granted;
  p.messageId = r.u16();
  const v5 = ctx.protocolVersion === 5;
  if (v5) {
    const props = r.properties(T_SUBACK);
    if (props !== null) p.properties = props;
  }
  while (r.pos < r.end) {
    const code = r.u8();
    if (v5 ? SUBACK_CODES[code] !== 1 : code > 2 && code !== 0x80) r.fail('MALFORMED', 'invalid SUBACK return code');
    granted.push(code);
  }
  if (granted.length === 0) r.fail('MALFORMED', 'SUBACK must contain at least one return code');
}

function decodeUnsubscribe(r: BodyReader, p: Building, ctx: DecodeContext): void {
  const list: string[] = [];
  p.unsubscriptions = list;
  p.messageId = r.packetId();
  if (ctx.protocolVersion === 5) {
    const props = r.properties(T_UNSUBSCRIBE);
    if (props !== null) p.properties = props;
  }
  while (r.pos < r.end) list.push(r.string());
  if (list.length === 0) r.fail('PROTOCOL_ERROR', 'UNSUBSCRIBE must contain at least one topic filter'); // [MQTT-3.10.3-2]
}

function decodeUnsuback(r: BodyReader, p: Building, ctx: DecodeContext): void {
  p.messageId = r.u16();
  if (ctx.protocolVersion === 5) {
    const props = r.properties(T_UNSUBACK);
    if (props !== null) p.properties = props;
    const granted: number[] = [];
    p.granted = granted;
    while (r.pos < r.end) {
      const code = r.u8();
      if (UNSUBACK_CODES[code] !== 1) r.fail('MALFORMED', 'invalid UNSUBACK reason code');
      granted.push(code);
    }
  }
  r.expectEnd();
}

function decodeDisconnectOrAuth(r: BodyReader, p: Building, type: number): void {
  // MQTT 5: no body means reason code 0x00. [MQTT-3.14.2.1] [MQTT-3.15.2.1]
  if (r.pos === r.end) {
    p.reasonCode = 0;
    return;
  }
  const rc = r.u8();
  const table = type === T_AUTH ? AUTH_CODES : DISCONNECT_CODES;
  if (table[rc] !== 1) r.fail('MALFORMED', `invalid ${CMD_NAMES[type]} reason code 0x${rc.toString(16)}`);
  p.reasonCode = rc;
  if (r.pos < r.end) {
    const props = r.properties(type);
    if (props !== null) p.properties = props;
  }
  r.expectEnd();
}

/**
 * Decode the body of one packet. `first` is the fixed header's first byte (already validated by
 * the parser), the body is r.buf[r.pos, r.end).
 */
export function decodeBody(r: BodyReader, first: number, ctx: DecodeContext): Packet {
  const type = first >> 4;
  r.type = type;
  if (type === T_PUBLISH) return decodePublish(r, first, ctx) as unknown as Packet;
  const p = base(type, first, r.end - r.pos);
  switch (type) {
    case T_PUBACK:
    case T_PUBREC:
    case T_PUBREL:
    case T_PUBCOMP:
      decodeConfirmation(r, p, type, ctx);
      break;
    case T_CONNECT:
      decodeConnect(r, p, ctx);
      break;
    case T_CONNACK:
      decodeConnack(r, p, ctx);
      break;
    case T_SUBSCRIBE:
      decodeSubscribe(r, p, ctx);
      break;
    case T_SUBACK:
      decodeSuback(r, p, ctx);
      break;
    case T_UNSUBSCRIBE:
      decodeUnsubscribe(r, p, ctx);
      break;
    case T_UNSUBACK:
      decodeUnsuback(r, p, ctx);
      break;
    case T_PINGREQ:
    case T_PINGRESP:
      r.expectEnd();
      break;
    case T_DISCONNECT:
      if (ctx.protocolVersion === 5) decodeDisconnectOrAuth(r, p, type);
      else r.expectEnd();
      break;
    case T_AUTH:
      decodeDisconnectOrAuth(r, p, type);
      break;
    default:
      r.fail('MALFORMED', `reserved packet type ${type}`);
  }
  return p as unknown as Packet;
}
