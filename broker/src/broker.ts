/**
 * The broker: publish → match → deliver, for every protocol. It holds no sockets and speaks
 * no protocol: channels (MQTT now, the gateways later) turn packets into calls on the broker
 * and the client manager, and own the `Outlet` their session writes to.
 *
 * The publish path, top to bottom:
 *   publish(msg)            counters; the `message.publish` hook may replace or drop it
 *   → retain(msg)           retained set/delete through the ClusterState
 *   → dispatch(msg)         local: the subscriber index finds this node's sessions;
 *   → forward(msg)          remote: the route table names the other nodes that want it
 *   → deliverTo(session)    QoS and flags per subscription, then Session.deliver → Outlet
 *
 * It is also the one place where a subscription, and so a route, appears or disappears:
 * subscribe(), unsubscribe() and dropSubscriptions() keep the subscriber index, the route
 * table and the session's own list in step.
 *
 * Delivery semantics for one PUBLISH:
 * - every matching non-shared subscription of a client is merged into ONE delivery per
 *   client, at the highest QoS of those subscriptions and carrying all their subscription
 *   identifiers [MQTT-3.3.4-2], [MQTT-3.3.4-4] (this is also what MQTT 3.1.1 allows);
 * - each matching shared group gets one copy, to one member picked by the strategy;
 * - QoS is downgraded to the subscription's QoS [MQTT-3.8.4-8] (or upgraded with `upgrade_qos`);
 * - RETAIN is cleared unless the subscription asked for Retain As Published [MQTT-3.3.1-12/13];
 * - No Local subscriptions (and every one with `ignore_loop_deliver`) skip the publisher itself
 *   [MQTT-3.8.3-3]; the subscriber index does that while matching.
 */
import type { Message, PublishProperties, QoS, Subscription } from './types.js';
import type { Store } from './store/index.js';
import { SubscriberIndex, type SharedStrategy } from './router/index.js';
import { SessionRegistry } from './session/registry.js';
import type { Delivery, Session, SessionEvents, SessionLimits } from './session/session.js';
import { Hooks, type ClientInfo } from './hooks.js';
import { Metrics } from './metrics.js';
import { MqttError, RC } from './errors.js';
import type { ClusterState } from './cluster/state.js';
import { messageFromJson, messageToJson, type SessionTransfer } from './cluster/wire.js';
import { Authorizer, type AuthorizerOptions } from './access/authorizer.js';
import type { Will } from './clients/wills.js';
import type { ChannelTracer } from './trace/tracer.js';

export interface BrokerLog {
  info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void; debug(o: object, m?: string): void;
}

export interface BrokerOptions {
  nodeName: string;
  store: Store;
  state: ClusterState;
  log: BrokerLog;
  limits: SessionLimits;
  sharedStrategy: SharedStrategy;
  upgradeQos: boolean;
  /** Never deliver a client its own publishes (EMQX's ignore_loop_deliver). */
  ignoreLoopDeliver: boolean;
  retainer: { enable: boolean; maxRetained: number; maxPayloadSize: number; msgExpiryMs: number };
  delayed: { enable: boolean };
  sysEvents: { connected: boolean; disconnected: boolean };
  authorization: AuthorizerOptions;
}

/**
 * Forwards a message to another node that has a route for it (the cluster link): `plain` when
 * the node has plain subscribers to it, `groups` the shared groups (group, filter) it must serve.
 */
export type Forwarder = (node: string, msg: Message, plain: boolean, groups: Array<[string, string]>, acked?: () => void) => void;

/** Where a clustered publish goes besides this node: per other node, plain and/or groups. */
/** What one clustered publish sends one node; reused from publish to publish (`stamp` says which). */
interface NodePlan { node: string; plain: boolean; groups: Array<[string, string]>; stamp: number }
const NO_GROUPS: ReadonlySet<string> = new Set();
/** Queued deliveries beyond which an online session holds back forwarded messages' acknowledgements. */
const PRESSURE_QUEUE = 256;
/** Retained messages sent on SUBSCRIBE per event-loop turn (≈ 0.3 ms of work on the benchmark machine). */
export const RETAIN_SLICE = 256;

export class Broker {
  readonly nodeName: string;
  /** This node's subscriptions: topic → local sessions. */
  readonly index: SubscriberIndex;
  readonly state: ClusterState;
  readonly sessions: SessionRegistry;
  readonly hooks: Hooks;
  readonly authorizer: Authorizer;
  readonly metrics = new Metrics();
  readonly store: Store;
  readonly opts: BrokerOptions;
  /** Set by the cluster backend; null on a single node. */
  forwarder: Forwarder | null = null;
  /**
   * Set by the cluster backend: true while a node behind the link has too many messages
   * unacknowledged; publishers' channels then stop reading until `relieved()` (waitForCluster).
   */
  clusterBusy: (() => boolean) | null = null;
  private readonly clusterWaiters = new Set<() => void>();
  /** A channel waits for the cluster link to catch up; `resume` is called once it has. */
  waitForCluster(resume: () => void): void { this.clusterWaiters.add(resume); this.metrics.counters['messages.forward.paused']++; }
  /** The link caught up: every waiting publisher reads again. */
  relieved(): void {
    const all = [...this.clusterWaiters];
    this.clusterWaiters.clear();
    for (const r of all) r();
  }
  /**
   * Topic rewrite of SUBSCRIBE and UNSUBSCRIBE filters (transform/topic-rewrite.ts), applied after
   * authorization as EMQX does; null when no rule rewrites subscriptions.
   */
  rewriteFilter: ((topicFilter: string, client: ClientInfo) => string) | null = null;
  /** Log traces (trace/): what a traced channel reports to; null while the node runs no trace service. */
  trace: ChannelTracer | null = null;
  /** True while a topic trace runs: only then does a channel offer an untraced client's PUBLISH to `trace`. */
  traceTopics = false;
  /** Called when a session ends (the client manager flushes its delayed will). */
  onSessionEnd: ((clientId: string) => void) | null = null;
  private nextId = 1;
  // Scratch state for one dispatch, reused to avoid allocating per message.
  private readonly matched: Subscription[] = [];
  // In a cluster, which matches this node serves: plain subscribers (not when a message came from
  // another node only for a shared group), and the shared groups assigned here (null = all).
  private plainHere = true;
  private groupsHere: ReadonlySet<string> | null = null;
  private readonly onMatch = (sub: Subscription): void => {
    if (sub.group === null ? !this.plainHere : this.groupsHere !== null && !this.groupsHere.has(groupKey(sub.group, sub.topicFilter))) return;
    this.matched.push(sub);
  };
  private readonly online = (clientId: string): boolean => {
    const s = this.sessions.get(clientId);
    return s !== undefined && s.outlet !== null;
  };
  private readonly usable = (node: string): boolean => this.state.usable(node);

  constructor(opts: BrokerOptions) {
    this.opts = opts;
    this.nodeName = opts.nodeName;
    this.store = opts.store;
    this.state = opts.state;
    this.hooks = new Hooks((name, err) => opts.log.error({ hook: name, err }, 'hook callback failed; skipped'));
    this.authorizer = new Authorizer(this.hooks, this.metrics.counters, opts.authorization);
    this.index = new SubscriberIndex({ strategy: opts.sharedStrategy, ignoreLoopDeliver: opts.ignoreLoopDeliver });
    const events: SessionEvents = {
      dropped: (s, msg, reason) => {
        this.metrics.droppedDelivery(reason);
        if (this.hooks.active('message.dropped')) this.hooks.run('message.dropped', msg, s.clientId, reason);
      },
      delivered: (s, msg) => {
        this.metrics.counters['messages.delivered']++;
        if (this.hooks.active('message.delivered')) this.hooks.run('message.delivered', s.clientId, msg);
      },
      acked: (s, msg) => {
        this.metrics.counters['messages.acked']++;
        if (this.hooks.active('message.acked')) this.hooks.run('message.acked', s.clientId, msg);
      },
      awaitRelExpired: () => { this.metrics.counters['messages.dropped.await_pubrel_timeout']++; },
    };
    this.sessions = new SessionRegistry(opts.store, opts.limits, events, {
      dropRoutes: (s) => this.dropSubscriptions(s),
      saved: (rec) => this.state.saveSession(rec),
      forgotten: (clientId) => this.state.dropSession(clientId),
      terminated: (s, reason) => {
        this.metrics.counters['session.terminated']++;
        this.state.unregisterClient(s.clientId);
        this.hooks.run('session.terminated', s.clientId, reason);
        if (this.onSessionEnd !== null) this.onSessionEnd(s.clientId);
      },
    });
  }

  /** Loads retained messages, persistent sessions (and their routes) and delayed messages. */
  start(): void {
    const maxId = this.state.start((m) => this.publish(m));
    if (maxId >= this.nextId) this.nextId = maxId + 1;
    const loaded = this.sessions.load(Date.now());
    for (const s of loaded) {
      this.state.registerClient(s.clientId);
      for (const sub of [...s.subscriptions.values()]) {
        try { this.addRoute(sub); } catch { s.subscriptions.delete(sub.filter); }
      }
      for (const d of s.pending()) if (d.msg.id >= this.nextId) this.nextId = d.msg.id + 1;
    }
    this.opts.log.info({ retained: this.state.retained.size, sessions: loaded.length, delayed: this.state.delayedCount }, 'state restored');
  }

  stop(): void {
    // Held link acknowledgements go out: the node is leaving.
    for (const w of this.pressureWaits.splice(0)) w.resolve();
    if (this.pressureTimer !== null) { clearInterval(this.pressureTimer); this.pressureTimer = null; }
    this.state.stop();
  }

  /** Builds a Message with a fresh id; expiry from the MQTT 5 Message Expiry Interval. */
  newMessage(topic: string, payload: Buffer, qos: QoS, retain: boolean, properties: PublishProperties | null, from: string): Message {
    const now = Date.now();
    const exp = properties?.messageExpiryInterval;
    return {
      id: this.nextId++, topic, payload, qos, retain, properties, from,
      timestamp: now, expiresAt: exp !== undefined ? now + exp * 1000 : 0,
    };
  }

  // ---- the publish path ----------------------------------------------------------------------

  /**
   * Publishes a message: retained store, then every matching subscriber. Returns the number of
   * deliveries (on this node). With `acks`, a QoS 1/2 message forwarded to other nodes adds one
   * promise per node, settled when that node acknowledged it (durability.mode sync waits for them).
   */
  publish(msg: Message, acks?: Array<Promise<void>>): number {
    this.metrics.counters['messages.publish']++;
    if (this.hooks.active('message.publish')) {
      const m = this.hooks.transform(msg);
      if (m === null) { this.metrics.counters['messages.dropped.hook']++; return 0; }
      msg = m;
    }
    if (msg.retain) this.retain(msg);
    if (this.state.routes.remoteRoutes !== 0 && this.forwarder !== null) return this.publishClustered(msg, acks);
    return this.dispatch(msg);
  }

  /**
   * Publish with other nodes in the route table: the table says which nodes get the message (once
   * each, however many subscribers they have) and which node serves each matching shared group;
   * this node serves its plain subscribers and the groups assigned to it.
   */
  private publishClustered(msg: Message, acks: Array<Promise<void>> | undefined): number {
    const planned = this.planned;
    this.plannedCount = 0;
    this.planStamp++;
    this.here = null;
    this.state.routes.match(msg.topic, msg.from, this.onPlan, this.usable);
    this.groupsHere = this.here ?? NO_GROUPS;
    let n: number;
    // A message that goes to another node was not dropped for want of subscribers.
    try { n = this.dispatch(msg, this.plannedCount === 0); } finally { this.groupsHere = null; }
    // forwarder() encodes and queues on the link at once (it never publishes back into this
    // broker, nor keeps the groups list), so the reused plans are read in place.
    for (let i = 0; i < this.plannedCount; i++) {
      const p = planned[i]!;
      this.metrics.counters['messages.forward']++;
      if (acks !== undefined && msg.qos > 0) acks.push(new Promise<void>((resolve) => this.forwarder!(p.node, msg, p.plain, p.groups, resolve)));
      else this.forwarder!(p.node, msg, p.plain, p.groups);
    }
    return n;
  }

  // Scratch state of one clustered publish (publishClustered), reused: nothing allocated per message.
  /** One plan per node ever planned for (a handful), reset by stamp rather than re-created. */
  private readonly planOf = new Map<string, NodePlan>();
  /** planned[0, plannedCount): the nodes this publish goes to (a count, not a truncated array). */
  private readonly planned: NodePlan[] = [];
  private plannedCount = 0;
  private planStamp = 0;
  private here: Set<string> | null = null;
  private readonly onPlan = (node: string, group: string | null, topicFilter: string): void => {
    if (group !== null && node === this.nodeName) { (this.here ??= new Set()).add(groupKey(group, topicFilter)); return; }
    let p = this.planOf.get(node);
    if (p === undefined) { p = { node, plain: false, groups: [], stamp: 0 }; this.planOf.set(node, p); }
    if (p.stamp !== this.planStamp) {
      p.stamp = this.planStamp;
      p.plain = false;
      if (p.groups.length !== 0) p.groups.length = 0;
      this.planned[this.plannedCount++] = p;
    }
    if (group === null) p.plain = true; else p.groups.push([group, topicFilter]);
  };

  /**
   * A message another node forwarded here: delivered to this node's plain subscribers (when
   * `plain`) and to one member of each listed shared group. Not retained again, not forwarded.
   */
  dispatchRemote(msg: Message, plain: boolean, groups: ReadonlyArray<[string, string]>): number {
    this.metrics.counters['messages.forward.received']++;
    // Message ids are per node: it gets one of this node's, so nothing keyed by id collides. The
    // link decoded this message for this call alone, so it is renumbered in place.
    const local = msg;
    local.id = this.nextId++;
    this.plainHere = plain;
    this.groupsHere = groups.length === 0 ? NO_GROUPS : new Set(groups.map(([g, f]) => groupKey(g, f)));
    if (msg.qos > 0) {
      if (this.pressureScratch.length !== 0) this.pressureScratch.length = 0;
      this.pressured = this.pressureScratch;
    }
    let n: number;
    try { n = this.dispatch(local, false); } finally { this.plainHere = true; this.groupsHere = null; }
    // A route summary's false positive (or a subscriber that left meanwhile): counted apart.
    if (n === 0) this.metrics.counters['messages.forward.unmatched']++;
    return n;
  }

  /** Routes a message to this node's matching sessions (no retained handling). */
  dispatch(msg: Message, countUnmatched = true): number {
    const matched = this.matched;
    // Truncating an array is a runtime call even when it is empty: only when there is something to drop.
    if (matched.length !== 0) matched.length = 0;
    this.index.match(msg.topic, msg.from, this.onMatch, this.online);
    const n = matched.length;
    if (n === 0) {
      if (countUnmatched) {
        this.metrics.counters['messages.dropped.no_subscribers']++;
        // EMQX's message.dropped (not for $SYS messages, as its rule events ignore them).
        if (this.hooks.active('message.dropped') && !msg.topic.startsWith('$SYS/')) this.hooks.run('message.dropped', msg, null, 'no_subscribers');
      }
      return 0;
    }
    if (n === 1) {
      const sub = matched[0];
      matched.length = 0;
      const id = sub.options.subscriptionId;
      this.deliverTo(sub.clientId, msg, sub.options.qos, sub.options.retainAsPublished, id !== 0 ? [id] : null, sub.group, sub.group === null ? null : sub.topicFilter);
      return 1;
    }
    // Several matches: one delivery per client for non-shared subscriptions (merged), one per shared group.
    const subs = matched.slice();
    matched.length = 0;
    let merged: Map<string, { qos: QoS; rap: boolean; ids: number[] | null }> | null = null;
    let count = 0;
    for (const sub of subs) {
      const o = sub.options;
      if (sub.group !== null) { this.deliverTo(sub.clientId, msg, o.qos, o.retainAsPublished, o.subscriptionId ? [o.subscriptionId] : null, sub.group, sub.topicFilter); count++; continue; }
      merged ??= new Map();
      const acc = merged.get(sub.clientId);
      if (acc === undefined) merged.set(sub.clientId, { qos: o.qos, rap: o.retainAsPublished, ids: o.subscriptionId ? [o.subscriptionId] : null });
      else {
        if (o.qos > acc.qos) acc.qos = o.qos;
        acc.rap ||= o.retainAsPublished;
        if (o.subscriptionId) (acc.ids ??= []).push(o.subscriptionId);
      }
    }
    if (merged !== null) for (const [cid, acc] of merged) { this.deliverTo(cid, msg, acc.qos, acc.rap, acc.ids, null, null); count++; }
    return count;
  }

  private deliverTo(clientId: string, msg: Message, subQos: QoS, rap: boolean, ids: number[] | null, group: string | null, topicFilter: string | null): void {
    const s = this.sessions.get(clientId);
    if (s === undefined) return;
    const qos = this.opts.upgradeQos ? (msg.qos > subQos ? msg.qos : subQos) : (msg.qos < subQos ? msg.qos : subQos);
    s.deliver(msg, qos, rap ? msg.retain : false, ids, group, topicFilter);
    // A forwarded QoS 1/2 message into an online session that is falling behind: remembered, so
    // the link holds its acknowledgement until the session catches up (remoteBackPressure).
    if (this.pressured !== null && qos > 0 && s.outlet !== null && s.queued >= PRESSURE_QUEUE) this.pressured.push(s);
  }

  private pressured: Session[] | null = null;
  private readonly pressureScratch: Session[] = [];

  /**
   * Back-pressure across nodes: after dispatchRemote, the online sessions it queued a QoS 1/2
   * message into beyond PRESSURE_QUEUE; null when none. The node link waits (resolved promise) until
   * their queues are at half that, or they went offline, or 2 s passed — and only then acknowledges
   * the message, so the sending node's unacknowledged count grows and its publishers wait instead of
   * these queues overflowing (mqtt.max_mqueue_len) and dropping acknowledged messages.
   */
  remoteBackPressure(): Promise<void> | null {
    const ps = this.pressured;
    this.pressured = null;
    if (ps === null || ps.length === 0) return null;
    return new Promise((resolve) => {
      this.pressureWaits.push({ sessions: [...new Set(ps)], deadline: Date.now() + 2000, resolve });
      // One timer checks every waiting acknowledgement, however many messages wait.
      if (this.pressureTimer === null) { this.pressureTimer = setInterval(() => this.checkPressure(), 5); this.pressureTimer.unref(); }
    });
  }

  private pressureWaits: Array<{ sessions: Session[]; deadline: number; resolve: () => void }> = [];
  private pressureTimer: NodeJS.Timeout | null = null;

  private checkPressure(): void {
    const now = Date.now();
    const caughtUp = (x: Session): boolean => x.outlet === null || x.queued < PRESSURE_QUEUE / 2;
    const waiting = this.pressureWaits;
    this.pressureWaits = [];
    for (const w of waiting) {
      if (now >= w.deadline || w.sessions.every(caughtUp)) w.resolve(); else this.pressureWaits.push(w);
    }
    if (this.pressureWaits.length === 0 && this.pressureTimer !== null) { clearInterval(this.pressureTimer); this.pressureTimer = null; }
  }


  // ---- retained messages ---------------------------------------------------------------------

  private retain(msg: Message): void {
    const r = this.opts.retainer;
    if (!r.enable) return;
    if (msg.payload.length === 0) {
      // [MQTT-3.3.1-6/7] an empty retained message deletes the topic's retained message and is not stored
      this.state.deleteRetained(msg.topic);
      return;
    }
    if (r.maxPayloadSize > 0 && msg.payload.length > r.maxPayloadSize) return;
    const retained = this.state.retained;
    if (r.maxRetained > 0 && retained.get(msg.topic) === undefined && retained.size >= r.maxRetained) return;
    // The payload may be a view into a large socket chunk: a retained copy must not pin it.
    const payload = msg.payload.byteLength < msg.payload.buffer.byteLength ? Buffer.from(msg.payload) : msg.payload;
    const stored = { ...msg, payload, expiresAt: msg.expiresAt === 0 && r.msgExpiryMs > 0 ? msg.timestamp + r.msgExpiryMs : msg.expiresAt };
    this.state.putRetained(stored);
    this.metrics.counters['messages.retained']++;
  }

  /** Deletes a topic's retained message (REST API); false when there was none. */
  deleteRetained(topic: string): boolean { return this.state.deleteRetained(topic); }

  /** The topic's retained message, if any (not expired). */
  getRetained(topic: string): Message | undefined { return this.state.retained.get(topic); }

  /** Sends the retained messages matching a new subscription, per its Retain Handling option. */
  deliverRetained(session: Session, sub: Subscription, isNew: boolean): void {
    // [MQTT-3.3.1-9..11] retain handling; shared subscriptions get no retained messages [MQTT-4.8.2].
    if (sub.group !== null || sub.options.retainHandling === 2 || (sub.options.retainHandling === 1 && !isNew)) return;
    this.sendRetained(session, sub, this.state.retained.matching(sub.topicFilter, Date.now()), true);
  }

  /**
   * Sends the retained messages `found` yields to the subscription, RETAIN_SLICE per event-loop
   * turn — the index walked as they go out, not first — so a `#` subscriber with 10,000 retained
   * messages no longer holds every other client for the whole burst (≈ 13 ms in one pass, the
   * walk alone 6 ms while its code is cold); it takes turns with them. The rest is dropped if the
   * subscription went away (unsubscribed, replaced, or its session ended) in between; after the
   * first turn a message whose topic's retained copy was replaced or cleared meanwhile is skipped
   * (a newer one went out live).
   */
  private sendRetained(session: Session, sub: Subscription, found: Generator<Message, void, undefined>, first: boolean): void {
    if (!first && (session.subscriptions.get(sub.filter) !== sub || this.sessions.get(session.clientId) !== session)) {
      found.return(undefined);
      return;
    }
    const o = sub.options;
    const ids = o.subscriptionId ? [o.subscriptionId] : null;
    const now = Date.now();
    for (let n = 0; n < RETAIN_SLICE; n++) {
      const r = found.next();
      if (r.done === true) return;
      const msg = r.value;
      if (!first && this.state.retained.get(msg.topic, now)?.id !== msg.id) continue;
      const qos = this.opts.upgradeQos ? Math.max(msg.qos, o.qos) as QoS : Math.min(msg.qos, o.qos) as QoS;
      session.deliver(msg, qos, true, ids, null, null); // [MQTT-3.3.1-8] RETAIN=1 for retained messages sent on subscribe
    }
    setImmediate(() => this.sendRetained(session, sub, found, false));
  }

  // ---- subscriptions: the one place where a route appears or disappears ----------------------

  /**
   * Adds (or replaces) a session's subscription. Returns the granted QoS, or a reason code ≥ 0x80:
   * 0x97 when another client holds the `$exclusive` filter.
   */
  subscribe(session: Session, sub: Subscription): { code: number; isNew: boolean } {
    if (sub.exclusive) {
      const owner = this.index.exclusiveOwner(sub.topicFilter);
      if (owner !== null && owner !== session.clientId) return { code: RC.QUOTA_EXCEEDED, isNew: false }; // EMQX: 0x97 when the exclusive topic is taken
    }
    const isNew = !session.subscriptions.has(sub.filter);
    try { this.addRoute(sub); } catch (err) { return { code: err instanceof MqttError ? err.reason : RC.QUOTA_EXCEEDED, isNew: false }; }
    session.subscriptions.set(sub.filter, sub);
    this.metrics.counters['client.subscribe']++;
    this.hooks.run('session.subscribed', session.clientId, sub);
    return { code: sub.options.qos, isNew };
  }

  /** Removes a session's subscription by the filter as subscribed; false when it had none. */
  unsubscribe(session: Session, filter: string): boolean {
    const sub = session.subscriptions.get(filter);
    if (sub === undefined) return false;
    session.subscriptions.delete(filter);
    this.removeRoute(sub);
    this.metrics.counters['client.unsubscribe']++;
    this.hooks.run('session.unsubscribed', session.clientId, filter);
    return true;
  }

  /** Removes every route of a session that is ending (its subscriptions stay on the object). */
  dropSubscriptions(s: Session): void {
    for (const sub of s.subscriptions.values()) this.removeRoute(sub);
  }

  private addRoute(sub: Subscription): void {
    const before = this.index.filterCount(sub.topicFilter);
    const { replaced } = this.index.add(sub);
    if (before === 0) this.state.addRoute(sub.topicFilter);
    if (!replaced && sub.group !== null) this.state.joinGroup(sub.group, sub.topicFilter);
  }

  private removeRoute(sub: Subscription): void {
    if (!this.index.remove(sub.clientId, sub.filter)) return;
    if (sub.exclusive) this.state.releaseExclusive(sub.topicFilter, sub.clientId);
    if (sub.group !== null) this.state.leaveGroup(sub.group, sub.topicFilter);
    if (this.index.filterCount(sub.topicFilter) === 0) this.state.removeRoute(sub.topicFilter);
  }

  /** Moves unacknowledged shared-subscription deliveries of a leaving member to the rest of its group. */
  redispatch(deliveries: Delivery[], leaving: string): void {
    const exclude = new Set([leaving]);
    for (const d of deliveries) {
      const sub = this.index.pickShared(d.group!, d.topicFilter!, d.msg.topic, d.msg.from, exclude, this.online);
      if (sub === null) {
        // No other member online: a persistent leaving session keeps the message for its next
        // connection instead of losing it ([MQTT-4.8.2], a QoS 1/2 message is not dropped).
        const own = this.sessions.get(leaving);
        if (own !== undefined && own.persistent) own.enqueue(d);
        else this.metrics.droppedDelivery('no_subscribers');
        continue;
      }
      // The subscription identifier is the new member's own [MQTT-3.3.4-3], as dispatch() gives it.
      const id = sub.options.subscriptionId;
      this.deliverTo(sub.clientId, d.msg, sub.options.qos, sub.options.retainAsPublished, id !== 0 ? [id] : null, d.group, d.topicFilter);
    }
  }

  // ---- sessions moving between nodes (cluster takeover) ---------------------------------------

  /** The session as another node takes it over: subscriptions, queued and in-flight messages, QoS 2 state. */
  exportSession(s: Session): SessionTransfer {
    return {
      clientId: s.clientId,
      expiryInterval: s.expiryInterval,
      subs: [...s.subscriptions.values()].map((x) => ({ filter: x.filter, topicFilter: x.topicFilter, group: x.group, exclusive: x.exclusive, options: x.options })),
      deliveries: s.pending().map((d) => [d.seq, { m: messageToJson(d.msg), q: d.qos, r: d.retain, s: d.subIds, g: d.group, f: d.topicFilter, p: d.packetId, st: d.state }]),
      awaitingRel: [...s.awaitingRel].map(([pid]) => pid),
    };
  }

  /** Rebuilds a session handed over by another node (its routes added here, its messages stored here). */
  adoptSession(t: SessionTransfer): Session {
    const old = this.sessions.get(t.clientId);
    if (old !== undefined) this.sessions.terminate(old, 'takenover');
    const s = this.sessions.create(t.clientId, t.expiryInterval);
    for (const x of t.subs) {
      const sub: Subscription = { clientId: t.clientId, filter: x.filter, topicFilter: x.topicFilter, group: x.group, exclusive: x.exclusive, options: x.options };
      try { this.addRoute(sub); s.subscriptions.set(sub.filter, sub); } catch { continue; /* an exclusive filter held here by another client */ }
      if (sub.exclusive) void Promise.resolve(this.state.claimExclusive(sub.topicFilter, sub.clientId));
    }
    this.sessions.save(s);
    s.adopt(t.deliveries.map(([seq, d]) => [seq, { ...d, m: { ...messageFromJson(d.m), id: this.nextId++ } }]));
    const now = Date.now();
    for (const pid of t.awaitingRel) s.awaitRel(pid, now);
    return s;
  }

  /** Delivers the queued and in-flight messages of a transferred session to a session that lives on here. */
  mergeDeliveries(s: Session, t: SessionTransfer): void {
    for (const [, d] of t.deliveries) s.deliver({ ...messageFromJson(d.m), id: this.nextId++ }, d.q, d.r, d.s, d.g, d.f);
  }

  // ---- delayed messages and wills --------------------------------------------------------------

  /** Starts a `$delayed/{seconds}/{topic}` publish; false when the delayed store is full or disabled. */
  publishDelayed(msg: Message, delaySec: number): boolean {
    if (!this.opts.delayed.enable) return false;
    if (!this.state.addDelayed(msg, delaySec)) return false;
    this.metrics.counters['messages.delayed']++;
    return true;
  }

  /** Publishes a will whose time has come, authorized as the client that set it. */
  publishWill(will: Will): void {
    const go = (): void => { this.publish(this.newMessage(will.topic, will.payload, will.qos, will.retain, will.properties, will.client.clientId)); };
    const verdict = this.authorizer.check(will.client, 'publish', will.topic, will.qos, will.retain);
    if (verdict === 'allow') { go(); return; }
    if (verdict === 'deny') return;
    verdict.then((v) => { if (v === 'allow') go(); }, (err) => this.opts.log.error({ err, clientid: will.client.clientId }, 'will authorization failed; will not published'));
  }

  // ---- $SYS client events ------------------------------------------------------------------------

  /** Client lifecycle events on `$SYS/brokers/{node}/clients/{clientid}/{connected|disconnected}`. */
  sysEvent(kind: 'connected' | 'disconnected', info: ClientInfo, reason: string): void {
    if (!this.opts.sysEvents[kind]) return;
    // Usually nobody subscribes to these: then the event is counted as publish() would count it, and
    // the topic (when no filter starts with $SYS), the JSON payload and the message are never built.
    const hooked = this.hooks.active('message.publish');
    if (!hooked && !this.index.hasSysSubscriptions && this.state.routes.remoteRoutes === 0) { this.countUndeliverable(); return; }
    // [MQTT-3.3.2-2] a topic name never holds wildcards: + # (and NUL) in a client id are %-encoded
    const id = /[+#\u0000]/.test(info.clientId) ? info.clientId.replace(/[+#\u0000]/g, (ch) => encodeURIComponent(ch)) : info.clientId;
    const topic = `$SYS/brokers/${this.nodeName}/clients/${id}/${kind}`;
    if (!hooked && this.state.routes.remoteRoutes === 0) {
      const matched = this.matched;
      this.index.match(topic, '', this.onMatch, this.online);
      const n = matched.length;
      matched.length = 0;
      if (n === 0) { this.countUndeliverable(); return; }
    }
    const payload: Record<string, unknown> = {
      clientid: info.clientId, username: info.username, ipaddress: info.peerHost, proto_name: info.protocol, proto_ver: info.protocolVersion, ts: Date.now(),
    };
    if (kind === 'disconnected') payload.reason = reason;
    this.publish(this.newMessage(topic, Buffer.from(JSON.stringify(payload)), 0, false, null, ''));
  }

  /** Counts a message nobody can receive, as publish() → dispatch() would. */
  private countUndeliverable(): void {
    this.metrics.counters['messages.publish']++;
    this.metrics.counters['messages.dropped.no_subscribers']++;
  }
}

/** A shared group is named by group and topic filter (`$share/g/a` and `$share/g/b` are two groups). */
function groupKey(group: string, topicFilter: string): string { return group + '\u0000' + topicFilter; }
