/**
 * The node-to-node link: a persistent TCP (or mutual-TLS) connection from this node to every
 * other member, carrying forwarded messages and node calls (link-codec.ts frames).
 *
 * Each node dials every peer and sends on its OWN outbound connection (FWD, CALL, PING); the
 * accepting side answers on that same connection (ACK, REPLY, PONG). No simultaneous-open
 * tie-break is needed, and a broken connection is always re-dialled by the side that sends.
 *
 * - Frames are batched: queued per peer and written once per event-loop turn as one buffer.
 * - QoS 1/2 messages carry a sequence number and stay pending until the peer acknowledges them
 *   (it does after handing them to its broker); after a reconnect every pending one is sent again
 *   in order. The receiver drops a repeated (sender, incarnation, seq), so a lost ACK does not
 *   deliver twice. At most `maxPending` per peer; beyond, a message is dropped and counted.
 * - QoS 0 is best effort: queued up to `maxBufferBytes` per peer while the socket is busy or
 *   reconnecting, then dropped and counted.
 * - Back-pressure: above the socket's high-water mark frames wait for 'drain'.
 * - Liveness: a PING every pingIntervalMs; no answer within 3 intervals → the connection is
 *   closed and dialled again (a partition does not leave a half-open link). RTT from PONG.
 * - Reconnects back off exponentially with jitter. A malformed frame or a wrong HELLO closes that
 *   connection only, logged and counted.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Message } from '../types.js';
import {
  F, FrameDecoder, LinkProtocolError, encodeAck, encodeCall, encodeForward, encodeHello, encodePing, encodeReply, type Frame,
} from './link-codec.js';

export interface LinkLog {
  info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void; debug(o: object, m?: string): void;
}

export interface LinkOptions {
  self: string;
  /** Nodes of another cluster (another etcd prefix) are refused. */
  cluster: string;
  /** This process's start time: a restarted sender's sequence numbers are new ones. */
  incarnation: number;
  /** host:port; port 0 picks one (see `port`). */
  bind: string;
  tls: null | { ca: Buffer; cert: Buffer; key: Buffer };
  maxPending: number;
  maxBufferBytes?: number;
  backoff?: { minMs: number; maxMs: number };
  pingIntervalMs?: number;
  log: LinkLog;
}

export interface LinkHandlers {
  deliver(from: string, msg: Message, plain: boolean, groups: Array<[string, string]>): void;
  call(from: string, method: string, args: unknown): unknown;
  peerState?(node: string, up: boolean): void;
}

export interface PeerStats {
  state: 'up' | 'down'; forwarded: number; acked: number; pending: number; dropped: number;
  received: number; duplicates: number; rttMs: number; reconnects: number;
}

const HIGH_WATER = 4 * 1024 * 1024;
const DEDUP_WINDOW = 100_000;

export class ClusterLink {
  private readonly opts: LinkOptions;
  private readonly handlers: LinkHandlers;
  private server: net.Server | null = null;
  private readonly peers = new Map<string, Peer>();
  private readonly inbound = new Set<net.Socket>();
  /** Per sender incarnation: seqs already delivered (a bounded window), for resends after a lost ACK. */
  private readonly seen = new Map<string, { set: Set<number>; order: number[]; received: number; duplicates: number }>();
  private boundPort = 0;
  private stopped = false;
  protocolErrors = 0;

  constructor(opts: LinkOptions, handlers: LinkHandlers) {
    this.opts = opts;
    this.handlers = handlers;
  }

  get port(): number { return this.boundPort; }

  async start(): Promise<void> {
    const { host, port } = splitHostPort(this.opts.bind);
    const t = this.opts.tls;
    const onConn = (s: net.Socket): void => this.accept(s);
    const server = t === null ? net.createServer({ noDelay: true }, onConn)
      : tls.createServer({ ca: t.ca, cert: t.cert, key: t.key, requestCert: true, rejectUnauthorized: true }, onConn);
    if (t !== null) server.on('tlsClientError', (err) => { this.protocolErrors++; this.opts.log.warn({ err: err.message }, 'node link: TLS handshake refused'); });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
    server.on('error', (err) => this.opts.log.error({ err: err.message }, 'node link listener error'));
    this.server = server;
    this.boundPort = (server.address() as net.AddressInfo).port;
  }

  setPeer(node: string, address: string): void {
    if (this.stopped || node === this.opts.self) return;
    const p = this.peers.get(node);
    if (p !== undefined) { if (p.address !== address) { p.address = address; p.reconnect(); } return; }
    const peer = new Peer(this, node, address);
    this.peers.set(node, peer);
    peer.dial();
  }

  removePeer(node: string): void {
    const p = this.peers.get(node);
    if (p === undefined) return;
    this.peers.delete(node);
    p.close(`node ${node} left the cluster`);
  }

  forward(node: string, msg: Message, plain: boolean, groups: Array<[string, string]>): void {
    const p = this.peers.get(node);
    if (p === undefined) return;
    p.forward(msg, plain, groups);
  }

  call(node: string, method: string, args: unknown, timeoutMs = 5000): Promise<unknown> {
    const p = this.peers.get(node);
    if (p === undefined) return Promise.reject(new Error(`node ${node} is not a known peer`));
    return p.call(method, args, timeoutMs);
  }

  peerState(node: string): 'up' | 'down' { return this.peers.get(node)?.up === true ? 'up' : 'down'; }

  stats(): Record<string, PeerStats> {
    const out: Record<string, PeerStats> = {};
    for (const [name, p] of this.peers) {
      const rx = this.seenFrom(name);
      out[name] = { state: p.up ? 'up' : 'down', forwarded: p.forwarded, acked: p.acked, pending: p.pending.size, dropped: p.dropped, received: rx.received, duplicates: rx.duplicates, rttMs: p.rttMs, reconnects: p.reconnects };
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.peers.values()) p.close('link stopped');
    this.peers.clear();
    for (const s of this.inbound) s.destroy();
    const server = this.server;
    if (server !== null) await new Promise<void>((r) => server.close(() => r()));
  }

  // ---- the accepting side -------------------------------------------------------------------

  private accept(s: net.Socket): void {
    if (this.stopped) { s.destroy(); return; }
    this.inbound.add(s);
    s.setNoDelay(true);
    s.setKeepAlive(true, 5000);
    const decoder = new FrameDecoder();
    let from = '';
    let key = '';
    let acks: number[] = [];
    let out: Buffer[] = [];
    let scheduled = false;
    const send = (b: Buffer): void => {
      out.push(b);
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        if (acks.length > 0) { out.push(encodeAck(acks)); acks = []; }
        if (out.length > 0 && !s.destroyed) s.write(out.length === 1 ? out[0]! : Buffer.concat(out));
        out = [];
      });
    };
    const ack = (seq: number): void => { acks.push(seq); if (!scheduled) send(Buffer.alloc(0)); };
    s.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, (f) => {
          if (from === '') {
            if (f.type !== F.HELLO) throw new LinkProtocolError('first frame is not HELLO');
            if (f.hello.cluster !== this.opts.cluster) throw new LinkProtocolError(`HELLO from cluster '${f.hello.cluster}', this is '${this.opts.cluster}'`);
            from = f.hello.node;
            key = `${from}\u0000${f.hello.incarnation}`;
            return;
          }
          this.onInbound(f, from, key, send, ack);
        });
      } catch (err) {
        this.protocolErrors++;
        this.opts.log.warn({ peer: from || `${s.remoteAddress}:${s.remotePort}`, err: (err as Error).message }, 'node link: bad frame; connection closed');
        s.destroy();
      }
    });
    s.on('error', () => {});
    s.on('close', () => this.inbound.delete(s));
  }

  private onInbound(f: Frame, from: string, key: string, send: (b: Buffer) => void, ack: (seq: number) => void): void {
    switch (f.type) {
      case F.FWD: {
        const { seq, msg, plain, groups } = f.fwd;
        const rx = this.seenFrom(from, key);
        rx.received++;
        if (seq !== 0) {
          if (rx.set.has(seq)) { rx.duplicates++; ack(seq); return; }
          rx.set.add(seq);
          rx.order.push(seq);
          if (rx.order.length > DEDUP_WINDOW) rx.set.delete(rx.order.shift()!);
        }
        try { this.handlers.deliver(from, msg, plain, groups); } catch (err) {
          this.opts.log.error({ peer: from, err: (err as Error).message }, 'node link: delivery of a forwarded message failed');
        }
        if (seq !== 0) ack(seq);
        return;
      }
      case F.CALL: {
        const { id, method, args } = f;
        Promise.resolve().then(() => this.handlers.call(from, method, args)).then(
          (v) => send(encodeReply(id, true, v)),
          (err: Error) => send(encodeReply(id, false, err?.message ?? String(err))),
        );
        return;
      }
      case F.PING: send(encodePing(F.PONG, f.time)); return;
      default: throw new LinkProtocolError(`frame type ${f.type} not expected from the dialling side`);
    }
  }

  private seenFrom(from: string, key?: string): { set: Set<number>; order: number[]; received: number; duplicates: number } {
    const k = key ?? [...this.seen.keys()].reverse().find((x) => x.startsWith(from + '\u0000')) ?? from;
    let rx = this.seen.get(k);
    if (rx === undefined) {
      rx = { set: new Set(), order: [], received: 0, duplicates: 0 };
      if (key !== undefined) {
        // A new incarnation of the sender: its older windows are forgotten.
        for (const old of [...this.seen.keys()]) if (old.startsWith(from + '\u0000')) this.seen.delete(old);
        this.seen.set(k, rx);
      }
    }
    return rx;
  }

  /** For Peer: the link's options and handlers. */
  get options(): LinkOptions { return this.opts; }
  get handlerSet(): LinkHandlers { return this.handlers; }
  get isStopped(): boolean { return this.stopped; }
}

interface PendingCall { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }

/** The dialling side towards one peer. */
class Peer {
  address: string;
  up = false;
  forwarded = 0;
  acked = 0;
  dropped = 0;
  reconnects = 0;
  rttMs = 0;
  /** seq → FWD frame, in send order, until acknowledged. */
  readonly pending = new Map<number, Buffer>();
  private readonly link: ClusterLink;
  private readonly name: string;
  private socket: net.Socket | null = null;
  private nextSeq = 1;
  private out: Buffer[] = [];
  private outBytes = 0;
  private scheduled = false;
  private blocked = false;
  private closed = false;
  private retryMs = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private lastPong = 0;
  private nextCall = 1;
  private readonly calls = new Map<number, PendingCall>();
  private waiters: Array<() => void> = [];
  private dropWarned = 0;

  constructor(link: ClusterLink, name: string, address: string) {
    this.link = link;
    this.name = name;
    this.address = address;
  }

  dial(): void {
    if (this.closed) return;
    const o = this.link.options;
    const { host, port } = splitHostPort(this.address);
    const t = o.tls;
    const s = t === null ? net.connect({ host, port, noDelay: true })
      : tls.connect({ host, port, ca: t.ca, cert: t.cert, key: t.key, checkServerIdentity: () => undefined });
    this.socket = s;
    s.setKeepAlive(true, 5000);
    const decoder = new FrameDecoder();
    s.once(t === null ? 'connect' : 'secureConnect', () => {
      if (this.socket !== s) return;
      this.retryMs = 0;
      this.up = true;
      this.lastPong = Date.now();
      // HELLO, then every unacknowledged message again in order, then what was queued.
      const first = [encodeHello({ cluster: o.cluster, node: o.self, incarnation: o.incarnation, proto: 1 }), ...this.pending.values()];
      this.out = first.concat(this.out.filter((b) => !isForwardWithSeq(b)));
      this.outBytes = this.out.reduce((n, b) => n + b.length, 0);
      this.schedule();
      this.startPing();
      o.log.info({ peer: this.name, address: this.address, resent: this.pending.size }, 'node link up');
      this.link.handlerSet.peerState?.(this.name, true);
      const w = this.waiters; this.waiters = []; for (const fn of w) fn();
    });
    s.on('data', (chunk: Buffer) => {
      try { decoder.push(chunk, (f) => this.onFrame(f)); } catch (err) {
        this.link.protocolErrors++;
        o.log.warn({ peer: this.name, err: (err as Error).message }, 'node link: bad frame from peer; reconnecting');
        s.destroy();
      }
    });
    s.on('drain', () => { this.blocked = false; this.schedule(); });
    s.on('error', (err) => { if (this.up || this.reconnects % 20 === 0) o.log.debug({ peer: this.name, err: err.message }, 'node link error'); });
    s.on('close', () => this.onClose(s));
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case F.ACK:
        for (const seq of f.seqs) if (this.pending.delete(seq)) this.acked++;
        return;
      case F.REPLY: {
        const c = this.calls.get(f.id);
        if (c === undefined) return;
        this.calls.delete(f.id);
        clearTimeout(c.timer);
        if (f.ok) c.resolve(f.value); else c.reject(new Error(`${this.name}: ${f.error}`));
        return;
      }
      case F.PONG:
        this.lastPong = Date.now();
        this.rttMs = Math.max(0, Date.now() - f.time);
        return;
      default:
        throw new LinkProtocolError(`frame type ${f.type} not expected from the accepting side`);
    }
  }

  private onClose(s: net.Socket): void {
    if (this.socket !== s) return;
    this.socket = null;
    const wasUp = this.up;
    this.up = false;
    this.blocked = false;
    this.stopPing();
    if (wasUp) {
      this.link.options.log.warn({ peer: this.name, pending: this.pending.size }, 'node link down; reconnecting');
      this.link.handlerSet.peerState?.(this.name, false);
    }
    for (const [id, c] of this.calls) { clearTimeout(c.timer); c.reject(new Error(`link to ${this.name} broke during the call`)); this.calls.delete(id); }
    if (this.closed || this.link.isStopped) return;
    const b = this.link.options.backoff ?? { minMs: 200, maxMs: 10_000 };
    this.retryMs = Math.min(Math.max(this.retryMs * 2, b.minMs), b.maxMs);
    const delay = this.retryMs / 2 + Math.random() * this.retryMs / 2;
    this.reconnects++;
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.dial(); }, delay);
    this.retryTimer.unref();
  }

  reconnect(): void { this.socket?.destroy(); }

  close(reason: string): void {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.stopPing();
    if (this.pending.size > 0) {
      this.dropped += this.pending.size;
      this.link.options.log.warn({ peer: this.name, dropped: this.pending.size, reason }, 'node link closed with unacknowledged messages');
    }
    this.pending.clear();
    for (const c of this.calls.values()) { clearTimeout(c.timer); c.reject(new Error(`${reason}`)); }
    this.calls.clear();
    this.socket?.destroy();
    this.socket = null;
    this.up = false;
  }

  forward(msg: Message, plain: boolean, groups: Array<[string, string]>): void {
    if (msg.qos === 0) {
      const limit = this.link.options.maxBufferBytes ?? 8 * 1024 * 1024;
      // Best effort: not queued while the link is down, dropped when it is this far behind.
      if (!this.up || this.outBytes > limit) { this.drop(); return; }
      this.write(encodeForward(0, plain, msg, groups));
      this.forwarded++;
      return;
    }
    if (this.pending.size >= this.link.options.maxPending) { this.drop(); return; }
    const seq = this.nextSeq;
    this.nextSeq = seq === 0xffffffff ? 1 : seq + 1;
    const f = encodeForward(seq, plain, msg, groups);
    this.pending.set(seq, f);
    this.forwarded++;
    if (this.up) this.write(f);
  }

  private drop(): void {
    this.dropped++;
    const now = Date.now();
    if (now - this.dropWarned > 10_000) {
      this.dropWarned = now;
      this.link.options.log.warn({ peer: this.name, dropped: this.dropped, pending: this.pending.size, up: this.up }, 'node link: message dropped (peer down or too far behind)');
    }
  }

  call(method: string, args: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const send = (): void => {
        if (!this.up) { reject(new Error(`link to ${this.name} is down`)); return; }
        const id = this.nextCall++;
        const timer = setTimeout(() => { this.calls.delete(id); reject(new Error(`${this.name} did not answer ${method} within ${timeoutMs} ms`)); }, timeoutMs);
        this.calls.set(id, { resolve, reject, timer });
        this.write(encodeCall(id, method, args));
      };
      if (this.up) { send(); return; }
      // Connecting: wait for the link a little (a node that just joined), then give up.
      const t = setTimeout(() => { this.waiters = this.waiters.filter((w) => w !== go); reject(new Error(`link to ${this.name} is down`)); }, Math.min(timeoutMs, 2000));
      const go = (): void => { clearTimeout(t); send(); };
      this.waiters.push(go);
    });
  }

  private write(b: Buffer): void {
    this.out.push(b);
    this.outBytes += b.length;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.blocked || !this.up) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const s = this.socket;
    if (s === null || !this.up || this.out.length === 0) return;
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    this.outBytes = 0;
    if (!s.write(data) || s.writableLength > HIGH_WATER) this.blocked = true;
  }

  private startPing(): void {
    const every = this.link.options.pingIntervalMs ?? 2000;
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastPong > every * 3) {
        this.link.options.log.warn({ peer: this.name }, 'node link: no answer to PING; reconnecting');
        this.socket?.destroy();
        return;
      }
      this.write(encodePing(F.PING, Date.now()));
    }, every);
    this.pingTimer.unref();
  }

  private stopPing(): void { if (this.pingTimer !== null) { clearInterval(this.pingTimer); this.pingTimer = null; } }
}

/** A queued FWD frame with a sequence number (it is resent from `pending`, not from the queue). */
function isForwardWithSeq(b: Buffer): boolean { return b.length >= 9 && b[4] === F.FWD && b.readUInt32BE(5) !== 0; }

function splitHostPort(a: string): { host: string; port: number } {
  const i = a.lastIndexOf(':');
  if (i <= 0) throw new Error(`not host:port: '${a}'`);
  return { host: a.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(a.slice(i + 1)) };
}
