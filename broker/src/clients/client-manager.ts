/**
 * The client manager: a client's life across connections, the same for every protocol.
 *
 * A protocol channel (mqtt/channel.ts now, the gateways' channels later) validates and
 * authenticates a client, then calls:
 *
 *   open(conn, req)        takeover of an older connection with the same client id (it is
 *                          kicked: MQTT 5 DISCONNECT 0x8E), expiry check, clean start or
 *                          resumption of the session, the pending delayed will cancelled
 *   activate(conn, …)      after the protocol's acknowledgement (CONNACK): the session is
 *                          attached (resends, queue drain), `client.connected`, $SYS event
 *   closed(conn, …)        the connection ended: the session is detached, its shared-group
 *                          deliveries go to the group's other members, the will is scheduled
 *                          unless the client left normally, a session with expiry 0 ends
 *
 * and the node's API and shutdown call kick(), discard(), and stop(). Once a second tick()
 * runs every online session's own timers and ends offline sessions whose expiry has passed.
 */
import type { Broker } from '../broker.js';
import type { ClientInfo } from '../hooks.js';
import type { ErrorCode } from '../errors.js';
import { SessionRegistry, NEVER_EXPIRE, type SessionRecord } from '../session/registry.js';
import type { AttachOptions, Outlet, Session } from '../session/session.js';
import { WillScheduler, type Will } from './wills.js';
import type { SessionTransfer } from '../cluster/wire.js';

/** What the client manager needs of a live connection, whatever its protocol. */
export interface ClientConnection extends Outlet {
  /** Built once when the client connected. */
  readonly info: ClientInfo;
  readonly connectedAt: number;
  /** The client asked for a new session (MQTT clean start / clean session). */
  readonly cleanStart: boolean;
  /** Keep alive in seconds (0 = none). */
  readonly keepalive: number;
  /** Closes the connection for a server-side reason (takeover, kick, shutdown, drain); the will goes out. */
  kick(code: ErrorCode, serverReference?: string): void;
}

export interface OpenRequest {
  /** Discard any existing session [MQTT-3.1.2-4]. */
  cleanStart: boolean;
  /** Session expiry in seconds (0 = ends with the connection; NEVER_EXPIRE = never). */
  expiry: number;
  will: Will | null;
}

export interface Logger { debug(o: object, m?: string): void; warn?(o: object, m?: string): void; isLevelEnabled?(level: string): boolean }

export class ClientManager {
  private readonly broker: Broker;
  private readonly log: Logger;
  readonly wills: WillScheduler;
  /** Live connections by client id. */
  private readonly conns = new Map<string, ClientConnection>();
  /** The will of each live connection, published when it ends abnormally. */
  private readonly liveWills = new Map<ClientConnection, Will>();

  constructor(broker: Broker, log: Logger) {
    this.broker = broker;
    this.log = log;
    this.wills = new WillScheduler(broker.store, (w) => broker.publishWill(w));
    // A session that ends while its will is delayed publishes the will at once [MQTT-3.1.3-9].
    broker.onSessionEnd = (clientId) => this.wills.flush(clientId);
    broker.state.handle('session.takeover', (args) => this.handOver(args as { clientId: string; discard: boolean }));
    broker.state.onOrphans = (node, recs) => { void this.adoptOrphans(node, recs); };
    broker.state.onReclaimed = (clientId, from) => { void this.reclaim(clientId, from); };
  }

  /**
   * Before open(), in a cluster: claims the client id cluster-wide; when another node held it,
   * that node closes its connection (DISCONNECT 0x8E) and hands the session over (or discards it
   * on clean start). null when there is nothing to wait for (a single node). A node that does not
   * answer costs the session, not the connection: the client gets a new one.
   */
  claim(clientId: string, cleanStart: boolean): Promise<void> | null {
    const b = this.broker;
    const claimed = b.state.claimClient(clientId);
    if (claimed === null) return null;
    return claimed.then(async (prev) => {
      if (prev === null) {
        // Nobody holds the client: a persistent session whose node died lives on in its record.
        if (!cleanStart && b.sessions.get(clientId) === undefined) await this.resumeFromRecord(clientId);
        return;
      }
      b.metrics.counters['session.takenover']++;
      try {
        const t = await b.state.call(prev, 'session.takeover', { clientId, discard: cleanStart });
        if (t !== null && !cleanStart) b.adoptSession(t as SessionTransfer);
      } catch (err) {
        if (cleanStart) return;
        // The node that held it is gone: its backup node has the session, else its record does.
        this.log.warn?.({ clientid: clientId, node: prev, err: (err as Error).message }, 'session takeover failed; recovering the session from its backup');
        const t = await Promise.resolve(b.state.recoverSession(clientId, prev)).catch(() => null);
        if (t !== null && b.sessions.get(clientId) === undefined) {
          const s = b.adoptSession(t);
          s.disconnectedAt = Date.now();
        } else await this.resumeFromRecord(clientId);
      }
    });
  }

  /**
   * Another node took the client over: its connection here closes, the session is handed over
   * (or discarded), and this node's writes reach the cluster before the answer does — so the new
   * node's writes (routes, session record) come after them.
   */
  private async handOver(args: { clientId: string; discard: boolean }): Promise<SessionTransfer | null> {
    const b = this.broker;
    const conn = this.conns.get(args.clientId);
    if (conn !== undefined) conn.kick('SESSION_TAKEN_OVER');
    const s = b.sessions.get(args.clientId);
    let t: SessionTransfer | null = null;
    if (s !== undefined) {
      if (!args.discard) t = b.exportSession(s);
      b.sessions.terminate(s, args.discard ? 'discarded' : 'takenover');
    }
    await b.state.settle();
    return t;
  }

  /**
   * After a partition: `from` adopted this node's session of the client while this node was cut
   * off; what it queued meanwhile comes back and is delivered to the session here.
   */
  private async reclaim(clientId: string, from: string): Promise<void> {
    const b = this.broker;
    let t: SessionTransfer | null;
    try { t = await b.state.call(from, 'session.takeover', { clientId, discard: false }) as SessionTransfer | null; } catch (err) {
      this.log.warn?.({ clientid: clientId, node: from, err: (err as Error).message }, 'could not take back a session adopted during a partition');
      return;
    }
    if (t === null) return;
    const s = b.sessions.get(clientId);
    if (s === undefined) { b.adoptSession(t); return; }
    b.mergeDeliveries(s, t);
  }

  /** Rebuilds a persistent session from the cluster's record (its node died before handing it over). */
  private async resumeFromRecord(clientId: string): Promise<void> {
    const b = this.broker;
    const rec = await b.state.loadSession(clientId);
    if (rec === null || rec.node === b.nodeName || b.sessions.get(clientId) !== undefined) return;
    const now = Date.now();
    const away = rec.disconnectedAt || now;
    if (rec.expiryInterval !== NEVER_EXPIRE && now - away >= rec.expiryInterval * 1000) { b.state.dropSession(clientId); return; }
    const s = b.adoptSession({ clientId, expiryInterval: rec.expiryInterval, subs: rec.subs, deliveries: [], awaitingRel: [] });
    s.disconnectedAt = away;
  }

  /**
   * This node adopts the persistent sessions of a node that died: each one not yet claimed
   * elsewhere becomes an offline session here (its subscriptions routed, messages queued for it)
   * until its client comes back (anywhere) or it expires.
   */
  private async adoptOrphans(node: string, recs: SessionRecord[]): Promise<void> {
    const b = this.broker;
    const now = Date.now();
    let adopted = 0;
    for (const rec of recs) {
      const away = rec.disconnectedAt || now;
      if (rec.expiryInterval !== NEVER_EXPIRE && now - away >= rec.expiryInterval * 1000) { b.state.dropSession(rec.clientId); continue; }
      if (b.sessions.get(rec.clientId) !== undefined) continue;
      try { if (!(await b.state.claimFree(rec.clientId))) continue; } catch { continue; }
      if (b.sessions.get(rec.clientId) !== undefined) continue;
      const copy = await Promise.resolve(b.state.recoverSession(rec.clientId, node)).catch(() => null);
      if (b.sessions.get(rec.clientId) !== undefined) continue;
      const s = b.adoptSession(copy ?? { clientId: rec.clientId, expiryInterval: rec.expiryInterval, subs: rec.subs, deliveries: [], awaitingRel: [] });
      s.disconnectedAt = away;
      b.sessions.save(s);
      adopted++;
    }
    this.log.warn?.({ node, adopted, records: recs.length }, 'adopted the persistent sessions of a departed node');
  }

  /** Connected clients. */
  get size(): number { return this.conns.size; }
  get(clientId: string): ClientConnection | undefined { return this.conns.get(clientId); }
  connections(): IterableIterator<ClientConnection> { return this.conns.values(); }

  /** Re-arms delayed wills pending at the last stop; call after the broker has started. */
  start(): void { this.wills.restore(); }

  /**
   * Opens the session for a new connection of `conn.info.clientId`: the older connection of the
   * same client is taken over [MQTT-3.1.4-3], an expired session is gone [MQTT-3.1.2-23], clean
   * start discards the old session [MQTT-3.1.2-4]. The connection is registered; the session is
   * attached later, by activate(), after the protocol's acknowledgement went out.
   */
  open(conn: ClientConnection, req: OpenRequest): { session: Session; present: boolean } {
    const b = this.broker;
    const c = b.metrics.counters;
    const clientId = conn.info.clientId;
    const old = this.conns.get(clientId);
    if (old !== undefined && old !== conn) {
      c['session.takenover']++;
      old.kick('SESSION_TAKEN_OVER');
    }
    let session = b.sessions.get(clientId);
    // Expired even if the once-a-second sweep has not run yet.
    if (session !== undefined && SessionRegistry.expired(session, Date.now())) {
      b.sessions.terminate(session, 'expired');
      session = undefined;
    }
    if (session !== undefined && req.cleanStart) {
      c['session.discarded']++;
      b.sessions.terminate(session, 'discarded');
      session = undefined;
    }
    let present = false;
    if (session === undefined) {
      session = b.sessions.create(clientId, req.expiry);
      b.state.registerClient(clientId);
      c['session.created']++;
      b.hooks.run('session.created', clientId);
    } else {
      present = true;
      b.sessions.setExpiry(session, req.expiry);
      c['session.resumed']++;
      b.hooks.run('session.resumed', clientId);
    }
    this.wills.cancel(clientId);
    this.conns.set(clientId, conn);
    if (req.will !== null) this.liveWills.set(conn, req.will);
    return { session, present };
  }

  /** The protocol acknowledged the connection: resend what is in flight, drain the queue, announce it. */
  activate(conn: ClientConnection, session: Session, opts: AttachOptions): void {
    const b = this.broker;
    b.metrics.counters['client.connected']++;
    // [MQTT-4.4.0-1] resend unacknowledged messages, then what was queued while away
    session.attach(conn, opts);
    b.hooks.run('client.connected', conn.info);
    b.sysEvent('connected', conn.info, '');
  }

  /** Replaces (or removes) the will of a live connection (MQTT-SN WILLTOPICUPD, for one). */
  setWill(conn: ClientConnection, will: Will | null): void {
    if (will === null) this.liveWills.delete(conn); else this.liveWills.set(conn, will);
  }

  /** Changes the session expiry while connected (MQTT 5 DISCONNECT with Session Expiry Interval). */
  setExpiry(session: Session, expiry: number): void { this.broker.sessions.setExpiry(session, expiry); }

  /**
   * A connection that was opened has ended. `publishWill` is false only for a normal
   * disconnect.
   */
  closed(conn: ClientConnection, session: Session | null, reason: string, publishWill: boolean): void {
    const b = this.broker;
    const clientId = conn.info.clientId;
    const current = this.conns.get(clientId) === conn;
    if (current) this.conns.delete(clientId);
    const will = this.liveWills.get(conn);
    if (will !== undefined) this.liveWills.delete(conn);
    // A connection that ended between open() and activate() never attached, yet the session is
    // its own (a newer connection would have taken it over first): without this, an expiry-0
    // session would stay forever (disconnectedAt 0 never expires) and the will would be lost.
    if (session !== null && (session.outlet === conn || (current && session.outlet === null))) {
      session.detach();
      const shared = session.takeShared();
      if (shared.length > 0) b.redispatch(shared, clientId);
      if (publishWill && will !== undefined) this.wills.schedule(will, session.expiryInterval);
      if (!session.persistent) b.sessions.terminate(session, 'disconnected');
      else b.sessions.save(session);
    }
    b.metrics.counters['client.disconnected']++;
    b.hooks.run('client.disconnected', conn.info, reason);
    b.sysEvent('disconnected', conn.info, reason);
    if (this.log.isLevelEnabled?.('debug') !== false) this.log.debug({ clientid: clientId, peer: `${conn.info.peerHost}:${conn.info.peerPort}`, reason }, 'client disconnected');
  }

  /** Closes a client's connection for a server-side reason; false when it is not connected. */
  kick(clientId: string, code: ErrorCode, serverReference?: string): boolean {
    const conn = this.conns.get(clientId);
    if (conn === undefined) return false;
    conn.kick(code, serverReference);
    return true;
  }

  /** The REST API's kick: the connection is closed and the session ends. False when neither exists. */
  discard(clientId: string): boolean {
    const online = this.kick(clientId, 'ADMINISTRATIVE_ACTION');
    const s = this.broker.sessions.get(clientId);
    if (s !== undefined) this.broker.sessions.terminate(s, 'kicked');
    return online || s !== undefined;
  }

  /** Once a second: online sessions' own timers (resend, await-PUBREL), then the expiry sweep. */
  tick(now: number): void {
    for (const conn of this.conns.values()) {
      const s = this.broker.sessions.get(conn.info.clientId);
      if (s !== undefined && s.outlet === conn) s.tick(now);
    }
    this.broker.sessions.sweep(now);
  }

  /** Every connection closed with `code` (shutdown, drain); returns how many there were. */
  kickAll(code: ErrorCode, serverReference?: string): number {
    const all = [...this.conns.values()];
    for (const conn of all) conn.kick(code, serverReference);
    return all.length;
  }

  /** Node stop: delayed wills stop (their stored copies wait for the restart). */
  stop(): void { this.wills.stop(); }
}

export { NEVER_EXPIRE };
