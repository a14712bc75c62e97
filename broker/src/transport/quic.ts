/**
 * MQTT over QUIC listener (`listeners.quic.<name>`, EMQX 5's name and defaults), on
 * @matrixai/quic (Cloudflare quiche through napi). One UDP socket per listener; TLS 1.3 with
 * ALPN "mqtt" (a client offering anything else fails the handshake with no_application_protocol).
 *
 * Single-stream mode, as EMQX's default: the client's first bidirectional stream carries the whole
 * MQTT session and becomes a QuicConnection handed to `onConnection`, so the MQTT channel runs
 * on it unchanged. Further streams are refused (reset), since multi-stream mode is not built.
 * A QUIC connection that opens no stream within handshake_idle_timeout is closed.
 *
 * QUIC routes packets by connection id, not by address, so a client whose address changes
 * (NAT rebinding, Wi-Fi to mobile) keeps its connection and session (migration_enabled).
 * The library answers every first Initial with a stateless Retry (address validation), so a
 * handshake costs two round trips; 0-RTT and session resumption are not exposed by it.
 */
import type { QUICServer, QUICConnection, QUICStream } from '@matrixai/quic';
import type { Logger } from 'pino';
import { parseBind, type Config } from '../config/index.js';
import { TokenBucket, hasClientLimits, type ClientRateLimits } from '../access/limiter.js';
import { ListenerError } from './errors.js';
import type { ListenerStatus } from './listener.js';
import type { QuicConnection } from './quic-connection.js';
import type { ConnectionInfo, ListenerSpec, OnConnection, PeerCert } from './types.js';

export type QuicListenerConfig = Config['listeners']['quic'][string];

type QuicLib = typeof import('./quic-lib.js');
/** Loaded when the first QUIC listener starts (quic-lib.ts says why). */
let quicLib: QuicLib | null = null;

/** The ALPN of MQTT over QUIC (EMQX's listener offers exactly this one). */
export const MQTT_ALPN = 'mqtt';

/** Application error codes in our CONNECTION_CLOSE, so a client can tell why it was refused. */
export const QUIC_REFUSED = { maxConnections: 0x10, rate: 0x11, noStream: 0x12, stopping: 0x13 } as const;

export class QuicListener {
  readonly id: string;
  readonly transport = 'quic' as const;
  readonly protocol: string;
  cfg: QuicListenerConfig;
  private spec: ListenerSpec;
  private readonly onConnection: OnConnection;
  private readonly log: Logger;
  private server: QUICServer | null;
  private port: number;
  private lastPort: number;
  private current: number;
  private accepted: number;
  private rejected: number;
  private rejectedRate: number;
  private handshakeErrors: number;
  private connRate: TokenBucket | null;
  /** QUIC connections past the handshake whose MQTT stream has not been opened yet. */
  private readonly waiting: Set<QUICConnection>;
  private readonly release = (): void => { this.current--; };

  constructor(name: string, cfg: QuicListenerConfig, onConnection: OnConnection, log: Logger, opts: { protocol: string }) {
    this.id = `quic:${name}`;
    this.protocol = opts.protocol;
    this.cfg = cfg;
    this.spec = specOf(this.id, opts.protocol, cfg);
    this.onConnection = onConnection;
    this.log = log.child({ listener: this.id });
    this.server = null;
    this.port = 0;
    this.lastPort = 0;
    this.current = 0;
    this.accepted = 0;
    this.rejected = 0;
    this.rejectedRate = 0;
    this.handshakeErrors = 0;
    this.connRate = null;
    this.waiting = new Set();
  }

  get running(): boolean { return this.server !== null; }
  get boundPort(): number { return this.port; }

  status(): ListenerStatus {
    return {
      id: this.id, transport: 'quic', protocol: this.protocol, bind: this.cfg.bind, running: this.running,
      currentConnections: this.current, maxConnections: this.cfg.max_connections, port: this.port,
      accepted: this.accepted, rejected: this.rejected, rejectedRate: this.rejectedRate, handshakeErrors: this.handshakeErrors,
      rawSockets: false,
    };
  }

  async start(): Promise<void> {
    if (this.running) return;
    const cfg = this.cfg;
    const parsed = parseBind(cfg.bind);
    if (!parsed.ok) throw new ListenerError(this.id, cfg.bind, 'EINVAL', `listener ${this.id} has a bad bind ${cfg.bind}: ${parsed.error}`);
    const port = parsed.value.port === 0 ? this.lastPort : parsed.value.port;
    this.spec = specOf(this.id, this.protocol, cfg);
    this.connRate = cfg.max_conn_rate !== null ? new TokenBucket(cfg.max_conn_rate, cfg.max_conn_burst, Date.now()) : null;
    const ssl = cfg.ssl_options;
    if (ssl.verify === 'verify_peer' && !ssl.fail_if_no_peer_cert) {
      this.log.warn('ssl_options.verify_peer on QUIC refuses clients without a certificate even though fail_if_no_peer_cert is false (the QUIC TLS stack cannot make the certificate optional)');
    }
    const q = (quicLib ??= await import('./quic-lib.js'));
    const handshakeMs = cfg.handshake_idle_timeout_ms ?? cfg.handshake_idle_timeout;
    const idleMs = cfg.idle_timeout_ms ?? cfg.idle_timeout;
    const keepAliveMs = cfg.keep_alive_interval_ms ?? cfg.keep_alive_interval;
    const server = new q.QUICServer({
      crypto: q.retryTokenCrypto(),
      logger: q.quicLogger(this.log),
      minIdleTimeout: handshakeMs,
      codeToReason: (side, code) => new Error(side === 'read' ? `QUIC stream reset by the client (code ${code})` : `QUIC stream stopped by the client (code ${code})`),
      config: {
        ...q.quicTlsMaterial(this.id, cfg.bind, ssl),
        verifyPeer: ssl.verify === 'verify_peer',
        applicationProtos: [MQTT_ALPN],
        maxIdleTimeout: idleMs,
        ...(keepAliveMs > 0 ? { keepAliveIntervalTime: keepAliveMs } : {}),
        initialMaxStreamsBidi: cfg.peer_bidi_stream_count,
        initialMaxStreamsUni: cfg.peer_unidi_stream_count,
        disableActiveMigration: !cfg.migration_enabled,
        // Datagrams, early data: not part of MQTT over QUIC here.
        enableEarlyData: false,
      },
    });
    this.countFailedHandshakes(server, q);
    server.addEventListener(q.events.EventQUICServerConnection.name, (evt: Event) => {
      this.onQuicConnection((evt as CustomEvent<QUICConnection>).detail, handshakeMs, q);
    });
    try {
      await server.start({ host: parsed.value.host, port });
    } catch (err) {
      const e = err as Error & { cause?: NodeJS.ErrnoException };
      throw ListenerError.cannotBind(this.id, cfg.bind, e.cause?.code !== undefined ? e.cause : (e as NodeJS.ErrnoException));
    }
    this.server = server;
    this.port = server.port;
    if (parsed.value.port === 0) this.lastPort = this.port;
    this.log.info({ bind: cfg.bind, port: this.port }, 'listener started');
  }

  /**
   * Stops accepting. Unlike a TCP listener, the UDP socket is the only path to every established
   * QUIC connection, so they close with it (application code `stopping`).
   */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    this.port = 0;
    this.waiting.clear();
    await server.stop({ isApp: true, errorCode: QUIC_REFUSED.stopping, force: true }).catch((err: unknown) => {
      this.log.warn({ err: String(err) }, 'QUIC listener stop failed');
    });
    this.log.info('listener stopped');
  }

  /** A QUIC connection finished its handshake: admit it, then wait for its MQTT stream. */
  private onQuicConnection(qc: QUICConnection, waitMs: number, q: QuicLib): void {
    if (this.current >= this.cfg.max_connections) {
      this.rejected++;
      this.log.debug({ remote: `${qc.remoteHost}:${qc.remotePort}`, max: this.cfg.max_connections }, 'max_connections reached, connection closed');
      qc.stop({ isApp: true, errorCode: QUIC_REFUSED.maxConnections, force: true }).catch(ignore);
      return;
    }
    if (this.connRate !== null && !this.connRate.tryTake(1, Date.now())) {
      this.rejectedRate++;
      this.log.debug({ remote: `${qc.remoteHost}:${qc.remotePort}`, rate: this.cfg.max_conn_rate }, 'max_conn_rate exceeded, connection closed');
      qc.stop({ isApp: true, errorCode: QUIC_REFUSED.rate, force: true }).catch(ignore);
      return;
    }
    let peerCert: PeerCert | null;
    try {
      peerCert = this.cfg.ssl_options.verify === 'verify_peer' ? q.certOf(qc.getRemoteCertsChain()) : null;
    } catch (err) {
      this.handshakeErrors++;
      this.log.debug({ err: String(err) }, 'unreadable client certificate; connection closed');
      qc.stop({ isApp: true, errorCode: q.QUIC_APP_ERROR, force: true }).catch(ignore);
      return;
    }
    this.current++;
    this.accepted++;
    this.waiting.add(qc);
    let conn: QuicConnection | null = null;
    const timer = setTimeout(() => {
      if (conn !== null) return;
      this.log.debug({ remote: `${qc.remoteHost}:${qc.remotePort}` }, 'no MQTT stream opened in time; connection closed');
      qc.stop({ isApp: true, errorCode: QUIC_REFUSED.noStream, force: true }).catch(ignore);
    }, waitMs);
    timer.unref();
    const onClose = (): void => {
      clearTimeout(timer);
      this.waiting.delete(qc);
      if (conn === null) this.current--;
    };
    qc.addEventListener(q.events.EventQUICConnectionClose.name, onClose, { once: true });
    qc.addEventListener(q.events.EventQUICConnectionStream.name, (evt: Event) => {
      const stream = (evt as CustomEvent<QUICStream>).detail;
      if (conn !== null || stream.type !== 'bidi') {
        // Multi-stream mode is not built: only the first bidirectional stream carries MQTT.
        stream.cancel(new Error('only one MQTT stream per QUIC connection'));
        return;
      }
      clearTimeout(timer);
      this.waiting.delete(qc);
      qc.removeEventListener(q.events.EventQUICConnectionClose.name, onClose);
      conn = new q.QuicConnection(qc, stream, this.info(qc, peerCert));
      conn.onFinished = this.release;
      try {
        this.onConnection(conn, this.spec);
      } catch (err) {
        this.log.error({ err }, 'connection handler threw; connection closed');
        conn.destroy();
      }
    });
  }

  private info(qc: QUICConnection, peerCert: PeerCert | null): ConnectionInfo {
    const info: ConnectionInfo = {
      listener: this.id, transport: 'quic', remoteAddress: plainAddress(qc.remoteHost), remotePort: qc.remotePort, localPort: this.port,
    };
    if (peerCert !== null) info.peerCert = peerCert;
    return info;
  }

  /**
   * The library drops a connection whose handshake fails (bad certificate, wrong ALPN, timeout)
   * without an event; its accept step is wrapped to count them.
   */
  private countFailedHandshakes(server: QUICServer, q: QuicLib): void {
    const s = server as unknown as { acceptConnection: (...a: unknown[]) => Promise<unknown> };
    const accept = s.acceptConnection.bind(server);
    s.acceptConnection = async (...a: unknown[]) => {
      try {
        return await accept(...a);
      } catch (err) {
        if (err instanceof q.errors.ErrorQUICServerNewConnection) {
          this.handshakeErrors++;
          this.log.debug({ err: (err.cause as Error | undefined)?.message ?? err.message }, 'handshake failed');
        }
        throw err;
      }
    };
  }
}

function specOf(id: string, protocol: string, cfg: QuicListenerConfig): ListenerSpec {
  const limits: ClientRateLimits = { messages: cfg.messages_rate, messagesBurst: cfg.messages_burst, bytes: cfg.bytes_rate, bytesBurst: cfg.bytes_burst };
  return Object.freeze({
    id, transport: 'quic', protocol, highWaterMark: cfg.tcp_options.high_watermark,
    clientLimits: hasClientLimits(limits) ? Object.freeze(limits) : null,
  });
}

const plainAddress = (a: string) => (a.startsWith('::ffff:') ? a.slice(7) : a);

function ignore(): void { /* the connection's close event reports it */ }
