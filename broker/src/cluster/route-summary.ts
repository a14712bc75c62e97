/**
 * Route summaries: how a node tells the cluster which topics it MAY have subscribers for,
 * without one etcd key per (filter, node). The decision and its numbers: docs/cluster.md.
 *
 * Filters split in two:
 *
 * - explicit: a filter whose FIRST level is a wildcard (`#`, `+/…`) and every shared filter
 *   (`$share/g/…`, `$queue/…`). There are few of them; they stay exact routes, one key per
 *   (node, filter), in every node's RouteTable. `literalPrefix()` returns null for them.
 * - summarised: every other filter, keyed by its LITERAL PREFIX (the levels before the first
 *   wildcard, the whole filter when there is none) and by what may follow the prefix:
 *
 *       filter            prefix     tail     matches topics that…
 *       `dev/7/cmd`       dev/7/cmd  exact    are the prefix itself
 *       `dev/7/#`         dev/7      hash     are the prefix or start with `prefix/`
 *       `dev/7/+/temp`    dev/7      more     start with `prefix/` (at least one more level)
 *       `site/+`          site       more
 *
 *   The tail is part of the key (`prefix NUL tail`), so `a/b/+` is not reported for the topic
 *   `a/b` and `a/b` (exact) is not reported for `a/b/c`. `more` does not count levels: `a/+`
 *   is reported for `a/x/y` — a false positive, the receiver's own index finds no subscriber.
 *
 * Each node keeps a counting Bloom filter of its keys (LocalSummary): m positions (a power of
 * two), k positions per key by double hashing, one 8-bit saturating counter per position so a
 * key can be removed locally. It publishes a snapshot (header + bit array) and, in between,
 * DELTAS listing the positions that went 0→1. A position that goes 1→0 is only published by the
 * next snapshot: until then the other nodes see a stale 1, which can only cause a false
 * positive, never a lost message. When the keys outgrow m (more than m / bitsPerEntry), m
 * doubles, the filter is rebuilt from the keys and the EPOCH goes up: deltas of another epoch
 * are refused by the other nodes, which wait for the new snapshot.
 *
 * Every other node holds a RemoteSummary (the bit array only) per node. A publisher hashes the
 * topic's keys once (TopicProbe: for `l1/…/ln`, `l1…li NUL hash` for every i, `l1…li NUL more`
 * for i < n, `l1…ln NUL exact`) and tests them against each node's bits: no rehashing per node.
 * No false negatives: a filter F matches topic T only if T starts with F's literal prefix P,
 * and then T's probe contains F's key (exact: T = P; hash: T has P's levels; more: T has more).
 *
 * Hashes are over UTF-16 code units (both ends compute them the same way): FNV-1a and a
 * murmur3-style mix per code unit, each finished with murmur3's fmix32; h2 is made odd so
 * the k positions (h1 + i·h2) mod m are distinct for k ≤ m.
 *
 * Wire formats (little-endian):
 *   snapshot: 'P' 'S' | format 1 (u8) | k (u8) | epoch (u32) | m (u32) | n (u32) | m/8 bytes of bits
 *             (bit p is bit p&7 of byte p>>3)
 *   delta:    'P' 'D' | format 1 (u8) | epoch (varint) | count (varint) | count varints: the first
 *             position, then the gap to the previous one (positions strictly ascending)
 */

const FORMAT = 1;
const SNAPSHOT_HEADER = 16;
const MIN_BITS = 1024;
const MAX_BITS = 2 ** 31;
const MAX_K = 32;
const SLASH = 47;
const NUL = 0;
/** The tail markers: the code unit hashed after the NUL that ends the prefix. */
const TAIL_EXACT = 61; // '='
const TAIL_HASH = 35;  // '#'
const TAIL_MORE = 43;  // '+'

export type PrefixTail = 'exact' | 'hash' | 'more';

export interface LiteralPrefix {
  /** The levels before the first wildcard, joined by `/` (the whole filter when it has none). */
  prefix: string;
  /** What may follow the prefix: nothing, anything (`#`), or at least one more level (`+`). */
  tail: PrefixTail;
}

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

function malformed(what: string): RouteSummaryError {
  return new RouteSummaryError('ROUTE_SUMMARY_MALFORMED', `route summary: ${what}`);
}

/**
 * The filter's summary key, or null when the filter is an explicit route (first level a
 * wildcard, or a shared subscription). The filter is assumed valid (parseFilter / validTopicFilter).
 */
export function literalPrefix(filter: string): LiteralPrefix | null {
  if (filter.startsWith('$share/') || filter.startsWith('$queue/')) return null;
  // `$exclusive/f` routes like f: exclusivity is the subscribing node's business
  const f = filter.startsWith('$exclusive/') ? filter.slice(11) : filter;
  let levelStart = 0;
  for (let i = 0; i <= f.length; i++) {
    if (i < f.length && f.charCodeAt(i) !== SLASH) continue;
    const c = f.charCodeAt(levelStart);
    const oneChar = i - levelStart === 1;
    if (oneChar && (c === TAIL_HASH || c === TAIL_MORE)) {
      if (levelStart === 0) return null;
      return { prefix: f.slice(0, levelStart - 1), tail: c === TAIL_HASH ? 'hash' : 'more' };
    }
    levelStart = i + 1;
  }
  return { prefix: f, tail: 'exact' };
}

function tailCode(tail: PrefixTail): number {
  return tail === 'exact' ? TAIL_EXACT : tail === 'hash' ? TAIL_HASH : TAIL_MORE;
}

/** The key as LocalSummary counts it: `prefix NUL marker`, the very code units that are hashed. */
function keyOf(lp: LiteralPrefix): string {
  return `${lp.prefix}\u0000${String.fromCharCode(tailCode(lp.tail))}`;
}

// ---- hashing: two running 32-bit states over the code units, finished per key

function stepA(a: number, c: number): number {
  return Math.imul(a ^ c, 0x01000193);
}

function stepB(b: number, c: number): number {
  let k = Math.imul(c, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  b ^= k;
  b = (b << 13) | (b >>> 19);
  return (Math.imul(b, 5) + 0xe6546b64) | 0;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const A0 = 0x811c9dc5 | 0;
const B0 = 0x9747b28c | 0;

/** h1 and h2 of a key whose prefix states are (a, b, len), extended by NUL and the tail marker. */
function finish(a: number, b: number, len: number, tail: number, out: Int32Array, at: number): void {
  a = stepA(stepA(a, NUL), tail);
  b = stepB(stepB(b, NUL), tail);
  out[at] = fmix32(a) | 0;
  out[at + 1] = (fmix32(b ^ (len + 2)) | 1) | 0;
}

const keyScratch = new Int32Array(2);

function hashKey(prefix: string, tail: number): Int32Array {
  let a = A0;
  let b = B0;
  for (let i = 0; i < prefix.length; i++) {
    const c = prefix.charCodeAt(i);
    a = stepA(a, c);
    b = stepB(b, c);
  }
  finish(a, b, prefix.length, tail, keyScratch, 0);
  return keyScratch;
}

/**
 * The hashes of every key a topic can match, computed once per publish and tested against any
 * number of RemoteSummaries. Reuse one probe: set() allocates only when a topic has more levels
 * than any before.
 */
export class TopicProbe {
  /** Pairs (h1, h2), `count` of them. */
  hashes: Int32Array;
  count: number;
  topic: string;

  constructor(topic?: string) {
    this.hashes = new Int32Array(32);
    this.count = 0;
    this.topic = '';
    if (topic !== undefined) this.set(topic);
  }

  set(topic: string): this {
    this.topic = topic;
    let levels = 1;
    for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === SLASH) levels++;
    const need = 2 * (2 * levels);
    if (this.hashes.length < need) this.hashes = new Int32Array(need * 2);
    const h = this.hashes;
    let n = 0;
    let a = A0;
    let b = B0;
    for (let i = 0; i < topic.length; i++) {
      const c = topic.charCodeAt(i);
      if (c === SLASH) {
        // the prefix topic[0, i) followed by at least one more level: `hash` and `more` keys
        finish(a, b, i, TAIL_HASH, h, n); n += 2;
        finish(a, b, i, TAIL_MORE, h, n); n += 2;
      }
      a = stepA(a, c);
      b = stepB(b, c);
    }
    finish(a, b, topic.length, TAIL_EXACT, h, n); n += 2;
    finish(a, b, topic.length, TAIL_HASH, h, n); n += 2;
    this.count = n >> 1;
    return this;
  }
}

// ---- bit arrays

function testKey(bits: Uint8Array, mask: number, k: number, h1: number, h2: number): boolean {
  let p = h1;
  for (let i = 0; i < k; i++) {
    const q = p & mask;
    if ((bits[q >>> 3]! & (1 << (q & 7))) === 0) return false;
    p = (p + h2) | 0;
  }
  return true;
}

function popcount(bits: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) {
    let v = bits[i]!;
    v = v - ((v >> 1) & 0x55);
    v = (v & 0x33) + ((v >> 2) & 0x33);
    n += (v + (v >> 4)) & 0x0f;
  }
  return n;
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

function writeSnapshot(k: number, epoch: number, m: number, n: number, bits: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(SNAPSHOT_HEADER + bits.length);
  buf[0] = 0x50; buf[1] = 0x53; buf[2] = FORMAT; buf[3] = k;
  buf.writeUInt32LE(epoch >>> 0, 4);
  buf.writeUInt32LE(m >>> 0, 8);
  buf.writeUInt32LE(n >>> 0, 12);
  buf.set(bits, SNAPSHOT_HEADER);
  return buf;
}

function isPowerOfTwo(v: number): boolean {
  return v >= 1 && Number.isInteger(Math.log2(v));
}

// ---- the local, counting side

export interface LocalSummaryOptions {
  /** Positions per key the filter is sized for: m grows (doubles) when n > m / bitsPerEntry. Default 20
   *  (k 14): a 3-level topic then tests positive on ≈ 2·10⁻⁴ of the nodes without a subscriber (docs/cluster.md). */
  bitsPerEntry?: number;
  /** Positions per key; default round(bitsPerEntry · ln 2), the false-positive optimum. */
  k?: number;
  /** m at start (rounded up to a power of two, at least 1024). Default 1024. */
  initialBits?: number;
  /** Epoch of the first snapshot; bumped on every resize. Default 1. */
  epoch?: number;
}

export type SummaryAddResult =
  /** Not summarised (first-level wildcard or shared filter): keep it as an explicit route. */
  | { kind: 'explicit' }
  /** Counted; `positions` went 0→1 (empty when the key was there or its bits were all set). */
  | { kind: 'set'; positions: number[] }
  /** Counted, and m grew: every pending delta is void, publish snapshot() (epoch and m are new). */
  | { kind: 'resized'; epoch: number; m: number };

export interface SummaryStats {
  /** Distinct keys (literal prefix + tail) counted. */
  n: number;
  /** Filters counted (several filters may share a key). */
  filters: number;
  m: number;
  k: number;
  epoch: number;
  /** Positions set now. */
  bitsSet: number;
  /** bitsSet / m. */
  fill: number;
  /** Probability that one absent key tests positive now: fill^k. */
  fpRate: number;
  /** Positions 1 in what the other nodes were sent and 0 now (cleared since the last snapshot). */
  stale: number;
  /** Positions set since the last delta or snapshot, not yet sent. */
  pending: number;
  /** Bytes of a snapshot. */
  snapshotBytes: number;
}

/**
 * This node's counting Bloom filter. add()/remove() are called when the node's first
 * subscriber to a filter appears and its last one goes (the broker's route refcount); the
 * publisher of the summary calls takeDelta() often and snapshot() when needsSnapshot().
 */
export class LocalSummary {
  readonly bitsPerEntry: number;
  readonly k: number;
  private m: number;
  private epoch: number;
  private counts: Uint8Array;
  /** The bits the other nodes were sent: the last snapshot OR-ed with every delta since. */
  private published: Uint8Array;
  private pending: number[];
  private stale: number;
  private bitsSet: number;
  private snapshotDue: boolean;
  /** key (`prefix NUL tail`) → filters counted under it. */
  private readonly keys: Map<string, number>;
  private filters: number;

  constructor(opts: LocalSummaryOptions = {}) {
    const bpe = opts.bitsPerEntry ?? 20;
    if (!(bpe >= 1 && bpe <= 64)) throw new RouteSummaryError('ROUTE_SUMMARY_OPTIONS', `bitsPerEntry ${bpe} is not in [1, 64]`);
    const k = opts.k ?? Math.max(1, Math.round(bpe * Math.LN2));
    if (!(Number.isInteger(k) && k >= 1 && k <= MAX_K)) throw new RouteSummaryError('ROUTE_SUMMARY_OPTIONS', `k ${k} is not an integer in [1, ${MAX_K}]`);
    const initial = opts.initialBits ?? MIN_BITS;
    if (!(initial >= 1 && initial <= MAX_BITS)) throw new RouteSummaryError('ROUTE_SUMMARY_OPTIONS', `initialBits ${initial} is not in [1, 2^31]`);
    const epoch = opts.epoch ?? 1;
    if (!(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff)) throw new RouteSummaryError('ROUTE_SUMMARY_OPTIONS', `epoch ${epoch} is not a u32`);
    this.bitsPerEntry = bpe;
    this.k = k;
    this.m = Math.max(MIN_BITS, 2 ** Math.ceil(Math.log2(initial)));
    this.epoch = epoch;
    this.counts = new Uint8Array(this.m);
    this.published = new Uint8Array(this.m >>> 3);
    this.pending = [];
    this.stale = 0;
    this.bitsSet = 0;
    this.snapshotDue = true;
    this.keys = new Map();
    this.filters = 0;
  }

  /** Counts the filter; see SummaryAddResult. */
  add(filter: string): SummaryAddResult {
    const lp = literalPrefix(filter);
    if (lp === null) return { kind: 'explicit' };
    this.filters++;
    const key = keyOf(lp);
    const had = this.keys.get(key);
    if (had !== undefined) {
      this.keys.set(key, had + 1);
      return { kind: 'set', positions: [] };
    }
    this.keys.set(key, 1);
    if (this.keys.size > this.m / this.bitsPerEntry && this.m < MAX_BITS) {
      let m = this.m;
      while (this.keys.size > m / this.bitsPerEntry && m < MAX_BITS) m *= 2;
      this.rebuild(m);
      return { kind: 'resized', epoch: this.epoch, m: this.m };
    }
    const h = hashKey(lp.prefix, tailCode(lp.tail));
    const positions: number[] = [];
    const mask = this.m - 1;
    let p = h[0]!;
    const h2 = h[1]!;
    for (let i = 0; i < this.k; i++) {
      const q = p & mask;
      const c = this.counts[q]!;
      if (c === 0) {
        this.bitsSet++;
        if (this.published[q >>> 3]! & (1 << (q & 7))) this.stale--;
        else { this.pending.push(q); positions.push(q); }
      }
      if (c < 255) this.counts[q] = c + 1;
      p = (p + h2) | 0;
    }
    return { kind: 'set', positions };
  }

  /** Uncounts the filter; false when it was not counted here (or is an explicit route). */
  remove(filter: string): boolean {
    const lp = literalPrefix(filter);
    if (lp === null) return false;
    const key = keyOf(lp);
    const had = this.keys.get(key);
    if (had === undefined) return false;
    this.filters--;
    if (had > 1) { this.keys.set(key, had - 1); return true; }
    this.keys.delete(key);
    const h = hashKey(lp.prefix, tailCode(lp.tail));
    const mask = this.m - 1;
    let p = h[0]!;
    const h2 = h[1]!;
    for (let i = 0; i < this.k; i++) {
      const q = p & mask;
      const c = this.counts[q]!;
      // a saturated counter has lost count: it stays set (a false positive at worst)
      if (c < 255) {
        this.counts[q] = c - 1;
        if (c === 1) {
          this.bitsSet--;
          if (this.published[q >>> 3]! & (1 << (q & 7))) this.stale++;
        }
      }
      p = (p + h2) | 0;
    }
    return true;
  }

  /** True when the key of this filter is counted here (exact, not probabilistic). */
  has(filter: string): boolean {
    const lp = literalPrefix(filter);
    return lp !== null && this.keys.has(keyOf(lp));
  }

  /**
   * The positions set since the last delta or snapshot, encoded, and marked as sent; null when
   * there are none, or when a snapshot is due (after a resize deltas must wait for it).
   */
  takeDelta(): Buffer | null {
    if (this.snapshotDue || this.pending.length === 0) return null;
    const out: number[] = [];
    for (const q of this.pending) {
      const bit = 1 << (q & 7);
      // set then cleared again before this delta: nothing to send; sent twice: once is enough
      if (this.counts[q] === 0 || (this.published[q >>> 3]! & bit) !== 0) continue;
      this.published[q >>> 3]! |= bit;
      out.push(q);
    }
    this.pending = [];
    return out.length === 0 ? null : encodeDelta(this.epoch, out);
  }

  /** True after a resize, and when cleared-but-published positions exceed maxStaleFraction of those set. */
  needsSnapshot(maxStaleFraction = 0.05): boolean {
    return this.snapshotDue || this.stale > maxStaleFraction * Math.max(1, this.bitsSet);
  }

  /** The full filter, encoded; the other nodes' view becomes exactly the current bits. */
  snapshot(): Buffer {
    const bits = this.published;
    bits.fill(0);
    const counts = this.counts;
    for (let q = 0; q < counts.length; q++) if (counts[q] !== 0) bits[q >>> 3]! |= 1 << (q & 7);
    this.pending = [];
    this.stale = 0;
    this.snapshotDue = false;
    return writeSnapshot(this.k, this.epoch, this.m, this.keys.size, bits);
  }

  stats(): SummaryStats {
    const fill = this.bitsSet / this.m;
    return {
      n: this.keys.size, filters: this.filters, m: this.m, k: this.k, epoch: this.epoch,
      bitsSet: this.bitsSet, fill, fpRate: fill ** this.k, stale: this.stale, pending: this.pending.length,
      snapshotBytes: SNAPSHOT_HEADER + (this.m >>> 3),
    };
  }

  private rebuild(m: number): void {
    this.m = m;
    this.epoch = (this.epoch + 1) >>> 0;
    this.counts = new Uint8Array(m);
    this.published = new Uint8Array(m >>> 3);
    this.pending = [];
    this.stale = 0;
    this.bitsSet = 0;
    this.snapshotDue = true;
    const mask = m - 1;
    for (const key of this.keys.keys()) {
      const h = hashKey(key.slice(0, -2), key.charCodeAt(key.length - 1));
      let p = h[0]!;
      const h2 = h[1]!;
      for (let i = 0; i < this.k; i++) {
        const q = p & mask;
        const c = this.counts[q]!;
        if (c === 0) this.bitsSet++;
        if (c < 255) this.counts[q] = c + 1;
        p = (p + h2) | 0;
      }
    }
  }
}

// ---- the remote, read-only side

/** Another node's summary as this node holds it: the bit array of its last snapshot OR-ed with its deltas. */
export class RemoteSummary {
  readonly k: number;
  readonly m: number;
  readonly epoch: number;
  /** Keys in the node's last snapshot (deltas do not say). */
  readonly n: number;
  private readonly bits: Uint8Array;
  private readonly mask: number;

  private constructor(k: number, m: number, epoch: number, n: number, bits: Uint8Array) {
    this.k = k;
    this.m = m;
    this.epoch = epoch;
    this.n = n;
    this.bits = bits;
    this.mask = m - 1;
  }

  /** Decodes a snapshot (the bits are copied); throws RouteSummaryError('ROUTE_SUMMARY_MALFORMED'). */
  static fromSnapshot(buf: Buffer): RemoteSummary {
    if (buf.length < SNAPSHOT_HEADER) throw malformed(`snapshot of ${buf.length} bytes is shorter than its ${SNAPSHOT_HEADER}-byte header`);
    if (buf[0] !== 0x50 || buf[1] !== 0x53) throw malformed('snapshot does not start with "PS"');
    if (buf[2] !== FORMAT) throw malformed(`snapshot format ${buf[2]} (this node reads ${FORMAT})`);
    const k = buf[3]!;
    if (k < 1 || k > MAX_K) throw malformed(`snapshot k ${k} is not in [1, ${MAX_K}]`);
    const epoch = buf.readUInt32LE(4);
    const m = buf.readUInt32LE(8);
    if (!isPowerOfTwo(m) || m < 8 || m > MAX_BITS) throw malformed(`snapshot m ${m} is not a power of two in [8, 2^31]`);
    const n = buf.readUInt32LE(12);
    if (buf.length !== SNAPSHOT_HEADER + m / 8) throw malformed(`snapshot of m=${m} needs ${SNAPSHOT_HEADER + m / 8} bytes, got ${buf.length}`);
    return new RemoteSummary(k, m, epoch, n, Uint8Array.prototype.slice.call(buf, SNAPSHOT_HEADER));
  }

  /**
   * ORs a delta's positions in. False (nothing applied) when the delta belongs to another epoch:
   * the node resized, and this copy must be replaced by its next snapshot. Throws
   * RouteSummaryError('ROUTE_SUMMARY_MALFORMED') on a malformed delta or a position ≥ m.
   */
  applyDelta(delta: Buffer): boolean {
    const d = decodeDelta(delta);
    if (d.epoch !== this.epoch) return false;
    const ps = d.positions;
    if (ps.length > 0 && ps[ps.length - 1]! >= this.m) throw malformed(`delta position ${ps[ps.length - 1]} is not below m=${this.m}`);
    for (let i = 0; i < ps.length; i++) {
      const q = ps[i]!;
      this.bits[q >>> 3]! |= 1 << (q & 7);
    }
    return true;
  }

  /** True when the node may have a filter with this literal prefix and tail. */
  mayContain(prefix: string, tail: PrefixTail): boolean {
    const h = hashKey(prefix, tailCode(tail));
    return testKey(this.bits, this.mask, this.k, h[0]!, h[1]!);
  }

  /** True when the node may have a subscriber for the probe's topic (no false negatives). */
  matches(probe: TopicProbe): boolean {
    const h = probe.hashes;
    const bits = this.bits;
    const mask = this.mask;
    const k = this.k;
    for (let i = 0, n = probe.count * 2; i < n; i += 2) {
      if (testKey(bits, mask, k, h[i]!, h[i + 1]!)) return true;
    }
    return false;
  }

  /** Positions set now. */
  bitsSet(): number { return popcount(this.bits); }

  /** The bit array itself, not a copy: read it, never write it (SummarySet copies it into its index). */
  bitArray(): Uint8Array { return this.bits; }

  /** Bytes this copy holds (the bit array). */
  get bytes(): number { return this.bits.length; }
}

/** Convenience for one-off checks: does the summary possibly want the topic? (Hashes the topic; use a TopicProbe per publish instead.) */
export function summaryMatch(topic: string, summary: RemoteSummary): boolean {
  return summary.matches(new TopicProbe(topic));
}
