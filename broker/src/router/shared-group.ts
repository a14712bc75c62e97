/**
 * A shared-subscription group (MQTT 5 §4.8.2): the members that subscribed `$share/{group}/{filter}`
 * (or `$queue/{filter}`) for one topic filter. Each matching message goes to ONE member, chosen by
 * a strategy:
 *
 * - `random`                 uniform over the eligible members;
 * - `round_robin`            rotate through the members, one cursor per group;
 * - `round_robin_per_group`  the same here. (EMQX keeps `round_robin` per publishing process; this
 *                            router runs on one event loop per node, where the two coincide.)
 * - `sticky`                 keep the last picked member while it stays eligible, then pick anew;
 * - `hash_clientid`          hash of the publisher's client id: one publisher, one member;
 * - `hash_topic`             hash of the topic: one topic, one member;
 * - `local`                  prefer members on this node. Every member the router holds is local
 *                            (remote nodes live in the cluster route table), so this is random.
 *
 * Members live in an array plus a key → index map, so add, remove and pick are O(1); a pick only
 * walks further when members are not eligible (offline, excluded for a re-dispatch, or No Local).
 * Hashing and starting points stay the same for a given member list, so results are reproducible.
 */
import type { Subscription } from '../types.js';

export type SharedStrategy =
  | 'random'
  | 'round_robin'
  | 'round_robin_per_group'
  | 'sticky'
  | 'hash_clientid'
  | 'hash_topic'
  | 'local';

export const SHARED_STRATEGIES: readonly SharedStrategy[] = [
  'random', 'round_robin', 'round_robin_per_group', 'sticky', 'hash_clientid', 'hash_topic', 'local',
];

/** FNV-1a over UTF-16 code units: cheap, no allocation, stable across runs. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Key of one subscription: a client may hold several filters. */
export function subKey(clientId: string, filter: string): string {
  return clientId + '\u0000' + filter;
}

export class SharedGroup {
  readonly name: string;
  readonly topicFilter: string;
  readonly members: Subscription[];
  private readonly index: Map<string, number>;
  /** Next position for round robin. */
  private cursor: number;
  /** The member sticky keeps picking; null when none or removed. */
  private sticky: Subscription | null;

  constructor(name: string, topicFilter: string) {
    this.name = name;
    this.topicFilter = topicFilter;
    this.members = [];
    this.index = new Map();
    this.cursor = 0;
    this.sticky = null;
  }

  get size(): number {
    return this.members.length;
  }

  /** Adds or replaces; returns true when it replaced an existing member. */
  set(sub: Subscription): boolean {
    const key = subKey(sub.clientId, sub.filter);
    const at = this.index.get(key);
    if (at !== undefined) {
      if (this.sticky === this.members[at]) this.sticky = sub;
      this.members[at] = sub;
      return true;
    }
    this.index.set(key, this.members.length);
    this.members.push(sub);
    return false;
  }

  /** Removes by key; swaps the last member into the hole. */
  remove(clientId: string, filter: string): Subscription | null {
    const key = subKey(clientId, filter);
    const at = this.index.get(key);
    if (at === undefined) return null;
    const gone = this.members[at]!;
    const last = this.members.pop()!;
    this.index.delete(key);
    if (last !== gone) {
      this.members[at] = last;
      this.index.set(subKey(last.clientId, last.filter), at);
    }
    if (this.sticky === gone) this.sticky = null;
    return gone;
  }

  /**
   * One member chosen by the strategy among those that are eligible, not excluded, and not the
   * publisher with No Local set; when none is eligible, one among the rest; null when there is none.
   */
  pick(
    strategy: SharedStrategy,
    random: () => number,
    topic: string,
    publisher: string,
    exclude: ReadonlySet<string> | null,
    eligible: ((clientId: string) => boolean) | undefined,
  ): Subscription | null {
    const members = this.members;
    const n = members.length;
    if (n === 0) return null;
    let start: number;
    switch (strategy) {
      case 'round_robin':
      case 'round_robin_per_group':
        start = this.cursor % n;
        break;
      case 'sticky': {
        const s = this.sticky;
        if (s !== null && usable(s, publisher, exclude, eligible)) return s;
        start = Math.floor(random() * n) % n;
        break;
      }
      case 'hash_clientid':
        start = fnv1a(publisher) % n;
        break;
      case 'hash_topic':
        start = fnv1a(topic) % n;
        break;
      default: // random, local
        start = Math.floor(random() * n) % n;
    }
    for (let k = 0; k < n; k++) {
      let i = start + k;
      if (i >= n) i -= n;
      const m = members[i]!;
      if (!usable(m, publisher, exclude, eligible)) continue;
      if (strategy === 'round_robin' || strategy === 'round_robin_per_group') this.cursor = i + 1;
      else if (strategy === 'sticky') this.sticky = m;
      return m;
    }
    // Nobody eligible (e.g. every member offline): any member will do — an offline persistent
    // member's session queues the message, so a QoS 1/2 message is not lost.
    if (eligible !== undefined) return this.pick(strategy, random, topic, publisher, exclude, undefined);
    return null;
  }
}

function usable(
  m: Subscription,
  publisher: string,
  exclude: ReadonlySet<string> | null,
  eligible: ((clientId: string) => boolean) | undefined,
): boolean {
  // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error at SUBSCRIBE; should one
  // slip through, never send the publisher its own message.
  if (m.options.noLocal && m.clientId === publisher) return false;
  if (exclude !== null && exclude.has(m.clientId)) return false;
  return eligible === undefined || eligible(m.clientId);
}
