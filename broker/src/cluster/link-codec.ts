/**
 * The cluster link's wire format: the frames two Petrel nodes exchange over their node-to-node
 * connection (link.ts), and a pure, resumable decoder for them.
 *
 *   frame = u32 BE length (of type + body) | u8 type | body
 *
 *   1 HELLO  JSON {cluster, node, incarnation, proto: 1}         dialler → acceptor, then the answer
 *   2 FWD    u32 seq (0 = no ack wanted) | u8 flags (bit0 plain) | message | u16 n | n × (group, filter)
 *            message = f64 id | u8 qos | u8 retain | str topic | str from | f64 timestamp
 *                      | f64 expiresAt | u32 len + JSON properties (0 = null) | u32 len + payload
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

export const LINK_PROTO = 1;
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;

export const FRAME = { HELLO: 1, FWD: 2, ACK: 3, CALL: 4, REPLY: 5, PING: 6, PONG: 7 } as const;

export interface HelloFrame { type: 'hello'; cluster: string; node: string; incarnation: number; proto: number }
export interface FwdFrame { type: 'fwd'; seq: number; plain: boolean; msg: Message; groups: Array<[string, string]> }
export interface AckFrame { type: 'ack'; seqs: number[] }
export interface CallFrame { type: 'call'; id: number; method: string; args: unknown }
export type ReplyFrame =
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };
export interface PingFrame { type: 'ping' }
export interface PongFrame { type: 'pong' }
export type LinkFrame = HelloFrame | FwdFrame | AckFrame | CallFrame | ReplyFrame | PingFrame | PongFrame;

/**
 * Codes of LinkProtocolError:
 * - FRAME_TOO_LARGE: the announced length exceeds maxFrame (checked before any body is buffered)
 * - EMPTY_FRAME: a length of 0 (no type byte)
 * - UNKNOWN_TYPE: a type byte outside 1..7
 * - TRUNCATED: a field runs past the end of its frame
 * - OVERLONG: bytes left over after the last field
 * - BAD_FIELD: a field holds a value it must not (qos 3, a flag bit, JSON of the wrong shape…)
 * - BAD_PROTO: HELLO names a protocol version other than LINK_PROTO
 * - ENCODE: a value cannot be encoded (a string longer than its u16 length field)
 */
export type LinkErrorCode = 'FRAME_TOO_LARGE' | 'EMPTY_FRAME' | 'UNKNOWN_TYPE' | 'TRUNCATED' | 'OVERLONG' | 'BAD_FIELD' | 'BAD_PROTO' | 'ENCODE';

export class LinkProtocolError extends Error {
  readonly code: LinkErrorCode;
  constructor(code: LinkErrorCode, message: string) {
    super(`cluster link: ${message}`);
    this.name = 'LinkProtocolError';
    this.code = code;
  }
}

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

/** UTF-8 length of s; topics and client ids are mostly ASCII, counted without leaving JS. */
function strLen(s: string, what: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) { n = Buffer.byteLength(s, 'utf8'); break; }
  }
  if (n > 0xffff) throw new LinkProtocolError('ENCODE', `${what} is ${n} bytes, more than 65535`);
  return n;
}

/** u16 length + UTF-8 bytes of s (n from strLen); short ASCII strings copied byte by byte. */
function putStr(b: Buffer, off: number, s: string, n: number): number {
  b[off] = n >>> 8;
  b[off + 1] = n & 0xff;
  off += 2;
  if (n === s.length && n <= 64) {
    for (let i = 0; i < n; i++) b[off + i] = s.charCodeAt(i);
  } else {
    b.write(s, off, n, 'utf8');
  }
  return off + n;
}

function jsonFrame(type: number, value: unknown, id: number | null): Buffer {
  const json = jsonBytes(value);
  const head = id === null ? 0 : 4;
  const b = frameBuffer(type, head + json.length);
  if (id !== null) b.writeUInt32BE(id, 5);
  json.copy(b, 5 + head);
  return b;
}

export function encodeHello(cluster: string, node: string, incarnation: number): Buffer {
  return jsonFrame(FRAME.HELLO, { cluster, node, incarnation, proto: LINK_PROTO }, null);
}

/** Where FWD frames are written: a writer's shared chunk (see LinkWriter). */
export interface FrameSink {
  /** The chunk reserve() hands out space in. */
  readonly chunk: Buffer;
  /** Offset of n free bytes in `chunk`, or -1 when the frame should be a buffer of its own. */
  reserve(n: number): number;
  /** The n bytes reserved last are written; they go out with the next flush. */
  commit(n: number): void;
  /** Queues a frame that has a buffer of its own. */
  push(frame: Buffer): void;
}

/** The sizes a FWD frame needs, measured once and used to write it. */
interface FwdLayout { size: number; topicLen: number; fromLen: number; props: Buffer | null; groupLens: number[] | null }

/** One layout reused by every encode (encoding is synchronous): nothing allocated per message. */
const LAYOUT: FwdLayout = { size: 0, topicLen: 0, fromLen: 0, props: null, groupLens: null };

function fwdLayout(msg: Message, groups: ReadonlyArray<readonly [string, string]>): FwdLayout {
  const topicLen = strLen(msg.topic, 'topic');
  const fromLen = strLen(msg.from, 'from');
  const props = msg.properties === null ? null : jsonBytes(msg.properties);
  if (groups.length > 0xffff) throw new LinkProtocolError('ENCODE', `${groups.length} groups, more than 65535`);
  let size = 5 + 4 + 1 + 8 + 1 + 1 + 2 + topicLen + 2 + fromLen + 8 + 8 + 4 + (props?.length ?? 0) + 4 + msg.payload.length + 2;
  let groupLens: number[] | null = null;
  if (groups.length > 0) {
    groupLens = [];
    for (const [g, f] of groups) {
      const gl = strLen(g, 'group');
      const fl = strLen(f, 'group filter');
      groupLens.push(gl, fl);
      size += 4 + gl + fl;
    }
  }
  const L = LAYOUT;
  L.size = size;
  L.topicLen = topicLen;
  L.fromLen = fromLen;
  L.props = props;
  L.groupLens = groupLens;
  return L;
}

/** Writes a whole FWD frame (header included) at b[o]; returns the offset after it. */
function writeFwd(b: Buffer, o: number, L: FwdLayout, seq: number, plain: boolean, msg: Message, groups: ReadonlyArray<readonly [string, string]>): number {
  o = b.writeUInt32BE(L.size - 4, o);
  b[o++] = FRAME.FWD;
  o = b.writeUInt32BE(seq, o);
  b[o++] = plain ? 1 : 0;
  o = b.writeDoubleBE(msg.id, o);
  b[o++] = msg.qos;
  b[o++] = msg.retain ? 1 : 0;
  o = putStr(b, o, msg.topic, L.topicLen);
  o = putStr(b, o, msg.from, L.fromLen);
  o = b.writeDoubleBE(msg.timestamp, o);
  o = b.writeDoubleBE(msg.expiresAt, o);
  const props = L.props;
  o = b.writeUInt32BE(props?.length ?? 0, o);
  if (props !== null) o += props.copy(b, o);
  o = b.writeUInt32BE(msg.payload.length, o);
  o += msg.payload.copy(b, o);
  o = b.writeUInt16BE(groups.length, o);
  const lens = L.groupLens;
  if (lens !== null) {
    for (let i = 0; i < groups.length; i++) {
      o = putStr(b, o, groups[i]![0], lens[2 * i]!);
      o = putStr(b, o, groups[i]![1], lens[2 * i + 1]!);
    }
  }
  return o;
}

export function encodeFwd(seq: number, plain: boolean, msg: Message, groups: ReadonlyArray<readonly [string, string]>): Buffer {
  const L = fwdLayout(msg, groups);
  const b = Buffer.allocUnsafe(L.size);
  writeFwd(b, 0, L, seq, plain, msg, groups);
  return b;
}

/**
 * Encodes a FWD frame straight into the sink's shared chunk (no buffer per frame, and one socket
 * write per flush for all of them) and queues it. Returns a view of the frame when `keep` (QoS 1/2:
 * resent until acknowledged), else null.
 */
export function encodeFwdInto(sink: FrameSink, keep: boolean, seq: number, plain: boolean, msg: Message, groups: ReadonlyArray<readonly [string, string]>): Buffer | null {
  const L = fwdLayout(msg, groups);
  const at = sink.reserve(L.size);
  if (at < 0) {
    const b = Buffer.allocUnsafe(L.size);
    writeFwd(b, 0, L, seq, plain, msg, groups);
    sink.push(b);
    return b;
  }
  const chunk = sink.chunk;
  writeFwd(chunk, at, L, seq, plain, msg, groups);
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
    case 'hello': return encodeHello(f.cluster, f.node, f.incarnation);
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
  constructor(readonly buf: Buffer, readonly what: string, start = 0, readonly end_ = buf.length) {
    this.pos = start;
  }
  private need(n: number, field: string): number {
    const at = this.pos;
    if (at + n > this.end_) throw new LinkProtocolError('TRUNCATED', `${this.what}: ${field} runs past the end of the frame`);
    this.pos = at + n;
    return at;
  }
  u8(field: string): number { return this.buf[this.need(1, field)]!; }
  u16(field: string): number { const at = this.need(2, field); return (this.buf[at]! << 8) | this.buf[at + 1]!; }
  u32(field: string): number { return this.buf.readUInt32BE(this.need(4, field)); }
  f64(field: string): number { return this.buf.readDoubleBE(this.need(8, field)); }
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
  const { cluster, node, incarnation, proto } = v;
  if (typeof cluster !== 'string' || typeof node !== 'string' || node === '') throw bad('HELLO', 'cluster and node must be strings, node not empty');
  if (typeof incarnation !== 'number' || !Number.isFinite(incarnation)) throw bad('HELLO', 'incarnation must be a number');
  if (proto !== LINK_PROTO) throw new LinkProtocolError('BAD_PROTO', `HELLO: protocol ${JSON.stringify(proto)} is not ${LINK_PROTO}`);
  return { type: 'hello', cluster, node, incarnation, proto };
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

function decodeMessage(r: BodyReader): Message {
  const id = r.f64('id');
  if (!Number.isSafeInteger(id) || id < 0) throw bad('FWD', `message id ${id} is not an integer in 0..2^53`);
  const qos = r.u8('qos');
  if (qos > 2) throw bad('FWD', `qos ${qos}`);
  const retain = r.u8('retain');
  if (retain > 1) throw bad('FWD', `retain ${retain}`);
  const topic = r.str('topic');
  const from = r.str('from');
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

function decodeFwd(buf: Buffer, start: number, end: number): FwdFrame {
  const r = new BodyReader(buf, 'FWD', start, end);
  const seq = r.u32('seq');
  const flags = r.u8('flags');
  if (flags > 1) throw bad('FWD', `reserved flag bits 0x${flags.toString(16)}`);
  const msg = decodeMessage(r);
  if (seq === 0 && msg.qos > 0) throw bad('FWD', `QoS ${msg.qos} message without a seq`);
  const n = r.u16('group count');
  let groups = NO_GROUPS;
  if (n > 0) {
    groups = [];
    for (let i = 0; i < n; i++) groups.push([r.str('group'), r.str('group filter')]);
  }
  r.end();
  return { type: 'fwd', seq, plain: flags === 1, msg, groups };
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
      case FRAME.FWD: return decodeFwd(body, 0, body.length);
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

function decodeFwdFrame(buf: Buffer, start: number, end: number): FwdFrame {
  try {
    return decodeFwd(buf, start, end);
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
    while (buf.length - pos >= 4) {
      const len = buf.readUInt32BE(pos);
      if (len === 0) throw new LinkProtocolError('EMPTY_FRAME', 'frame of length 0');
      if (len > this.maxFrame) throw new LinkProtocolError('FRAME_TOO_LARGE', `frame of ${len} bytes exceeds the maximum of ${this.maxFrame}`);
      if (buf.length - pos < 4 + len) break;
      // FWD, the frame of the hot path, is read in place; the others get their body as a view.
      out.push(buf[pos + 4] === FRAME.FWD ? decodeFwdFrame(buf, pos + 5, pos + 4 + len) : decodeBody(buf[pos + 4]!, buf.subarray(pos + 5, pos + 4 + len)));
      pos += 4 + len;
    }
    this.need = buf.length - pos >= 4 ? 4 + buf.readUInt32BE(pos) : 0;
    if (pos < buf.length) {
      this.chunks.push(buf.subarray(pos));
      this.buffered = buf.length - pos;
    }
  }
}
