/**
 * Block-wise transfer (RFC 7959) for one peer. Block1: a large request body arrives in
 * numbered blocks, each answered 2.31 Continue until the last (M=0), which the request handler
 * then sees whole. Block2: a body larger than `max_block_size` leaves in its first block and
 * is kept (per URI) so the client can GET the following blocks.
 *
 * Both live at most `exchange_lifetime`; a gap in block numbers is 4.08 Request Entity
 * Incomplete and a body beyond `max_body_size` 4.13 Request Entity Too Large (§2.9).
 */
import type { Block } from './message.js';

interface Assembly { parts: Buffer[]; bytes: number; next: number; size: number; at: number }
interface Body { body: Buffer; at: number }

export type Block1Result =
  | { kind: 'continue'; block: Block }
  | { kind: 'complete'; body: Buffer; block: Block }
  | { kind: 'error'; code: '4.08' | '4.13'; message: string };

/** At most this many transfers in each direction per peer; the oldest is dropped beyond it. */
const MAX_TRANSFERS = 16;

export class Blockwise {
  private readonly maxBody: number;
  private readonly lifetimeMs: number;
  private readonly incoming = new Map<string, Assembly>();
  private readonly outgoing = new Map<string, Body>();

  constructor(maxBody: number, lifetimeMs: number) {
    this.maxBody = maxBody;
    this.lifetimeMs = lifetimeMs;
  }

  /** One Block1 block of the request to `key` (method + URI). */
  block1(key: string, b: Block, payload: Buffer, now: number): Block1Result {
    let a = this.incoming.get(key);
    if (b.num === 0) {
      a = { parts: [], bytes: 0, next: 0, size: b.size, at: now };
      this.incoming.delete(key);
      if (this.incoming.size >= MAX_TRANSFERS) this.incoming.delete(this.incoming.keys().next().value!);
      this.incoming.set(key, a);
    }
    if (a === undefined || b.num !== a.next) {
      // A repeated block (our 2.31 was lost) is answered again without being added twice.
      if (a !== undefined && b.num === a.next - 1) return { kind: 'continue', block: { num: b.num, more: true, size: b.size } };
      this.incoming.delete(key);
      return { kind: 'error', code: '4.08', message: `block ${b.num} out of order` };
    }
    if (b.more && payload.length !== b.size) { this.incoming.delete(key); return { kind: 'error', code: '4.08', message: 'a block that is not the last must be full' }; }
    a.bytes += payload.length;
    if (a.bytes > this.maxBody) { this.incoming.delete(key); return { kind: 'error', code: '4.13', message: `body above max_body_size (${this.maxBody} bytes)` }; }
    a.parts.push(payload);
    a.next++;
    a.at = now;
    if (b.more) return { kind: 'continue', block: { num: b.num, more: true, size: b.size } };
    this.incoming.delete(key);
    return { kind: 'complete', body: Buffer.concat(a.parts, a.bytes), block: { num: b.num, more: false, size: b.size } };
  }

  /** Keeps a large body sent in blocks under `key` (the URI) for the follow-up GETs. */
  keep(key: string, body: Buffer, now: number): void {
    this.outgoing.delete(key);
    if (this.outgoing.size >= MAX_TRANSFERS) this.outgoing.delete(this.outgoing.keys().next().value!);
    this.outgoing.set(key, { body, at: now });
  }

  /** Block `num` of size `size` of the body kept under `key`; null when none is kept or it is past the end. */
  slice(key: string, num: number, size: number): { payload: Buffer; block: Block } | null {
    const o = this.outgoing.get(key);
    if (o === undefined) return null;
    return sliceBody(o.body, num, size);
  }

  expire(now: number): void {
    const deadline = now - this.lifetimeMs;
    for (const [k, a] of this.incoming) if (a.at < deadline) this.incoming.delete(k);
    for (const [k, o] of this.outgoing) if (o.at < deadline) this.outgoing.delete(k);
  }
}

export function sliceBody(body: Buffer, num: number, size: number): { payload: Buffer; block: Block } | null {
  const start = num * size;
  if (start >= body.length && !(start === 0 && body.length === 0)) return null;
  const end = Math.min(body.length, start + size);
  return { payload: body.subarray(start, end), block: { num, more: end < body.length, size } };
}
