/**
 * A Session is what MQTT keeps for a client id between network connections: its
 * subscriptions, the QoS 1/2 messages in flight to it (with their packet ids and QoS 2
 * state), the messages queued for it while the window is full or it is offline, and the
 * packet ids of QoS 2 messages it sent us that await PUBREL.
 *
 * The session knows nothing of sockets: it talks to an attached `Outlet` (the channel)
 * while the client is connected, and to the `Store` when it is persistent (expiry > 0), so
 * that a restart after kill -9 finds its queue and inflight window as they were.
 *
 * Ordering: messages enter the inflight window in the order they were queued and are resent
 * in that order on reconnect with DUP set [MQTT-4.4.0-1], [MQTT-4.6.0-1].
 */
import type { Message, QoS, Subscription } from '../types.js';
import type { Store } from '../store/index.js';
import { T, deliveryKey, qos2InKey } from '../store/keys.js';
import { IntMap } from '../util/int-map.js';

/**
 * What the session needs from a connected client, whatever its protocol: the MQTT channel
 * implements it, and so will the gateways' channels. Encoding (MQTT versions, topic aliases,
 * CoAP notifications…) is the outlet's business; the session only decides what goes out when.
 */
export interface Outlet {
  /** Encodes and writes one message; false when it could not be sent (e.g. above the client's Maximum Packet Size). */
  deliver(msg: Message, qos: QoS, packetId: number, dup: boolean, retain: boolean, subIds: number[] | null): boolean;
  /** QoS 2 second step: tells the client the message may be released (MQTT PUBREL). */
  release(packetId: number): void;
  /** False while the connection's write buffer is above its high-water mark. */
  writable(): boolean;
}

/** How a connected client wants its session driven (from its protocol and CONNECT). */
export interface AttachOptions {
  /** Most unacknowledged QoS 1/2 deliveries the client accepts (MQTT 5 Receive Maximum). */
  receiveMaximum: number;
  /** Resend unacknowledged deliveries on the live connection after limits.retryIntervalMs (MQTT 3.x; never MQTT 5 [MQTT-4.4.0-1]). */
  resendOnLive: boolean;
}

/** A message on its way to this session's client. */
export interface Delivery {
  msg: Message;
  qos: QoS;
  retain: boolean;
  subIds: number[] | null;
  /** Shared-subscription origin, so an unacked message can be re-dispatched to the group. */
  group: string | null;
  topicFilter: string | null;
  /** Store key suffix; 0 when the delivery is not persisted. */
  seq: number;
  /** 0 while queued; the packet id once in flight. */
  packetId: number;
  /** 0 = PUBLISH sent, awaiting PUBACK/PUBREC; 1 = PUBREL sent, awaiting PUBCOMP. */
  state: 0 | 1;
  /** When the PUBLISH or PUBREL was last sent (ms), for retry_interval. */
  sentAt: number;
}

export interface SessionLimits {
  maxInflight: number;
  maxQueue: number;
  storeQos0: boolean;
  dropPolicy: 'drop_oldest' | 'drop_new';
  maxAwaitingRel: number;
  /** Drop an incoming QoS 2 packet id whose PUBREL has not come after this long (ms). */
  awaitRelTimeoutMs: number;
  /** Resend interval for clients attached with resendOnLive (ms; 0 = only on reconnect). */
  retryIntervalMs: number;
}

export interface SessionEvents {
  dropped(session: Session, msg: Message, reason: string): void;
  delivered(session: Session, msg: Message): void;
  acked(session: Session, msg: Message): void;
  /** An incoming QoS 2 packet id was forgotten because its PUBREL did not come in time. */
  awaitRelExpired(session: Session, packetId: number): void;
}

/** Serialized form of a queued / inflight delivery in the store's 'sessmsg' table. */
export interface DeliveryRecord {
  m: Message; q: QoS; r: boolean; s: number[] | null; g: string | null; f: string | null; p: number; st: 0 | 1;
}


export class Session {
  readonly clientId: string;
  /** Seconds; 0 = the session ends with the connection; 0xFFFFFFFF = never expires. */
  expiryInterval: number;
  outlet: Outlet | null = null;
  /** ms since epoch when the client went away (offline sessions only). */
  disconnectedAt = 0;
  // The three maps below are created on first use: an idle client should cost little memory.
  private subsMap: Map<string, Subscription> | null = null;
  private inflightMap: IntMap<Delivery> | null = null;
  private awaitingRelMap: IntMap<number> | null = null;
  private queue: Delivery[] = NO_DELIVERIES;
  private qhead = 0;
  private window: number;
  private nextPid = 1;
  private nextSeq = 1;
  /** Inflight packet ids not yet resent after a reconnect because the client's Receive Maximum was reached. */
  private deferred: number[] = NO_PIDS;
  private resendOnLive = false;
  private readonly limits: SessionLimits;
  private readonly store: Store;
  private readonly events: SessionEvents;

  constructor(clientId: string, expiryInterval: number, limits: SessionLimits, store: Store, events: SessionEvents) {
    this.clientId = clientId;
    this.expiryInterval = expiryInterval;
    this.limits = limits;
    this.window = limits.maxInflight;
    this.store = store;
    this.events = events;
  }

  get persistent(): boolean { return this.expiryInterval > 0; }
  /** Filters of this session → subscription (the router holds the same objects). */
  get subscriptions(): Map<string, Subscription> { return (this.subsMap ??= new Map()); }
  /** Drops every subscription (without creating the map when there is none). */
  clearSubscriptions(): void { this.subsMap?.clear(); }
  /** Deliveries in flight by packet id. */
  get inflight(): IntMap<Delivery> { return (this.inflightMap ??= new IntMap()); }
  /** Incoming QoS 2 packet ids that received PUBREC and wait for PUBREL → time received. */
  get awaitingRel(): IntMap<number> { return (this.awaitingRelMap ??= new IntMap()); }
  /** Sizes that do not create the maps (read for every client once a second). */
  get inflightCount(): number { return this.inflightMap === null ? 0 : this.inflightMap.size; }
  get awaitingRelCount(): number { return this.awaitingRelMap === null ? 0 : this.awaitingRelMap.size; }
  get queued(): number { return this.queue.length - this.qhead; }

  /** Connects a client: resends what is in flight (DUP), then fills the window from the queue. */
  attach(outlet: Outlet, opts: AttachOptions): void {
    this.outlet = outlet;
    this.disconnectedAt = 0;
    this.resendOnLive = opts.resendOnLive;
    this.window = Math.max(1, Math.min(opts.receiveMaximum, this.limits.maxInflight));
    const now = Date.now();
    this.deferred = NO_PIDS;
    let resent = 0;
    if (this.inflightMap !== null) for (const [pid, d] of this.inflightMap) {
      if (d.state === 0 && d.msg.expiresAt !== 0 && d.msg.expiresAt <= now) { this.finish(pid, d, 'expired'); continue; }
      // [MQTT-3.3.4-9] never more unacknowledged QoS 1/2 than the client's Receive Maximum: the rest
      // keep their packet ids and are resent as acknowledgements free the window (drain()).
      if (resent >= this.window) { (this.deferred === NO_PIDS ? (this.deferred = []) : this.deferred).push(pid); continue; }
      resent++;
      d.sentAt = now;
      if (d.state === 1) { outlet.release(pid); continue; }
      // [MQTT-4.4.0-1] resend unacknowledged PUBLISH packets with their original packet ids
      if (!outlet.deliver(d.msg, d.qos, pid, true, d.retain, d.subIds)) { resent--; this.finish(pid, d, 'too_large'); }
    }
    this.drain();
  }

  detach(): void {
    this.outlet = null;
    this.disconnectedAt = Date.now();
    // QoS 1 deliveries sent from the queue were not rewritten with their packet id (see send()):
    // write them now, so that a restart resends them with their ids and DUP [MQTT-4.4.0-1].
    if (this.inflightMap !== null) for (const d of this.inflightMap.values()) if (d.seq !== 0 && d.qos === 1) this.persist(d);
  }

  /** Hands one message to the session: sent now, queued, or dropped with a reason. */
  deliver(msg: Message, qos: QoS, retain: boolean, subIds: number[] | null, group: string | null, topicFilter: string | null): void {
    if (msg.expiresAt !== 0 && msg.expiresAt <= Date.now()) { this.events.dropped(this, msg, 'expired'); return; }
    const outlet = this.outlet;
    if (qos === 0 && outlet !== null) {
      if (!outlet.writable()) { this.events.dropped(this, msg, 'busy'); return; }
      if (outlet.deliver(msg, 0, 0, false, retain, subIds)) this.events.delivered(this, msg);
      else this.events.dropped(this, msg, 'too_large');
      return;
    }
    const d = newDelivery(msg, qos, retain, subIds, group, topicFilter);
    if (outlet !== null && this.queue.length === this.qhead && this.inflight.size < this.window) {
      if (this.persistent) d.seq = this.nextSeq++;
      this.send(d);
      return;
    }
    if (qos === 0 && (!this.persistent || !this.limits.storeQos0)) { this.events.dropped(this, d.msg, 'offline'); return; }
    this.enqueue(d);
  }

  /** Puts a delivery at the back of the queue, applying the queue bound and drop policy. */
  enqueue(d: Delivery): void {
    if (this.queued >= this.limits.maxQueue) {
      if (this.limits.dropPolicy === 'drop_new' || this.limits.maxQueue === 0) { this.events.dropped(this, d.msg, 'queue_full'); return; }
      const old = this.queue[this.qhead];
      this.queue[this.qhead++] = undefined as unknown as Delivery;
      if (old.seq !== 0) this.store.del(T.sessmsg, deliveryKey(this.clientId, old.seq));
      this.events.dropped(this, old.msg, 'queue_full');
    }
    if (this.persistent) {
      d.seq = this.nextSeq++;
      this.persist(d);
    }
    this.pushQueue(d);
    if (this.qhead > 1024 && this.qhead * 2 > this.queue.length) { this.queue = this.queue.slice(this.qhead); this.qhead = 0; }
  }

  /** PUBACK from the client. */
  puback(pid: number): boolean {
    const d = this.inflight.get(pid);
    if (d === undefined || d.qos !== 1) return false;
    this.finish(pid, d, null);
    this.drain();
    return true;
  }

  /** PUBREC from the client: QoS 2 step two. Returns false for an unknown packet id. */
  pubrec(pid: number, reasonCode: number): boolean {
    const d = this.inflight.get(pid);
    if (d === undefined || d.qos !== 2) return false;
    if (reasonCode >= 0x80) { this.finish(pid, d, null); this.drain(); return true; }
    if (d.state === 0) {
      d.state = 1;
      d.sentAt = Date.now();
      if (d.seq !== 0) this.persist(d);
    }
    this.outlet?.release(pid);
    return true;
  }

  /** PUBCOMP from the client: QoS 2 done. */
  pubcomp(pid: number): boolean {
    const d = this.inflight.get(pid);
    if (d === undefined || d.state !== 1) return false;
    this.finish(pid, d, null);
    this.drain();
    return true;
  }

  /** Fills the inflight window from the queue. */
  drain(): void {
    const outlet = this.outlet;
    if (outlet === null) return;
    // Resends held back at attach() go first, as the window allows (they count in inflight.size).
    while (this.deferred.length > 0 && this.inflight.size - this.deferred.length < this.window) {
      const pid = this.deferred.shift()!;
      const d = this.inflight.get(pid);
      if (d === undefined) continue;
      d.sentAt = Date.now();
      if (d.state === 1) outlet.release(pid);
      else if (!outlet.deliver(d.msg, d.qos, pid, true, d.retain, d.subIds)) this.finish(pid, d, 'too_large');
    }
    const now = Date.now();
    while (this.qhead < this.queue.length && this.inflight.size < this.window) {
      const d = this.queue[this.qhead];
      this.queue[this.qhead++] = undefined as unknown as Delivery;
      if (d.msg.expiresAt !== 0 && d.msg.expiresAt <= now) {
        if (d.seq !== 0) this.store.del(T.sessmsg, deliveryKey(this.clientId, d.seq));
        this.events.dropped(this, d.msg, 'expired');
        continue;
      }
      if (d.qos === 0) {
        if (d.seq !== 0) this.store.del(T.sessmsg, deliveryKey(this.clientId, d.seq));
        if (outlet.deliver(d.msg, 0, 0, false, d.retain, d.subIds)) this.events.delivered(this, d.msg);
        else this.events.dropped(this, d.msg, 'too_large');
        continue;
      }
      this.send(d, true);
    }
    if (this.qhead === this.queue.length) { this.queue = NO_DELIVERIES; this.qhead = 0; }
  }

  /**
   * Resends (DUP) what has waited longer than `afterMs` for its acknowledgement, oldest first.
   * Used for MQTT 3.x clients only: MQTT 5 forbids resending on a live connection [MQTT-4.4.0-1].
   */
  retry(now: number, afterMs: number): number {
    const outlet = this.outlet;
    if (outlet === null) return 0;
    let n = 0;
    for (const [pid, d] of this.inflight) {
      if (now - d.sentAt < afterMs || (this.deferred.length > 0 && this.deferred.includes(pid))) continue;
      d.sentAt = now;
      if (d.state === 1) outlet.release(pid);
      else outlet.deliver(d.msg, d.qos, pid, true, d.retain, d.subIds);
      n++;
    }
    return n;
  }

  /**
   * The session's own timers, run once a second by the client manager while the client is
   * connected: MQTT 3.x resends after retry_interval, and incoming QoS 2 packet ids whose PUBREL
   * did not come within await_rel_timeout are forgotten (and counted).
   */
  tick(now: number): void {
    const l = this.limits;
    if (this.resendOnLive && l.retryIntervalMs > 0 && this.inflightCount > 0) this.retry(now, l.retryIntervalMs);
    if (this.awaitingRelMap === null || this.awaitingRelMap.size === 0) return;
    for (const [pid, t] of this.awaitingRelMap) {
      if (now - t <= l.awaitRelTimeoutMs) continue;
      this.awaitingRelMap.delete(pid);
      if (this.persistent) this.store.del(T.qos2in, qos2InKey(this.clientId, pid));
      this.events.awaitRelExpired(this, pid);
    }
  }

  /** True when an incoming QoS 2 message with this packet id was received and awaits PUBREL. */
  isAwaitingRel(pid: number): boolean { return this.awaitingRelMap !== null && this.awaitingRelMap.has(pid); }

  /**
   * Remembers an incoming QoS 2 packet id until PUBREL, so a resend is not published twice
   * [MQTT-4.3.3-9]; persistent sessions keep it in the store across restarts.
   */
  awaitRel(pid: number, now: number): void {
    this.awaitingRel.set(pid, now);
    if (this.persistent) this.store.put(T.qos2in, qos2InKey(this.clientId, pid), 1);
  }

  /** PUBREL: forgets the packet id; false when it was not awaited. */
  releaseRel(pid: number): boolean {
    if (this.awaitingRelMap === null || !this.awaitingRelMap.delete(pid)) return false;
    if (this.persistent) this.store.del(T.qos2in, qos2InKey(this.clientId, pid));
    return true;
  }

  /** Removes and returns every delivery that came through a shared subscription (for re-dispatch). */
  takeShared(): Delivery[] {
    const out: Delivery[] = [];
    if (this.inflightMap !== null) for (const [pid, d] of this.inflightMap) {
      if (d.group === null || d.state === 1) continue;
      this.inflight.delete(pid);
      if (d.seq !== 0) this.store.del(T.sessmsg, deliveryKey(this.clientId, d.seq));
      d.packetId = 0; d.seq = 0;
      out.push(d);
    }
    const rest: Delivery[] = [];
    for (let i = this.qhead; i < this.queue.length; i++) {
      const d = this.queue[i];
      if (d.group === null) { rest.push(d); continue; }
      if (d.seq !== 0) this.store.del(T.sessmsg, deliveryKey(this.clientId, d.seq));
      d.seq = 0;
      out.push(d);
    }
    this.queue = rest; this.qhead = 0;
    return out;
  }

  /** Everything still owed to the client, for the REST API and for dropping on termination. */
  pending(): Delivery[] {
    return [...this.inflight.values(), ...this.queue.slice(this.qhead)];
  }

  /** Takes over deliveries from the session's previous node, writing them to this node's store. */
  adopt(records: Array<[number, DeliveryRecord]>): void {
    this.restore(records);
    if (this.persistent) for (const d of this.pending()) this.persist(d);
  }

  /** Rebuilds queue and inflight window from the store after a restart. */
  restore(records: Array<[number, DeliveryRecord]>): void {
    records.sort((a, b) => a[0] - b[0]);
    for (const [seq, r] of records) {
      const d: Delivery = { msg: r.m, qos: r.q, retain: r.r, subIds: r.s, group: r.g, topicFilter: r.f, seq, packetId: r.p, state: r.st, sentAt: NOT_SENT };
      if (seq >= this.nextSeq) this.nextSeq = seq + 1;
      if (r.p !== 0 && !this.inflight.has(r.p)) this.inflight.set(r.p, d);
      else { d.packetId = 0; d.state = 0; this.pushQueue(d); }
    }
  }

  /**
   * Sends a delivery and puts it in flight. `stored` means its record is already in the store
   * (it was queued): then a QoS 1 record is not rewritten just to add the packet id, which halves
   * the store writes of a draining queue. detach() writes those ids when the client goes away; only
   * after a crash while it is connected does such a message go out again from the queue with a
   * new packet id, which QoS 1 (at least once) allows. QoS 2 ids are always written (exactly once).
   */
  private send(d: Delivery, stored = false): void {
    const pid = this.allocPid();
    d.packetId = pid;
    d.sentAt = Date.now();
    this.inflight.set(pid, d);
    if (d.seq !== 0 && (!stored || d.qos !== 1)) this.persist(d);
    if (this.outlet!.deliver(d.msg, d.qos, pid, false, d.retain, d.subIds)) this.events.delivered(this, d.msg);
    else this.finish(pid, d, 'too_large');
  }

  private finish(pid: number, d: Delivery, dropReason: string | null): void {
    this.inflight.delete(pid);
    if (d.seq !== 0) this.store.del(T.sessmsg, deliveryKey(this.clientId, d.seq));
    if (dropReason === null) this.events.acked(this, d.msg);
    else this.events.dropped(this, d.msg, dropReason);
  }

  private persist(d: Delivery): void {
    const rec: DeliveryRecord = { m: d.msg, q: d.qos, r: d.retain, s: d.subIds, g: d.group, f: d.topicFilter, p: d.packetId, st: d.state };
    this.store.put(T.sessmsg, deliveryKey(this.clientId, d.seq), rec);
  }

  /** Appends to the queue, replacing the shared empty array first. */
  private pushQueue(d: Delivery): void {
    if (this.queue === NO_DELIVERIES) this.queue = [];
    this.queue.push(d);
  }

  private allocPid(): number {
    for (let i = 0; i < 65535; i++) {
      const pid = this.nextPid;
      this.nextPid = pid === 65535 ? 1 : pid + 1;
      if (!this.inflight.has(pid)) return pid;
    }
    throw new Error('no free packet identifier');
  }
}

/**
 * Delivery.sentAt before the first send: -0 rather than 0, because -0 is not a small integer, so V8
 * gives the field a double representation from the start. With 0, the first Date.now() stored into
 * any delivery deprecates the object layout, and every delivery already queued is then migrated one
 * by one when first touched (the drain of 100,000 queued deliveries spent ~20% of its time on it).
 */
const NOT_SENT = -0;

/**
 * Shared empty arrays for a session with nothing queued or deferred (most of them): an idle
 * connection should not carry two empty arrays. Never pushed to: code that adds replaces them first.
 */
const NO_DELIVERIES: Delivery[] = [];
const NO_PIDS: number[] = [];

function newDelivery(msg: Message, qos: QoS, retain: boolean, subIds: number[] | null, group: string | null, topicFilter: string | null): Delivery {
  return { msg, qos, retain, subIds, group, topicFilter, seq: 0, packetId: 0, state: 0, sentAt: NOT_SENT };
}
