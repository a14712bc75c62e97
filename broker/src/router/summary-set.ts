/**
 * SummarySet: every other node's route summary (route-summary.ts) in one bit-sliced index, so a
 * publish costs about the same for 5 nodes or 50.
 *
 * Tested one by one, 50 RemoteSummaries of 512 KiB each are 25 MiB of bits read at random: a
 * 3-level topic makes 6 keys × 50 nodes ≈ 600 cache misses (the bench measured ≈ 27 µs per
 * publish on a loaded 2-core machine). Here the summaries that share (m, k) — normally all of
 * them: m doubles in steps — form a GROUP laid out position-major: for position q, W = ⌈nodes/32⌉
 * words hold bit q of every node. A key's k positions AND those words together; the result is
 * the set of nodes whose summary contains the key, and it is usually empty after 3–6 positions,
 * so a publish reads ≈ 6 keys × a few words whatever the number of nodes.
 *
 * Same answers as RemoteSummary.matches (a property test checks it), same memory (m·W·4 bytes per
 * group ≈ m/8 per node); replacing one node's snapshot rewrites its column (O(m)).
 */
import { RemoteSummary, RouteSummaryError, decodeDelta, type TopicProbe } from './route-summary.js';

class Group {
  readonly m: number;
  readonly k: number;
  readonly mask: number;
  /** words per position */
  w: number;
  bits: Uint32Array;
  /** slot → node ('' = free) */
  slots: string[];
  /** live slots, one bit each */
  live: Uint32Array;

  constructor(m: number, k: number) {
    this.m = m;
    this.k = k;
    this.mask = m - 1;
    this.w = 1;
    this.bits = new Uint32Array(m);
    this.slots = [];
    this.live = new Uint32Array(1);
  }

  /** A free slot, widening every row by one word when all are taken. */
  alloc(node: string): number {
    let s = this.slots.indexOf('');
    if (s < 0) {
      s = this.slots.length;
      if (s === this.w * 32) this.widen();
      this.slots.push(node);
    } else {
      this.slots[s] = node;
    }
    this.live[s >>> 5]! |= 1 << (s & 31);
    return s;
  }

  free(s: number): void {
    this.clearColumn(s);
    this.slots[s] = '';
    this.live[s >>> 5]! &= ~(1 << (s & 31));
  }

  clearColumn(s: number): void {
    const w = this.w;
    const word = s >>> 5;
    const keep = ~(1 << (s & 31));
    const bits = this.bits;
    for (let q = 0; q < this.m; q++) bits[q * w + word]! &= keep;
  }

  setColumn(s: number, src: Uint8Array): void {
    this.clearColumn(s);
    const w = this.w;
    const word = s >>> 5;
    const bit = 1 << (s & 31);
    const bits = this.bits;
    for (let byte = 0; byte < src.length; byte++) {
      let v = src[byte]!;
      while (v !== 0) {
        const low = v & -v;
        const q = (byte << 3) + (31 - Math.clz32(low));
        bits[q * w + word]! |= bit;
        v ^= low;
      }
    }
  }

  empty(): boolean {
    for (let i = 0; i < this.live.length; i++) if (this.live[i] !== 0) return false;
    return true;
  }

  private widen(): void {
    const w = this.w + 1;
    const bits = new Uint32Array(this.m * w);
    for (let q = 0; q < this.m; q++) for (let i = 0; i < this.w; i++) bits[q * w + i] = this.bits[q * this.w + i]!;
    const live = new Uint32Array(w);
    live.set(this.live);
    this.w = w;
    this.bits = bits;
    this.live = live;
  }
}

interface Entry { group: Group; slot: number; epoch: number }

export class SummarySet {
  private readonly groups: Group[] = [];
  private readonly nodes = new Map<string, Entry>();
  private acc = new Uint32Array(4);
  private hit = new Uint32Array(4);

  /** Nodes held. */
  get size(): number { return this.nodes.size; }
  /** Bumped on every change (snapshot, delta, removal): answers cached before it are stale. */
  generation = 0;

  /** Bytes of bits held (all groups). */
  get bytes(): number { return this.groups.reduce((a, g) => a + g.bits.byteLength, 0); }

  /** The node's epoch, or -1 when the set has no summary of it. */
  epochOf(node: string): number { return this.nodes.get(node)?.epoch ?? -1; }

  /** Sets (or replaces) the node's summary from a snapshot; throws RouteSummaryError on a malformed one. */
  setSnapshot(node: string, snapshot: Buffer): void {
    this.generation++;
    if (node === '') throw new RouteSummaryError('ROUTE_SUMMARY_OPTIONS', 'a node name must not be empty');
    const r = RemoteSummary.fromSnapshot(snapshot);
    const had = this.nodes.get(node);
    let e: Entry;
    if (had && had.group.m === r.m && had.group.k === r.k) {
      e = had;
      e.epoch = r.epoch;
    } else {
      if (had) this.drop(node, had);
      let g = this.groups.find((x) => x.m === r.m && x.k === r.k);
      if (!g) { g = new Group(r.m, r.k); this.groups.push(g); }
      e = { group: g, slot: g.alloc(node), epoch: r.epoch };
      this.nodes.set(node, e);
    }
    e.group.setColumn(e.slot, r.bitArray());
  }

  /**
   * ORs a delta of the node in; false when the set has no summary of the node or the delta is of
   * another epoch (wait for the node's next snapshot). Throws RouteSummaryError on a malformed delta.
   */
  applyDelta(node: string, delta: Buffer): boolean {
    this.generation++;
    const e = this.nodes.get(node);
    const d = decodeDelta(delta);
    if (!e || d.epoch !== e.epoch) return false;
    const g = e.group;
    const ps = d.positions;
    if (ps.length > 0 && ps[ps.length - 1]! >= g.m) throw new RouteSummaryError('ROUTE_SUMMARY_MALFORMED', `route summary: delta position ${ps[ps.length - 1]} is not below m=${g.m}`);
    const word = e.slot >>> 5;
    const bit = 1 << (e.slot & 31);
    for (let i = 0; i < ps.length; i++) g.bits[ps[i]! * g.w + word]! |= bit;
    return true;
  }

  /** Forgets the node (it left the cluster, or its summary key went with its lease). */
  remove(node: string): boolean {
    this.generation++;
    const e = this.nodes.get(node);
    if (!e) return false;
    this.drop(node, e);
    return true;
  }

  /**
   * Pushes to `out` every node whose summary may want the probe's topic, once each; returns how
   * many were pushed. No false negatives; false positives as the single summaries have them.
   */
  match(probe: TopicProbe, out: string[]): number {
    let pushed = 0;
    const h = probe.hashes;
    const keys = probe.count * 2;
    for (let gi = 0; gi < this.groups.length; gi++) {
      const g = this.groups[gi]!;
      const w = g.w;
      if (this.acc.length < w) { this.acc = new Uint32Array(w); this.hit = new Uint32Array(w); }
      const acc = this.acc;
      const hit = this.hit;
      hit.fill(0, 0, w);
      const bits = g.bits;
      const mask = g.mask;
      const k = g.k;
      for (let i = 0; i < keys; i += 2) {
        for (let x = 0; x < w; x++) acc[x] = g.live[x]! & ~hit[x]!;
        let p = h[i]!;
        const h2 = h[i + 1]!;
        for (let j = 0; j < k; j++) {
          const row = (p & mask) * w;
          let any = 0;
          for (let x = 0; x < w; x++) any |= (acc[x]! &= bits[row + x]!);
          if (any === 0) break;
          p = (p + h2) | 0;
        }
        for (let x = 0; x < w; x++) hit[x]! |= acc[x]!;
      }
      for (let x = 0; x < w; x++) {
        let v = hit[x]!;
        while (v !== 0) {
          const low = v & -v;
          out.push(g.slots[(x << 5) + (31 - Math.clz32(low))]!);
          pushed++;
          v ^= low;
        }
      }
    }
    return pushed;
  }

  private drop(node: string, e: Entry): void {
    const g = e.group;
    g.free(e.slot);
    this.nodes.delete(node);
    if (g.empty()) this.groups.splice(this.groups.indexOf(g), 1);
  }
}
