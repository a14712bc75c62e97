/**
 * Retained messages (MQTT 5 §3.3.1.3): the last message published with RETAIN to each topic, handed
 * to every new subscriber whose filter matches [MQTT-3.3.1-6]. A retained message with an empty
 * payload deletes the topic's retained message and is not stored itself [MQTT-3.3.1-10],
 * [MQTT-3.3.1-11]. A message past its expiry is no longer sent [MQTT-3.3.2-5]; it is deleted when a
 * match() or get() comes across it (the store's expiry sweep covers the rest).
 *
 * Layout: a Map topic → message for get/set/delete, and a level tree (one node per topic level) for
 * match(). A filter walks the tree: exact levels follow one child, `+` every child of one node, `#`
 * a whole subtree. So `a/+/c` touches the few nodes on its path and `#` touches each stored topic's
 * nodes once; no topic is ever re-split. Empty nodes are pruned on delete.
 *
 * `#` and `+` in the first level skip topics starting with `$` [MQTT-4.7.2-1]. Pure in-memory index:
 * persistence and cluster replication belong to the store.
 */
import type { Message } from '../types.js';
import { hasWildcard } from './topic.js';

export interface RetainedIndexOptions {
  /** Most retained topics kept; a new topic beyond it is refused (replacing is always allowed). 0 = no bound. */
  maxCount?: number;
}

class RNode {
  readonly parent: RNode | null;
  readonly level: string;
  children: Map<string, RNode> | null;
  msg: Message | null;

  constructor(parent: RNode | null, level: string) {
    this.parent = parent;
    this.level = level;
    this.children = null;
    this.msg = null;
  }
}

const DOLLAR = 36;

export class RetainedIndex {
  private readonly byTopic: Map<string, Message>;
  private readonly root: RNode;
  private readonly maxCount: number;
  private nodes: number;

  constructor(opts: RetainedIndexOptions = {}) {
    this.byTopic = new Map();
    this.root = new RNode(null, '');
    this.maxCount = opts.maxCount ?? 0;
    this.nodes = 0;
  }

  get size(): number {
    return this.byTopic.size;
  }

  /** Tree nodes in use (tests check that deleting everything leaves none). */
  get nodeCount(): number {
    return this.nodes;
  }

  /**
   * Stores msg as the retained message of its topic, or deletes the topic's one when the payload is
   * empty. Returns false when nothing was stored: an empty payload, a message without retain, or a
   * new topic beyond maxCount.
   */
  set(msg: Message): boolean {
    if (msg.payload.length === 0) {
      this.delete(msg.topic); // [MQTT-3.3.1-10]
      return false;
    }
    if (!msg.retain) return false;
    const had = this.byTopic.has(msg.topic);
    if (!had && this.maxCount > 0 && this.byTopic.size >= this.maxCount) return false;
    this.byTopic.set(msg.topic, msg);
    let node = this.root;
    const levels = msg.topic.split('/');
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i]!;
      if (node.children === null) node.children = new Map();
      let c = node.children.get(l);
      if (c === undefined) {
        c = new RNode(node, l);
        node.children.set(l, c);
        this.nodes++;
      }
      node = c;
    }
    node.msg = msg;
    return true;
  }

  delete(topic: string): boolean {
    if (!this.byTopic.delete(topic)) return false;
    let node: RNode | undefined = this.root;
    const levels = topic.split('/');
    for (let i = 0; i < levels.length && node !== undefined; i++) node = node.children?.get(levels[i]!);
    if (node === undefined) return true;
    node.msg = null;
    while (node.parent !== null && node.msg === null && node.children === null) {
      const parent: RNode = node.parent;
      parent.children!.delete(node.level);
      if (parent.children!.size === 0) parent.children = null;
      this.nodes--;
      node = parent;
    }
    return true;
  }

  /** The retained message of a topic (undefined when none or expired; an expired one is deleted). */
  get(topic: string, now: number = Date.now()): Message | undefined {
    const m = this.byTopic.get(topic);
    if (m !== undefined && m.expiresAt !== 0 && m.expiresAt <= now) {
      this.delete(topic);
      return undefined;
    }
    return m;
  }

  /**
   * Visits every unexpired retained message whose topic matches the topic filter; expired ones met
   * on the way are deleted. The filter must be valid (validTopicFilter).
   */
  match(filter: string, now: number, visit: (msg: Message) => void): void {
    for (const m of this.matching(filter, now)) visit(m);
  }

  /**
   * The matching messages one at a time, so that a caller can send them across several
   * event-loop turns (Broker.sendRetained). The index may change between two next() calls: Map
   * iteration stays valid, a message deleted meanwhile may still come out, one added may or may
   * not. Expired ones met on the way are deleted when the iteration ends (or is returned early).
   */
  *matching(filter: string, now: number): Generator<Message, void, undefined> {
    if (!hasWildcard(filter)) {
      const m = this.get(filter, now);
      if (m !== undefined) yield m;
      return;
    }
    const expired: string[] = [];
    try {
      yield* walkLevels(this.root, filter.split('/'), 0, now, expired);
    } finally {
      for (let i = 0; i < expired.length; i++) this.delete(expired[i]!);
    }
  }

  values(): IterableIterator<Message> {
    return this.byTopic.values();
  }

  clear(): void {
    this.byTopic.clear();
    this.root.children = null;
    this.nodes = 0;
  }
}

const live = (m: Message, now: number, expired: string[]): boolean => {
  if (m.expiresAt !== 0 && m.expiresAt <= now) { expired.push(m.topic); return false; } // [MQTT-3.3.2-5]
  return true;
};

/** The levels of the filter, then whole subtrees for `#`. */
function* walkLevels(node: RNode, f: readonly string[], i: number, now: number, expired: string[]): Generator<Message, void, undefined> {
  if (i === f.length) {
    if (node.msg !== null && live(node.msg, now, expired)) yield node.msg;
    return;
  }
  const l = f[i]!;
  if (l === '#') {
    if (node.msg !== null && live(node.msg, now, expired)) yield node.msg; // [MQTT-4.7.1-2]
    if (node.children === null) return;
    for (const c of node.children.values()) {
      if (i === 0 && c.level.charCodeAt(0) === DOLLAR) continue; // [MQTT-4.7.2-1]
      yield* subtreeMessages(c, now, expired);
    }
    return;
  }
  if (node.children === null) return;
  if (l === '+') {
    for (const c of node.children.values()) {
      if (i === 0 && c.level.charCodeAt(0) === DOLLAR) continue; // [MQTT-4.7.2-1]
      yield* walkLevels(c, f, i + 1, now, expired);
    }
    return;
  }
  const c = node.children.get(l);
  if (c !== undefined) yield* walkLevels(c, f, i + 1, now, expired);
}

/** Every message under `root`, depth first, with a stack of child iterators (no recursion per level). */
function* subtreeMessages(root: RNode, now: number, expired: string[]): Generator<Message, void, undefined> {
  if (root.msg !== null && live(root.msg, now, expired)) yield root.msg;
  if (root.children === null) return;
  const stack: Array<Iterator<RNode>> = [root.children.values()];
  while (stack.length > 0) {
    const r = stack[stack.length - 1]!.next();
    if (r.done === true) { stack.pop(); continue; }
    const c = r.value;
    if (c.msg !== null && live(c.msg, now, expired)) yield c.msg;
    if (c.children !== null) stack.push(c.children.values());
  }
}
