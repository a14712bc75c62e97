/**
 * Test helpers for the session area: an Outlet that records what it is asked to write, session
 * events that record what the session reports, and a Session over an in-memory store.
 */
import type { Message, QoS } from '../../../broker/src/types.js';
import { memoryStore, type Store } from '../../../broker/src/store/index.js';
import { Session, type Outlet, type SessionEvents, type SessionLimits } from '../../../broker/src/session/session.js';

export interface DeliverCall { topic: string; payload: string; qos: QoS; pid: number; dup: boolean; retain: boolean; subIds: number[] | null }

/** An outlet that records every deliver and release; `writable` and `accept` steer its answers. */
export class FakeOutlet implements Outlet {
  readonly delivered: DeliverCall[] = [];
  readonly released: number[] = [];
  canWrite = true;
  accept = true;
  deliver(msg: Message, qos: QoS, pid: number, dup: boolean, retain: boolean, subIds: number[] | null): boolean {
    if (!this.accept) return false;
    this.delivered.push({ topic: msg.topic, payload: msg.payload.toString(), qos, pid, dup, retain, subIds });
    return true;
  }
  release(pid: number): void { this.released.push(pid); }
  writable(): boolean { return this.canWrite; }
  /** Payloads delivered, in order. */
  payloads(): string[] { return this.delivered.map((d) => d.payload); }
}

export interface EventLog {
  dropped: Array<{ payload: string; reason: string }>;
  delivered: string[];
  acked: string[];
  awaitRelExpired: number[];
}

export function recordingEvents(): { events: SessionEvents; log: EventLog } {
  const log: EventLog = { dropped: [], delivered: [], acked: [], awaitRelExpired: [] };
  const events: SessionEvents = {
    dropped: (_s, m, reason) => { log.dropped.push({ payload: m.payload.toString(), reason }); },
    delivered: (_s, m) => { log.delivered.push(m.payload.toString()); },
    acked: (_s, m) => { log.acked.push(m.payload.toString()); },
    awaitRelExpired: (_s, pid) => { log.awaitRelExpired.push(pid); },
  };
  return { events, log };
}

export const LIMITS: SessionLimits = Object.freeze({
  maxInflight: 32,
  maxQueue: 1000,
  storeQos0: true,
  dropPolicy: 'drop_oldest',
  maxAwaitingRel: 100,
  awaitRelTimeoutMs: 10_000,
  retryIntervalMs: 5_000,
});

export function makeSession(opts: { clientId?: string; expiry?: number; limits?: Partial<SessionLimits>; store?: Store } = {}): {
  session: Session; log: EventLog; store: Store; limits: SessionLimits; events: SessionEvents;
} {
  const store = opts.store ?? memoryStore();
  const limits = { ...LIMITS, ...opts.limits };
  const { events, log } = recordingEvents();
  const session = new Session(opts.clientId ?? 'c1', opts.expiry ?? 0, limits, store, events);
  return { session, log, store, limits, events };
}

let nextId = 1;
/** A message as the broker would build it (payload = its name, for readable assertions). */
export function msg(payload: string, extra: Partial<Message> = {}): Message {
  return {
    id: nextId++, topic: 't/1', payload: Buffer.from(payload), qos: 2, retain: false, properties: null,
    from: 'pub', timestamp: Date.now(), expiresAt: 0, ...extra,
  };
}

/** Shorthand: deliver a plain (non-shared) message at `qos`. */
export function give(s: Session, payload: string, qos: QoS, extra: Partial<Message> = {}): Message {
  const m = msg(payload, extra);
  s.deliver(m, qos, false, null, null, null);
  return m;
}
