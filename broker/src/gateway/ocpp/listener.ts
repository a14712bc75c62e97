/**
 * An OCPP-J WebSocket listener (`gateway.ocpp.listeners.ws|wss.<name>`), protocol 'ocpp'.
 * Not the broker's MQTT ws/wss listener (transport/listener.ts): that one serves one fixed path
 * and binary frames, while a charge point names itself in the path (`/ocpp/{chargePointId}`),
 * speaks text frames, and must be refused with an HTTP status before the upgrade (OCPP 1.6
 * security whitepaper: 401 for bad Basic credentials). The TLS side (certificates reloaded,
 * client certificates verified and checked against CRLs) is the broker's ListenerTls.
 *
 * The upgrade, in order: connection limits (503), path and charge point id (404/400),
 * subprotocol `ocpp1.6` (400), client certificate (wss, 403), HTTP Basic credentials through
 * the access chain (401), then the WebSocket and the channel.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseBind } from '../../config/index.js';
import type { Logger } from '../../log.js';
import { ListenerError } from '../../transport/errors.js';
import { ListenerTls, type Verdict } from '../../transport/tls-context.js';
import type { ClientInfo } from '../../hooks.js';
import type { GatewayContext } from '../context.js';
import { OCPP16, type OcppListenerConfig } from './config.js';

/** What the gateway does with a charge point the listener let in. */
export type OnChargePoint = (ws: WebSocket, info: ClientInfo, mountpoint: string, done: () => void) => void;

const plain = (a: string | undefined): string => (a !== undefined && a.startsWith('::ffff:') ? a.slice(7) : a ?? '');

export class OcppListener {
  readonly id: string;
  readonly cfg: OcppListenerConfig;
  private server: HttpServer | null = null;
  private wss: WebSocketServer | null = null;
  private tls: ListenerTls | null = null;
  private port = 0;
  /** A listener configured with port 0 keeps the port it got first across stop/start. */
  private lastPort = 0;
  current = 0;
  accepted = 0;
  refused = 0;
  private windowStart = 0;
  private windowCount = 0;

  constructor(cfg: OcppListenerConfig, private readonly ctx: GatewayContext, private readonly onChargePoint: OnChargePoint, private readonly log: Logger) {
    this.cfg = cfg;
    this.id = `ocpp:${cfg.type}:${cfg.name}`;
  }

  get running(): boolean { return this.server !== null; }
  get boundPort(): number { return this.port; }

  async start(): Promise<void> {
    if (this.server !== null) return;
    const b = parseBind(this.cfg.bind);
    if (!b.ok) throw new ListenerError(this.id, this.cfg.bind, 'EINVAL', `listener ${this.id} has a bad bind ${this.cfg.bind}: ${b.error}`);
    // A peer that opens a connection and never completes its upgrade request is dropped after idle_timeout.
    const idle = this.ctx.cfg.idleTimeoutMs;
    const timeouts = { headersTimeout: idle, requestTimeout: idle + 1000 };
    let server: HttpServer;
    if (this.cfg.ssl === null) server = createHttpServer(timeouts);
    else {
      this.tls = new ListenerTls(this.id, this.cfg.bind, this.cfg.ssl, { log: this.log as never, crlCache: null });
      server = createHttpsServer({ ...this.tls.options(), ...timeouts });
      this.tls.attach(server as unknown as TlsServer);
    }
    this.wss = new WebSocketServer({
      noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: this.cfg.maxFrameSize,
      handleProtocols: (offered: Set<string>) => (offered.has(OCPP16) ? OCPP16 : false),
    });
    server.on('request', (req, res) => {
      const ours = (req.url ?? '').startsWith(this.cfg.path + '/');
      res.writeHead(ours ? 426 : 404, { 'Content-Type': 'text/plain', Connection: 'close', ...(ours ? { Upgrade: 'websocket' } : {}) });
      res.end(ours ? 'WebSocket upgrade required\n' : 'Not Found\n');
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => { this.upgrade(req, socket, head).catch((err) => this.fail(socket, err)); });
    server.on('clientError', (_err: Error, socket: Socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'); else socket.destroy(); });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => { this.tls?.close(); this.tls = null; reject(ListenerError.cannotBind(this.id, this.cfg.bind, err)); });
      server.listen({ host: b.value.host, port: b.value.port === 0 ? this.lastPort : b.value.port }, () => resolve());
    });
    server.on('error', (err) => this.log.error({ err, listener: this.id }, 'OCPP listener error'));
    const addr = server.address();
    this.port = typeof addr === 'object' && addr !== null ? addr.port : b.value.port;
    if (b.value.port === 0) this.lastPort = this.port;
    this.server = server;
    this.log.info({ listener: this.id, port: this.port }, 'OCPP listener started');
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (s === null) return;
    this.server = null;
    this.port = 0;
    this.wss?.close();
    this.wss = null;
    this.tls?.close();
    this.tls = null;
    // Not awaited: open WebSockets end on their own close handshake (the channels were kicked).
    s.close();
  }

  private async upgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    // A peer that resets while its credentials are checked must not crash the node.
    socket.on('error', ignore);
    const now = Date.now();
    if (now - this.windowStart >= 1000) { this.windowStart = now; this.windowCount = 0; }
    if (++this.windowCount > this.cfg.maxConnRate || this.current >= this.cfg.maxConnections) return this.reject(socket, 503, 'connection limit');
    const cid = this.chargePointId(req.url);
    if (cid === null) return this.reject(socket, 404, `not under ${this.cfg.path}/: ${req.url ?? ''}`);
    if (cid instanceof Error) return this.reject(socket, 400, cid.message);
    // OCPP-J 1.6 §3.1.2 names the subprotocol; EMQX answers a missing or foreign one with 400.
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (offered.length === 0 ? this.cfg.failIfNoSubprotocol : !offered.includes(OCPP16)) return this.reject(socket, 400, `subprotocol ${OCPP16} not offered (${offered.join(', ') || 'none'})`);
    let peerCert: ClientInfo['peerCert'] = null;
    if (this.tls !== null) {
      const v: Verdict = await this.tls.verify(socket as TLSSocket);
      if (!v.ok) return this.reject(socket, 403, `client certificate refused: ${v.reason}`);
      if (this.cfg.ssl!.fail_if_no_peer_cert && v.cert === null) return this.reject(socket, 403, 'no client certificate');
      peerCert = v.cert;
    }
    const basic = parseBasic(req.headers.authorization);
    if (basic instanceof Error) return this.reject(socket, 401, basic.message);
    // Security profile 1: the user name is the charge point's id; another would let one charge
    // point's credentials open a session for a different one.
    if (basic !== null && basic.username !== cid) return this.reject(socket, 401, `user name ${JSON.stringify(basic.username)} is not the charge point id`);
    const who = this.ctx.identify({
      clientId: cid, username: basic?.username ?? null, password: basic?.password ?? null,
      peerHost: plain(socket.remoteAddress), peerPort: socket.remotePort ?? 0, listener: this.id,
    });
    (who.info as { peerCert: ClientInfo['peerCert'] }).peerCert = peerCert;
    const r = await this.ctx.authenticate(who.info, who.password, this.cfg.enableAuthn);
    if (!r.ok) return this.reject(socket, 401, `access refused: ${r.reason}`);
    if (socket.destroyed) return;
    if (this.wss === null) { socket.destroy(); return; } // stopped while the credentials were checked
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.current++;
      this.accepted++;
      this.onChargePoint(ws, who.info, who.mountpoint, () => { this.current--; });
    });
  }

  /** The charge point id from `<path>/<id>`: null when the path is another, an Error when the id is unusable. */
  private chargePointId(url: string | undefined): string | Error | null {
    const path = (url ?? '/').split('?')[0]!;
    const prefix = this.cfg.path + '/';
    if (!path.startsWith(prefix)) return null;
    let id: string;
    try { id = decodeURIComponent(path.slice(prefix.length)); } catch { return new Error('charge point id is not valid percent-encoding'); }
    if (id === '') return new Error('charge point id is empty');
    if (/[/+#]/.test(id)) return new Error('a charge point id cannot contain /, + or #');
    if (id.length > this.ctx.limits.maxClientIdLen) return new Error(`charge point id longer than mqtt.max_clientid_len (${this.ctx.limits.maxClientIdLen})`);
    return id;
  }

  private reject(socket: Socket, status: number, why: string): void {
    this.refused++;
    if (status === 401 || status === 503) this.ctx.metrics.refused++;
    this.log.debug({ listener: this.id, remote: plain(socket.remoteAddress), status, why }, 'OCPP upgrade refused');
    const text = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' }[status] ?? 'Error';
    const extra = status === 401 ? 'WWW-Authenticate: Basic realm="ocpp"\r\n' : '';
    if (socket.writable) socket.end(`HTTP/1.1 ${status} ${text}\r\n${extra}Connection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  }

  private fail(socket: Socket, err: unknown): void {
    this.log.error({ err, listener: this.id }, 'OCPP upgrade failed');
    if (!socket.destroyed) this.reject(socket, 503, 'internal error');
  }
}

function ignore(): void { /* the socket's end is handled where it is used */ }

/** `Authorization: Basic base64(user:password)`; null when absent. */
function parseBasic(h: string | undefined): { username: string; password: Buffer } | null | Error {
  if (h === undefined || h === '') return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(h);
  if (m === null) return new Error('Authorization is not HTTP Basic');
  const raw = Buffer.from(m[1]!, 'base64');
  const colon = raw.indexOf(0x3a);
  if (colon < 0) return new Error('Basic credentials without a colon');
  // The OCPP password (AuthorizationKey) may be binary: kept as bytes.
  return { username: raw.subarray(0, colon).toString('utf8'), password: raw.subarray(colon + 1) };
}
