/**
 * The broker: publish → match → deliver, and the place where retained messages, sessions,
 * wills, delayed messages and hooks meet. It holds no sockets; channels (MQTT and the
 * gateways) call `publish()` and own an `Outlet` that their session writes to.
 *
 * Delivery semantics for one PUBLISH:
 * - every matching non-shared subscription of a client is merged into ONE delivery per
 *   client, at the highest QoS of those subscriptions and carrying all their subscription
 *   identifiers [MQTT-3.3.4-2], [MQTT-3.3.4-4] (this is also what MQTT 3.1.1 allows);
 * - each matching shared group gets one copy, to one member picked by the strategy;
 * - QoS is downgraded to the subscription's QoS [MQTT-3.8.4-8] (or upgraded with `upgrade_qos`);
 * - RETAIN is cleared unless the subscription asked for Retain As Published [MQTT-3.3.1-12/13];
 * - No Local subscriptions (and every one with `ignore_loop_deliver`) skip the publisher itself
 *   [MQTT-3.8.3-3]; the router does that while matching.
 */
import type { Message, PublishProperties, QoS, Subscription } from './types.js';
import type { Store } from './store/index.js';
import { Router, RetainedIndex, type SharedStrategy } from './router/index.js';
import { SessionRegistry } from './session/registry.js';
import type { Delivery, Session, SessionEvents, SessionLimits } from './session/session.js';
import { Hooks, type ClientInfo } from './hooks.js';
import { Metrics } from './metrics.js';
import { DelayedPublisher } from './delayed.js';
import type { ErrorCode } from './errors.js';
import { encodePublish } from './mqtt/codec/index.js';

/** What the broker needs to know about a connected client's channel. */
export interface ClientChannel {
  readonly clientId: string;
  readonly connectedAt: number;
  info(): ClientInfo;
  /** Closes the connection for a server-side reason (takeover, kick, shutdown). */
  kick(code: ErrorCode, serverReference?: string): void;
}

export interface BrokerOptions {
  nodeName: string;
  store: Store;
  log: { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void; debug(o: object, m?: string): void };
  limits: SessionLimits;
  sharedStrategy: SharedStrategy;
  upgradeQos: boolean;
  /** Never deliver a client its own publishes (EMQX's ignore_loop_deliver). */
  ignoreLoopDeliver: boolean;
  retainer: { enable: boolean; maxRetained: number; maxPayloadSize: number; msgExpiryMs: number };
  delayed: { enable: boolean; maxDelayed: number };
  sysEvents: { connected: boolean; disconnected: boolean };
}

export class Broker {
  readonly nodeName: string;
  readonly router: Router;
  readonly retained = new RetainedIndex();
  readonly sessions: SessionRegistry;
  readonly hooks: Hooks;
  readonly metrics = new Metrics();
  readonly store: Store;
  readonly delayed: DelayedPublisher;
  /** Online channels by client id. */
  readonly channels = new Map<string, ClientChannel>();
  readonly opts: BrokerOptions;
  private nextId = 1;
  // Scratch state for one dispatch, reused to avoid allocating per message.
  private readonly matched: Subscription[] = [];
  private readonly onMatch = (sub: Subscription): void => { this.matched.push(sub); };
  private readonly online = (clientId: string): boolean => this.channels.has(clientId);
  private sweepTimer: NodeJS.Timeout | null = null;
  private encMsg: Message | null = null;
  private readonly encBufs: Array<Buffer | undefined> = new Array(12).fill(undefined);

  constructor(opts: BrokerOptions) {
    this.opts = opts;
    this.nodeName = opts.nodeName;
    this.store = opts.store;
    this.hooks = new Hooks((name, err) => opts.log.error({ hook: name, err }, 'hook callback failed; skipped'));
    this.router = new Router({ strategy: opts.sharedStrategy, ignoreLoopDeliver: opts.ignoreLoopDeliver });
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
    };
    this.sessions = new SessionRegistry(opts.store, this.router, opts.limits, events, (s, reason) => {
      this.metrics.counters['session.terminated']++;
      this.hooks.run('session.terminated', s.clientId, reason);
    });
    this.delayed = new DelayedPublisher(opts.store, (m) => this.publish(m), opts.delayed.maxDelayed);
  }

  /** Loads retained messages, persistent sessions and delayed messages; starts the expiry sweep. */
  start(): void {
    const now = Date.now();
    for (const [, v] of this.store.scan('retained')) {
      const m = v as Message;
      if (m.expiresAt !== 0 && m.expiresAt <= now) { this.store.del('retained', m.topic); continue; }
      this.retained.set(m);
      if (m.id >= this.nextId) this.nextId = m.id + 1;
    }
    const n = this.sessions.load(now);
    for (const s of this.sessions.values()) for (const d of s.pending()) if (d.msg.id >= this.nextId) this.nextId = d.msg.id + 1;
    const maxDelayedId = this.delayed.load();
    if (maxDelayedId >= this.nextId) this.nextId = maxDelayedId + 1;
    this.opts.log.info({ retained: this.retained.size, sessions: n, delayed: this.delayed.size }, 'state restored');
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.delayed.stop();
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

  /** Publishes a message: retained store, then every matching subscriber. Returns the number of deliveries. */
  publish(msg: Message): number {
    this.metrics.counters['messages.publish']++;
    if (this.hooks.active('message.publish')) this.hooks.run('message.publish', msg);
    if (msg.retain) this.retain(msg);
    return this.dispatch(msg);
  }

  /** Routes a message to matching sessions (no retained handling). */
  dispatch(msg: Message): number {
    const matched = this.matched;
    matched.length = 0;
    this.router.match(msg.topic, msg.from, this.onMatch, this.online);
    const n = matched.length;
    if (n === 0) { this.metrics.counters['messages.dropped.no_subscribers']++; return 0; }
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

  /** Sends the retained messages matching a new subscription, per its Retain Handling option. */
  deliverRetained(session: Session, sub: Subscription, isNew: boolean): void {
    // [MQTT-3.3.1-9..11] retain handling; shared subscriptions get no retained messages [MQTT-4.8.2].
    if (sub.group !== null || sub.options.retainHandling === 2 || (sub.options.retainHandling === 1 && !isNew)) return;
    const o = sub.options;
    const ids = o.subscriptionId ? [o.subscriptionId] : null;
    this.retained.match(sub.topicFilter, Date.now(), (msg) => {
      const qos = this.opts.upgradeQos ? Math.max(msg.qos, o.qos) as QoS : Math.min(msg.qos, o.qos) as QoS;
      session.deliver(msg, qos, true, ids, null, null); // [MQTT-3.3.1-8] RETAIN=1 for retained messages sent on subscribe
    });
  }

  /** Moves unacknowledged shared-subscription deliveries of a leaving member to the rest of its group. */
  redispatch(deliveries: Delivery[], leaving: string): void {
    const exclude = new Set([leaving]);
    for (const d of deliveries) {
      const sub = this.router.pickShared(d.group!, d.topicFilter!, d.msg.topic, d.msg.from, exclude, this.online);
      if (sub === null) {
        // No other member online: a persistent leaving session keeps the message for its next
        // connection instead of losing it ([MQTT-4.8.2], a QoS 1/2 message is not dropped).
        const own = this.sessions.get(leaving);
        if (own !== undefined && own.persistent) own.enqueue(d);
        else this.metrics.droppedDelivery('no_subscribers');
        continue;
      }
      this.deliverTo(sub.clientId, d.msg, sub.options.qos, sub.options.retainAsPublished, d.subIds, d.group, d.topicFilter);
    }
  }

  /** Starts a `$delayed/{seconds}/{topic}` publish; false when the delayed store is full or disabled. */
  publishDelayed(msg: Message, delaySec: number): boolean {
    if (!this.opts.delayed.enable) return false;
    if (!this.delayed.add(msg, delaySec)) return false;
    this.metrics.counters['messages.delayed']++;
    return true;
  }

  private deliverTo(clientId: string, msg: Message, subQos: QoS, rap: boolean, ids: number[] | null, group: string | null, topicFilter: string | null): void {
    const s = this.sessions.get(clientId);
    if (s === undefined) return;
    const qos = this.opts.upgradeQos ? (msg.qos > subQos ? msg.qos : subQos) : (msg.qos < subQos ? msg.qos : subQos);
    s.deliver(msg, qos, rap ? msg.retain : false, ids, group, topicFilter);
  }

  private retain(msg: Message): void {
    const r = this.opts.retainer;
    if (!r.enable) return;
    if (msg.payload.length === 0) {
      // [MQTT-3.3.1-6/7] an empty retained message deletes the topic's retained message and is not stored
      if (this.retained.delete(msg.topic)) this.store.del('retained', msg.topic);
      return;
    }
    if (r.maxPayloadSize > 0 && msg.payload.length > r.maxPayloadSize) return;
    if (r.maxRetained > 0 && this.retained.get(msg.topic) === undefined && this.retained.size >= r.maxRetained) return;
    // The payload may be a view into a large socket chunk: a retained copy must not pin it.
    const payload = msg.payload.byteLength < msg.payload.buffer.byteLength ? Buffer.from(msg.payload) : msg.payload;
    const stored = { ...msg, payload, expiresAt: msg.expiresAt === 0 && r.msgExpiryMs > 0 ? msg.timestamp + r.msgExpiryMs : msg.expiresAt };
    this.retained.set(stored);
    this.store.put('retained', msg.topic, stored);
    this.metrics.counters['messages.retained']++;
  }

  /**
   * The bytes of a PUBLISH without per-subscriber properties, encoded once per
   * (message, wire format, QoS, retain) and shared by every subscriber it goes to. MQTT 3.1
   * and 3.1.1 PUBLISH bytes are identical, so they share a slot. The packet id is patched in
   * by the caller for QoS > 0.
   */
  encodeCached(msg: Message, version: 3 | 4 | 5, qos: QoS, retain: boolean, dup: boolean): Buffer {
    if (dup) return encodePublish({ topic: msg.topic, payload: msg.payload, qos, retain, dup, messageId: 1 }, version);
    if (this.encMsg !== msg) { this.encMsg = msg; this.encBufs.fill(undefined); }
    const slot = (version === 5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
    let buf = this.encBufs[slot];
    if (buf === undefined) {
      buf = encodePublish({ topic: msg.topic, payload: msg.payload, qos, retain, dup: false, messageId: qos === 0 ? undefined : 1 }, version);
      this.encBufs[slot] = buf;
    }
    return buf;
  }

  /** Client lifecycle events on `$SYS/brokers/{node}/clients/{clientid}/{connected|disconnected}`. */
  sysEvent(kind: 'connected' | 'disconnected', info: ClientInfo, reason: string): void {
    if (!this.opts.sysEvents[kind]) return;
    // Usually nobody subscribes to these: then the event is counted as publish() would count it, and
    // the topic (when no filter starts with $SYS), the JSON payload and the message are never built.
    const hooked = this.hooks.active('message.publish');
    if (!hooked && !this.router.hasSysSubscriptions) { this.countUndeliverable(); return; }
    // [MQTT-3.3.2-2] a topic name never holds wildcards: + # (and NUL) in a client id are %-encoded
    const id = /[+#\u0000]/.test(info.clientId) ? info.clientId.replace(/[+#\u0000]/g, (ch) => encodeURIComponent(ch)) : info.clientId;
    const topic = `$SYS/brokers/${this.nodeName}/clients/${id}/${kind}`;
    if (!hooked) {
      const matched = this.matched;
      this.router.match(topic, '', this.onMatch, this.online);
      const n = matched.length;
      matched.length = 0;
      if (n === 0) { this.countUndeliverable(); return; }
    }
    const payload: Record<string, unknown> = {
      clientid: info.clientId, username: info.username, ipaddress: info.peerHost, proto_ver: info.protocolVersion, ts: Date.now(),
    };
    if (kind === 'disconnected') payload.reason = reason;
    this.publish(this.newMessage(topic, Buffer.from(JSON.stringify(payload)), 0, false, null, ''));
  }

  /** Counts a message nobody can receive, as publish() → dispatch() would. */
  private countUndeliverable(): void {
    this.metrics.counters['messages.publish']++;
    this.metrics.counters['messages.dropped.no_subscribers']++;
  }

  private sweep(): void {
    this.sessions.sweep(Date.now());
  }
}
