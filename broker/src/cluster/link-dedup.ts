/**
 * DedupWindow: the ids of the last `capacity` QoS 1/2 messages received from one origin node
 * incarnation, so that a message resent after a lost ACK is acknowledged again but not delivered
 * twice. Ids older than the window are not remembered (such a resend is delivered again); the
 * window only has to outlast a reconnect, and the sender keeps at most maxPending unacked.
 */
const INITIAL = 1024;

export class DedupWindow {
  readonly capacity: number;
  private ring: Float64Array;
  private head: number; // next slot to write once full
  private size: number;
  private readonly seen: Set<number>;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.ring = new Float64Array(Math.min(INITIAL, capacity));
    this.head = 0;
    this.size = 0;
    this.seen = new Set();
  }

  /** True when id was seen already (a duplicate); otherwise remembers it and returns false. */
  check(id: number): boolean {
    if (this.seen.has(id)) return true;
    if (this.size < this.capacity) {
      if (this.size === this.ring.length) this.grow();
      this.ring[this.size++] = id;
    } else {
      this.seen.delete(this.ring[this.head]!);
      this.ring[this.head] = id;
      this.head = (this.head + 1) % this.capacity;
    }
    this.seen.add(id);
    return false;
  }

  get count(): number {
    return this.size;
  }

  /** Until full, slots fill in order from 0, so growing is a plain copy. */
  private grow(): void {
    const next = new Float64Array(Math.min(this.capacity, this.ring.length * 2));
    next.set(this.ring);
    this.ring = next;
  }
}
