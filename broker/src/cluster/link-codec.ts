/**
 * The node-to-node link's frames: `u32 length | u8 type | body` (length counts type and body).
 *
 *   HELLO  JSON {cluster, node, incarnation, proto}      first frame of every connection
 *   FWD    u32 seq | u8 flags | message | u16 n | n × (group, filter)
 *          seq 0 = no acknowledgement wanted (QoS 0); flags bit 0 = deliver to plain subscribers
 *   ACK    u32 n | n × u32 seq
 *   CALL   u32 id | JSON {method, args}
 *   REPLY  u32 id | JSON {ok, value} or {ok: false, error}
 *   PING / PONG   f64 sender's clock (echoed), for liveness and round-trip time
 *
 * A message: f64 id | u8 qos | u8 retain | str topic | str from | f64 timestamp | f64 expiresAt |
 * u32 properties JSON length (0 = none) + JSON (Buffers as {"$b64": …}) | u32 payload length + bytes;
 * str = u16 length + UTF-8. The decoder takes chunks of any size and throws LinkProtocolError on
 * anything it cannot read; the connection is then closed.
 */
import type { Message, PublishProperties, QoS } from '../types.js';

export const F = { HELLO: 1, FWD: 2, ACK: 3, CALL: 4, REPLY: 5, PING: 6, PONG: 7 } as const;

export class LinkProtocolError extends Error {
  constructor(message: string) { super(message); this.name = 'LinkProtocolError'; }
}

export interface Hello { cluster: string; node: string; incarnation: number; proto: number }
export interface Forward { seq: number; plain: boolean; msg: Message; groups: Array<[string, string]> }
export type Frame =
  | { type: typeof F.HELLO; hello: Hello }
  | { type: typeof F.FWD; fwd: Forward }
  | { type: typeof F.ACK; seqs: number[] }
  | { type: typeof F.CALL; id: number; method: string; args: unknown }
  | { type: typeof F.REPLY; id: number; ok: boolean; value: unknown; error: string }
  | { type: typeof F.PING | typeof F.PONG; time: number };

// ---- encoding ---------------------------------------------------------------------------------

function frame(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt32BE(body.length + 1, 0);
  out[4] = type;
  body.copy(out, 5);
  return out;
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v, (_k, x) => (isBufferJson(x) ? { $b64: Buffer.from((x as { data: number[] }).data).toString('base64') } : x)));
const isBufferJson = (x: unknown): boolean => typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'Buffer' && Array.isArray((x as { data?: unknown }).data);
const revive = (_k: string, x: unknown): unknown => (typeof x === 'object' && x !== null && typeof (x as { $b64?: unknown }).$b64 === 'string' && Object.keys(x).length === 1 ? Buffer.from((x as { $b64: string }).$b64, 'base64') : x);

export function encodeHello(h: Hello): Buffer { return frame(F.HELLO, json(h)); }

export function encodeForward(seq: number, plain: boolean, msg: Message, groups: ReadonlyArray<[string, string]>): Buffer {
  const topic = Buffer.from(msg.topic);
  const from = Buffer.from(msg.from);
  const props = msg.properties === null ? null : json(msg.properties);
  const gs = groups.map(([g, f]) => [Buffer.from(g), Buffer.from(f)] as const);
  let size = 4 + 1 + 8 + 1 + 1 + 2 + topic.length + 2 + from.length + 8 + 8 + 4 + (props?.length ?? 0) + 4 + msg.payload.length + 2;
  for (const [g, f] of gs) size += 4 + g.length + f.length;
  const b = Buffer.allocUnsafe(size);
  let o = b.writeUInt32BE(seq, 0);
  b[o++] = plain ? 1 : 0;
  o = b.writeDoubleBE(msg.id, o);
  b[o++] = msg.qos;
  b[o++] = msg.retain ? 1 : 0;
  o = b.writeUInt16BE(topic.length, o); o += topic.copy(b, o);
  o = b.writeUInt16BE(from.length, o); o += from.copy(b, o);
  o = b.writeDoubleBE(msg.timestamp, o);
  o = b.writeDoubleBE(msg.expiresAt, o);
  o = b.writeUInt32BE(props?.length ?? 0, o); if (props !== null) o += props.copy(b, o);
  o = b.writeUInt32BE(msg.payload.length, o); o += msg.payload.copy(b, o);
  o = b.writeUInt16BE(gs.length, o);
  for (const [g, f] of gs) {
    o = b.writeUInt16BE(g.length, o); o += g.copy(b, o);
    o = b.writeUInt16BE(f.length, o); o += f.copy(b, o);
  }
  return frame(F.FWD, b);
}

export function encodeAck(seqs: readonly number[]): Buffer {
  const b = Buffer.allocUnsafe(4 + 4 * seqs.length);
  b.writeUInt32BE(seqs.length, 0);
  for (let i = 0; i < seqs.length; i++) b.writeUInt32BE(seqs[i]!, 4 + 4 * i);
  return frame(F.ACK, b);
}

export function encodeCall(id: number, method: string, args: unknown): Buffer {
  const body = json({ method, args });
  const b = Buffer.allocUnsafe(4 + body.length);
  b.writeUInt32BE(id, 0);
  body.copy(b, 4);
  return frame(F.CALL, b);
}

export function encodeReply(id: number, ok: boolean, valueOrError: unknown): Buffer {
  const body = json(ok ? { ok: true, value: valueOrError ?? null } : { ok: false, error: String(valueOrError) });
  const b = Buffer.allocUnsafe(4 + body.length);
  b.writeUInt32BE(id, 0);
  body.copy(b, 4);
  return frame(F.REPLY, b);
}

export function encodePing(type: typeof F.PING | typeof F.PONG, time: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(time, 0);
  return frame(type, b);
}

// ---- decoding ---------------------------------------------------------------------------------

/** Reads one frame body; every read is bounds-checked. */
class Reader {
  private o = 0;
  constructor(private readonly b: Buffer, private readonly what: string) {}
  private need(n: number): void { if (this.o + n > this.b.length) throw new LinkProtocolError(`${this.what} frame truncated at byte ${this.o}`); }
  u8(): number { this.need(1); return this.b[this.o++]!; }
  u16(): number { this.need(2); const v = this.b.readUInt16BE(this.o); this.o += 2; return v; }
  u32(): number { this.need(4); const v = this.b.readUInt32BE(this.o); this.o += 4; return v; }
  f64(): number { this.need(8); const v = this.b.readDoubleBE(this.o); this.o += 8; return v; }
  bytes(n: number): Buffer { this.need(n); const v = this.b.subarray(this.o, this.o + n); this.o += n; return v; }
  str(): string { return this.bytes(this.u16()).toString(); }
  rest(): Buffer { const v = this.b.subarray(this.o); this.o = this.b.length; return v; }
  end(): void { if (this.o !== this.b.length) throw new LinkProtocolError(`${this.what} frame has ${this.b.length - this.o} bytes too many`); }
}

function parseJson(b: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try { v = JSON.parse(b.toString(), revive); } catch { throw new LinkProtocolError(`${what} frame: body is not JSON`); }
  if (typeof v !== 'object' || v === null) throw new LinkProtocolError(`${what} frame: body is not a JSON object`);
  return v as Record<string, unknown>;
}

function decodeBody(type: number, body: Buffer): Frame {
  switch (type) {
    case F.HELLO: {
      const h = parseJson(body, 'HELLO');
      if (typeof h.cluster !== 'string' || typeof h.node !== 'string' || h.node === '' || typeof h.incarnation !== 'number' || typeof h.proto !== 'number') {
        throw new LinkProtocolError('HELLO frame: needs cluster, node, incarnation and proto');
      }
      return { type, hello: h as unknown as Hello };
    }
    case F.FWD: {
      const r = new Reader(body, 'FWD');
      const seq = r.u32();
      const flags = r.u8();
      const id = r.f64();
      const qos = r.u8();
      if (qos > 2) throw new LinkProtocolError(`FWD frame: QoS ${qos}`);
      const retain = r.u8() === 1;
      const topic = r.str();
      if (topic === '') throw new LinkProtocolError('FWD frame: empty topic');
      const from = r.str();
      const timestamp = r.f64();
      const expiresAt = r.f64();
      const plen = r.u32();
      const properties = plen === 0 ? null : parseJson(r.bytes(plen), 'FWD properties') as PublishProperties;
      const payload = Buffer.from(r.bytes(r.u32()));
      const n = r.u16();
      const groups: Array<[string, string]> = [];
      for (let i = 0; i < n; i++) groups.push([r.str(), r.str()]);
      r.end();
      return { type, fwd: { seq, plain: (flags & 1) !== 0, groups, msg: { id, qos: qos as QoS, retain, topic, from, timestamp, expiresAt, properties, payload } } };
    }
    case F.ACK: {
      const r = new Reader(body, 'ACK');
      const n = r.u32();
      if (n * 4 !== body.length - 4) throw new LinkProtocolError(`ACK frame: ${n} seqs in ${body.length - 4} bytes`);
      const seqs: number[] = [];
      for (let i = 0; i < n; i++) seqs.push(r.u32());
      return { type, seqs };
    }
    case F.CALL: {
      const r = new Reader(body, 'CALL');
      const id = r.u32();
      const j = parseJson(r.rest(), 'CALL');
      if (typeof j.method !== 'string') throw new LinkProtocolError('CALL frame: no method');
      return { type, id, method: j.method, args: j.args };
    }
    case F.REPLY: {
      const r = new Reader(body, 'REPLY');
      const id = r.u32();
      const j = parseJson(r.rest(), 'REPLY');
      return { type, id, ok: j.ok === true, value: j.value, error: typeof j.error === 'string' ? j.error : 'remote error' };
    }
    case F.PING:
    case F.PONG: {
      const r = new Reader(body, type === F.PING ? 'PING' : 'PONG');
      const time = r.f64();
      r.end();
      return { type, time };
    }
    default:
      throw new LinkProtocolError(`unknown frame type ${type}`);
  }
}

/** Splits a byte stream into frames, whatever the chunking. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly maxFrame = 64 * 1024 * 1024) {}

  /** Feeds bytes; calls onFrame for every complete frame. Throws LinkProtocolError on bad input. */
  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let o = 0;
    while (this.buf.length - o >= 4) {
      const len = this.buf.readUInt32BE(o);
      if (len === 0 || len > this.maxFrame) throw new LinkProtocolError(`frame length ${len} (limit ${this.maxFrame})`);
      if (this.buf.length - o - 4 < len) break;
      const type = this.buf[o + 4]!;
      const body = this.buf.subarray(o + 5, o + 4 + len);
      o += 4 + len;
      onFrame(decodeBody(type, body));
    }
    this.buf = o === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(o);
  }
}
