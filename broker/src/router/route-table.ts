/**
 * The route table: which NODES want messages published to a topic — topic filter → the
 * nodes that have at least one subscriber to it (EMQX's emqx_route). One node alone has one
 * destination, itself; in a cluster the table is the local copy of every node's routes, and a
 * publish is forwarded once to each other node the topic matches (the remote node then uses
 * its own subscriber index to find its sessions).
 *
 * A route is a (topic filter, node) pair counted once however many sessions of that node
 * subscribe to the filter: the broker adds it when the node's first subscriber to the filter
 * appears and removes it when the last one goes. A shared group is routed as well, as a
 * (group, filter, node) membership: the publishing node picks the group's node (the cluster-wide
 * share of the strategy), and that node picks the member among its own sessions.
 *
 * Matching reuses the subscriber index's trie with one pseudo-subscription per route
 * (clientId = node name), so a route lookup costs what a local match costs.
 */
import type { Subscription } from '../types.js';
import { SubscriberIndex } from './subscriber-index.js';
import type { SharedStrategy } from './shared-group.js';
import { SummarySet } from './summary-set.js';
import { TopicProbe } from './route-summary.js';

/** Topics whose summary hits are remembered (route-table's hitCache). */
const SUMMARY_CACHE = 8192;

const ROUTE_OPTIONS = Object.freeze({ qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 }) as Subscription['options'];

/**
 * Where a message goes: once per other node with a plain route (`group` null), and once per
 * matching shared group to the one node picked for it (this node included).
 */
export type RouteVisit = (node: string, group: string | null, topicFilter: string) => void;

export class RouteTable {
  /** This node's name: its routes are counted apart from the others'. */
  readonly self: string;
  private readonly index: SubscriberIndex;
  private readonly localFirst: boolean;
  private remote = 0;
  private remoteGroups = 0;
  /**
   * Other nodes' route summaries (route-summary.ts): their filters with a literal first level,
   * as Bloom filters; a hit means "forward to that node" (a false positive costs one forward).
   */
  readonly summaries = new SummarySet();
  private readonly probe = new TopicProbe();
  /**
   * topic → the nodes whose summaries hit it, for the topics published lately (device topics
   * repeat): hashing a topic and reading the bit-sliced set costs more than a Map lookup. Emptied
   * when any summary changes (generation) or when it holds SUMMARY_CACHE topics.
   */
  private readonly hitCache = new Map<string, readonly string[]>();
  private hitCacheGen = -1;
  private readonly isSelf = (node: string): boolean => node === this.self;

  /**
   * `strategy` picks the node of a shared group when several nodes have members (`local`: this
   * node whenever it has one, EMQX's `local`).
   */
  constructor(self: string, strategy: SharedStrategy = 'random') {
    this.self = self;
    this.localFirst = strategy === 'local';
    this.index = new SubscriberIndex({ strategy: strategy === 'local' ? 'random' : strategy });
  }

  /** Routes of other nodes (a node's summary counts one). The publish path forwards only when this is not 0. */
  get remoteRoutes(): number { return this.remote + this.summaries.size; }
  /** Shared-group routes of other nodes: when not 0 a group may be served on another node. */
  get remoteGroupRoutes(): number { return this.remoteGroups; }
  /** Every route (filter, node). */
  get size(): number { return this.index.size; }

  /**
   * Adds the route (topicFilter → node), or with `group` the node's membership of the shared
   * group; false when it was there already.
   */
  add(topicFilter: string, node: string, group: string | null = null): boolean {
    const filter = group === null ? topicFilter : `$share/${group}/${topicFilter}`;
    const r = this.index.add({ clientId: node, filter, topicFilter, group, exclusive: false, options: ROUTE_OPTIONS });
    if (r.replaced) return false;
    if (node !== this.self) { this.remote++; if (group !== null) this.remoteGroups++; }
    return true;
  }

  /** Removes the route (or group membership); false when there was none. */
  remove(topicFilter: string, node: string, group: string | null = null): boolean {
    const filter = group === null ? topicFilter : `$share/${group}/${topicFilter}`;
    if (!this.index.remove(node, filter)) return false;
    if (node !== this.self) { this.remote--; if (group !== null) this.remoteGroups--; }
    return true;
  }

  /** Removes every route of a node (it left the cluster); returns how many there were. */
  removeNode(node: string): number {
    this.summaries.remove(node);
    if (node !== this.self) for (const sub of this.index.subscriptionsOf(node)) if (sub.group !== null) this.remoteGroups--;
    const n = this.index.removeClient(node);
    if (node !== this.self) this.remote -= n;
    return n;
  }

  /**
   * Visits each other node with a plain route matching the topic once, and for each matching
   * shared group the one node picked for it (possibly this one) among the nodes for which
   * `usable(node)` holds (a group with no usable node is picked among all).
   */
  match(topic: string, publisher: string, visit: RouteVisit, usable?: (node: string) => boolean): void {
    if (this.remote === 0 && this.summaries.size === 0) return;
    // A node with several matching filters is met once per filter, and not necessarily in a row
    // (filter a/# → n2, n3 then a/+ → n2, n3): remember every node reported. The set is made
    // only when a second node matches, so the usual single-destination case allocates nothing.
    let first = '';
    let seen: Set<string> | null = null;
    const eligible = this.localFirst ? this.isSelf : usable;
    this.index.match(topic, publisher, (sub) => {
      const node = sub.clientId;
      if (sub.group !== null) {
        let pick = node;
        if (this.localFirst && node !== this.self && usable !== undefined && !usable(node)) {
          pick = this.index.pickShared(sub.group, sub.topicFilter, topic, publisher, new Set([node]), usable)?.clientId ?? node;
        }
        visit(pick, sub.group, sub.topicFilter);
        return;
      }
      if (node === this.self || node === first) return;
      if (first === '') { first = node; visit(node, null, sub.topicFilter); return; }
      if (seen === null) seen = new Set();
      else if (seen.has(node)) return;
      seen.add(node);
      visit(node, null, sub.topicFilter);
    }, eligible);
    if (this.summaries.size === 0) return;
    const cache = this.hitCache;
    if (this.hitCacheGen !== this.summaries.generation) { cache.clear(); this.hitCacheGen = this.summaries.generation; }
    let hits = cache.get(topic);
    if (hits === undefined) {
      const found: string[] = [];
      this.summaries.match(this.probe.set(topic), found);
      if (cache.size >= SUMMARY_CACHE) cache.clear();
      cache.set(topic, found);
      hits = found;
    }
    for (let i = 0; i < hits.length; i++) {
      const node = hits[i]!;
      if (node === this.self || node === first || (seen !== null && (seen as Set<string>).has(node))) continue;
      if (first === '') first = node; else (seen ??= new Set()).add(node);
      visit(node, null, '');
    }
  }

  /** Calls visit once per node (other than this one) with a plain route matching the topic. */
  matchRemote(topic: string, visit: (node: string) => void): void {
    this.match(topic, '', (node, group) => { if (group === null) visit(node); });
  }

  /** The nodes with a plain route for exactly this filter. */
  nodesOf(topicFilter: string): string[] {
    return this.index.clients().filter((n) => this.index.has(n, topicFilter));
  }

  /** The nodes with members of a shared group. */
  groupNodes(group: string, topicFilter: string): string[] {
    return this.index.groupMembers(group, topicFilter).map((s) => s.clientId);
  }

  /** Every plain route as (topic filter, node) — what /api/v5/topics lists. */
  list(): Array<{ topic: string; node: string }> {
    const out: Array<{ topic: string; node: string }> = [];
    for (const node of this.index.clients()) for (const sub of this.index.subscriptionsOf(node)) if (sub.group === null) out.push({ topic: sub.topicFilter, node });
    return out;
  }

  /** The routes of one node as (filter, group). */
  routesOf(node: string): Array<{ topicFilter: string; group: string | null }> {
    return this.index.subscriptionsOf(node).map((s) => ({ topicFilter: s.topicFilter, group: s.group }));
  }
}
