/**
 * What a gateway channel may do with the broker, whatever its protocol: build the client's
 * ClientInfo (with `clientinfo_override`), pass the access chain (the `client.connect` gate —
 * banned list, flapping — then authentication), open/activate/close the client through the
 * client manager, and publish, subscribe and unsubscribe with authorization. The mountpoint is
 * applied here and only here: channels speak their clients' topics, the broker sees mounted ones.
 *
 * Authorization answers may be promises (an HTTP or database source): every method that asks
 * returns a promise then, and the channel handles the reply when it comes — datagram protocols
 * have no stream to hold back, each message is answered on its own.
 */
import type { Broker } from '../broker.js';
import type { ClientConnection, ClientManager, OpenRequest } from '../clients/client-manager.js';
import type { AuthzResult, ClientInfo, ConnectVerdict } from '../hooks.js';
import type { Session } from '../session/session.js';
import type { Message, QoS, Subscription } from '../types.js';
import { parseFilter, validTopicFilter, validTopicName } from '../router/index.js';
import type { GatewayCommon } from './config.js';
import type { GatewayMetrics } from './metrics.js';

export interface GatewayLogger {
  info(o: object, m?: string): void; warn(o: object, m?: string): void;
  error(o: object, m?: string): void; debug(o: object, m?: string): void;
}

/** Node-wide MQTT limits a gateway client is held to, as an MQTT client is. */
export interface GatewayLimits {
  maxTopicLevels: number;
  maxQosAllowed: QoS;
  maxClientIdLen: number;
  /** Session expiry (s) for a client that asks to keep its session (clean session 0), from mqtt.session_expiry_interval. */
  sessionExpirySec: number;
  /** Most messages buffered for a sleeping client beyond what the session queues (mqtt.max_mqueue_len). */
  maxBuffered: number;
  /** Resend interval of unacknowledged QoS 1/2 deliveries (mqtt.retry_interval), ms; 0 = never on a live connection. */
  retryIntervalMs: number;
}

export type ConnectOutcome = { ok: true } | { ok: false; reason: string };

/** Who a client says it is, before `clientinfo_override`. */
export interface ClientClaims {
  clientId: string; username: string | null; password: Buffer | null;
  peerHost: string; peerPort: number; listener: string;
}

export class GatewayContext {
  readonly name: string;
  readonly protoName: string;
  readonly protoVer: number;
  readonly broker: Broker;
  readonly clients: ClientManager;
  readonly cfg: GatewayCommon;
  readonly limits: GatewayLimits;
  readonly metrics: GatewayMetrics;
  readonly log: GatewayLogger;

  constructor(o: { name: string; protoName: string; protoVer: number; broker: Broker; clients: ClientManager; cfg: GatewayCommon; limits: GatewayLimits; metrics: GatewayMetrics; log: GatewayLogger }) {
    this.name = o.name;
    this.protoName = o.protoName;
    this.protoVer = o.protoVer;
    this.broker = o.broker;
    this.clients = o.clients;
    this.cfg = o.cfg;
    this.limits = o.limits;
    this.metrics = o.metrics;
    this.log = o.log;
  }

  /** The ClientInfo of a connecting client, `clientinfo_override` applied; its password travels apart. */
  identify(c: ClientClaims): { info: ClientInfo; password: Buffer | null; mountpoint: string } {
    const ov = this.cfg.clientinfoOverride;
    const vars = { clientid: c.clientId, username: c.username ?? '' };
    const clientId = ov.clientid !== null ? fill(ov.clientid, vars) : c.clientId;
    const username = ov.username !== null ? fill(ov.username, vars) : c.username;
    const password = ov.password !== null ? Buffer.from(fill(ov.password, vars)) : c.password;
    const info: ClientInfo = {
      clientId, username, peerHost: c.peerHost, peerPort: c.peerPort, listener: c.listener,
      protocol: this.protoName, protocolVersion: this.protoVer, peerCert: null, isSuperuser: false,
    };
    return { info, password, mountpoint: fill(this.cfg.mountpoint, { clientid: clientId, username: username ?? '' }) };
  }

  /**
   * The access chain: `client.connect` (banned, flapping), then authentication unless the
   * listener has `enable_authn: false`. Resolves with the reason of a refusal, never rejects.
   */
  async authenticate(info: ClientInfo, password: Buffer | null, enableAuthn: boolean): Promise<ConnectOutcome> {
    const b = this.broker;
    const c = b.metrics.counters;
    c['client.connect']++;
    try {
      if (b.hooks.active('client.connect')) {
        const v: ConnectVerdict | undefined = await b.hooks.connect(info);
        if (v !== undefined) { c['client.connect.denied']++; return { ok: false, reason: v.reason }; }
      }
      if (!enableAuthn || !b.hooks.active('client.authenticate')) { c['client.auth.anonymous']++; return { ok: true }; }
      c['client.authenticate']++;
      const r = await b.hooks.authenticate({ client: info, password, method: null, data: null, phase: 'connect', state: {} });
      if (r === undefined) { c['client.auth.anonymous']++; return { ok: true }; }
      if (r.result === 'allow') { if (r.isSuperuser) info.isSuperuser = true; return { ok: true }; }
      c['packets.connack.auth_error']++;
      return { ok: false, reason: r.result === 'deny' ? (r.reason ?? 'NOT_AUTHORIZED') : 'BAD_AUTHENTICATION_METHOD' };
    } catch (err) {
      this.log.error({ err, clientid: info.clientId }, 'gateway client authentication failed with an error');
      return { ok: false, reason: 'NOT_AUTHORIZED' };
    }
  }

  /** Claims the client id (cluster), then opens its session: takeover, resume or clean start. */
  async open(conn: ClientConnection, req: OpenRequest): Promise<{ session: Session; present: boolean }> {
    const claim = this.clients.claim(conn.info.clientId, req.cleanStart);
    if (claim !== null) await claim;
    this.metrics.clientOpened();
    return this.clients.open(conn, req);
  }

  activate(conn: ClientConnection, session: Session): void {
    this.clients.activate(conn, session, { receiveMaximum: 65535, resendOnLive: this.limits.retryIntervalMs > 0 });
  }

  closed(conn: ClientConnection, session: Session | null, reason: string, publishWill: boolean): void {
    this.metrics.clientClosed();
    this.clients.closed(conn, session, reason, publishWill);
  }

  mount(mp: string, topic: string): string { return mp === '' ? topic : mp + topic; }
  /** The client's view of a mounted topic (a topic outside the mountpoint is returned whole). */
  unmount(mp: string, topic: string): string { return mp !== '' && topic.startsWith(mp) ? topic.slice(mp.length) : topic; }

  /** A client's topic name, checked: null when it is not a valid topic name. */
  topicName(mp: string, topic: string): string | null {
    const t = this.mount(mp, topic);
    return validTopicName(t, this.limits.maxTopicLevels) ? t : null;
  }

  /** Authorization of a mounted topic. */
  authorize(info: ClientInfo, action: 'publish' | 'subscribe', topic: string, qos: QoS, retain: boolean): AuthzResult | Promise<AuthzResult> {
    const a = this.broker.authorizer;
    return a.open ? 'allow' : a.check(info, action, topic, qos, retain);
  }

  /** Publishes an authorized message on a mounted topic; the number of deliveries on this node. */
  publish(info: ClientInfo, topic: string, payload: Buffer, qos: QoS, retain: boolean): number {
    const b = this.broker;
    const c = b.metrics.counters;
    c['messages.received']++;
    if (qos === 0) c['messages.qos0.received']++; else if (qos === 1) c['messages.qos1.received']++; else c['messages.qos2.received']++;
    this.metrics.received++;
    const msg: Message = b.newMessage(topic, payload, qos, retain, null, info.clientId);
    return b.publish(msg);
  }

  /**
   * Subscribes the session to a client's filter (mounted here), with authorization; resolves
   * with the granted QoS or a failure: 'invalid' (not a filter), 'denied'.
   */
  subscribe(session: Session, info: ClientInfo, mp: string, filter: string, qos: QoS): QoS | 'invalid' | 'denied' | Promise<QoS | 'invalid' | 'denied'> {
    const mounted = this.mount(mp, filter);
    const pf = parseFilter(mounted);
    if (pf.kind === 'invalid' || pf.exclusive || !validTopicFilter(pf.topicFilter, this.limits.maxTopicLevels)) return 'invalid';
    const q = Math.min(qos, this.limits.maxQosAllowed) as QoS;
    const sub: Subscription = {
      clientId: info.clientId, filter: mounted, topicFilter: pf.topicFilter, group: pf.group, exclusive: false,
      options: { qos: q, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 },
    };
    const finish = (v: AuthzResult): QoS | 'denied' => {
      if (v === 'deny') { this.broker.metrics.counters['packets.subscribe.auth_error']++; return 'denied'; }
      const r = this.broker.subscribe(session, sub);
      if (r.code >= 0x80) return 'denied';
      if (session.persistent) this.broker.sessions.save(session);
      // Retained messages after the SUBACK, which the caller sends once this returns (or its promise settles).
      setImmediate(() => { if (session.subscriptions.get(sub.filter) === sub) this.broker.deliverRetained(session, sub, r.isNew); });
      return r.code as QoS;
    };
    const v = this.authorize(info, 'subscribe', pf.topicFilter, q, false);
    return typeof v === 'string' ? finish(v) : v.then(finish);
  }

  unsubscribe(session: Session, mp: string, filter: string): boolean {
    const ok = this.broker.unsubscribe(session, this.mount(mp, filter));
    if (ok && session.persistent) this.broker.sessions.save(session);
    return ok;
  }
}

/** `${clientid}` / `${username}` in mountpoints and overrides (EMQX's placeholders). */
function fill(template: string, vars: { clientid: string; username: string }): string {
  if (!template.includes('${')) return template;
  return template.replace(/\$\{(clientid|username)\}/g, (_m, k: 'clientid' | 'username') => vars[k]);
}
