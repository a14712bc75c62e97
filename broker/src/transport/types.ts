/**
 * The transport contract: a Connection moves bytes in and out and closes; it knows nothing of
 * MQTT. Each listener type (tcp, ssl, ws, wss) produces the same Connection, so the protocol
 * layer above has one driver for all of them.
 *
 * Flow: the listener calls `onConnection(conn)`; the owner calls `conn.setHandler(h)` (bytes
 * that arrive before that are held, the socket paused). `h.data(buf)` gets every chunk as it
 * arrives (a fresh Buffer the handler may keep), `h.drain()` fires after `write()` returned
 * false and the queued output was flushed, and `h.close(err?)` fires exactly once at the end.
 */

export type TransportType = 'tcp' | 'ssl' | 'ws' | 'wss';

export interface PeerCert {
  /** Subject fields, e.g. { CN: 'device-1', O: 'Acme' } (multi-valued fields joined by ","). */
  subject: Record<string, string>;
  cn?: string;
  fingerprint256?: string;
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
  /** Stop / restart delivering data (inbound flow control). */
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
