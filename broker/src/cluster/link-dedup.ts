/**
 * DedupWindow: which of the last `capacity` link seqs from one origin node incarnation arrived,
 * so that a QoS 1/2 message resent after a lost ACK is acknowledged again but not delivered twice.
 *
 * An origin numbers the QoS 1/2 frames it sends this node 1, 2, 3… (u32, wrapping) across
 * reconnects; resends keep their seq. So a bitmap over the last `capacity` seqs says it all: a
 * seq beyond the highest seen advances the window (the seqs it skips are unseen — they may come
 * later, resent after a reconnect); one inside it is looked up; one older than the window is not
 * remembered and is delivered again (the window only has to outlast a reconnect, and the sender
 * keeps at most maxPending unacknowledged — keep capacity above that).
 */
export class DedupWindow {
  readonly capacity: number;
  private readonly bits: Uint32Array;
  private highest: number;
  private started: boolean;
  private seenCount: number;

  constructor(capacity: number) {
    // A power of two, so a seq's bit is seq & mask and the window slides with the u32 wrap.
    let c = 32;
    while (c < capacity) c *= 2;
    this.capacity = c;
    this.bits = new Uint32Array(c / 32);
    this.highest = 0;
    this.started = false;
    this.seenCount = 0;
  }

  /** True when seq was seen already (a duplicate); otherwise remembers it and returns false. */
  check(seq: number): boolean {
    if (!this.started) {
      this.started = true;
      this.highest = seq;
      this.set(seq);
      return false;
    }
    const ahead = (seq - this.highest) >>> 0;
    if (ahead !== 0 && ahead < 0x80000000) {
      // Newer: the seqs between the old highest and this one are not seen (yet).
      if (ahead >= this.capacity) this.bits.fill(0);
      else for (let s = (this.highest + 1) >>> 0; s !== seq; s = (s + 1) >>> 0) this.clear(s);
      this.highest = seq;
      this.set(seq);
      return false;
    }
    const age = (this.highest - seq) >>> 0;
    if (age >= this.capacity) return false; // older than the window: not remembered
    if (this.has(seq)) return true;
    this.set(seq);
    return false;
  }

  /** QoS 1/2 frames remembered since the window was made (for stats). */
  get count(): number {
    return this.seenCount;
  }

  private has(seq: number): boolean {
    const i = (seq & (this.capacity - 1)) >>> 0;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  private set(seq: number): void {
    const i = (seq & (this.capacity - 1)) >>> 0;
    this.bits[i >>> 5]! |= 1 << (i & 31);
    this.seenCount++;
  }

  private clear(seq: number): void {
    const i = (seq & (this.capacity - 1)) >>> 0;
    this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }
}
