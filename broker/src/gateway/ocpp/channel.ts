/**
 * The OCPP channel: one charge point on one WebSocket, a client of the broker like any other.
 * Its CALLs are published to `upstream.topic` (EMQX's JSON shape, frame.ts), its answers to the
 * central system's CALLs to `upstream.reply_topic` / `error_topic`; its session is subscribed to
 * `dnstream.topic`, where the central system publishes CALLs for it and answers to its CALLs.
 *
 * At most one CALL is outstanding per direction (OCPP-J 1.6 §4.1.1). Downstream the gateway
 * enforces it: the central system's CALLs wait in a queue (`dnstream.max_mqueue_len`) until the
 * charge point answers the one before, or DN_AWAIT_MS passes. Upstream the charge point keeps
 * the rule; the channel remembers the CALL it last sent so that an answer from the central
 * system reaches the charge point only if it answers that CALL (and can be checked against the
 * Action's `.conf` schema). A new CALL from the charge point replaces the one awaited: the charge
 * point's own timeout decides when it gave up.
 *
 * Frames are handled one at a time, in order; an authorization answer that comes as a promise
 * (HTTP, database sources) holds the frames behind it.
 */
import type { WebSocket } from 'ws';
import type { ClientConnection } from '../../clients/client-manager.js';
import type { ErrorCode } from '../../errors.js';
import type { AuthzResult, ClientInfo } from '../../hooks.js';
import type { Session } from '../../session/session.js';
import type { Message, QoS } from '../../types.js';
import type { GatewayContext } from '../context.js';
import type { OcppConfig } from './config.js';
import { CALL, CALLERROR, CALLRESULT, decodeWire, encodeWire, fromMqtt, toMqtt, type OcppErrorCode, type OcppFrame } from './frame.js';
import { checkPayload } from './schemas.js';
import type { OcppMetrics } from './metrics.js';

/** How long a central system CALL waits for the charge point's answer before the next one goes. */
export const DN_AWAIT_MS = 30_000;
/** Output bytes queued on the socket above which the session holds deliveries back. */
const HIGH_WATER = 1024 * 1024;
/** Frames held behind a pending authorization before the socket is paused. */
const INBOX_MAX = 1024;

type State = 'opening' | 'open' | 'closed';
type Call = Extract<OcppFrame, { type: typeof CALL }>;
interface Pending { id: string; action: string; at: number }

export interface OcppShared {
  readonly ctx: GatewayContext;
  readonly cfg: OcppConfig;
  readonly metrics: OcppMetrics;
}

export class OcppChannel implements ClientConnection {
  readonly info: ClientInfo;
  readonly cleanStart = true;
  connectedAt = 0;
  private readonly ws: WebSocket;
  private readonly shared: OcppShared;
  private readonly mountpoint: string;
  private state: State = 'opening';
  private session: Session | null = null;
  /** Heartbeat interval (s): the default, then what the central system accepted in BootNotification. */
  heartbeatS: number;
  private lastRx: number;
  private inbox: string[] = [];
  private busy = false;
  private readPaused = false;
  private upPending: Pending | null = null;
  private dnPending: Pending | null = null;
  private dnQueue: Call[] = [];
  onClosed: ((ch: OcppChannel) => void) | null = null;

  constructor(ws: WebSocket, shared: OcppShared, info: ClientInfo, mountpoint: string) {
    this.ws = ws;
    this.shared = shared;
    this.info = info;
    this.mountpoint = mountpoint;
    this.heartbeatS = shared.cfg.defaultHeartbeatIntervalS;
    this.lastRx = Date.now();
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    // WebSocket pings count as traffic for the heartbeat, as received bytes do in EMQX.
    ws.on('ping', () => { this.lastRx = Date.now(); });
    ws.on('close', (code: number) => this.close(code === 1009 ? 'frame_too_large' : 'sock_closed'));
    ws.on('error', (err: Error) => this.ctx.log.debug({ clientid: info.clientId, err: err.message }, 'OCPP WebSocket error'));
  }

  get ctx(): GatewayContext { return this.shared.ctx; }
  /** EMQX: the client's keep alive is the heartbeat interval times heartbeat_checking_times_backoff. */
  get keepalive(): number { return this.heartbeatS * this.shared.cfg.heartbeatCheckingTimesBackoff; }
  get open(): boolean { return this.state === 'open'; }

  /** Opens the session (clean, ending with the connection, as in EMQX) and subscribes the downstream topic. */
  async start(): Promise<void> {
    const ctx = this.ctx;
    const { session } = await ctx.open(this, { cleanStart: true, expiry: 0, will: null });
    if (this.state === 'closed') { ctx.closed(this, session, 'closed_while_opening', false); return; }
    this.session = session;
    this.connectedAt = Date.now();
    ctx.broker.metrics.counters['client.connack']++;
    ctx.activate(this, session);
    const dn = fill(this.shared.cfg.dnstream.topic, this.info.clientId, '');
    const r = await ctx.subscribe(session, this.info, this.mountpoint, dn, 0);
    if (r === 'denied' || r === 'invalid') {
      this.shared.metrics.denied++;
      ctx.log.warn({ clientid: this.info.clientId, topic: dn, result: r }, 'OCPP downstream topic not subscribed: the central system cannot reach this charge point');
    }
    if ((this.state as State) === 'closed') return;
    this.state = 'open';
    this.drain();
  }

  // ---- from the charge point -------------------------------------------------------------

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.lastRx = Date.now();
    const c = this.ctx.broker.metrics.counters;
    c['packets.received']++;
    c['bytes.received'] += data.length;
    if (isBinary) { this.refuse('binary frame; OCPP-J uses text frames', 1003); return; }
    this.inbox.push(data.toString('utf8'));
    // Frames wait only behind a slow authorization answer; past INBOX_MAX the socket stops being read.
    if (this.inbox.length >= INBOX_MAX && !this.readPaused) { this.readPaused = true; this.ws.pause(); }
    this.drain();
  }

  private drain(): void {
    try {
      while (this.state === 'open' && !this.busy && this.inbox.length > 0) this.handleText(this.inbox.shift()!);
      if (this.readPaused && this.inbox.length < INBOX_MAX / 2) { this.readPaused = false; this.ws.resume(); }
    } catch (err) {
      this.ctx.log.error({ err, clientid: this.info.clientId }, 'internal error handling an OCPP frame');
      this.ws.close(1011, 'internal error');
      this.close('internal_error');
    }
  }

  private handleText(text: string): void {
    const d = decodeWire(text);
    if (!d.ok) {
      this.shared.metrics.malformed++;
      this.ctx.broker.metrics.counters['frame.error']++;
      this.ctx.log.debug({ clientid: this.info.clientId, err: d.reason }, 'malformed OCPP frame');
      // A CALL whose UniqueId is readable is answered (§4.2.3); anything else cannot be, and a
      // peer that does not speak OCPP-J is not kept (EMQX closes on bad JSON too).
      if (d.id !== null && d.messageType === CALL) this.sendError(d.id, d.code, d.reason);
      else if (d.id === null) this.refuse(d.reason, 1007);
      return;
    }
    const f = d.frame;
    if (f.type === CALL) this.onCall(f);
    else this.onAnswer(f);
  }

  private checks(direction: 'up' | 'dn'): boolean {
    const m = this.shared.cfg.messageFormatChecking;
    return m === 'all' || m === (direction === 'up' ? 'upstream_only' : 'dnstream_only');
  }

  private onCall(f: Call): void {
    if (this.checks('up')) {
      const r = checkPayload(f.action, 'req', f.payload);
      if (!r.ok) { this.shared.metrics.invalidUp++; this.sendError(f.id, r.code, r.reason); return; }
    }
    if (this.upPending !== null) this.ctx.log.debug({ clientid: this.info.clientId, replaced: this.upPending.id, by: f.id }, 'new CALL before the last one was answered');
    this.upPending = { id: f.id, action: f.action, at: Date.now() };
    const cfg = this.shared.cfg.upstream;
    this.publish(fill(cfg.topicOverrideMapping[f.action] ?? cfg.topic, this.info.clientId, f.action), toMqtt(f), () => {
      if (this.upPending?.id === f.id) this.upPending = null;
      this.sendError(f.id, 'SecurityError', 'not authorized to publish this message');
    });
  }

  /** The charge point answers the central system's CALL. */
  private onAnswer(f: Exclude<OcppFrame, Call>): void {
    const p = this.dnPending;
    const answers = p !== null && p.id === f.id;
    if (answers) this.dnPending = null;
    let out: OcppFrame = f;
    if (answers && f.type === CALLRESULT && this.checks('up')) {
      const r = checkPayload(p.action, 'conf', f.payload);
      // The central system still learns that its CALL was answered, and why the answer is withheld.
      if (!r.ok) { this.shared.metrics.invalidUp++; out = { type: CALLERROR, id: f.id, code: r.code, description: r.reason, details: {} }; }
    }
    const cfg = this.shared.cfg.upstream;
    this.publish(fill(out.type === CALLRESULT ? cfg.replyTopic : cfg.errorTopic, this.info.clientId, ''), toMqtt(out), null);
    if (answers) this.sendNextCall();
  }

  /** Authorizes and publishes on a client topic (mounted here); `denied` runs when authorization refuses. */
  private publish(topic: string, json: string, denied: (() => void) | null): void {
    const ctx = this.ctx;
    const t = ctx.topicName(this.mountpoint, topic);
    if (t === null) { ctx.log.warn({ clientid: this.info.clientId, topic }, 'OCPP upstream topic is not a valid topic name; message dropped'); return; }
    const qos = Math.min(2, ctx.limits.maxQosAllowed) as QoS;
    ctx.broker.metrics.counters['packets.publish.received']++;
    const go = (v: AuthzResult): void => {
      if (v === 'deny') {
        this.shared.metrics.denied++;
        ctx.broker.metrics.counters['packets.publish.auth_error']++;
        denied?.();
        return;
      }
      ctx.publish(this.info, t, Buffer.from(json), qos, false);
    };
    const v = ctx.authorize(this.info, 'publish', t, qos, false);
    if (typeof v === 'string') { go(v); return; }
    this.busy = true;
    v.then(go, (err) => { ctx.log.error({ err, clientid: this.info.clientId }, 'authorization failed'); go('deny'); })
      .finally(() => { this.busy = false; this.drain(); });
  }

  // ---- from the central system (the session's Outlet) ------------------------------------

  deliver(msg: Message): boolean {
    if (this.state === 'closed') return false;
    try {
      this.fromCentralSystem(msg);
    } catch (err) {
      this.ctx.log.error({ err, clientid: this.info.clientId, topic: msg.topic }, 'internal error handling a central system message');
      this.shared.metrics.droppedDown++;
    }
    return true;
  }

  private fromCentralSystem(msg: Message): boolean {
    const r = fromMqtt(msg.payload);
    if (!r.ok) { this.dropDown(`${r.error} (topic ${msg.topic})`); return true; }
    const f = r.frame;
    if (f.type === CALL) {
      if (this.checks('dn')) {
        const ck = checkPayload(f.action, 'req', f.payload);
        if (!ck.ok) { this.dropDown(`${ck.reason} [${ck.code}]`); return true; }
      }
      if (this.dnQueue.length >= this.shared.cfg.dnstream.maxMqueueLen) { this.dropDown(`queue full (dnstream.max_mqueue_len ${this.shared.cfg.dnstream.maxMqueueLen}): CALL ${f.action} ${f.id}`); return true; }
      this.dnQueue.push(f);
      if (this.dnPending === null) this.sendNextCall();
      return true;
    }
    const p = this.upPending;
    if (p === null || p.id !== f.id) { this.dropDown(`answer ${f.id} matches no CALL awaiting one from this charge point`); return true; }
    if (f.type === CALLRESULT && this.checks('dn')) {
      const ck = checkPayload(p.action, 'conf', f.payload);
      if (!ck.ok) { this.dropDown(`${ck.reason} [${ck.code}]`); return true; }
    }
    this.upPending = null;
    if (f.type === CALLRESULT && p.action === 'BootNotification') this.bootAnswered(f.payload);
    this.send(f);
    return true;
  }

  /** The heartbeat interval the central system gives an accepted charge point (EMQX: only when Accepted). */
  private bootAnswered(payload: Record<string, unknown>): void {
    const iv = payload.interval;
    if (payload.status === 'Accepted' && typeof iv === 'number' && Number.isInteger(iv) && iv > 0) this.heartbeatS = iv;
  }

  release(): void { /* subscribed at QoS 0: nothing to release */ }

  writable(): boolean { return this.ws.bufferedAmount < HIGH_WATER; }

  private sendNextCall(): void {
    const f = this.dnQueue.shift();
    if (f === undefined) return;
    this.dnPending = { id: f.id, action: f.action, at: Date.now() };
    this.send(f);
  }

  private dropDown(why: string): void {
    this.shared.metrics.droppedDown++;
    this.ctx.log.warn({ clientid: this.info.clientId, reason: why }, 'central system message for an OCPP charge point dropped');
  }

  private sendError(id: string, code: OcppErrorCode, description: string): void {
    this.send({ type: CALLERROR, id, code, description, details: {} });
  }

  private send(f: OcppFrame): void {
    if (this.state === 'closed' || this.ws.readyState !== 1) return;
    const text = encodeWire(f);
    const c = this.ctx.broker.metrics.counters;
    c['packets.sent']++;
    c['bytes.sent'] += text.length;
    if (f.type === CALL || f.type === CALLRESULT) { c['messages.sent']++; this.shared.metrics.sent++; }
    this.ws.send(text);
  }

  // ---- timers and the end ------------------------------------------------------------------

  /** Once a second: heartbeat (silence beyond (backoff + ½) intervals, the middle of EMQX's window) and the downstream CALL timeout. */
  tick(now: number): void {
    if (this.state !== 'open') return;
    const limitMs = (this.shared.cfg.heartbeatCheckingTimesBackoff + 0.5) * this.heartbeatS * 1000;
    if (now - this.lastRx > limitMs) { this.ws.close(1001, 'heartbeat timeout'); this.close('keepalive_timeout'); return; }
    const p = this.dnPending;
    if (p !== null && now - p.at > DN_AWAIT_MS) {
      this.ctx.log.info({ clientid: this.info.clientId, action: p.action, id: p.id }, 'charge point did not answer a central system CALL in time');
      this.dnPending = null;
      this.sendNextCall();
    }
  }

  kick(code: ErrorCode): void {
    if (this.state === 'closed') return;
    this.ws.close(1001, code.toLowerCase());
    this.close(code.toLowerCase());
  }

  private refuse(reason: string, wsCode: number): void {
    this.ctx.log.debug({ clientid: this.info.clientId, reason }, 'OCPP connection closed');
    // A close reason is at most 123 bytes: printable ASCII only, cut short.
    this.ws.close(wsCode, reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 120));
    this.close('frame_error');
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    const wasOpening = this.session === null;
    this.state = 'closed';
    this.inbox = [];
    this.dnQueue = [];
    if (this.ws.readyState === 1) this.ws.close(1000);
    if (!wasOpening) this.ctx.closed(this, this.session, reason, false);
    this.onClosed?.(this);
  }
}

/** EMQX's topic placeholders: ${cid} and ${clientid} (the charge point id), ${action}. */
function fill(t: string, cid: string, action: string): string {
  if (!t.includes('${')) return t;
  return t.replace(/\$\{(cid|clientid|action)\}/g, (_m, k: string) => (k === 'action' ? action : cid));
}
