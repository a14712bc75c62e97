/**
 * The wire formats of route summaries (route-summary.ts), as they sit in etcd, and the error the
 * summaries raise.
 *
 * Wire formats (little-endian):
 *   snapshot: 'P' 'S' | format 1 (u8) | k (u8) | epoch (u32) | m (u32) | n (u32) | m/8 bytes of bits
 *             (bit p is bit p&7 of byte p>>3)
 *   delta:    'P' 'D' | format 1 (u8) | epoch (varint) | count (varint) | count varints: the first
 *             position, then the gap to the previous one (positions strictly ascending)
 *
 * Both are refused whole (RouteSummaryError 'ROUTE_SUMMARY_MALFORMED') when truncated, when bytes
 * follow the last field, when a header field is out of range, or when delta positions do not ascend.
 */

export const FORMAT = 1;
export const SNAPSHOT_HEADER = 16;
export const FORMAT_BITS_MAX = 2 ** 31;
export const K_MAX = 32;

export type RouteSummaryErrorCode =
  | 'ROUTE_SUMMARY_MALFORMED'  // a snapshot or delta that is truncated, has a bad header or out-of-range positions
  | 'ROUTE_SUMMARY_OPTIONS';   // LocalSummary options out of range

export class RouteSummaryError extends Error {
  readonly code: RouteSummaryErrorCode;
  constructor(code: RouteSummaryErrorCode, message: string) {
    super(message);
    this.name = 'RouteSummaryError';
    this.code = code;
  }
}

export function malformed(what: string): RouteSummaryError {
  return new RouteSummaryError('ROUTE_SUMMARY_MALFORMED', `route summary: ${what}`);
}

// ---- varints (unsigned, 7 bits a byte, at most 5 bytes for a u32)

function varintSize(v: number): number {
  let s = 1;
  while (v >= 0x80) { v = Math.floor(v / 128); s++; }
  return s;
}

function writeVarint(buf: Buffer, at: number, v: number): number {
  while (v >= 0x80) {
    buf[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[at++] = v;
  return at;
}

class Reader {
  at: number;
  constructor(readonly buf: Buffer, at: number) { this.at = at; }
  varint(what: string): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      if (this.at >= this.buf.length) throw malformed(`delta truncated in ${what}`);
      const byte = this.buf[this.at++]!;
      v += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) {
        if (v > 0xffffffff) throw malformed(`delta ${what} exceeds 32 bits`);
        return v;
      }
      mul *= 128;
    }
    throw malformed(`delta ${what} is a varint longer than 5 bytes`);
  }
}

/** Encodes a delta record: the positions (any order, duplicates allowed) that went 0→1 in `epoch`. */
export function encodeDelta(epoch: number, positions: readonly number[] | Uint32Array): Buffer {
  const sorted = Uint32Array.from(positions).sort();
  let count = 0;
  let body = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i] === sorted[i - 1]) continue;
    body += varintSize(count === 0 ? sorted[i]! : sorted[i]! - sorted[i - 1]!);
    count++;
  }
  const buf = Buffer.allocUnsafe(3 + varintSize(epoch) + varintSize(count) + body);
  buf[0] = 0x50; buf[1] = 0x44; buf[2] = FORMAT;
  let at = writeVarint(buf, 3, epoch);
  at = writeVarint(buf, at, count);
  for (let i = 0, first = true; i < sorted.length; i++) {
    if (i > 0 && sorted[i] === sorted[i - 1]) continue;
    at = writeVarint(buf, at, first ? sorted[i]! : sorted[i]! - sorted[i - 1]!);
    first = false;
  }
  return buf;
}

/** Decodes a delta record; throws RouteSummaryError('ROUTE_SUMMARY_MALFORMED') on anything but a well-formed one. */
export function decodeDelta(buf: Buffer): { epoch: number; positions: Uint32Array } {
  if (buf.length < 5) throw malformed(`delta of ${buf.length} bytes is too short`);
  if (buf[0] !== 0x50 || buf[1] !== 0x44) throw malformed('delta does not start with "PD"');
  if (buf[2] !== FORMAT) throw malformed(`delta format ${buf[2]} (this node reads ${FORMAT})`);
  const r = new Reader(buf, 3);
  const epoch = r.varint('epoch');
  const count = r.varint('count');
  if (count > buf.length - r.at) throw malformed(`delta claims ${count} positions in ${buf.length - r.at} bytes`);
  const positions = new Uint32Array(count);
  let prev = -1;
  for (let i = 0; i < count; i++) {
    const v = r.varint('position');
    if (prev >= 0 && v === 0) throw malformed('delta positions are not strictly ascending');
    const p = prev < 0 ? v : prev + v;
    if (p > 0xffffffff) throw malformed('delta position exceeds 32 bits');
    positions[i] = p;
    prev = p;
  }
  if (r.at !== buf.length) throw malformed(`${buf.length - r.at} bytes after the last delta position`);
  return { epoch, positions };
}

export function writeSnapshot(k: number, epoch: number, m: number, n: number, bits: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(SNAPSHOT_HEADER + bits.length);
  buf[0] = 0x50; buf[1] = 0x53; buf[2] = FORMAT; buf[3] = k;
  buf.writeUInt32LE(epoch >>> 0, 4);
  buf.writeUInt32LE(m >>> 0, 8);
  buf.writeUInt32LE(n >>> 0, 12);
  buf.set(bits, SNAPSHOT_HEADER);
  return buf;
}

export function readSnapshotHeader(buf: Buffer): { k: number; epoch: number; m: number; n: number } {
    if (buf.length < SNAPSHOT_HEADER) throw malformed(`snapshot of ${buf.length} bytes is shorter than its ${SNAPSHOT_HEADER}-byte header`);
    if (buf[0] !== 0x50 || buf[1] !== 0x53) throw malformed('snapshot does not start with "PS"');
    if (buf[2] !== FORMAT) throw malformed(`snapshot format ${buf[2]} (this node reads ${FORMAT})`);
    const k = buf[3]!;
    if (k < 1 || k > K_MAX) throw malformed(`snapshot k ${k} is not in [1, ${K_MAX}]`);
    const epoch = buf.readUInt32LE(4);
    const m = buf.readUInt32LE(8);
    if (!isPowerOfTwo(m) || m < 8 || m > FORMAT_BITS_MAX) throw malformed(`snapshot m ${m} is not a power of two in [8, 2^31]`);
    const n = buf.readUInt32LE(12);
    if (buf.length !== SNAPSHOT_HEADER + m / 8) throw malformed(`snapshot of m=${m} needs ${SNAPSHOT_HEADER + m / 8} bytes, got ${buf.length}`);
    return { k, epoch, m, n };
}

function isPowerOfTwo(v: number): boolean {
  return v >= 1 && Number.isInteger(Math.log2(v));
}

