/**
 * A map from small positive integers (packet ids, request ids) to values, for tables that see a
 * set and a delete per message for as long as a connection lives: a session's inflight window, its
 * QoS 2 ids awaiting PUBREL, the store's commits in flight.
 *
 * Why not `Map`: V8 replaces a Map's hash table when it fills up with deleted entries, and links the
 * old table to its replacement (live iterators follow the link). Once one table of a long-lived Map
 * has reached the old generation, each replacement is referenced from an old (dead) object, so it
 * survives the next young-generation GC, is promoted, and links to the next one: from then on every
 * table, and every value stored in it, is promoted and freed only by full GCs. Measured in the
 * broker (QoS 1 at 5,000 msg/s): ~1 MB promoted per scavenge, 3–5 ms scavenges, p99 latency 3×
 * Mosquitto's; in a micro benchmark the churn ran 6× slower (docs/performance.md).
 *
 * Here the table is three fixed arrays, replaced only when it grows, and never linked: open
 * addressing with linear probing (keys given out in sequence land in consecutive slots) and
 * backward-shift deletion (no tombstones to clean up). Iteration follows insertion order, as a Map's
 * does, and works on a snapshot, so the caller may delete while iterating.
 */
export class IntMap<V> {
  private keys: Int32Array;
  private vals: Array<V | undefined>;
  /** Insertion stamp per slot, for iteration in insertion order. */
  private order: Float64Array;
  private mask: number;
  private stamp = 0;
  size = 0;

  constructor(capacity = 8) {
    let cap = 8;
    while (cap < capacity) cap *= 2;
    this.keys = new Int32Array(cap);
    this.vals = new Array<V | undefined>(cap).fill(undefined);
    this.order = new Float64Array(cap);
    this.mask = cap - 1;
  }

  get(key: number): V | undefined {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = key & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === key) return this.vals[i];
      if (k === 0) return undefined;
    }
  }

  has(key: number): boolean {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = key & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === key) return true;
      if (k === 0) return false;
    }
  }

  /** Sets `key` (an integer 1 … 2³¹−1). An existing key keeps its place in the iteration order. */
  set(key: number, value: V): this {
    if (!(key > 0 && key <= 0x7fffffff && (key | 0) === key)) throw new RangeError(`IntMap key out of range: ${key}`);
    if ((this.size + 1) * 4 > this.keys.length * 3) this.grow();
    const keys = this.keys;
    const mask = this.mask;
    let i = key & mask;
    for (; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === key) { this.vals[i] = value; return this; }
      if (k === 0) break;
    }
    keys[i] = key;
    this.vals[i] = value;
    this.order[i] = ++this.stamp;
    this.size++;
    return this;
  }

  delete(key: number): boolean {
    const keys = this.keys;
    const vals = this.vals;
    const order = this.order;
    const mask = this.mask;
    let i = key & mask;
    for (; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === key) break;
      if (k === 0) return false;
    }
    // Backward-shift: pull later entries of the probe run into the gap when their home slot allows.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const k = keys[j];
      if (k === 0) break;
      const home = k & mask;
      // The entry at j may move to i unless its home lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      keys[i] = k; vals[i] = vals[j]; order[i] = order[j];
      i = j;
    }
    keys[i] = 0;
    vals[i] = undefined;
    this.size--;
    return true;
  }

  clear(): void {
    this.keys.fill(0);
    this.vals.fill(undefined);
    this.size = 0;
  }

  /** [key, value] pairs in insertion order (a snapshot). */
  entries(): Array<[number, V]> {
    const out: Array<[number, V]> = [];
    if (this.size === 0) return out;
    const slots: number[] = [];
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) slots.push(i);
    const order = this.order;
    slots.sort((a, b) => order[a]! - order[b]!);
    for (const i of slots) out.push([keys[i]!, this.vals[i] as V]);
    return out;
  }

  values(): V[] { return this.entries().map((e) => e[1]); }

  [Symbol.iterator](): IterableIterator<[number, V]> { return this.entries()[Symbol.iterator](); }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const oldOrder = this.order;
    const cap = oldKeys.length * 2;
    this.keys = new Int32Array(cap);
    this.vals = new Array<V | undefined>(cap).fill(undefined);
    this.order = new Float64Array(cap);
    this.mask = cap - 1;
    for (let j = 0; j < oldKeys.length; j++) {
      const k = oldKeys[j]!;
      if (k === 0) continue;
      let i = k & this.mask;
      while (this.keys[i] !== 0) i = (i + 1) & this.mask;
      this.keys[i] = k; this.vals[i] = oldVals[j]; this.order[i] = oldOrder[j]!;
    }
  }
}
