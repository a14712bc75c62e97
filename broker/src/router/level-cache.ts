/**
 * A bounded cache of topic → levels (`a/b/c` → ['a', 'b', 'c']).
 *
 * Walking a trie needs each level as a string to look it up in a child map, and slicing them out
 * of the topic allocates. Brokers see the same topics again and again (a sensor publishes to its
 * own topic every few seconds), so the split arrays are cached and reused: a hit allocates nothing.
 *
 * Two generations instead of an LRU list: lookups go to `young`, then `old`; when `young` is full it
 * becomes `old` and the previous `old` is dropped. That keeps recently used topics, costs one or two
 * Map lookups, and bounds memory at 2 × capacity entries.
 */
export class LevelCache {
  private young: Map<string, readonly string[]>;
  private old: Map<string, readonly string[]>;
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = Math.max(1, Math.floor(capacity));
    this.young = new Map();
    this.old = new Map();
  }

  levels(topic: string): readonly string[] {
    let l = this.young.get(topic);
    if (l !== undefined) return l;
    l = this.old.get(topic);
    if (l === undefined) l = topic.split('/');
    if (this.young.size >= this.capacity) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(topic, l);
    return l;
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}
