/**
 * The cluster link's wire format: the frames two Petrel nodes exchange over their node-to-node
 * connection (link.ts), and a pure, resumable decoder for them.
 *
 *   frame = u32 BE length (of type + body) | u8 type | body
 *
 *   1 HELLO  JSON {cluster, node, incarnation, proto: 1, aliases, ackDelayMs}  dialler → acceptor, then the answer
 *            (aliases: true when the sender decodes aliased FWD strings; nodes that predate them
 *            ignore the key and never send it, so the dialler aliases only when the answer says so;
 *            ackDelayMs, dialler only: how long the acceptor may hold ACKs to batch them, 0–1000,
 *            absent = 1 — older nodes ignore it)
 *   2 FWD    u32 seq (0 = no ack wanted) | u8 flags | message | u16 n | n × (str group, str filter)
 *            flags = bit0 plain, bit1 topic aliased, bit2 from aliased
 *            message = f64 id | u8 qos | u8 retain | topic | from | f64 timestamp
 *                      | f64 expiresAt | u32 len + JSON properties (0 = null) | u32 len + payload
 *            topic, from = str, or when aliased u16 a: a < 0x8000 names alias a; else the str
 *                      that follows defines alias a − 0x8000 (per connection: link-strings.ts)
 *            str = u16 len + UTF-8
 *   3 ACK    u32 n | n × u32 seq
 *   4 CALL   u32 id | JSON {method, args}
 *   5 REPLY  u32 id | JSON {ok: true, value} | {ok: false, error}
 *   6 PING, 7 PONG: empty
 *
 * JSON values go through toWire/fromWire so Buffers survive as {"$b64": "…"}; object keys that
 * start with '$' are escaped by doubling it, so a user property named "$b64" stays a string.
 * Every decoding problem is one LinkProtocolError with a code; the decoder never throws anything else.
 */
import type { Message, PublishProperties, QoS } from '../types.js';
import { LinkProtocolError } from './link-codec-error.js';
import { AliasIn, utf8, type AliasOut } from './link-strings.js';

export const LINK_PROTO = 1;
/** The longest ACK delay a dialler may ask for in its HELLO. */
export const MAX_ACK_DELAY_MS = 1000;
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;

export const FRAME = { HELLO: 1, FWD: 2, ACK: 3, CALL: 4, REPLY: 5, PING: 6, PONG: 7 } as const;

export interface HelloFrame { type: 'hello'; cluster: string; node: string; incarnation: number; proto: number; aliases: boolean; ackDelayMs?: number }
export interface FwdFrame { type: 'fwd'; seq: number; plain: boolean; msg: Message; groups: Array<[string, string]> }
export interface AckFrame { type: 'ack'; seqs: number[] }
export interface CallFrame { type: 'call'; id: number; method: string; args: unknown }
export type ReplyFrame =
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };
export interface PingFrame { type: 'ping' }
export interface PongFrame { type: 'pong' }
export type LinkFrame = HelloFrame | FwdFrame | AckFrame | CallFrame | ReplyFrame | PingFrame | PongFrame;

export { LinkProtocolError, type LinkErrorCode } from './link-codec-error.js';

// ---------------------------------------------------------------- JSON with Buffers

/** A JSON-safe copy of v: Buffers become {"$b64": …}, '$'-prefixed keys get one more '$'. */
export function toWire(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $b64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (Array.isArray(v)) return v.map(toWire);
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return v; // Dates and the like: as JSON has them
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k.charCodeAt(0) === 36 ? '$' + k : k] = toWire(x);
  return out;
}

/** The inverse of toWire, applied to the result of JSON.parse. */
export function fromWire(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(fromWire);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0] === '$b64') {
    if (typeof o['$b64'] !== 'string') throw new LinkProtocolError('BAD_FIELD', '$b64 value is not a string');
    return Buffer.from(o['$b64'], 'base64');
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    if (k.charCodeAt(0) === 36 && k.charCodeAt(1) !== 36) throw new LinkProtocolError('BAD_FIELD', `unescaped key ${JSON.stringify(k)}`);
    out[k.charCodeAt(0) === 36 ? k.slice(1) : k] = fromWire(o[k]);
  }
  return out;
}

const jsonBytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(toWire(v)) ?? 'null', 'utf8');

function parseJson(buf: Buffer, what: string): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new LinkProtocolError('BAD_FIELD', `${what}: invalid JSON (${(e as Error).message})`);
  }
  return fromWire(raw);
}

// ---------------------------------------------------------------- encoding

/** Frame header (length + type) followed by a body of bodyLen bytes to be filled in from offset 5. */
function frameBuffer(type: number, bodyLen: number): Buffer {
  const b = Buffer.allocUnsafe(5 + bodyLen);
  b.writeUInt32BE(1 + bodyLen, 0);
  b[4] = type;
  return b;
}

function jsonFrame(type: number, value: unknown, id: number | null): Buffer {
  const json = jsonBytes(value);
  const head = id === null ? 0 : 4;
  const b = frameBuffer(type, head + json.length);
  if (id !== null) b.writeUInt32BE(id, 5);
  json.copy(b, 5 + head);
  return b;
}

export function encodeHello(cluster: string, node: string, incarnation: number, aliases = true, ackDelayMs?: number): Buffer {
  return jsonFrame(FRAME.HELLO, ackDelayMs === undefined
    ? { cluster, node, incarnation, proto: LINK_PROTO, aliases }
    : { cluster, node, incarnation, proto: LINK_PROTO, aliases, ackDelayMs }, null);
}

/** Where FWD frames are written: a writer's shared chunk (see LinkWriter). */
export interface FrameSink {
  /** The chunk reserve() hands out space in, and a view of it (viewOf). */
  readonly chunk: Buffer;
  readonly view: DataView;
  /** The strings the peer on this sink's connection knows by number (null: send them in full). */
  readonly aliases: AliasOut | null;
  /** Offset of n free bytes in `chunk`, or -1 when the frame should be a buffer of its own. */
  reserve(n: number): number;
  /** The n bytes reserved last are written; they go out with the next flush. */
  commit(n: number): void;
  /** Queues a frame that has a buffer of its own. */
  push(frame: Buffer): void;
}

/** FWD flag bits. */
const F_PLAIN = 1;
const F_TOPIC_ALIAS = 2;
const F_FROM_ALIAS = 4;
/** A sym's u16 with this bit set defines the alias in its low 15 bits. */
const DEFINES = 0x8000;

/**
 * How a FWD frame's topic or client id goes out: `alias` -1 = in full (u16 length + bytes);
 * else as that alias, followed by the bytes when `defines`.
 */
interface Sym { bytes: Buffer; alias: number; defines: boolean }

/** The sizes a FWD frame needs, measured once and used to write it. */
interface FwdLayout { size: number; topic: Sym; from: Sym; props: Buffer | null; groupBytes: Buffer[] | null }

/** One layout reused by every encode (encoding is synchronous): nothing allocated per message. */
const LAYOUT: FwdLayout = {
  size: 0, topic: { bytes: Buffer.alloc(0), alias: -1, defines: false }, from: { bytes: Buffer.alloc(0), alias: -1, defines: false },
  props: null, groupBytes: null,
};

/** Fills sym for s and returns its size on the wire. */
function symLayout(sym: Sym, s: string, what: string, aliases: AliasOut | null): number {
  if (aliases !== null) {
    const known = aliases.known(s);
    if (known >= 0) {
      sym.alias = known;
      sym.defines = false;
      return 2;
    }
  }
  sym.bytes = utf8(s, what);
  // Defined only once the bytes are known to fit: a refused string must not take a number.
  sym.alias = aliases === null ? -1 : aliases.define(s);
  sym.defines = sym.alias >= 0;
  return (sym.defines ? 4 : 2) + sym.bytes.length;
}

function fwdLayout(msg: Message, groups: ReadonlyArray<readonly [string, string]>, aliases: AliasOut | null): FwdLayout {
  if (groups.length > 0xffff) throw new LinkProtocolError('ENCODE', `${groups.length} groups, more than 65535`);
  const L = LAYOUT;
  let groupBytes: Buffer[] | null = null;
  let size = 5 + 4 + 1 + 8 + 1 + 1 + 8 + 8 + 4 + 4 + msg.payload.length + 2;
  if (groups.length > 0) {
    groupBytes = [];
    for (const [g, f] of groups) {
      const gb = utf8(g, 'group');
      const fb = utf8(f, 'group filter');
      groupBytes.push(gb, fb);
      size += 4 + gb.length + fb.length;
    }
  }
  const props = msg.properties === null ? null : jsonBytes(msg.properties);
  if (props !== null) size += props.length;
  // Strings last: a frame refused above has defined no alias.
  size += symLayout(L.topic, msg.topic, 'topic', aliases);
  size += symLayout(L.from, msg.from, 'from', aliases);
  L.size = size;
  L.props = props;
  L.groupBytes = groupBytes;
  return L;
}

/** A DataView over exactly b's bytes: its number accessors are compiled inline, Buffer's are not. */
export const viewOf = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Copies src into b at o: a loop for a few bytes, else set() (a native copy). */
function putBytes(b: Buffer, o: number, src: Uint8Array): number {
  const n = src.length;
  if (n <= 8) {
    for (let i = 0; i < n; i++) b[o + i] = src[i]!;
  } else {
    b.set(src, o);
  }
  return o + n;
}

/** u16 length + bytes. */
function putStr(b: Buffer, v: DataView, o: number, bytes: Buffer): number {
  v.setUint16(o, bytes.length);
  return putBytes(b, o + 2, bytes);
}

function putSym(b: Buffer, v: DataView, o: number, sym: Sym): number {
  if (sym.alias < 0) return putStr(b, v, o, sym.bytes);
  if (!sym.defines) { v.setUint16(o, sym.alias); return o + 2; }
  v.setUint16(o, DEFINES | sym.alias);
  return putStr(b, v, o + 2, sym.bytes);
}

/** Writes a whole FWD frame (header included) at b[o] (v: a view of b); returns the offset after it. */
function writeFwd(b: Buffer, v: DataView, o: number, L: FwdLayout, seq: number, plain: boolean, msg: Message): number {
  v.setUint32(o, L.size - 4);
  b[o + 4] = FRAME.FWD;
  v.setUint32(o + 5, seq);
  b[o + 9] = (plain ? F_PLAIN : 0) | (L.topic.alias >= 0 ? F_TOPIC_ALIAS : 0) | (L.from.alias >= 0 ? F_FROM_ALIAS : 0);
  v.setFloat64(o + 10, msg.id);
  b[o + 18] = msg.qos;
  b[o + 19] = msg.retain ? 1 : 0;
  o = putSym(b, v, o + 20, L.topic);
  o = putSym(b, v, o, L.from);
  v.setFloat64(o, msg.timestamp);
  v.setFloat64(o + 8, msg.expiresAt);
  o += 16;
  const props = L.props;
  if (props !== null) {
    v.setUint32(o, props.length);
    o = putBytes(b, o + 4, props);
  } else {
    v.setUint32(o, 0);
    o += 4;
  }
  v.setUint32(o, msg.payload.length);
  o = putBytes(b, o + 4, msg.payload);
  const gb = L.groupBytes;
  v.setUint16(o, gb === null ? 0 : gb.length / 2);
  o += 2;
  if (gb !== null) for (let i = 0; i < gb.length; i++) o = putStr(b, v, o, gb[i]!);
  return o;
}

/** A FWD frame in a buffer of its own, its strings in full (it may be resent on a later connection). */
export function encodeFwd(seq: number, plain: boolean, msg: Message, groups: ReadonlyArray<readonly [string, string]>): Buffer {
  const L = fwdLayout(msg, groups, null);
  const b = Buffer.allocUnsafe(L.size);
  writeFwd(b, viewOf(b), 0, L, seq, plain, msg);
  return b;
}

/**
 * Encodes a FWD frame straight into the sink's shared chunk (no buffer per frame, and one socket
 * write per flush for all of them) and queues it. Returns a view of the frame when `keep` (QoS 1/2:
 * resent until acknowledged, maybe on a later connection, so its strings go in full), else null.
 */
export function encodeFwdInto(sink: FrameSink, keep: boolean, seq: number, plain: boolean, msg: Message, groups: ReadonlyArray<readonly [string, string]>): Buffer | null {
  const L = fwdLayout(msg, groups, keep ? null : sink.aliases);
  const at = sink.reserve(L.size);
  if (at < 0) {
    const b = Buffer.allocUnsafe(L.size);
    writeFwd(b, viewOf(b), 0, L, seq, plain, msg);
    sink.push(b);
    return b;
  }
  const chunk = sink.chunk;
  writeFwd(chunk, sink.view, at, L, seq, plain, msg);
  sink.commit(L.size);
  return keep ? chunk.subarray(at, at + L.size) : null;
}

export function encodeAck(seqs: readonly number[]): Buffer {
  const b = frameBuffer(FRAME.ACK, 4 + 4 * seqs.length);
  let o = b.writeUInt32BE(seqs.length, 5);
  for (const s of seqs) o = b.writeUInt32BE(s, o);
  return b;
}

export function encodeCall(id: number, method: string, args: unknown): Buffer {
  return jsonFrame(FRAME.CALL, { method, args }, id);
}

export function encodeReply(id: number, result: { ok: true; value: unknown } | { ok: false; error: string }): Buffer {
  return jsonFrame(FRAME.REPLY, result, id);
}

const PING_BYTES = frameBuffer(FRAME.PING, 0);
const PONG_BYTES = frameBuffer(FRAME.PONG, 0);
export const encodePing = (): Buffer => PING_BYTES;
export const encodePong = (): Buffer => PONG_BYTES;

/** Encodes any frame; the hot path calls the encodeX functions directly. */
export function encodeFrame(f: LinkFrame): Buffer {
  switch (f.type) {
    case 'hello': return encodeHello(f.cluster, f.node, f.incarnation, f.aliases, f.ackDelayMs);
    case 'fwd': return encodeFwd(f.seq, f.plain, f.msg, f.groups);
    case 'ack': return encodeAck(f.seqs);
    case 'call': return encodeCall(f.id, f.method, f.args);
    case 'reply': return encodeReply(f.id, f.ok ? { ok: true, value: f.value } : { ok: false, error: f.error });
    case 'ping': return encodePing();
    case 'pong': return encodePong();
  }
}

// ---------------------------------------------------------------- decoding

// Topics, client ids and group names repeat from frame to frame: a small direct-mapped cache of
// recently decoded short strings (keyed by their bytes) saves decoding them and allocating them
// again. It holds values only, so links in one process may share it.
const STR_CACHE_SLOTS = 1024;
const STR_CACHE_MAX = 64;
const strCacheBytes: Array<Uint8Array | null> = new Array<Uint8Array | null>(STR_CACHE_SLOTS).fill(null);
const strCacheValues: string[] = new Array<string>(STR_CACHE_SLOTS).fill('');

function decodeStr(buf: Buffer, at: number, n: number): string {
  if (n > STR_CACHE_MAX) return buf.toString('utf8', at, at + n);
  let h = n;
  for (let i = 0; i < n; i++) h = (Math.imul(h, 31) + buf[at + i]!) | 0;
  const slot = h & (STR_CACHE_SLOTS - 1);
  const known = strCacheBytes[slot]!;
  if (known !== null && known.length === n) {
    let i = 0;
    while (i < n && known[i] === buf[at + i]) i++;
    if (i === n) return strCacheValues[slot]!;
  }
  const value = buf.toString('utf8', at, at + n);
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = buf[at + i]!;
  strCacheBytes[slot] = bytes;
  strCacheValues[slot] = value;
  return value;
}

/** Reads fields off one frame body — buf[start, end) — refusing to run past its end. */
class BodyReader {
  pos: number;
  constructor(readonly buf: Buffer, readonly what: string, start = 0, readonly end_ = buf.length, readonly view = viewOf(buf)) {
    this.pos = start;
  }
  private need(n: number, field: string): number {
    const at = this.pos;
    if (at + n > this.end_) throw new LinkProtocolError('TRUNCATED', `${this.what}: ${field} runs past the end of the frame`);
    this.pos = at + n;
    return at;
  }
  u8(field: string): number { return this.buf[this.need(1, field)]!; }
  u16(field: string): number { return this.view.getUint16(this.need(2, field)); }
  u32(field: string): number { return this.view.getUint32(this.need(4, field)); }
  f64(field: string): number { return this.view.getFloat64(this.need(8, field)); }
  bytes(n: number, field: string): Buffer { const at = this.need(n, field); return this.buf.subarray(at, at + n); }
  str(field: string): string {
    const n = this.u16(field);
    return decodeStr(this.buf, this.need(n, field), n);
  }
  rest(): Buffer { return this.bytes(this.end_ - this.pos, 'rest'); }
  end(): void {
    if (this.pos !== this.end_) throw new LinkProtocolError('OVERLONG', `${this.what}: ${this.end_ - this.pos} bytes after the last field`);
  }
}

const bad = (what: string, why: string): LinkProtocolError => new LinkProtocolError('BAD_FIELD', `${what}: ${why}`);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function decodeHello(body: Buffer): HelloFrame {
  const v = parseJson(body, 'HELLO');
  if (!isObject(v)) throw bad('HELLO', 'body is not an object');
  const { cluster, node, incarnation, proto, aliases, ackDelayMs } = v;
  if (typeof cluster !== 'string' || typeof node !== 'string' || node === '') throw bad('HELLO', 'cluster and node must be strings, node not empty');
  if (typeof incarnation !== 'number' || !Number.isFinite(incarnation)) throw bad('HELLO', 'incarnation must be a number');
  if (proto !== LINK_PROTO) throw new LinkProtocolError('BAD_PROTO', `HELLO: protocol ${JSON.stringify(proto)} is not ${LINK_PROTO}`);
  if (ackDelayMs !== undefined && !(Number.isInteger(ackDelayMs) && (ackDelayMs as number) >= 0 && (ackDelayMs as number) <= MAX_ACK_DELAY_MS)) {
    throw bad('HELLO', `ackDelayMs must be an integer from 0 to ${MAX_ACK_DELAY_MS}`);
  }
  const hello: HelloFrame = { type: 'hello', cluster, node, incarnation, proto, aliases: aliases === true };
  if (ackDelayMs !== undefined) hello.ackDelayMs = ackDelayMs as number;
  return hello;
}

function checkProperties(p: unknown): PublishProperties {
  if (!isObject(p)) throw bad('FWD', 'properties are not an object');
  if (p['correlationData'] !== undefined && !Buffer.isBuffer(p['correlationData'])) throw bad('FWD', 'correlationData is not bytes');
  const up = p['userProperties'];
  if (up !== undefined) {
    if (!isObject(up)) throw bad('FWD', 'userProperties is not an object');
    for (const x of Object.values(up)) {
      if (typeof x !== 'string' && !(Array.isArray(x) && x.every((s) => typeof s === 'string'))) throw bad('FWD', 'a user property is not a string or a string list');
    }
  }
  return p as PublishProperties;
}

/** An aliased topic or client id: a number the connection knows, or its definition. */
function sym(r: BodyReader, aliases: AliasIn | null, what: string): string {
  const a = r.u16(what);
  if (aliases === null) throw bad('FWD', `${what} alias outside a link connection`);
  if ((a & DEFINES) === 0) return aliases.get(a, what);
  const s = r.str(what);
  aliases.set(a & ~DEFINES, s);
  return s;
}

function decodeMessage(r: BodyReader, flags: number, aliases: AliasIn | null): Message {
  const id = r.f64('id');
  if (!Number.isSafeInteger(id) || id < 0) throw bad('FWD', `message id ${id} is not an integer in 0..2^53`);
  const qos = r.u8('qos');
  if (qos > 2) throw bad('FWD', `qos ${qos}`);
  const retain = r.u8('retain');
  if (retain > 1) throw bad('FWD', `retain ${retain}`);
  const topic = (flags & F_TOPIC_ALIAS) !== 0 ? sym(r, aliases, 'topic') : r.str('topic');
  const from = (flags & F_FROM_ALIAS) !== 0 ? sym(r, aliases, 'from') : r.str('from');
  const timestamp = r.f64('timestamp');
  const expiresAt = r.f64('expiresAt');
  if (!Number.isFinite(timestamp) || !Number.isFinite(expiresAt) || expiresAt < 0) throw bad('FWD', 'timestamp/expiresAt not finite');
  const propLen = r.u32('properties length');
  const properties = propLen === 0 ? null : checkProperties(parseJson(r.bytes(propLen, 'properties'), 'FWD properties'));
  const payloadLen = r.u32('payload length');
  // A view into the socket chunk, as the MQTT decoder gives (mqtt/codec/decode.ts): a message kept
  // in a queue pins its chunk, and a retained copy is made unpinned by the broker.
  const payload = r.bytes(payloadLen, 'payload');
  return { id, topic, payload, qos: qos as QoS, retain: retain === 1, properties, from, timestamp, expiresAt };
}

/** The groups of a FWD frame that names none (most): shared, never written to. */
const NO_GROUPS = Object.freeze([]) as unknown as Array<[string, string]>;

function decodeFwd(buf: Buffer, view: DataView, start: number, end: number, aliases: AliasIn | null): FwdFrame {
  const r = new BodyReader(buf, 'FWD', start, end, view);
  const seq = r.u32('seq');
  const flags = r.u8('flags');
  if (flags > (F_PLAIN | F_TOPIC_ALIAS | F_FROM_ALIAS)) throw bad('FWD', `reserved flag bits 0x${flags.toString(16)}`);
  const msg = decodeMessage(r, flags, aliases);
  if (seq === 0 && msg.qos > 0) throw bad('FWD', `QoS ${msg.qos} message without a seq`);
  const n = r.u16('group count');
  let groups = NO_GROUPS;
  if (n > 0) {
    groups = [];
    for (let i = 0; i < n; i++) groups.push([r.str('group'), r.str('group filter')]);
  }
  r.end();
  return { type: 'fwd', seq, plain: (flags & F_PLAIN) !== 0, msg, groups };
}

function decodeAck(body: Buffer): AckFrame {
  const r = new BodyReader(body, 'ACK');
  const n = r.u32('count');
  if (body.length !== 4 + 4 * n) throw new LinkProtocolError(body.length < 4 + 4 * n ? 'TRUNCATED' : 'OVERLONG', `ACK: ${n} seqs need ${4 * n} bytes, have ${body.length - 4}`);
  const seqs = new Array<number>(n);
  for (let i = 0; i < n; i++) seqs[i] = r.u32('seq');
  return { type: 'ack', seqs };
}

function decodeCall(body: Buffer): CallFrame {
  const r = new BodyReader(body, 'CALL');
  const id = r.u32('id');
  const v = parseJson(r.rest(), 'CALL');
  if (!isObject(v) || typeof v['method'] !== 'string') throw bad('CALL', 'body is not {method, args}');
  return { type: 'call', id, method: v['method'], args: v['args'] };
}

function decodeReply(body: Buffer): ReplyFrame {
  const r = new BodyReader(body, 'REPLY');
  const id = r.u32('id');
  const v = parseJson(r.rest(), 'REPLY');
  if (isObject(v) && v['ok'] === true) return { type: 'reply', id, ok: true, value: v['value'] };
  if (isObject(v) && v['ok'] === false && typeof v['error'] === 'string') return { type: 'reply', id, ok: false, error: v['error'] };
  throw bad('REPLY', 'body is not {ok: true, value} or {ok: false, error}');
}

function decodeEmpty<T extends PingFrame | PongFrame>(body: Buffer, frame: T): T {
  if (body.length !== 0) throw new LinkProtocolError('OVERLONG', `${frame.type.toUpperCase()}: ${body.length} bytes of body`);
  return frame;
}

/** Decodes one frame's type and body (a FWD's payload stays a view into it). */
export function decodeBody(type: number, body: Buffer): LinkFrame {
  try {
    switch (type) {
      case FRAME.HELLO: return decodeHello(body);
      case FRAME.FWD: return decodeFwd(body, viewOf(body), 0, body.length, null);
      case FRAME.ACK: return decodeAck(body);
      case FRAME.CALL: return decodeCall(body);
      case FRAME.REPLY: return decodeReply(body);
      case FRAME.PING: return decodeEmpty(body, { type: 'ping' });
      case FRAME.PONG: return decodeEmpty(body, { type: 'pong' });
      default: throw new LinkProtocolError('UNKNOWN_TYPE', `unknown frame type ${type}`);
    }
  } catch (e) {
    if (e instanceof LinkProtocolError) throw e;
    throw new LinkProtocolError('BAD_FIELD', `undecodable frame of type ${type}: ${(e as Error).message}`); // e.g. stack overflow on absurdly deep JSON
  }
}

function decodeFwdFrame(buf: Buffer, view: DataView, start: number, end: number, aliases: AliasIn): FwdFrame {
  try {
    return decodeFwd(buf, view, start, end, aliases);
  } catch (e) {
    if (e instanceof LinkProtocolError) throw e;
    throw new LinkProtocolError('BAD_FIELD', `undecodable FWD frame: ${(e as Error).message}`);
  }
}

/**
 * A resumable decoder: push() any chunks, get back the frames they complete. The frame length is
 * checked against maxFrame as soon as its 4 bytes are in, before any body is buffered. After the
 * first error the decoder is dead and every later push() throws that same error.
 */
export class LinkDecoder {
  readonly maxFrame: number;
  private chunks: Buffer[];
  private buffered: number;
  private need: number; // bytes of the frame being assembled, header included; 0 = header not read yet
  private error: LinkProtocolError | null;
  /** The strings the peer numbered on this connection. */
  private readonly aliases = new AliasIn();

  constructor(opts: { maxFrame?: number } = {}) {
    this.maxFrame = opts.maxFrame ?? DEFAULT_MAX_FRAME;
    this.chunks = [];
    this.buffered = 0;
    this.need = 0;
    this.error = null;
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /**
   * Appends the frames chunk completes to out (a new array by default) and returns it. On a
   * protocol error, out holds the frames decoded before the bad one, then the error is thrown.
   */
  push(chunk: Buffer, out: LinkFrame[] = []): LinkFrame[] {
    if (this.error) throw this.error;
    try {
      this.drain(chunk, out);
      return out;
    } catch (e) {
      this.error = e instanceof LinkProtocolError ? e : new LinkProtocolError('BAD_FIELD', String(e));
      this.chunks = [];
      this.buffered = 0;
      throw this.error;
    }
  }

  private drain(chunk: Buffer, out: LinkFrame[]): void {
    let buf = chunk;
    if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered < (this.need || 4)) return;
      buf = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
    }
    let pos = 0;
    const view = viewOf(buf);
    while (buf.length - pos >= 4) {
      const len = view.getUint32(pos);
      if (len === 0) throw new LinkProtocolError('EMPTY_FRAME', 'frame of length 0');
      if (len > this.maxFrame) throw new LinkProtocolError('FRAME_TOO_LARGE', `frame of ${len} bytes exceeds the maximum of ${this.maxFrame}`);
      if (buf.length - pos < 4 + len) break;
      // FWD, the frame of the hot path, is read in place; the others get their body as a view.
      out.push(buf[pos + 4] === FRAME.FWD ? decodeFwdFrame(buf, view, pos + 5, pos + 4 + len, this.aliases) : decodeBody(buf[pos + 4]!, buf.subarray(pos + 5, pos + 4 + len)));
      pos += 4 + len;
    }
    this.need = buf.length - pos >= 4 ? 4 + buf.readUInt32BE(pos) : 0;
    if (pos < buf.length) {
      this.chunks.push(buf.subarray(pos));
      this.buffered = buf.length - pos;
    }
  }
}
