/**
 * One listener: a server socket of one transport type bound to one address, turning accepted
 * sockets into Connections and handing each to `onConnection(conn, spec)` with the listener's
 * one ListenerSpec (its id, transport, protocol and output high-water mark). Limits and failures
 * stay here: beyond max_connections a socket is closed at once (Node's server.maxConnections)
 * and counted; TLS and WebSocket handshake failures are logged at debug and counted, never thrown.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseBind, type ListenerConfig, type SslListenerConfig, type WsListenerConfig } from '../config/index.js';
import { ListenerError } from './errors.js';
import { SocketConnection } from './socket-connection.js';
import { RawConnection, RawTcpServer, rawTcpChoice, type RawTcpChoice } from './raw-tcp.js';
import { sharedListen } from '../workers/worker.js';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { CrlCache } from './crl.js';
import { ListenerTls, type Verdict } from './tls-context.js';
import type { Connection, ConnectionInfo, ListenerSpec, OnConnection, TransportType } from './types.js';
import { WsConnection } from './ws-connection.js';
import { TokenBucket, hasClientLimits, type ClientRateLimits } from '../access/limiter.js';

/** The MQTT WebSocket subprotocols (the default of `websocket.supported_subprotocols`). */
export const MQTT_SUBPROTOCOLS: readonly string[] = ['mqtt', 'mqttv3.1', 'mqttv5'];

export interface ListenerStatus {
  id: string;
  transport: TransportType;
  protocol: string;
  bind: string;
  running: boolean;
  currentConnections: number;
  maxConnections: number;
  /** Actual port while running (differs from bind when bound to port 0), else 0. */
  port: number;
  accepted: number;
  /** Connections closed at once because max_connections was reached. */
  rejected: number;
  /** Connections closed at once because max_conn_rate (and max_conn_burst) was exceeded. */
  rejectedRate: number;
  /** Failed TLS / WebSocket handshakes (bad certificate, wrong path, no accepted subprotocol…). */
  handshakeErrors: number;
  /** tcp: true while serving on raw TCP handles (raw-tcp.ts), false on net.Socket; false for other types. */
  rawSockets: boolean;
}

/** The transports of stream listeners (datagrams go through udp.ts, QUIC through quic.ts). */
export type StreamTransportType = Exclude<TransportType, 'udp' | 'quic'>;

export interface ListenerOptions {
  /** What the listener's connections speak ('mqtt'); the owner picks its channel by it. */
  protocol: string;
  /** tcp with raw_sockets: whether raw TCP handles may be used on this Node (rawTcpChoice()). */
  rawTcp?: RawTcpChoice;
  /** ssl/wss with enable_crl_check: the node's cache of distribution-point CRLs. */
  crlCache?: CrlCache | null;
}

export type AnyListenerConfig = ListenerConfig & Partial<Pick<SslListenerConfig, 'ssl_options'>> & Partial<Pick<WsListenerConfig, 'websocket'>>;

const plainAddress = (a: string | undefined) => (a && a.startsWith('::ffff:') ? a.slice(7) : a ?? '');

export class Listener {
  readonly id: string;
  readonly transport: StreamTransportType;
  readonly protocol: string;
  cfg: AnyListenerConfig;
  /** Handed to onConnection with every connection; rebuilt by start() only when the config changed it. */
  private spec: ListenerSpec;
  private readonly rawGate: RawTcpChoice;
  private readonly onConnection: OnConnection;
  private readonly log: Logger;
  private server: NetServer | HttpServer | null;
  /** Plain TCP on bare handles (raw-tcp.ts), instead of `server`. */
  private raw: RawTcpServer | null;
  private wss: WebSocketServer | null;
  /** ssl/wss while running: secure context, stapling, reloads, client certificate verdicts. */
  private tls: ListenerTls | null;
  private readonly crlCache: CrlCache | null;
  /** wss: the certificate verdict of each TLS socket, read when it asks to upgrade. */
  private readonly verdicts: WeakMap<Socket, Verdict | Promise<Verdict>>;
  private port: number;
  /** The port of the last successful bind: a listener configured with port 0 keeps it across stop/start. */
  private lastPort: number;
  private current: number;
  private accepted: number;
  private rejected: number;
  private rejectedRate: number;
  /** max_conn_rate: one bucket per listener, rebuilt by start(); null = no limit. */
  private connRate: TokenBucket | null;
  private handshakeErrors: number;
  private readonly release = (): void => { this.current--; };

  constructor(transport: StreamTransportType, name: string, cfg: AnyListenerConfig, onConnection: OnConnection, log: Logger, opts: ListenerOptions) {
    this.id = `${transport}:${name}`;
    this.transport = transport;
    this.protocol = opts.protocol;
    this.cfg = cfg;
    this.spec = Object.freeze({ id: this.id, transport, protocol: opts.protocol, highWaterMark: cfg.tcp_options.high_watermark, clientLimits: clientLimitsOf(cfg) });
    this.rawGate = opts.rawTcp ?? rawTcpChoice();
    this.onConnection = onConnection;
    this.log = log.child({ listener: this.id });
    this.server = null;
    this.raw = null;
    this.wss = null;
    this.tls = null;
    this.crlCache = opts.crlCache ?? null;
    this.verdicts = new WeakMap();
    this.port = 0;
    this.lastPort = 0;
    this.current = 0;
    this.accepted = 0;
    this.rejected = 0;
    this.rejectedRate = 0;
    this.connRate = null;
    this.handshakeErrors = 0;
  }

  get running(): boolean { return this.server !== null || this.raw !== null; }
  get boundPort(): number { return this.port; }
  /** tcp with raw_sockets true: whether start() uses raw TCP handles on this Node, and why. */
  get rawTcp(): RawTcpChoice | null {
    return this.transport === 'tcp' && this.cfg.raw_sockets !== false ? this.rawGate : null;
  }

  status(): ListenerStatus {
    return {
      id: this.id, transport: this.transport, protocol: this.protocol, bind: this.cfg.bind, running: this.running,
      currentConnections: this.current, maxConnections: this.cfg.max_connections, port: this.port,
      accepted: this.accepted, rejected: this.rejected, rejectedRate: this.rejectedRate, handshakeErrors: this.handshakeErrors,
      rawSockets: this.raw !== null,
    };
  }

  /** Bind and accept. A configured port 0 means the OS picks one the first time, then it is kept. */
  async start(): Promise<void> {
    if (this.running) return;
    const parsed = parseBind(this.cfg.bind);
    if (!parsed.ok) throw new ListenerError(this.id, this.cfg.bind, 'EINVAL', `listener ${this.id} has a bad bind ${this.cfg.bind}: ${parsed.error}`);
    const { host } = parsed.value;
    const port = parsed.value.port === 0 ? this.lastPort : parsed.value.port;
    const hwm = this.cfg.tcp_options.high_watermark;
    if (hwm !== this.spec.highWaterMark) this.spec = Object.freeze({ ...this.spec, highWaterMark: hwm });
    const limits = clientLimitsOf(this.cfg);
    if (!sameLimits(limits, this.spec.clientLimits)) this.spec = Object.freeze({ ...this.spec, clientLimits: limits });
    this.connRate = this.cfg.max_conn_rate !== null ? new TokenBucket(this.cfg.max_conn_rate, this.cfg.max_conn_burst, Date.now()) : null;
    if (this.rawTcp?.raw === true) {
      await this.startRaw(host, port);
      if (parsed.value.port === 0) this.lastPort = this.port;
      this.log.info({ bind: this.cfg.bind, port: this.port }, 'listener started');
      return;
    }
    let server: NetServer | HttpServer;
    try {
      server = this.createServer();
    } catch (err) {
      this.tls?.close();
      this.tls = null;
      throw err;
    }
    if (this.connRate !== null) this.gateConnections(server);
    server.maxConnections = this.cfg.max_connections;
    server.on('drop', (d?: { remoteAddress?: string; remotePort?: number }) => {
      this.rejected++;
      this.log.debug({ remote: `${plainAddress(d?.remoteAddress)}:${d?.remotePort ?? ''}`, max: this.cfg.max_connections }, 'max_connections reached, connection closed');
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.off('listening', onListening);
        this.tls?.close();
        this.tls = null;
        reject(ListenerError.cannotBind(this.id, this.cfg.bind, err));
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen({ host, port });
    });
    server.on('error', (err) => this.log.error({ err }, 'listener error'));
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : port;
    if (parsed.value.port === 0) this.lastPort = this.port;
    this.server = server;
    this.log.info({ bind: this.cfg.bind, port: this.port }, 'listener started');
  }

  /** Stop accepting; established connections stay open (their owner drains them). */
  async stop(): Promise<void> {
    if (this.raw !== null) {
      this.raw.close();
      this.raw = null;
      this.port = 0;
      this.log.info('listener stopped');
      return;
    }
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.port = 0;
    server.close();
    if (this.wss) { this.wss.close(); this.wss = null; }
    this.tls?.close();
    this.tls = null;
    this.log.info('listener stopped');
  }

  private async startRaw(host: string, port: number): Promise<void> {
    let address = host;
    if (isIP(host) === 0) {
      try {
        address = (await lookup(host)).address;
      } catch (err) {
        throw ListenerError.cannotBind(this.id, this.cfg.bind, err as NodeJS.ErrnoException);
      }
    }
    const raw = new RawTcpServer(
      this.id,
      () => this.current < this.cfg.max_connections,
      (conn) => { if (this.overConnRate(conn.info.remoteAddress, conn.info.remotePort)) conn.destroy(); else this.accept(conn, null); },
      (peer) => {
        this.rejected++;
        this.log.debug({ remote: `${peer.address}:${peer.port}`, max: this.cfg.max_connections }, 'max_connections reached, connection closed');
      },
      (err) => this.log.warn({ err: err.message }, 'accept failed'),
    );
    try {
      if (sharedListen !== null) await raw.listenVia(sharedListen, address, port);
      else raw.listen(address, port);
    } catch (err) {
      throw ListenerError.cannotBind(this.id, this.cfg.bind, err as NodeJS.ErrnoException);
    }
    this.port = raw.port;
    this.raw = raw;
  }

  /** max_conn_rate: true (and counted) when this connection is one too many. */
  private overConnRate(remote: string | undefined, port: number | undefined): boolean {
    if (this.connRate === null || this.connRate.tryTake(1, Date.now())) return false;
    this.rejectedRate++;
    this.log.debug({ remote: `${plainAddress(remote)}:${port ?? ''}`, rate: this.cfg.max_conn_rate }, 'max_conn_rate exceeded, connection closed');
    return true;
  }

  /**
   * Puts the max_conn_rate check in front of the server's own 'connection' listeners (the TLS
   * and HTTP servers register theirs when created), so a connection over the rate is closed
   * before any TLS or WebSocket handshake is spent on it.
   */
  private gateConnections(server: NetServer | HttpServer): void {
    const inner = server.listeners('connection') as Array<(this: unknown, s: Socket) => void>;
    server.removeAllListeners('connection');
    const listener = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the server's listeners run with the server as `this`
    server.on('connection', function (this: unknown, socket: Socket) {
      if (listener.overConnRate(socket.remoteAddress, socket.remotePort)) { socket.destroy(); return; }
      for (let i = 0; i < inner.length; i++) inner[i]!.call(this, socket);
    });
  }

  private createServer(): NetServer | HttpServer {
    switch (this.transport) {
      case 'tcp': {
        const s = createNetServer({ noDelay: true });
        s.on('connection', (socket: Socket) => this.accept(new SocketConnection(socket, this.info(socket)), socket));
        return s;
      }
      case 'ssl': {
        const tls = this.newTls();
        const s = createTlsServer(tls.options());
        tls.attach(s);
        s.on('secureConnection', (socket: TLSSocket) => {
          const v = tls.verify(socket);
          if (v instanceof Promise) v.then((r) => this.secured(socket, r), (err) => this.secured(socket, { ok: false, reason: String(err) }));
          else this.secured(socket, v);
        });
        s.on('tlsClientError', (err: Error, socket: TLSSocket) => this.handshakeFailed(err, socket));
        return s;
      }
      case 'ws':
      case 'wss': {
        let s: HttpServer;
        if (this.transport === 'ws') s = createHttpServer();
        else {
          const tls = this.newTls();
          s = createHttpsServer(tls.options());
          tls.attach(s as unknown as TlsServer);
          // Verdicts are reached at the handshake (a refused certificate never gets to HTTP) and
          // read again when the socket asks to upgrade.
          s.on('secureConnection', (socket: TLSSocket) => {
            const v = tls.verify(socket);
            this.verdicts.set(socket, v);
            if (!(v instanceof Promise) && !v.ok) this.refused(socket, v.reason);
          });
        }
        const path = this.cfg.websocket?.mqtt_path ?? '/mqtt';
        const supported = this.cfg.websocket?.supported_subprotocols ?? MQTT_SUBPROTOCOLS;
        this.wss = new WebSocketServer({
          noServer: true, clientTracking: false, perMessageDeflate: false,
          maxPayload: this.cfg.websocket?.max_frame_size ?? 16 * 1024 * 1024,
          // Called only when the client offers at least one; the client's order decides.
          handleProtocols: (protocols: Set<string>) => {
            for (const p of protocols) if (supported.includes(p)) return p;
            return false;
          },
        });
        this.wss.on('wsClientError', (err: Error, socket: Socket) => {
          this.handshakeFailed(err, socket);
          socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        });
        s.on('request', (req: IncomingMessage, res: ServerResponse) => {
          const ok = pathOf(req.url) === path;
          res.writeHead(ok ? 426 : 404, { 'Content-Type': 'text/plain', Connection: 'close', ...(ok ? { Upgrade: 'websocket' } : {}) });
          res.end(ok ? 'WebSocket upgrade required\n' : 'Not Found\n');
        });
        s.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head, path, supported));
        s.on('clientError', (err: Error, socket: Socket) => {
          this.handshakeFailed(err, socket);
          if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
          else socket.destroy();
        });
        if (this.transport === 'wss') s.on('tlsClientError', (err: Error, socket: TLSSocket) => this.handshakeFailed(err, socket));
        return s;
      }
    }
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer, path: string, supported: readonly string[]): void {
    const reject = (status: string, why: string) => {
      this.handshakeErrors++;
      this.log.debug({ remote: plainAddress(socket.remoteAddress), url: req.url, why }, 'websocket upgrade refused');
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (pathOf(req.url) !== path) return reject('404 Not Found', 'wrong path');
    // Like EMQX: a client that offers subprotocols must offer a supported one; one that offers
    // none is accepted unless websocket.fail_if_no_subprotocol.
    const offered = req.headers['sec-websocket-protocol'];
    if (offered === undefined || offered.trim() === '') {
      if (this.cfg.websocket?.fail_if_no_subprotocol === true) return reject('400 Bad Request', 'no subprotocol offered');
    } else if (!offered.split(',').some((p) => supported.includes(p.trim()))) {
      return reject('400 Bad Request', `no supported subprotocol in "${offered}"`);
    }
    if (this.transport !== 'wss') return this.upgraded(req, socket, head, undefined);
    const v = this.verdicts.get(socket) ?? { ok: false, reason: 'no TLS verdict' };
    const go = (r: Verdict): void => {
      if (socket.destroyed) return;
      if (!r.ok) return this.refused(socket as TLSSocket, r.reason);
      this.upgraded(req, socket, head, r.cert);
    };
    if (v instanceof Promise) v.then(go, (err) => go({ ok: false, reason: String(err) }));
    else go(v);
  }

  private upgraded(req: IncomingMessage, socket: Socket, head: Buffer, peerCert: ConnectionInfo['peerCert']): void {
    const wss = this.wss;
    if (!wss) { socket.destroy(); return; }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const info = this.info(socket);
      if (peerCert !== undefined) info.peerCert = peerCert;
      info.subprotocol = ws.protocol;
      this.accept(new WsConnection(ws, socket, info), socket);
    });
  }

  private info(socket: Socket): ConnectionInfo {
    return {
      listener: this.id,
      transport: this.transport,
      remoteAddress: plainAddress(socket.remoteAddress),
      remotePort: socket.remotePort ?? 0,
      // An accepted socket's local port is the listening port (saves a getsockname per connection).
      localPort: this.port || (socket.localPort ?? 0),
    };
  }

  private accept(conn: Connection, socket: Socket | null): void {
    this.current++;
    this.accepted++;
    // Plain socket and raw connections call back themselves (no per-socket 'close' listener and once-wrapper).
    if (conn instanceof SocketConnection || conn instanceof RawConnection) conn.onFinished = this.release;
    else socket!.once('close', this.release);
    try {
      this.onConnection(conn, this.spec);
    } catch (err) {
      this.log.error({ err }, 'connection handler threw; connection closed');
      conn.destroy();
    }
  }

  private handshakeFailed(err: Error, socket: Socket | undefined): void {
    this.handshakeErrors++;
    this.log.debug({ err: err.message, code: (err as NodeJS.ErrnoException).code, remote: plainAddress(socket?.remoteAddress) }, 'handshake failed');
  }

  private newTls(): ListenerTls {
    this.tls?.close();
    this.tls = new ListenerTls(this.id, this.cfg.bind, this.cfg.ssl_options!, { log: this.log, crlCache: this.crlCache });
    return this.tls;
  }

  /** ssl: the client certificate's verdict is in; hand the connection on or close it. */
  private secured(socket: TLSSocket, v: Verdict): void {
    if (socket.destroyed) return;
    if (!v.ok) return this.refused(socket, v.reason);
    this.accept(new SocketConnection(socket, { ...this.info(socket), peerCert: v.cert }), socket);
  }

  private refused(socket: TLSSocket, reason: string): void {
    this.handshakeErrors++;
    this.log.debug({ remote: plainAddress(socket.remoteAddress), reason }, 'client certificate refused; connection closed');
    socket.destroy();
  }
}

function clientLimitsOf(cfg: AnyListenerConfig): ClientRateLimits | null {
  const l: ClientRateLimits = { messages: cfg.messages_rate, messagesBurst: cfg.messages_burst, bytes: cfg.bytes_rate, bytesBurst: cfg.bytes_burst };
  return hasClientLimits(l) ? Object.freeze(l) : null;
}

function sameLimits(a: ClientRateLimits | null, b: ClientRateLimits | null): boolean {
  if (a === null || b === null) return a === b;
  return JSON.stringify(a) === JSON.stringify(b);
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
