/**
 * A broker without sockets, wired as broker/src/node.ts wires it: Broker + LocalClusterState +
 * ClientManager over an in-memory store and a silent log. `FakeConnection` stands for a
 * protocol channel: it records every deliver, release and kick, and like the MQTT channel it
 * reports its own end to the client manager when kicked (so a takeover runs as in production).
 */
import { memoryStore, type Store } from '../../../broker/src/store/index.js';
import { Broker, type BrokerOptions } from '../../../broker/src/broker.js';
import { LocalClusterState } from '../../../broker/src/cluster/local.js';
import { ClientManager, type ClientConnection } from '../../../broker/src/clients/client-manager.js';
import type { Will } from '../../../broker/src/clients/wills.js';
import type { ClientInfo } from '../../../broker/src/hooks.js';
import type { ErrorCode } from '../../../broker/src/errors.js';
import type { Session, SessionLimits } from '../../../broker/src/session/session.js';
import type { Message, QoS, SubOptions, Subscription } from '../../../broker/src/types.js';
import { parseFilter } from '../../../broker/src/router/index.js';
import { silentLogger } from '../../../broker/src/log.js';

export interface Sent { topic: string; payload: string; qos: QoS; pid: number; dup: boolean; retain: boolean; subIds: number[] | null }

export class FakeConnection implements ClientConnection {
  readonly info: ClientInfo;
  readonly connectedAt = Date.now();
  readonly cleanStart: boolean;
  readonly keepalive = 0;
  readonly delivered: Sent[] = [];
  readonly released: number[] = [];
  readonly kicks: ErrorCode[] = [];
  session: Session | null = null;
  closed = false;
  canWrite = true;
  private readonly clients: ClientManager;

  constructor(clients: ClientManager, info: ClientInfo, cleanStart: boolean) {
    this.clients = clients;
    this.info = info;
    this.cleanStart = cleanStart;
  }

  deliver(msg: Message, qos: QoS, packetId: number, dup: boolean, retain: boolean, subIds: number[] | null): boolean {
    this.delivered.push({ topic: msg.topic, payload: msg.payload.toString(), qos, pid: packetId, dup, retain, subIds });
    return true;
  }
  release(packetId: number): void { this.released.push(packetId); }
  writable(): boolean { return this.canWrite; }

  /** As the MQTT channel does: a server-side close ends the connection at once, will included. */
  kick(code: ErrorCode): void {
    this.kicks.push(code);
    this.close(code.toLowerCase(), true);
  }

  /** The connection ends (publishWill false = a normal DISCONNECT). */
  close(reason: string, publishWill: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.clients.closed(this, this.session, reason, publishWill);
  }

  payloads(): string[] { return this.delivered.map((d) => d.payload); }
}

export const TEST_LIMITS: SessionLimits = Object.freeze({
  maxInflight: 32,
  maxQueue: 1000,
  storeQos0: false,
  dropPolicy: 'drop_oldest',
  maxAwaitingRel: 100,
  awaitRelTimeoutMs: 300_000,
  retryIntervalMs: 30_000,
});

export interface TestBroker {
  broker: Broker;
  clients: ClientManager;
  state: LocalClusterState;
  store: Store;
  /** open() only: the connection is registered, its acknowledgement not yet sent (no activate()). */
  open(clientId: string, opts?: ConnectOptions): { conn: FakeConnection; session: Session; present: boolean };
  /** open() + activate(), as a channel does around its CONNACK. */
  connect(clientId: string, opts?: ConnectOptions): { conn: FakeConnection; session: Session; present: boolean };
  /** Subscribes a session through the broker (the SUBSCRIBE handler's call). */
  subscribe(session: Session, filter: string, options?: Partial<SubOptions>): { code: number; isNew: boolean };
  /** Publishes as `from` (a message built by the broker). */
  publish(topic: string, payload: string, opts?: { qos?: QoS; retain?: boolean; from?: string }): number;
  counters: Broker['metrics']['counters'];
}

export interface ConnectOptions {
  cleanStart?: boolean;
  expiry?: number;
  will?: Omit<Will, 'client'> | null;
  receiveMaximum?: number;
  username?: string | null;
}

export function clientInfo(clientId: string, username: string | null = null): ClientInfo {
  return { clientId, username, peerHost: '127.0.0.1', peerPort: 1883, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false };
}

export function subscription(clientId: string, filter: string, options: Partial<SubOptions> = {}): Subscription {
  const p = parseFilter(filter);
  if (p.kind === 'invalid') throw new Error(`invalid filter in test: ${filter}`);
  return {
    clientId, filter, topicFilter: p.topicFilter, group: p.group, exclusive: p.exclusive,
    options: { qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0, ...options },
  };
}

export function makeBroker(opts: { limits?: Partial<SessionLimits>; broker?: Partial<Omit<BrokerOptions, 'store' | 'state' | 'log' | 'limits'>>; nodeName?: string } = {}): TestBroker {
  const nodeName = opts.nodeName ?? 'petrel@test';
  const store = memoryStore();
  const log = silentLogger();
  const state = new LocalClusterState(nodeName, store, { maxDelayed: 1000 });
  const broker = new Broker({
    nodeName,
    store,
    state,
    log,
    limits: { ...TEST_LIMITS, ...opts.limits },
    sharedStrategy: 'round_robin',
    upgradeQos: false,
    ignoreLoopDeliver: false,
    retainer: { enable: true, maxRetained: 0, maxPayloadSize: 0, msgExpiryMs: 0 },
    delayed: { enable: true },
    sysEvents: { connected: false, disconnected: false },
    authorization: { cache: { enable: false, maxSize: 32, ttlMs: 60_000 }, noMatch: 'allow' },
    ...opts.broker,
  });
  const clients = new ClientManager(broker, log);
  broker.start();
  clients.start();
  const tb: TestBroker = {
    broker, clients, state, store, counters: broker.metrics.counters,
    open(clientId, c = {}) {
      const cleanStart = c.cleanStart ?? true;
      const conn = new FakeConnection(clients, clientInfo(clientId, c.username ?? null), cleanStart);
      const will = c.will ? { ...c.will, client: conn.info } : null;
      const { session, present } = clients.open(conn, { cleanStart, expiry: c.expiry ?? 0, will });
      conn.session = session;
      return { conn, session, present };
    },
    connect(clientId, c = {}) {
      const r = tb.open(clientId, c);
      clients.activate(r.conn, r.session, { receiveMaximum: c.receiveMaximum ?? 65535, resendOnLive: false });
      return r;
    },
    subscribe(session, filter, options = {}) {
      const sub = subscription(session.clientId, filter, options);
      const r = broker.subscribe(session, sub);
      if (r.code < 0x80) broker.deliverRetained(session, sub, r.isNew);
      return r;
    },
    publish(topic, payload, p = {}) {
      return broker.publish(broker.newMessage(topic, Buffer.from(payload), p.qos ?? 0, p.retain ?? false, null, p.from ?? 'publisher'));
    },
  };
  return tb;
}

/** A will for ConnectOptions.will. */
export function will(topic: string, payload: string, delaySec = 0, qos: QoS = 0): Omit<Will, 'client'> {
  return { topic, payload: Buffer.from(payload), qos, retain: false, properties: null, delaySec };
}
