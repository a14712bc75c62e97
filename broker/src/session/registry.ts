/**
 * The session registry: client id → Session, for online and offline sessions alike.
 *
 * It owns session lifetime: creation on CONNECT, resumption (clean start = 0), expiry of
 * offline sessions after their Session Expiry Interval [MQTT-3.1.2-23], and termination,
 * which removes the session's subscriptions from the router and its records from the store.
 * Persistent sessions (expiry > 0) are written to the store ('session' table: metadata and
 * subscriptions; 'sessmsg': queued/inflight deliveries; 'qos2in': QoS 2 packet ids awaiting
 * PUBREL), and `load()` rebuilds them after a restart.
 */
import type { Store } from '../store/index.js';
import type { Router } from '../router/index.js';
import type { SubOptions, Subscription } from '../types.js';
import { Session, sessionPrefix, type DeliveryRecord, type SessionEvents, type SessionLimits } from './session.js';

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
  private readonly router: Router;
  private readonly limits: SessionLimits;
  private readonly events: SessionEvents;
  private readonly onTerminate: (s: Session, reason: string) => void;

  constructor(store: Store, router: Router, limits: SessionLimits, events: SessionEvents, onTerminate: (s: Session, reason: string) => void) {
    this.store = store;
    this.router = router;
    this.limits = limits;
    this.events = events;
    this.onTerminate = onTerminate;
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

  /** Ends a session: its subscriptions leave the router, its records leave the store. */
  terminate(s: Session, reason: string): void {
    if (this.sessions.get(s.clientId) !== s) return;
    this.sessions.delete(s.clientId);
    this.router.removeClient(s.clientId);
    s.clearSubscriptions();
    // Only a persistent session has records: one that stopped being persistent lost them in setExpiry(),
    // and a clean one never had any (no store writes for every clean client that leaves).
    if (s.persistent) this.forget(s.clientId);
    this.onTerminate(s, reason);
  }

  /** Changes a session's expiry interval, writing it to or removing it from the store. */
  setExpiry(s: Session, expiryInterval: number): void {
    const was = s.persistent;
    s.expiryInterval = expiryInterval;
    if (s.persistent) this.save(s);
    else if (was) this.forget(s.clientId);
  }

  /** Removes a session's records from the store. */
  private forget(clientId: string): void {
    this.store.del('session', clientId);
    this.store.delPrefix('sessmsg', sessionPrefix(clientId));
    this.store.delPrefix('qos2in', sessionPrefix(clientId));
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
    this.store.put('session', s.clientId, rec);
  }

  /** Ends offline sessions whose expiry interval has passed. Returns how many ended. */
  sweep(now: number): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      if (s.outlet !== null || s.disconnectedAt === 0 || s.expiryInterval === NEVER_EXPIRE) continue;
      if (now - s.disconnectedAt >= s.expiryInterval * 1000) { this.terminate(s, 'expired'); n++; }
    }
    return n;
  }

  /** Rebuilds persistent sessions from the store after a restart; all start offline. */
  load(now: number): number {
    const byClient = new Map<string, Array<[number, DeliveryRecord]>>();
    for (const [key, value] of this.store.scan('sessmsg')) {
      const i = key.lastIndexOf('\u0000');
      const cid = key.slice(0, i);
      let list = byClient.get(cid);
      if (list === undefined) { list = []; byClient.set(cid, list); }
      list.push([parseInt(key.slice(i + 1), 36), value as DeliveryRecord]);
    }
    let n = 0;
    for (const [cid, value] of this.store.scan('session')) {
      const rec = value as SessionRecord;
      const s = new Session(cid, rec.expiryInterval, this.limits, this.store, this.events);
      // A broker that was down counts as the client being away since the last record.
      s.disconnectedAt = rec.disconnectedAt || now;
      for (const x of rec.subs) {
        const sub: Subscription = { clientId: cid, filter: x.filter, topicFilter: x.topicFilter, group: x.group, exclusive: x.exclusive, options: x.options };
        s.subscriptions.set(x.filter, sub);
        try { this.router.add(sub); } catch { s.subscriptions.delete(x.filter); }
      }
      s.restore(byClient.get(cid) ?? []);
      byClient.delete(cid);
      for (const [key] of this.store.scan('qos2in', sessionPrefix(cid))) {
        s.awaitingRel.set(Number(key.slice(key.lastIndexOf('\u0000') + 1)), now);
      }
      this.sessions.set(cid, s);
      n++;
    }
    // Deliveries whose session record is gone (terminated just before a crash) are garbage.
    for (const cid of byClient.keys()) this.store.delPrefix('sessmsg', sessionPrefix(cid));
    return n;
  }
}
