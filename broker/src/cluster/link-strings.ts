/**
 * The strings of FWD frames: topics and client ids, which repeat from message to message.
 *
 * - utf8(s): the UTF-8 bytes of a short string, remembered, so encoding one is a map lookup and a
 *   native copy instead of a per-character loop (a byte stored from JS costs ~2 ns here; a 30-byte
 *   topic and client id were half of a frame's encoding time).
 * - Aliases: on one link connection the sender numbers the strings it sends (AliasOut) and the
 *   receiver keeps them by number (AliasIn), as MQTT 5 topic aliases do; after its first frame a
 *   topic or client id costs two bytes on the wire and an array read to decode. Both tables live
 *   and die with the connection, so only frames written on it may use them: frames kept for a
 *   resend on a later connection (QoS 1/2) carry their strings in full.
 */
import { LinkProtocolError } from './link-codec-error.js';

/** Strings longer than this are neither remembered nor aliased: rare, and costly to keep. */
const SHORT = 256;
const BYTES_CAP = 16_384;
const bytesOf = new Map<string, Buffer>();

/** UTF-8 bytes of s, at most 65535 of them (`what` names the field in the error). */
export function utf8(s: string, what: string): Buffer {
  if (s.length <= SHORT) {
    const known = bytesOf.get(s);
    if (known !== undefined) return known;
  }
  const b = Buffer.from(s, 'utf8');
  if (b.length > 0xffff) throw new LinkProtocolError('ENCODE', `${what} is ${b.length} bytes, more than 65535`);
  if (s.length <= SHORT) {
    // Forgetting everything at once keeps the bound without bookkeeping; the hot strings return at once.
    if (bytesOf.size >= BYTES_CAP) bytesOf.clear();
    bytesOf.set(s, b);
  }
  return b;
}

/** Alias numbers: 15 bits (the 16th marks a definition on the wire). */
export const ALIAS_COUNT = 0x8000;

/**
 * The sender's table for one connection. Numbers are handed out in turn; when all are taken the
 * oldest is redefined (first in, first out), so a connection with more distinct strings than
 * numbers still works, only with longer frames.
 */
export class AliasOut {
  private readonly ids = new Map<string, number>();
  private readonly strs: string[] = [];
  private next = 0;

  /** The alias of s when the peer knows it, else -1. */
  known(s: string): number {
    if (s.length > SHORT) return -1;
    return this.ids.get(s) ?? -1;
  }

  /** A number for s that the frame being written will define (-1 when s is not aliased). */
  define(s: string): number {
    if (s.length > SHORT) return -1;
    const id = this.next;
    this.next = (id + 1) % ALIAS_COUNT;
    const old = this.strs[id];
    if (old !== undefined) this.ids.delete(old);
    this.strs[id] = s;
    this.ids.set(s, id);
    return id;
  }

  /** A new connection: the peer knows nothing yet. */
  reset(): void {
    this.ids.clear();
    this.strs.length = 0;
    this.next = 0;
  }
}

/** The receiver's table for one connection. */
export class AliasIn {
  private readonly strs: string[] = [];

  set(id: number, s: string): void {
    this.strs[id] = s;
  }

  get(id: number, what: string): string {
    const s = this.strs[id];
    if (s === undefined) throw new LinkProtocolError('BAD_FIELD', `FWD: ${what} alias ${id} was never defined on this connection`);
    return s;
  }
}
