/**
 * UDP endpoint: one datagram socket bound to one address, for the datagram protocols (CoAP,
 * MQTT-SN). UDP has no connections, so the endpoint makes them up: the first datagram from an
 * address:port creates a DatagramPeer and hands it to `onPeer`; later datagrams from the same
 * address:port go to that peer's handler, one whole datagram per `datagram(buf)` call; a peer
 * that has sent nothing for `idleTimeoutMs` is closed ('idle'), and the next datagram from its
 * address:port makes a new peer. Replies go back through `peer.send(buf)`, from the endpoint's
 * one socket.
 *
 * The endpoint never throws because of what arrives or fails to leave: beyond `maxPeers` a
 * datagram from a new address:port is dropped and counted; a handler that throws has its peer
 * closed ('error') and is counted; a send that fails (sync or async) is counted and logged at
 * debug. Idle expiry is one sweep timer per endpoint (not a timer per peer).
 *
 * Not wired into the config yet: gateways create endpoints from their own keys
 * (e.g. `gateway.coap.listeners.udp.default.bind`).
 */
import { createSocket, type RemoteInfo, type Socket as DgramSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { parseBind } from '../config/index.js';
import { ListenerError } from './errors.js';
import type { ConnectionInfo } from './types.js';

/**
 * Why a peer closed: 'idle' (nothing received for idleTimeoutMs), 'closed' (peer.close()),
 * 'stopped' (the endpoint stopped), 'error' (its handler, or onPeer, threw).
 */
export type DatagramCloseReason = 'idle' | 'closed' | 'stopped' | 'error';

export interface DatagramHandler {
  /** One whole datagram (a Buffer of its own the handler may keep). */
  datagram(buf: Buffer): void;
  /** Fires exactly once, after which the peer receives and sends nothing. */
  close(reason: DatagramCloseReason): void;
}

export interface UdpEndpointOptions {
  /** Endpoint id, reported as ConnectionInfo.listener, e.g. 'udp:coap-default'. */
  id: string;
  /** What the peers speak ('coap', 'mqttsn'); reported in status(). */
  protocol: string;
  /** "port", "host:port" or "[ipv6]:port" (port 0 picks a free port, kept across stop/start). */
  bind: string;
  /** Most peers at once; a datagram from a new address:port beyond it is dropped. Default Infinity. */
  maxPeers?: number;
  /** Close a peer after this long without a datagram from it (Infinity = never). Default 30 s. */
  idleTimeoutMs?: number;
  /** How often idle peers are looked for. Default idleTimeoutMs / 4, between 10 ms and 5 s. */
  sweepIntervalMs?: number;
  /** SO_RCVBUF / SO_SNDBUF to ask for (bytes; the kernel caps them at net.core.rmem_max / wmem_max). Default: the kernel's. */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** SO_REUSEADDR (another socket may bind the same address). Default false, so a port in use is an error. */
  reuseAddr?: boolean;
}

export interface UdpEndpointStatus {
  id: string;
  transport: 'udp';
  protocol: string;
  bind: string;
  running: boolean;
  /** Actual port while running, else 0. */
  port: number;
  peers: number;
  maxPeers: number;
  peersCreated: number;
  /** Peers closed for idleness. */
  peersExpired: number;
  /** Every datagram received, including dropped ones. */
  datagramsIn: number;
  bytesIn: number;
  /** Datagrams the kernel accepted for sending. */
  datagramsOut: number;
  bytesOut: number;
  /** Datagrams dropped: from a new address:port beyond maxPeers, or beyond MAX_HELD before setHandler(). */
  dropped: number;
  /** The socket's SO_RCVBUF / SO_SNDBUF as the kernel reports them while running (Linux doubles what was asked for), else 0. */
  recvBufferSize: number;
  sendBufferSize: number;
  /** Failed sends, handlers (or onPeer) that threw, socket errors. */
  errors: number;
}

/** Datagrams kept for a peer whose owner has not called setHandler() yet; later ones are dropped. */
export const MAX_HELD = 16;
const MIN_SWEEP_MS = 10;
const MAX_SWEEP_MS = 5000;

const plainAddress = (a: string): string => (a.startsWith('::ffff:') ? a.slice(7) : a);

export class DatagramPeer {
  // ConnectionInfo, held here rather than in an object of its own (`info` is this peer), as in raw-tcp.ts.
  readonly listener: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  /** @internal The demultiplexing key, address:port as the socket reports it. */
  readonly key: string;
  /** @internal Date.now() of the last datagram received. */
  lastSeen: number;
  /** The address to send to (as received: IPv4-mapped on a dual-stack socket). */
  private readonly address: string;
  /** Null once closed. */
  private endpoint: UdpEndpoint | null;
  private handler: DatagramHandler | null;
  private held: Buffer[] | null;

  /** @internal Made by the endpoint on a peer's first datagram. */
  constructor(endpoint: UdpEndpoint, key: string, address: string, port: number, now: number) {
    this.listener = endpoint.id;
    this.remoteAddress = plainAddress(address);
    this.remotePort = port;
    this.localPort = endpoint.port;
    this.key = key;
    this.lastSeen = now;
    this.address = address;
    this.endpoint = endpoint;
    this.handler = null;
    this.held = null;
  }

  get info(): ConnectionInfo { return this; }
  get transport(): 'udp' { return 'udp'; }
  get closed(): boolean { return this.endpoint === null; }

  /** Datagrams that came before this are delivered now, in order. */
  setHandler(h: DatagramHandler): void {
    this.handler = h;
    const held = this.held;
    this.held = null;
    if (held !== null) for (const b of held) { if (this.endpoint === null) return; this.endpoint.deliver(this, b); }
  }

  /** Sends one datagram to this peer. False when the peer or endpoint is closed or the send failed at once; never throws. */
  send(buf: Buffer): boolean {
    const e = this.endpoint;
    return e !== null && e.sendTo(buf, this.remotePort, this.address);
  }

  /** Forget this peer; its handler gets close('closed'). A later datagram from its address makes a new peer. */
  close(): void { this.endpoint?.closePeer(this, 'closed'); }

  /** @internal */ receive(buf: Buffer): boolean {
    const h = this.handler;
    if (h !== null) { h.datagram(buf); return true; }
    const held = this.held ??= [];
    if (held.length >= MAX_HELD) return false;
    held.push(buf);
    return true;
  }

  /** @internal Called by the endpoint once the peer is out of its table. */
  onClosed(reason: DatagramCloseReason): void {
    this.endpoint = null;
    this.held = null;
    const h = this.handler;
    if (h !== null) h.close(reason);
  }
}

export class UdpEndpoint {
  readonly id: string;
  readonly protocol: string;
  readonly bind: string;
  private readonly maxPeers: number;
  private readonly idleTimeoutMs: number;
  private readonly sweepIntervalMs: number;
  private readonly buffers: Pick<UdpEndpointOptions, 'recvBufferSize' | 'sendBufferSize' | 'reuseAddr'>;
  private readonly onPeer: (peer: DatagramPeer) => void;
  private readonly log: Logger;
  private readonly peers: Map<string, DatagramPeer>;
  private socket: DgramSocket | null;
  private sweeper: NodeJS.Timeout | null;
  private boundPort: number;
  private lastPort: number;
  private peersCreated: number;
  private peersExpired: number;
  private datagramsIn: number;
  private bytesIn: number;
  private datagramsOut: number;
  private bytesOut: number;
  private dropped: number;
  private errors: number;
  /** One send callback for the endpoint, not a closure per datagram. */
  private readonly onSent: (err: Error | null, bytes: number) => void;
  private readonly onMessage: (msg: Buffer, rinfo: RemoteInfo) => void;
  private readonly onSocketError: (err: Error) => void;

  constructor(opts: UdpEndpointOptions, onPeer: (peer: DatagramPeer) => void, log: Logger) {
    const idle = opts.idleTimeoutMs ?? 30_000;
    if (!(idle > 0)) throw new RangeError(`udp endpoint ${opts.id}: idleTimeoutMs must be > 0 (Infinity = never), got ${idle}`);
    const maxPeers = opts.maxPeers ?? Infinity;
    if (!(maxPeers >= 1)) throw new RangeError(`udp endpoint ${opts.id}: maxPeers must be ≥ 1, got ${maxPeers}`);
    this.id = opts.id;
    this.protocol = opts.protocol;
    this.bind = opts.bind;
    this.maxPeers = maxPeers;
    this.idleTimeoutMs = idle;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, Math.floor(idle / 4)));
    this.buffers = { recvBufferSize: opts.recvBufferSize, sendBufferSize: opts.sendBufferSize, reuseAddr: opts.reuseAddr };
    this.onPeer = onPeer;
    this.log = log.child({ listener: this.id });
    this.peers = new Map();
    this.socket = null;
    this.sweeper = null;
    this.boundPort = 0;
    this.lastPort = 0;
    this.peersCreated = 0;
    this.peersExpired = 0;
    this.datagramsIn = 0;
    this.bytesIn = 0;
    this.datagramsOut = 0;
    this.bytesOut = 0;
    this.dropped = 0;
    this.errors = 0;
    this.onSent = (err, bytes) => {
      if (err) { this.errors++; this.log.debug({ err: err.message }, 'udp send failed'); return; }
      this.datagramsOut++;
      this.bytesOut += bytes;
    };
    this.onMessage = (msg, rinfo) => this.received(msg, rinfo);
    this.onSocketError = (err) => { this.errors++; this.log.warn({ err: err.message }, 'udp socket error'); };
  }

  get running(): boolean { return this.socket !== null; }
  /** The bound port while running, else 0. */
  get port(): number { return this.boundPort; }
  get peerCount(): number { return this.peers.size; }

  status(): UdpEndpointStatus {
    return {
      id: this.id, transport: 'udp', protocol: this.protocol, bind: this.bind, running: this.running, port: this.boundPort,
      peers: this.peers.size, maxPeers: this.maxPeers, peersCreated: this.peersCreated, peersExpired: this.peersExpired,
      datagramsIn: this.datagramsIn, bytesIn: this.bytesIn, datagramsOut: this.datagramsOut, bytesOut: this.bytesOut,
      dropped: this.dropped, errors: this.errors,
      recvBufferSize: this.socket?.getRecvBufferSize() ?? 0, sendBufferSize: this.socket?.getSendBufferSize() ?? 0,
    };
  }

  /** Bind. Errors are ListenerErrors naming the endpoint and address. */
  async start(): Promise<void> {
    if (this.socket !== null) return;
    const parsed = parseBind(this.bind);
    if (!parsed.ok) throw new ListenerError(this.id, this.bind, 'EINVAL', `listener ${this.id} has a bad bind ${this.bind}: ${parsed.error}`);
    let address = parsed.value.host;
    if (isIP(address) === 0) {
      try { address = (await lookup(address)).address; } catch (err) { throw ListenerError.cannotBind(this.id, this.bind, err as NodeJS.ErrnoException); }
    }
    const port = parsed.value.port === 0 ? this.lastPort : parsed.value.port;
    const b = this.buffers;
    const socket = createSocket({
      type: isIP(address) === 6 ? 'udp6' : 'udp4', reuseAddr: b.reuseAddr === true,
      ...(b.recvBufferSize !== undefined ? { recvBufferSize: b.recvBufferSize } : {}),
      ...(b.sendBufferSize !== undefined ? { sendBufferSize: b.sendBufferSize } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        socket.off('listening', onListening);
        socket.close();
        reject(ListenerError.cannotBind(this.id, this.bind, err));
      };
      const onListening = (): void => { socket.off('error', onError); resolve(); };
      socket.once('error', onError);
      socket.once('listening', onListening);
      socket.bind({ address, port, exclusive: b.reuseAddr !== true });
    });
    socket.on('error', this.onSocketError);
    socket.on('message', this.onMessage);
    this.boundPort = socket.address().port;
    if (parsed.value.port === 0) this.lastPort = this.boundPort;
    this.socket = socket;
    if (this.idleTimeoutMs !== Infinity) {
      this.sweeper = setInterval(sweep, this.sweepIntervalMs, this);
      this.sweeper.unref();
    }
    this.log.info({ bind: this.bind, port: this.boundPort, protocol: this.protocol }, 'udp endpoint started');
  }

  /** Close the socket; every peer closes with 'stopped' (they share the socket, so none outlives it). */
  async stop(): Promise<void> {
    const socket = this.socket;
    if (socket === null) return;
    this.socket = null;
    this.boundPort = 0;
    if (this.sweeper !== null) { clearInterval(this.sweeper); this.sweeper = null; }
    for (const peer of this.peers.values()) this.closePeer(peer, 'stopped');
    socket.off('message', this.onMessage);
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    this.log.info('udp endpoint stopped');
  }

  /** @internal */ sendTo(buf: Buffer, port: number, address: string): boolean {
    const socket = this.socket;
    if (socket === null) return false;
    try {
      socket.send(buf, port, address, this.onSent);
      return true;
    } catch (err) {
      this.errors++;
      this.log.debug({ err: (err as Error).message, to: `${address}:${port}` }, 'udp send failed');
      return false;
    }
  }

  /** @internal Hands one datagram to a peer's handler; a throwing handler closes its peer. */
  deliver(peer: DatagramPeer, buf: Buffer): void {
    try {
      if (!peer.receive(buf)) this.dropped++;
    } catch (err) {
      this.errors++;
      this.log.warn({ err, remote: `${peer.remoteAddress}:${peer.remotePort}` }, 'datagram handler threw; peer closed');
      this.closePeer(peer, 'error');
    }
  }

  /** @internal */ closePeer(peer: DatagramPeer, reason: DatagramCloseReason): void {
    if (this.peers.get(peer.key) !== peer) return;
    this.peers.delete(peer.key);
    try {
      peer.onClosed(reason);
    } catch (err) {
      this.errors++;
      this.log.warn({ err }, 'datagram close handler threw');
    }
  }

  /** @internal Closes every peer silent for idleTimeoutMs; called by the one sweep timer. */
  sweep(now: number): void {
    const deadline = now - this.idleTimeoutMs;
    for (const peer of this.peers.values()) {
      if (peer.lastSeen > deadline) continue;
      this.peersExpired++;
      this.closePeer(peer, 'idle');
    }
  }

  private received(msg: Buffer, rinfo: RemoteInfo): void {
    this.datagramsIn++;
    this.bytesIn += msg.length;
    const key = `${rinfo.address}:${rinfo.port}`;
    const now = Date.now();
    let peer = this.peers.get(key);
    if (peer === undefined) {
      if (this.peers.size >= this.maxPeers) { this.dropped++; return; }
      peer = new DatagramPeer(this, key, rinfo.address, rinfo.port, now);
      this.peers.set(key, peer);
      this.peersCreated++;
      try {
        this.onPeer(peer);
      } catch (err) {
        this.errors++;
        this.log.error({ err }, 'peer handler threw; peer closed');
        this.closePeer(peer, 'error');
        return;
      }
      if (peer.closed) return; // the owner refused it
    }
    peer.lastSeen = now;
    this.deliver(peer, msg);
  }
}

function sweep(e: UdpEndpoint): void { e.sweep(Date.now()); }
