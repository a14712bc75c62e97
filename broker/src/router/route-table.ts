/**
 * The route table: which NODES want messages published to a topic — topic filter → the
 * nodes that have at least one subscriber to it (EMQX's emqx_route). One node alone has one
 * destination, itself; in a cluster the table is the local copy of every node's routes, and a
 * publish is forwarded once to each other node the topic matches (the remote node then uses
 * its own subscriber index to find its sessions).
 *
 * A route is a (topic filter, node) pair counted once however many sessions of that node
 * subscribe to the filter: the broker adds it when the node's first subscriber to the filter
 * appears and removes it when the last one goes. Shared subscriptions route on their topic
 * filter like plain ones (the group picks its member on the node that receives the message).
 *
 * Matching reuses the subscriber index's trie with one pseudo-subscription per route
 * (clientId = node name), so a route lookup costs what a local match costs.
 */
import type { Subscription } from '../types.js';
import { SubscriberIndex } from './subscriber-index.js';

const ROUTE_OPTIONS = Object.freeze({ qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 }) as Subscription['options'];

export class RouteTable {
  /** This node's name: its routes are counted apart from the others'. */
  readonly self: string;
  private readonly index = new SubscriberIndex();
  private remote = 0;

  constructor(self: string) { this.self = self; }

  /** Routes of other nodes. The publish path forwards only when this is not 0. */
  get remoteRoutes(): number { return this.remote; }
  /** Every route (filter, node). */
  get size(): number { return this.index.size; }

  /** Adds the route (topicFilter → node); false when it was there already. */
  add(topicFilter: string, node: string): boolean {
    const r = this.index.add({ clientId: node, filter: topicFilter, topicFilter, group: null, exclusive: false, options: ROUTE_OPTIONS });
    if (r.replaced) return false;
    if (node !== this.self) this.remote++;
    return true;
  }

  /** Removes the route; false when there was none. */
  remove(topicFilter: string, node: string): boolean {
    if (!this.index.remove(node, topicFilter)) return false;
    if (node !== this.self) this.remote--;
    return true;
  }

  /** Removes every route of a node (it left the cluster); returns how many there were. */
  removeNode(node: string): number {
    const n = this.index.removeClient(node);
    if (node !== this.self) this.remote -= n;
    return n;
  }

  /** Calls visit once per node (other than this one) with a route matching the topic. */
  matchRemote(topic: string, visit: (node: string) => void): void {
    if (this.remote === 0) return;
    // A node with several matching filters is met once per filter, and not necessarily in a row
    // (filter a/# → n2, n3 then a/+ → n2, n3): remember every node reported. The set is made
    // only when a second node matches, so the usual single-destination case allocates nothing.
    let first = '';
    let seen: Set<string> | null = null;
    this.index.match(topic, '', (sub) => {
      const node = sub.clientId;
      if (node === this.self || node === first) return;
      if (first === '') { first = node; visit(node); return; }
      if (seen === null) seen = new Set();
      else if (seen.has(node)) return;
      seen.add(node);
      visit(node);
    });
  }

  /** The nodes with a route for exactly this filter. */
  nodesOf(topicFilter: string): string[] {
    return this.index.clients().filter((n) => this.index.has(n, topicFilter));
  }

  /** Every route as (topic filter, node) — what /api/v5/topics lists. */
  list(): Array<{ topic: string; node: string }> {
    const out: Array<{ topic: string; node: string }> = [];
    for (const node of this.index.clients()) for (const sub of this.index.subscriptionsOf(node)) out.push({ topic: sub.topicFilter, node });
    return out;
  }
}
