/**
 * The session registry: client id → Session, for online and offline sessions alike.
 *
 * It keeps session state: creation, expiry bookkeeping, termination (the session's records
 * leave the store; its routes leave through the broker, which the `SessionOwner` callbacks
 * reach) and the sessions' durable form. *When* those happen — CONNECT, takeover, clean start,
 * the expiry sweep — is the client manager's decision (clients/client-manager.ts).
 * Persistent sessions (expiry > 0) are written to the store ('session' table: metadata and
 * subscriptions; 'sessmsg': queued/inflight deliveries; 'qos2in': QoS 2 packet ids awaiting
 * PUBREL), and `load()` rebuilds them after a restart.
 */
import type { Store } from '../store/index.js';
import { T, clientPrefix, deliverySeq, splitClientKey } from '../store/keys.js';
import type { SubOptions, Subscription } from '../types.js';
import { Session, type DeliveryRecord, type SessionEvents, type SessionLimits } from './session.js';

/** What the registry tells its owner (the broker): routes to drop, a session that ended. */
export interface SessionOwner {
  /** The session is ending: remove its subscriptions' routes. */
  dropRoutes(s: Session): void;
  /** The session ended (hooks, metrics, wills). */
  terminated(s: Session, reason: string): void;
  /** A persistent session's record was written (the cluster keeps a copy of it). */
  saved?(rec: SessionRecord): void;
  /** A persistent session's record went (not called when the session moved to another node). */
  forgotten?(clientId: string): void;
}

/** The 'session' table's value. */
export interface SessionRecord {
  clientId: string;
  expiryInterval: number;
  disconnectedAt: number;
  subs: Array<{ filter: string; topicFilter: string; group: string | null; exclusive: boolean; options: SubOptions }>;
}

/** 0xFFFFFFFF seconds means the session never expires [MQTT-3.1.2-?]: "UINT_MAX". */
export const NEVER_EXPIRE = 0xffffffff;

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly store: Store;
  private readonly limits: SessionLimits;
  private readonly events: SessionEvents;
  private readonly owner: SessionOwner;

  constructor(store: Store, limits: SessionLimits, events: SessionEvents, owner: SessionOwner) {
    this.store = store;
    this.limits = limits;
    this.events = events;
    this.owner = owner;
  }

  get size(): number { return this.sessions.size; }
  get(clientId: string): Session | undefined { return this.sessions.get(clientId); }
  values(): IterableIterator<Session> { return this.sessions.values(); }

  create(clientId: string, expiryInterval: number): Session {
    const s = new Session(clientId, expiryInterval, this.limits, this.store, this.events);
    this.sessions.set(clientId, s);
    if (s.persistent) this.save(s);
    return s;
  }

  /** Ends a session: its subscriptions' routes go (through the owner), its records leave the store. */
  terminate(s: Session, reason: string): void {
    if (this.sessions.get(s.clientId) !== s) return;
    this.sessions.delete(s.clientId);
    this.owner.dropRoutes(s);
    s.clearSubscriptions();
    // Only a persistent session has records: one that stopped being persistent lost them in setExpiry(),
    // and a clean one never had any (no store writes for every clean client that leaves).
    if (s.persistent) this.forget(s.clientId, reason !== 'takenover');
    this.owner.terminated(s, reason);
  }

  /** Changes a session's expiry interval, writing it to or removing it from the store. */
  setExpiry(s: Session, expiryInterval: number): void {
    const was = s.persistent;
    s.expiryInterval = expiryInterval;
    if (s.persistent) this.save(s);
    else if (was) this.forget(s.clientId);
  }

  /** Removes a session's records from the store. */
  private forget(clientId: string, everywhere = true): void {
    if (everywhere) this.owner.forgotten?.(clientId);
    this.store.del(T.session, clientId);
    this.store.delPrefix(T.sessmsg, clientPrefix(clientId));
    this.store.delPrefix(T.qos2in, clientPrefix(clientId));
  }

  /** Writes the session's metadata and subscriptions (after subscribe/unsubscribe/disconnect). */
  save(s: Session): void {
    if (!s.persistent) return;
    const rec: SessionRecord = {
      clientId: s.clientId,
      expiryInterval: s.expiryInterval,
      disconnectedAt: s.disconnectedAt,
      subs: [...s.subscriptions.values()].map((x) => ({ filter: x.filter, topicFilter: x.topicFilter, group: x.group, exclusive: x.exclusive, options: x.options })),
    };
    this.store.put(T.session, s.clientId, rec);
    this.owner.saved?.(rec);
  }

  /** True when an offline session's expiry interval has passed [MQTT-3.1.2-23]. */
  static expired(s: Session, now: number): boolean {
    return s.outlet === null && s.disconnectedAt !== 0 && s.expiryInterval !== NEVER_EXPIRE && now - s.disconnectedAt >= s.expiryInterval * 1000;
  }

  /** Ends offline sessions whose expiry interval has passed. Returns how many ended. */
  sweep(now: number): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      if (SessionRegistry.expired(s, now)) { this.terminate(s, 'expired'); n++; }
    }
    return n;
  }

  /**
   * Rebuilds persistent sessions from the store after a restart; all start offline, with their
   * subscriptions in `subscriptions` (the caller adds their routes). Returns the sessions.
   */
  load(now: number): Session[] {
    const byClient = new Map<string, Array<[number, DeliveryRecord]>>();
    for (const [key, value] of this.store.scan(T.sessmsg)) {
      const { clientId: cid, suffix } = splitClientKey(key);
      let list = byClient.get(cid);
      if (list === undefined) { list = []; byClient.set(cid, list); }
      list.push([deliverySeq(suffix), value as DeliveryRecord]);
    }
    const out: Session[] = [];
    for (const [cid, value] of this.store.scan(T.session)) {
      const rec = value as SessionRecord;
      const s = new Session(cid, rec.expiryInterval, this.limits, this.store, this.events);
      // A broker that was down counts as the client being away since the last record.
      s.disconnectedAt = rec.disconnectedAt || now;
      for (const x of rec.subs) {
        const sub: Subscription = { clientId: cid, filter: x.filter, topicFilter: x.topicFilter, group: x.group, exclusive: x.exclusive, options: x.options };
        s.subscriptions.set(x.filter, sub);
      }
      s.restore(byClient.get(cid) ?? []);
      byClient.delete(cid);
      for (const [key] of this.store.scan(T.qos2in, clientPrefix(cid))) {
        s.awaitingRel.set(Number(splitClientKey(key).suffix), now);
      }
      this.sessions.set(cid, s);
      out.push(s);
    }
    // Deliveries whose session record is gone (terminated just before a crash) are garbage.
    for (const cid of byClient.keys()) this.store.delPrefix(T.sessmsg, clientPrefix(cid));
    return out;
  }
}
