/**
 * MqttParser: a resumable, byte-level MQTT frame parser that reads straight off socket chunks.
 *
 * State machine over the fixed header (1 byte: type + flags), the remaining length (1-4 byte
 * Variable Byte Integer) and the body. The header flags and the remaining length are validated as
 * soon as they arrive, and the total packet size is checked against maxPacketSize before a single
 * body byte is buffered, so a peer announcing a 256 MB packet costs us nothing. A body that lies
 * wholly inside the current chunk is decoded in place (no copy); one that spans chunks is copied
 * into a body buffer that grows (doubling) up to exactly its size as bytes arrive. After the first error the parser is dead: it reports that
 * one error through handler.error and ignores all further input. It never throws on bad input.
 *
 * protocolVersion starts at 4 and is learned from the CONNECT packet (as soon as its protocol
 * level byte is read and accepted); a client-side user (bridge) sets it after CONNACK.
 */
import { REQUIRED_FLAGS, T_AUTH, T_PUBLISH } from './constants.js';
import { BodyReader, decodeBody, type DecodeContext } from './decode.js';
import { CodecError } from './errors.js';
import type { Packet, ProtocolVersion } from './types.js';

export interface ParserHandler {
  packet(p: Packet): void;
  error(e: CodecError): void;
}

export interface ParserOptions {
  /** Largest accepted packet in bytes, fixed header included (MQTT 5 "Maximum Packet Size"). */
  maxPacketSize: number;
  protocolVersion?: ProtocolVersion;
}

const EMPTY = Buffer.alloc(0);
const INITIAL_BODY = 16 * 1024;
const S_HEADER = 0;
const S_LENGTH = 1;
const S_BODY = 2;

export class MqttParser implements DecodeContext {
  protocolVersion: ProtocolVersion;
  /** Set by a CONNECT whose protocol level has the 0x80 bridge bit (mosquitto bridges). */
  bridgeMode = false;
  maxPacketSize: number;
  private readonly handler: ParserHandler;
  private readonly reader = new BodyReader();
  private state = S_HEADER;
  private first = 0;
  private remaining = 0;
  private mul = 1;
  private lenBytes = 0;
  private acc: Buffer | null = null;
  private filled = 0;
  private dead = false;

  constructor(handler: ParserHandler, opts: ParserOptions) {
    this.handler = handler;
    this.maxPacketSize = opts.maxPacketSize;
    this.protocolVersion = opts.protocolVersion ?? 4;
  }

  /** True once an error was reported or destroy() was called. */
  get destroyed(): boolean {
    return this.dead;
  }

  /** Stop emitting: the rest of the current chunk and all later chunks are ignored. */
  destroy(): void {
    this.dead = true;
    this.acc = null;
  }

  execute(chunk: Buffer): void {
    const len = chunk.length;
    let pos = 0;
    while (pos < len && !this.dead) {
      if (this.state === S_HEADER) {
        const first = chunk[pos++]!;
        if (!this.checkHeader(first)) return;
        this.first = first;
        // Fast path: one-byte remaining length and the whole body in this chunk.
        if (pos < len) {
          const rl = chunk[pos]!;
          if (rl < 128 && len - pos - 1 >= rl) {
            if (2 + rl > this.maxPacketSize) {
              this.fail(new CodecError('PACKET_TOO_LARGE', `packet of ${2 + rl} bytes exceeds maximum ${this.maxPacketSize}`));
              return;
            }
            pos++;
            this.dispatch(chunk, pos, pos + rl);
            pos += rl;
            continue;
          }
        }
        this.remaining = 0;
        this.mul = 1;
        this.lenBytes = 0;
        this.state = S_LENGTH;
      } else if (this.state === S_LENGTH) {
        const c = chunk[pos++]!;
        this.remaining += (c & 0x7f) * this.mul;
        this.mul *= 128;
        if (++this.lenBytes === 4 && c & 0x80) {
          this.fail(new CodecError('MALFORMED', 'remaining length longer than 4 bytes')); // [MQTT-1.5.5]
          return;
        }
        if (c & 0x80) continue;
        const remaining = this.remaining;
        if (1 + this.lenBytes + remaining > this.maxPacketSize) {
          this.fail(new CodecError('PACKET_TOO_LARGE', `packet of ${1 + this.lenBytes + remaining} bytes exceeds maximum ${this.maxPacketSize}`));
          return;
        }
        this.state = S_HEADER;
        if (len - pos >= remaining) {
          const end = pos + remaining;
          this.dispatch(chunk, pos, end);
          pos = end;
        } else {
          // Buffer the body in a growing copy: memory tracks what the peer actually sent (at most
          // twice that, plus 16 KiB), not the length it announced, and the caller's chunks are not
          // retained.
          const have = len - pos;
          const acc = Buffer.allocUnsafe(Math.min(remaining, Math.max(INITIAL_BODY, have)));
          chunk.copy(acc, 0, pos, len);
          this.acc = acc;
          this.filled = have;
          this.state = S_BODY;
          return;
        }
      } else {
        const remaining = this.remaining;
        const filled = this.filled;
        const need = remaining - filled;
        const n = len - pos < need ? len - pos : need;
        let acc = this.acc!;
        if (filled + n > acc.length) {
          const grown = Buffer.allocUnsafe(Math.min(remaining, Math.max(acc.length * 2, filled + n)));
          acc.copy(grown, 0, 0, filled);
          this.acc = acc = grown;
        }
        chunk.copy(acc, filled, pos, pos + n);
        this.filled = filled + n;
        pos += n;
        if (this.filled === remaining) {
          this.acc = null;
          this.state = S_HEADER;
          this.dispatch(acc, 0, remaining);
        }
      }
    }
  }

  /** Validate the fixed header's first byte. [MQTT-2.2.2-1] [MQTT-2.2.2-2] */
  private checkHeader(first: number): boolean {
    const type = first >> 4;
    const flags = first & 0x0f;
    if (type === T_PUBLISH) {
      const qos = (first >> 1) & 3;
      if (qos === 3) return this.fail(new CodecError('MALFORMED', 'PUBLISH QoS must not be 3', 'publish')); // [MQTT-3.3.1-4]
      if (qos === 0 && flags & 0x08) return this.fail(new CodecError('MALFORMED', 'DUP must be 0 for QoS 0 PUBLISH', 'publish')); // [MQTT-3.3.1-2]
      return true;
    }
    if (type === 0) return this.fail(new CodecError('MALFORMED', 'reserved packet type 0'));
    if (type === T_AUTH && this.protocolVersion !== 5) return this.fail(new CodecError('MALFORMED', 'AUTH is only valid in MQTT 5'));
    if (flags !== REQUIRED_FLAGS[type]) {
      return this.fail(new CodecError('MALFORMED', `invalid fixed header flags 0x${flags.toString(16)} for packet type ${type}`));
    }
    return true;
  }

  private dispatch(buf: Buffer, start: number, end: number): void {
    const r = this.reader;
    r.buf = buf;
    r.pos = start;
    r.end = end;
    let packet: Packet;
    try {
      packet = decodeBody(r, this.first, this);
    } catch (e) {
      r.buf = EMPTY;
      this.fail(e instanceof CodecError ? e : new CodecError('MALFORMED', `undecodable packet: ${String(e)}`));
      return;
    }
    r.buf = EMPTY; // do not keep the last socket chunk alive between packets
    try {
      this.handler.packet(packet);
    } catch (e) {
      // The rest of the chunk is lost with this stack frame: the stream cannot be resumed.
      this.dead = true;
      throw e;
    }
  }

  private fail(e: CodecError): false {
    this.dead = true;
    this.acc = null;
    this.handler.error(e);
    return false;
  }
}
