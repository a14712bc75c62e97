/**
 * The subscriber index: which of THIS node's subscriptions want a message published to a
 * topic. (Which nodes want it is the route table's job, route-table.ts; the broker keeps the
 * two in step — it is the one place where a subscription, and so a route, appears or goes.)
 *
 * Subscriptions are grouped by topic filter into buckets. A bucket holds the plain subscriptions
 * (including `$exclusive/…` ones) of every client to that filter, and the shared groups
 * (`$share/{g}/…`, `$queue/…`) of that filter, each group a separate set of members.
 *
 * Two indexes find the buckets for a topic:
 * - filters without wildcards sit in a Map keyed by the filter itself, so the topic string is the
 *   lookup key: one hash lookup, no split, however many such subscriptions exist;
 * - filters with `+` or `#` sit in a level trie. Each node has exact children, one `+` child, and
 *   the bucket of a `…/#` filter that ends there. The walk follows the topic's levels, so its cost is
 *   about the number of levels times the wildcard branches that really match, not the number of
 *   subscriptions. The topic's levels come from a bounded cache (level-cache.ts), so a repeated
 *   topic allocates nothing.
 *
 * match() visits every matching plain subscription, and for each matching shared group exactly one
 * member picked by the strategy (shared-group.ts). A client with overlapping subscriptions (`a/+`
 * and `a/#`) is visited once per matching subscription: the caller decides what that means (MQTT 3
 * delivers one copy at the highest QoS; MQTT 5 may deliver one copy per subscription, each with its
 * subscription identifier [MQTT-3.3.4-2], [MQTT-3.3.4-3]). Shared subscriptions are separate from a
 * client's plain ones and always yield their own visit.
 *
 * No Local [MQTT-3.8.3-3]: a plain subscription with noLocal is not visited for its own client's
 * publications (the `publisher` argument), so callers need not check it again.
 *
 * `$exclusive/{filter}`: only one client may hold an exclusive subscription to a filter; add() for
 * a second client throws MqttError('QUOTA_EXCEEDED'), i.e. SUBACK reason 0x97 (EMQX's choice).
 * Non-exclusive subscriptions to the same filter remain allowed.
 *
 * The visit callback must not add or remove subscriptions while match() runs.
 */
import type { Subscription } from '../types.js';
import { MqttError } from '../errors.js';
import { hasWildcard, validTopicFilter } from './topic.js';
import { SharedGroup, subKey, type SharedStrategy, SHARED_STRATEGIES } from './shared-group.js';
import { LevelCache } from './level-cache.js';

export interface SubscriberIndexOptions {
  /** How a shared group picks its member; default 'random'. */
  strategy?: SharedStrategy;
  /** Source of randomness in [0, 1) for 'random', 'local' and 'sticky'; default Math.random. */
  random?: () => number;
  /** Topics whose split levels are cached (two generations of this size); default 16384. */
  levelCacheSize?: number;
  /** Treat every plain subscription as No Local (EMQX's `ignore_loop_deliver`); default false. */
  ignoreLoopDeliver?: boolean;
}

export interface SubscriberIndexStats {
  subscriptions: number;
  filters: number;
  trieNodes: number;
  clients: number;
  groups: number;
  exclusive: number;
  levelCache: number;
}

type Visit = (sub: Subscription) => void;
type Eligible = ((clientId: string) => boolean) | undefined;

class Bucket {
  readonly topicFilter: string;
  readonly wildcard: boolean;
  readonly direct: Subscription[];
  readonly directIndex: Map<string, number>;
  groups: Map<string, SharedGroup> | null;
  groupList: SharedGroup[];
  count: number;
  /** Trie node holding this bucket (wildcard filters), and whether it sits in the node's `hash` slot. */
  node: TrieNode | null;
  hashEnd: boolean;

  constructor(topicFilter: string, wildcard: boolean) {
    this.topicFilter = topicFilter;
    this.wildcard = wildcard;
    this.direct = [];
    this.directIndex = new Map();
    this.groups = null;
    this.groupList = [];
    this.count = 0;
    this.node = null;
    this.hashEnd = false;
  }
}

class TrieNode {
  readonly parent: TrieNode | null;
  readonly level: string;
  children: Map<string, TrieNode> | null;
  plus: TrieNode | null;
  /** Bucket of the filter `<path>/#` (or `#` at the root). */
  hash: Bucket | null;
  /** Bucket of a wildcard filter that ends exactly at this node (e.g. `a/+`). */
  bucket: Bucket | null;

  constructor(parent: TrieNode | null, level: string) {
    this.parent = parent;
    this.level = level;
    this.children = null;
    this.plus = null;
    this.hash = null;
    this.bucket = null;
  }

  empty(): boolean {
    return this.children === null && this.plus === null && this.hash === null && this.bucket === null;
  }
}

const ADDED: { replaced: boolean } = Object.freeze({ replaced: false });
const REPLACED: { replaced: boolean } = Object.freeze({ replaced: true });
const DOLLAR = 36;

export class SubscriberIndex {
  readonly strategy: SharedStrategy;
  private readonly random: () => number;
  private readonly ignoreLoop: boolean;
  /** topicFilter → bucket, for every filter (the exact-match index and the route table). */
  private readonly buckets: Map<string, Bucket>;
  private readonly root: TrieNode;
  private trieNodes: number;
  /** clientId → (filter → subscription). */
  private readonly byClient: Map<string, Map<string, Subscription>>;
  /** topicFilter → client holding `$exclusive/{topicFilter}`. */
  private readonly exclusive: Map<string, string>;
  private readonly cache: LevelCache;
  private total: number;
  private groupCount: number;
  /** Subscriptions whose filter starts with the `$SYS` level (the only ones a `$SYS/…` topic can match). */
  private sysCount: number;

  constructor(opts: SubscriberIndexOptions = {}) {
    const strategy = opts.strategy ?? 'random';
    if (!SHARED_STRATEGIES.includes(strategy)) throw new TypeError(`unknown shared strategy: ${String(strategy)}`);
    this.strategy = strategy;
    this.random = opts.random ?? Math.random;
    this.ignoreLoop = opts.ignoreLoopDeliver ?? false;
    this.buckets = new Map();
    this.root = new TrieNode(null, '');
    this.trieNodes = 0;
    this.byClient = new Map();
    this.exclusive = new Map();
    this.cache = new LevelCache(opts.levelCacheSize ?? 16384);
    this.total = 0;
    this.groupCount = 0;
    this.sysCount = 0;
  }

  /**
   * False when no subscription can match a `$SYS/…` topic: wildcards in the first level never match
   * a topic starting with `$` [MQTT-4.7.2-1], so only filters whose first level is `$SYS` can. Lets the
   * broker skip building per-client `$SYS` events nobody would receive.
   */
  get hasSysSubscriptions(): boolean { return this.sysCount > 0; }

  /** Total number of subscriptions. */
  get size(): number {
    return this.total;
  }

  /**
   * Adds a subscription, or replaces the one with the same (clientId, filter) [MQTT-3.8.4-3].
   * Throws MqttError TOPIC_FILTER_INVALID for a malformed topic filter and QUOTA_EXCEEDED when
   * another client holds the `$exclusive` filter.
   */
  add(sub: Subscription): { replaced: boolean } {
    const tf = sub.topicFilter;
    if (!validTopicFilter(tf, Infinity)) throw new MqttError('TOPIC_FILTER_INVALID', tf);
    if (sub.exclusive && sub.group !== null) throw new MqttError('TOPIC_FILTER_INVALID', sub.filter);
    if (sub.exclusive) {
      const owner = this.exclusive.get(tf);
      if (owner !== undefined && owner !== sub.clientId) {
        throw new MqttError('QUOTA_EXCEEDED', `exclusive subscription ${tf} is held by another client`);
      }
    }
    let mine = this.byClient.get(sub.clientId);
    const old = mine?.get(sub.filter);
    if (old !== undefined) {
      if (old.topicFilter === tf && old.group === sub.group && old.exclusive === sub.exclusive) {
        this.replaceInBucket(this.buckets.get(tf)!, sub);
        mine!.set(sub.filter, sub);
        return REPLACED;
      }
      this.remove(sub.clientId, sub.filter);
      mine = this.byClient.get(sub.clientId);
    }
    let bucket = this.buckets.get(tf);
    if (bucket === undefined) bucket = this.createBucket(tf);
    if (sub.group === null) {
      bucket.directIndex.set(subKey(sub.clientId, sub.filter), bucket.direct.length);
      bucket.direct.push(sub);
    } else {
      if (bucket.groups === null) bucket.groups = new Map();
      let g = bucket.groups.get(sub.group);
      if (g === undefined) {
        g = new SharedGroup(sub.group, tf);
        bucket.groups.set(sub.group, g);
        bucket.groupList.push(g);
        this.groupCount++;
      }
      g.set(sub);
    }
    if (sub.exclusive) this.exclusive.set(tf, sub.clientId);
    bucket.count++;
    this.total++;
    if (isSysFilter(tf)) this.sysCount++;
    if (mine === undefined) {
      mine = new Map();
      this.byClient.set(sub.clientId, mine);
    }
    mine.set(sub.filter, sub);
    return old === undefined ? ADDED : REPLACED;
  }

  /** Removes one subscription by client and the filter as subscribed; false when absent. */
  remove(clientId: string, filter: string): boolean {
    const mine = this.byClient.get(clientId);
    const sub = mine?.get(filter);
    if (sub === undefined) return false;
    mine!.delete(filter);
    if (mine!.size === 0) this.byClient.delete(clientId);
    const bucket = this.buckets.get(sub.topicFilter)!;
    if (sub.group === null) {
      const key = subKey(clientId, filter);
      const at = bucket.directIndex.get(key)!;
      const last = bucket.direct.pop()!;
      bucket.directIndex.delete(key);
      if (last !== sub) {
        bucket.direct[at] = last;
        bucket.directIndex.set(subKey(last.clientId, last.filter), at);
      }
    } else {
      const g = bucket.groups!.get(sub.group)!;
      g.remove(clientId, filter);
      if (g.size === 0) {
        bucket.groups!.delete(sub.group);
        bucket.groupList.splice(bucket.groupList.indexOf(g), 1);
        if (bucket.groups!.size === 0) bucket.groups = null;
        this.groupCount--;
      }
    }
    if (sub.exclusive && this.exclusive.get(sub.topicFilter) === clientId) this.exclusive.delete(sub.topicFilter);
    bucket.count--;
    this.total--;
    if (isSysFilter(sub.topicFilter)) this.sysCount--;
    if (bucket.count === 0) this.dropBucket(bucket);
    return true;
  }

  /** Removes every subscription of a client; returns how many there were. */
  removeClient(clientId: string): number {
    const mine = this.byClient.get(clientId);
    if (mine === undefined) return 0;
    const filters = Array.from(mine.keys());
    for (const f of filters) this.remove(clientId, f);
    return filters.length;
  }

  /**
   * Calls visit once per matching plain subscription (skipping No Local ones of the publisher), and
   * once per matching shared group with one member picked by the strategy among the members for
   * which eligible(clientId) is true (a group with none is skipped). `topic` must be a valid topic
   * name (validTopicName).
   */
  match(topic: string, publisher: string, visit: Visit, eligible?: (clientId: string) => boolean): void {
    const exact = this.buckets.get(topic);
    if (exact !== undefined && !exact.wildcard) this.visitBucket(exact, topic, publisher, visit, eligible);
    const root = this.root;
    if (root.children === null && root.plus === null && root.hash === null) return;
    const levels = this.cache.levels(topic);
    this.walk(root, levels, 0, topic.charCodeAt(0) === DOLLAR, topic, publisher, visit, eligible);
  }

  /**
   * Picks another member of a shared group, e.g. to re-dispatch a message its first member could
   * not take (disconnected, or NACKed); members whose client is in `exclude` are skipped.
   */
  pickShared(
    group: string,
    topicFilter: string,
    topic: string,
    publisher: string,
    exclude: ReadonlySet<string>,
    eligible?: (clientId: string) => boolean,
  ): Subscription | null {
    const g = this.buckets.get(topicFilter)?.groups?.get(group);
    if (g === undefined) return null;
    return g.pick(this.strategy, this.random, topic, publisher, exclude, eligible);
  }

  /** The client holding `$exclusive/{topicFilter}`, or null. */
  exclusiveOwner(topicFilter: string): string | null {
    return this.exclusive.get(topicFilter) ?? null;
  }

  /** The subscriptions of one client (a fresh array). */
  subscriptionsOf(clientId: string): Subscription[] {
    const mine = this.byClient.get(clientId);
    return mine === undefined ? [] : Array.from(mine.values());
  }

  /** Client ids with at least one subscription. */
  clients(): string[] { return Array.from(this.byClient.keys()); }

  /** True when the client holds a subscription with exactly this filter. */
  has(clientId: string, filter: string): boolean { return this.byClient.get(clientId)?.has(filter) ?? false; }

  /** Subscriptions (plain, shared or exclusive) to one topic filter; 0 when none. */
  filterCount(topicFilter: string): number {
    const b = this.buckets.get(topicFilter);
    return b === undefined ? 0 : b.count;
  }

  /** Distinct topic filters with at least one subscription (plain, shared or exclusive). */
  topics(): string[] {
    return Array.from(this.buckets.keys());
  }

  /** Members of one shared group (a fresh array); empty when the group does not exist. */
  groupMembers(group: string, topicFilter: string): Subscription[] {
    const g = this.buckets.get(topicFilter)?.groups?.get(group);
    return g === undefined ? [] : g.members.slice();
  }

  /** Counters for metrics, the REST API, and tests that check nothing leaks. */
  stats(): SubscriberIndexStats {
    return {
      subscriptions: this.total,
      filters: this.buckets.size,
      trieNodes: this.trieNodes,
      clients: this.byClient.size,
      groups: this.groupCount,
      exclusive: this.exclusive.size,
      levelCache: this.cache.size,
    };
  }

  private visitBucket(b: Bucket, topic: string, publisher: string, visit: Visit, eligible: Eligible): void {
    const d = b.direct;
    for (let i = 0; i < d.length; i++) {
      const s = d[i]!;
      if ((s.options.noLocal || this.ignoreLoop) && s.clientId === publisher) continue; // [MQTT-3.8.3-3]
      visit(s);
    }
    const gl = b.groupList;
    for (let i = 0; i < gl.length; i++) {
      const m = gl[i]!.pick(this.strategy, this.random, topic, publisher, null, eligible);
      if (m !== null) visit(m);
    }
  }

  private walk(
    node: TrieNode,
    levels: readonly string[],
    i: number,
    dollar: boolean,
    topic: string,
    publisher: string,
    visit: Visit,
    eligible: Eligible,
  ): void {
    // [MQTT-4.7.2-1] wildcards in the first level never match a topic starting with '$'.
    const guard = dollar && i === 0;
    // [MQTT-4.7.1-2] '#' matches the parent level and any number of child levels.
    if (node.hash !== null && !guard) this.visitBucket(node.hash, topic, publisher, visit, eligible);
    if (i === levels.length) {
      if (node.bucket !== null) this.visitBucket(node.bucket, topic, publisher, visit, eligible);
      return;
    }
    if (node.children !== null) {
      const c = node.children.get(levels[i]!);
      if (c !== undefined) this.walk(c, levels, i + 1, dollar, topic, publisher, visit, eligible);
    }
    // [MQTT-4.7.1-3] '+' matches exactly one level, empty ones included.
    if (node.plus !== null && !guard) this.walk(node.plus, levels, i + 1, dollar, topic, publisher, visit, eligible);
  }

  private replaceInBucket(bucket: Bucket, sub: Subscription): void {
    if (sub.group === null) {
      const at = bucket.directIndex.get(subKey(sub.clientId, sub.filter))!;
      bucket.direct[at] = sub;
    } else {
      bucket.groups!.get(sub.group)!.set(sub);
    }
  }

  private createBucket(tf: string): Bucket {
    const wildcard = hasWildcard(tf);
    const bucket = new Bucket(tf, wildcard);
    this.buckets.set(tf, bucket);
    if (!wildcard) return bucket;
    const levels = tf.split('/');
    let node = this.root;
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i]!;
      if (l === '#') {
        node.hash = bucket;
        bucket.node = node;
        bucket.hashEnd = true;
        return bucket;
      }
      if (l === '+') {
        if (node.plus === null) {
          node.plus = new TrieNode(node, '+');
          this.trieNodes++;
        }
        node = node.plus;
      } else {
        if (node.children === null) node.children = new Map();
        let c = node.children.get(l);
        if (c === undefined) {
          c = new TrieNode(node, l);
          node.children.set(l, c);
          this.trieNodes++;
        }
        node = c;
      }
    }
    node.bucket = bucket;
    bucket.node = node;
    return bucket;
  }

  private dropBucket(bucket: Bucket): void {
    this.buckets.delete(bucket.topicFilter);
    let node = bucket.node;
    if (node === null) return;
    if (bucket.hashEnd) node.hash = null;
    else node.bucket = null;
    bucket.node = null;
    // Prune nodes left empty, bottom-up, so an emptied router holds no trie nodes.
    while (node.parent !== null && node.empty()) {
      const parent: TrieNode = node.parent;
      if (parent.plus === node) parent.plus = null;
      else {
        parent.children!.delete(node.level);
        if (parent.children!.size === 0) parent.children = null;
      }
      this.trieNodes--;
      node = parent;
    }
  }
}

function isSysFilter(tf: string): boolean {
  return tf.startsWith('$SYS') && (tf.length === 4 || tf.charCodeAt(4) === 0x2f);
}
