/**
 * The cluster link's peers and their bookkeeping (link.ts drives them): the options and handlers a
 * ClusterLink is made with, an outbound connection to a peer with its pending QoS 1/2 frames and
 * calls (OutPeer), a connection a peer dialled (InboundConn), per-node counters, and the socket and
 * address helpers both directions use.
 */
import { isIP, type Socket } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { Message } from '../types.js';
import { parseBind } from '../config/bind.js';
import type { LinkDecoder, LinkFrame, LinkProtocolError } from './link-codec.js';
import type { DedupWindow } from './link-dedup.js';
import { LinkWriter } from './link-writer.js';
import type { Connection, ConnectionInfo } from '../transport/types.js';
import { SocketConnection } from '../transport/socket-connection.js';

/** The listener id the link's connections carry (ConnectionInfo.listener). */
export const LINK_LISTENER = 'cluster:link';

export interface LinkLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  error(o: object, m?: string): void;
  debug(o: object, m?: string): void;
}

export interface ClusterLinkOptions {
  self: string;
  cluster: string;
  /** This node's start time (ms); receivers key their dedup windows by it. */
  incarnation: number;
  /** host:port to listen on; port may be 0. */
  bind: string;
  /** Mutual TLS when set: both sides present a certificate signed by ca. */
  tls: null | { ca: Buffer; cert: Buffer; key: Buffer };
  /** QoS 1/2 messages kept per peer until acked. */
  maxPending: number;
  /** Bytes queued per peer before QoS 0 is dropped (default 8 MiB). */
  maxBufferBytes?: number;
  /** Resend an unacked QoS 1/2 message on a live link after this long (default 5000 ms). */
  resendAfterMs?: number;
  /** Reconnect delay bounds (default 200 ms … 10 s, with jitter). */
  backoff?: { minMs: number; maxMs: number };
  /** PING period on each outbound connection (default 5000 ms); 3 silent periods close it. */
  pingIntervalMs?: number;
  /** Largest frame accepted (default 64 MiB). */
  maxFrame?: number;
  /** Message ids remembered per origin incarnation for deduplication (default 100 000). */
  dedupWindow?: number;
  /**
   * How long the peer may hold its ACKs of our QoS 1/2 messages to batch them (sent in HELLO):
   * short when a publisher's PUBACK waits on them (durability.mode sync), else LAZY_ACK_DELAY_MS.
   * Absent: the peer's default (ACK_DELAY_MS).
   */
  ackDelayMs?: number;
  /** Plain TCP on raw libuv handles where this Node allows (default true); false: net.Socket. */
  rawSockets?: boolean;
  /**
   * The same-host link of a multi-process node (node.workers): this process also listens on the
   * Unix socket `path`, and dials a peer on the one `peerPath(node)` names (null: the peer is not
   * on this host, dial its address). Plain, also when the TCP link has TLS: the socket's directory
   * is the node's own (mode 0700).
   */
  local?: { path: string; peerPath(node: string): string | null };
  log: LinkLog;
}

export interface ClusterLinkHandlers {
  /** A forwarded message; a returned promise delays its ACK until it settles (durability.mode sync). */
  deliver(from: string, msg: Message, plain: boolean, groups: Array<[string, string]>): void | Promise<unknown>;
  call(from: string, method: string, args: unknown): unknown | Promise<unknown>;
  peerState?(node: string, up: boolean): void;
}

export interface LinkPeerStats {
  state: 'up' | 'down';
  forwarded: number;
  acked: number;
  pending: number;
  dropped: number;
  received: number;
  duplicates: number;
  rttMs: number;
  reconnects: number;
  protocolErrors: number;
  queuedBytes: number;
}

/** Per-node counters; they outlive connections (and a removePeer). */
export class Counters {
  forwarded = 0;
  acked = 0;
  dropped = 0;
  received = 0;
  duplicates = 0;
  rttMs = 0;
  reconnects = 0;
  protocolErrors = 0;
}

export interface PendingCall {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** This node's outbound connection to one peer, and everything kept for it across reconnects. */
export class OutPeer {
  address: string;
  /** The connection once dialled (raw handles: once connected); null while down. */
  socket: Connection | null = null;
  /** Abandons a raw-handle dial still in progress. */
  cancelDial: (() => void) | null = null;
  state: 'down' | 'connecting' | 'up' = 'down';
  readonly writer = new LinkWriter();
  decoder: LinkDecoder | null = null;
  /** seq → encoded FWD frame and when it was last written; Map order is seq order. */
  readonly pending = new Map<number, { frame: Buffer; sentAt: number; done?: () => void }>();
  nextSeq = 1;
  readonly calls = new Map<number, PendingCall>();
  nextCallId = 1;
  attempt = 0;
  retryTimer: NodeJS.Timeout | null = null;
  lastRx = 0;
  /** performance.now() of the PING awaiting its PONG (0 = none). */
  pingSentAt = 0;
  nextPingAt = 0;
  everUp = false;
  dropBurst = false;
  removed = false;
  /** Up, and too many QoS 1/2 messages unacknowledged: publishers wait (ClusterLink.congested). */
  busy = false;
  constructor(readonly node: string, address: string, readonly c: Counters) {
    this.address = address;
  }
}

/** A connection some peer dialled to us. */
export class InboundConn {
  node: string | null = null;
  dedup: DedupWindow | null = null;
  c: Counters | null = null;
  readonly writer = new LinkWriter();
  lastRx = Date.now();
  /** Frames not handled yet because a delivery asked to hold this peer (holdDelivery); reading is paused meanwhile. */
  held: LinkFrame[] | null = null;
  /** A protocol error that came after the held frames. */
  heldError: LinkProtocolError | null = null;
  constructor(readonly socket: Connection, readonly decoder: LinkDecoder) {}
}

/** Decodes chunk into frames; the frames before a protocol error are still handled, then the error. */
export function decodeInto(decoder: LinkDecoder, chunk: Buffer, frames: LinkFrame[]): LinkProtocolError | null {
  try {
    decoder.push(chunk, frames);
    return null;
  } catch (err) {
    return err as LinkProtocolError;
  }
}

export const nextU32 = (n: number): number => (n >= 0xffffffff ? 1 : n + 1);

/** Splits host:port (host may be [v6]). */
export function parseHostPort(address: string): { host: string; port: number } {
  // the listeners' parser (config/bind.ts), minus its bare-port form: a peer is dialled at a host
  const r = address.includes(':') ? parseBind(address) : null;
  if (r === null || !r.ok) throw new Error(`cluster link: bad address ${JSON.stringify(address)}, expected host:port`);
  return r.value;
}

/** An IP address for host (the raw handles connect and bind to addresses only). */
export async function resolveHost(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  return (await lookup(host)).address;
}

/** A net/tls socket as a transport Connection (the TLS link, or Node majors without raw handles). */
export function wrapSocket(socket: Socket, transport: 'tcp' | 'ssl', host?: string, port?: number): Connection {
  const info: ConnectionInfo = {
    listener: LINK_LISTENER, transport,
    remoteAddress: host ?? socket.remoteAddress ?? '', remotePort: port ?? socket.remotePort ?? 0, localPort: socket.localPort ?? 0,
  };
  return new SocketConnection(socket, info);
}
