/**
 * The transport contract: a Connection moves bytes in and out and closes; it knows nothing of
 * MQTT. Each listener type (tcp, ssl, ws, wss) produces the same Connection, so the protocol
 * layer above has one driver for all of them.
 *
 * Flow: the listener calls `onConnection(conn, spec)`; the owner picks the protocol by
 * `spec.protocol` and calls `conn.setHandler(h)` (bytes that arrive before that are held, the
 * socket paused). `h.data(buf)` gets every chunk as it arrives (a fresh Buffer the handler may
 * keep), `h.drain()` fires after `write()` returned false and the queued output was flushed, and
 * `h.close(err?)` fires exactly once at the end. Between `pause()` and `resume()` no `data()`
 * is delivered on any transport.
 *
 * Datagram transports (udp.ts) have no Connection: an endpoint hands out one DatagramPeer per
 * remote address:port instead.
 */

import type { ClientRateLimits } from '../access/limiter.js';

export type TransportType = 'tcp' | 'ssl' | 'ws' | 'wss' | 'quic' | 'udp';

/**
 * What a listener tells the owner of each of its connections. One object per listener (shared by
 * all its connections, replaced only when the listener restarts with a new config), so it costs
 * nothing per connection.
 */
export interface ListenerSpec {
  /** Listener id, e.g. 'tcp:default' (the same as ConnectionInfo.listener). */
  readonly id: string;
  readonly transport: TransportType;
  /** The protocol spoken on it: 'mqtt' for tcp/ssl/ws/wss; gateways add 'coap', 'mqttsn', 'ocpp'. */
  readonly protocol: string;
  /**
   * Output bytes queued for one connection above which the owner treats it as slow
   * (`listeners.<type>.<name>.tcp_options.high_watermark`).
   */
  readonly highWaterMark: number;
  /** Per-client incoming PUBLISH limits (`messages_rate`, `bytes_rate` and their bursts); null = none. */
  readonly clientLimits: ClientRateLimits | null;
}

export type OnConnection = (conn: Connection, spec: ListenerSpec) => void;

export interface PeerCert {
  /** Subject fields, e.g. { CN: 'device-1', O: 'Acme' } (multi-valued fields joined by ","). */
  subject: Record<string, string>;
  cn?: string;
  /** The subject as RFC 4514 text, most specific first: "CN=device-1,O=Acme". */
  dn?: string;
  fingerprint256?: string;
  /** The certificate's DER (for mqtt.peer_cert_as_username = crt | pem | md5). */
  raw?: Buffer;
}

export interface ConnectionInfo {
  /** Listener id, e.g. 'tcp:default'. */
  listener: string;
  transport: TransportType;
  remoteAddress: string;
  remotePort: number;
  localPort: number;
  /** The verified client certificate (ssl/wss with verify_peer), null when none was presented. */
  peerCert?: PeerCert | null;
  /** ws/wss: the negotiated WebSocket subprotocol ('' when the client offered none). */
  subprotocol?: string;
}

export interface ConnectionHandler {
  data(buf: Buffer): void;
  drain(): void;
  close(err?: Error): void;
}

export interface Connection {
  readonly info: ConnectionInfo;
  setHandler(h: ConnectionHandler): void;
  /** Queue bytes; false = back-pressure (wait for handler.drain()). Never throws. */
  write(buf: Buffer): boolean;
  writev?(bufs: Buffer[]): boolean;
  /** Batch the following writes until uncork() (one TCP segment / one WebSocket frame). */
  cork(): void;
  uncork(): void;
  /**
   * Stop / restart delivering data (inbound flow control). After pause() no data() is delivered
   * and the transport stops reading, so the peer's sending backs up into its TCP window; data
   * already read off the socket is held and delivered after resume().
   */
  pause(): void;
  resume(): void;
  /** Flush what is queued, then close. */
  end(): void;
  /** Close now, dropping anything queued. */
  destroy(): void;
  /** Bytes queued for sending and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** True once end()/destroy() was called or the peer went away. */
  readonly closed: boolean;
}

/** How long end() waits for the peer to close after our FIN / close frame before destroying. */
export const END_GRACE_MS = 5000;
