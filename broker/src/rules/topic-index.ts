/**
 * Rules by the topic filters of their FROM: a trie over topic levels, so a published message
 * finds the rules it feeds in one walk whatever the number of rules, and a topic no rule names
 * costs a few map lookups. MQTT's matching rules apply: `+` one level, `#` the rest (and the
 * parent), and a topic starting with `$` is not matched by a leading wildcard.
 */
class Node<T> {
  children = new Map<string, Node<T>>();
  plus: Node<T> | null = null;
  hash: T[] = [];
  here: T[] = [];
}

const NONE: readonly never[] = Object.freeze([]);

/** Topics whose answer is remembered: devices publish to the same few topics over and over. */
const CACHE_MAX = 4096;

export class TopicIndex<T> {
  private root = new Node<T>();
  size = 0;
  /** topic → the answer of match(); emptied when full (an index is rebuilt, not changed, when rules change). */
  private readonly cache = new Map<string, readonly T[]>();

  add(filter: string, item: T): void {
    this.cache.clear();
    let n = this.root;
    const levels = filter.split('/');
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i]!;
      if (l === '#') { n.hash.push(item); this.size++; return; }
      if (l === '+') n = n.plus ??= new Node<T>();
      else {
        let c = n.children.get(l);
        if (c === undefined) { c = new Node<T>(); n.children.set(l, c); }
        n = c;
      }
    }
    n.here.push(item);
    this.size++;
  }

  /** Every item whose filter matches `topic` (an item under several matching filters comes once). */
  match(topic: string): readonly T[] {
    // The common case for a busy broker with a few rules: the first level already rules out every
    // filter; answer without building anything.
    const root = this.root;
    if (root.plus === null && root.hash.length === 0) {
      const slash = topic.indexOf('/');
      if (!root.children.has(slash < 0 ? topic : topic.slice(0, slash))) return NONE;
    }
    const hit = this.cache.get(topic);
    if (hit !== undefined) return hit;
    const out: T[] = [];
    this.walk(this.root, topic, 0, out, true);
    const answer = out.length > 1 ? [...new Set(out)] : out.length === 0 ? NONE : out;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(topic, answer);
    return answer;
  }

  private walk(n: Node<T>, topic: string, start: number, out: T[], first: boolean): void {
    const dollar = first && topic.charCodeAt(0) === 36;
    if (!dollar) for (const x of n.hash) out.push(x);
    const end = topic.indexOf('/', start);
    const level = end < 0 ? topic.slice(start) : topic.slice(start, end);
    const exact = n.children.get(level);
    const plus = dollar ? null : n.plus;
    if (end < 0) {
      if (exact !== undefined) { for (const x of exact.here) out.push(x); for (const x of exact.hash) out.push(x); }
      if (plus !== null) { for (const x of plus.here) out.push(x); for (const x of plus.hash) out.push(x); }
      return;
    }
    if (exact !== undefined) this.walk(exact, topic, end + 1, out, false);
    if (plus !== null) this.walk(plus, topic, end + 1, out, false);
  }
}
