/**
 * ClusterLink: the node-to-node message link of a Petrel cluster. It forwards messages to the
 * nodes that have subscribers for them and carries cluster calls (link-codec.ts has the frames).
 *
 * Each node dials every peer it knows and sends FWD/CALL/PING only on its own outbound
 * connection; the accepting side answers HELLO/ACK/REPLY/PONG on that same connection. Two nodes
 * therefore hold two connections, one per direction, and there is no simultaneous-open tie-break.
 *
 * - QoS 0 is best effort: sent only while the link is up, dropped once maxBufferBytes are queued.
 * - QoS 1/2 get a per-peer seq and stay in `pending` (at most maxPending) until the peer ACKs;
 *   they are resent in seq order after a reconnect and after resendAfterMs without an ACK.
 * - The receiver delivers, then ACKs (batched per turn), and suppresses resends it already
 *   delivered by (origin node, origin incarnation, seq) in a DedupWindow; an origin's seqs to a
 *   peer run on for its whole life, across reconnects and the peer leaving and coming back.
 * - A malformed frame or a wrong HELLO closes that one connection (logged, counted); nothing
 *   a peer sends can throw out of the link.
 * - A lost connection is redialled with exponential backoff and jitter; PING/PONG measure the
 *   RTT and a connection silent for 3 ping intervals is closed.
 */
import { createServer as createTcpServer, connect as tcpConnect, type Server } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { unlinkSync } from 'node:fs';
import type { Message } from '../types.js';
import {
  DEFAULT_MAX_FRAME, LinkDecoder, LinkProtocolError, encodeCall, encodeFwd, encodeFwdInto, encodeHello, encodePing, encodePong, encodeReply,
  type CallFrame, type FwdFrame, type HelloFrame, type LinkFrame, type ReplyFrame,
} from './link-codec.js';
import { DedupWindow } from './link-dedup.js';
import type { Connection } from '../transport/types.js';
import { RawTcpServer, rawConnect, rawPipeConnect, rawPipeListen, rawPipeSupported, rawTcpChoice } from '../transport/raw-tcp.js';
import {
  Counters, InboundConn, LINK_LISTENER, OutPeer, decodeInto, nextU32, parseHostPort, resolveHost, wrapSocket,
  type ClusterLinkHandlers, type ClusterLinkOptions, type LinkLog, type LinkPeerStats,
} from './link-peers.js';

export { parseHostPort, type ClusterLinkHandlers, type ClusterLinkOptions, type LinkLog, type LinkPeerStats } from './link-peers.js';

export class ClusterLink {
  private readonly opts: ClusterLinkOptions;
  private readonly handlers: ClusterLinkHandlers;
  private readonly log: LinkLog;
  private readonly maxBufferBytes: number;
  private readonly resendAfterMs: number;
  private readonly backoff: { minMs: number; maxMs: number };
  private readonly pingIntervalMs: number;
  private readonly maxFrame: number;
  private readonly dedupSize: number;
  private readonly peers = new Map<string, OutPeer>();
  private readonly inbound = new Set<InboundConn>();
  private readonly counters = new Map<string, Counters>();
  /** origin node → its latest incarnation's dedup window. */
  private readonly dedup = new Map<string, { incarnation: number; window: DedupWindow }>();
  private server: Server | null = null;
  private rawServer: RawTcpServer | null = null;
  /** Plain TCP on raw libuv handles, as the MQTT listeners do (transport/raw-tcp.ts); TLS and untested Node majors use net/tls. */
  private readonly raw: boolean;
  private ticker: NodeJS.Timeout | null = null;
  private stopped = false;
  private boundPort = 0;
  /** Protocol errors on connections not (yet) tied to a node, TLS handshake failures included. */
  unattributedProtocolErrors = 0;
  /** Messages forwarded to a node that is not a peer. */
  unknownPeerDrops = 0;

  constructor(opts: ClusterLinkOptions, handlers: ClusterLinkHandlers) {
    this.opts = opts;
    this.handlers = handlers;
    this.log = opts.log;
    this.maxBufferBytes = opts.maxBufferBytes ?? 8 * 1024 * 1024;
    this.resendAfterMs = opts.resendAfterMs ?? 5000;
    this.backoff = opts.backoff ?? { minMs: 200, maxMs: 10_000 };
    this.pingIntervalMs = opts.pingIntervalMs ?? 5000;
    this.maxFrame = opts.maxFrame ?? DEFAULT_MAX_FRAME;
    this.dedupSize = opts.dedupWindow ?? 100_000;
    if (!(opts.maxPending >= 0)) throw new Error(`cluster link: maxPending must be >= 0, got ${opts.maxPending}`);
    if (this.backoff.minMs <= 0 || this.backoff.maxMs < this.backoff.minMs) throw new Error('cluster link: backoff needs 0 < minMs <= maxMs');
    this.raw = opts.tls === null && (opts.rawSockets ?? true) && rawTcpChoice().raw;
    this.rawLocal = (opts.rawSockets ?? true) && rawPipeSupported();
  }

  get port(): number {
    return this.boundPort;
  }

  // ------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    await this.startTcp();
    if (this.opts.local !== undefined) await this.startLocal(this.opts.local.path);
  }

  private localServer: Server | null = null;
  private closeLocalRaw: (() => void) | null = null;
  /** The same-host link on raw pipe handles, as the TCP link runs on raw TCP handles (measured: net.Socket costs more per message). */
  private readonly rawLocal: boolean;

  /** The Unix socket siblings on this host dial (ClusterLinkOptions.local). */
  private async startLocal(path: string): Promise<void> {
    try { unlinkSync(path); } catch { /* none left from an earlier run */ }
    if (this.rawLocal) {
      this.closeLocalRaw = rawPipeListen(path, LINK_LISTENER, (conn) => { if (this.stopped) conn.destroy(); else this.accept(conn); },
        (err) => this.log.warn({ err: err.message }, 'cluster link: accept failed on the same-host socket'));
      this.log.info({ path }, 'cluster link listening on the same-host socket');
      return;
    }
    const server = createTcpServer((s) => this.accept(wrapSocket(s, 'tcp', path, 0)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path, exclusive: true }, () => { server.off('error', reject); resolve(); });
    });
    server.on('error', (err) => this.log.error({ err: err.message }, 'cluster link: local socket error'));
    this.localServer = server;
    this.log.info({ path }, 'cluster link listening on the same-host socket');
  }

  private async startTcp(): Promise<void> {
    const { host, port } = parseHostPort(this.opts.bind);
    const t = this.opts.tls;
    if (this.raw) {
      const raw = new RawTcpServer(LINK_LISTENER, () => !this.stopped, (conn) => this.accept(conn), () => {},
        (err) => this.log.warn({ err: err.message }, 'cluster link: accept failed'));
      raw.listen(await resolveHost(host), port);
      this.rawServer = raw;
      this.boundPort = raw.port;
      this.startTicker();
      this.log.info({ bind: this.opts.bind, port: this.boundPort, tls: false }, 'cluster link listening');
      return;
    }
    const server = t
      ? createTlsServer({ ca: t.ca, cert: t.cert, key: t.key, requestCert: true, rejectUnauthorized: true }, (s) => this.accept(wrapSocket(s, 'ssl')))
      : createTcpServer((s) => this.accept(wrapSocket(s, 'tcp')));
    server.on('tlsClientError', (err: Error) => {
      this.unattributedProtocolErrors++;
      this.log.warn({ err: err.message }, 'cluster link: TLS handshake refused');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // exclusive: a worker of a multi-process node (node.workers) binds its own link port, not one shared by its siblings.
      server.listen({ port, host, exclusive: true }, () => { server.off('error', reject); resolve(); });
    });
    server.on('error', (err) => this.log.error({ err: err.message }, 'cluster link: listener error'));
    this.server = server;
    this.boundPort = (server.address() as { port: number }).port;
    this.startTicker();
    this.log.info({ bind: this.opts.bind, port: this.boundPort, tls: t !== null }, 'cluster link listening');
  }

  private startTicker(): void {
    const tickMs = Math.max(10, Math.min(this.resendAfterMs, this.pingIntervalMs) / 2);
    this.ticker = setInterval(() => this.tick(), tickMs);
    this.ticker.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    for (const p of this.peers.values()) this.closePeer(p, 'link stopped');
    for (const conn of this.inbound) conn.socket.destroy();
    this.rawServer?.close();
    this.rawServer = null;
    this.closeLocalRaw?.();
    this.closeLocalRaw = null;
    const local = this.localServer;
    this.localServer = null;
    if (local) await new Promise<void>((resolve) => local.close(() => resolve()));
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ------------------------------------------------------------ membership

  /** A removed peer's next seq, should it come back. */
  private readonly seqAfterRemoval = new Map<string, number>();

  setPeer(node: string, address: string): void {
    if (node === this.opts.self || this.stopped) return;
    parseHostPort(address);
    const p = this.peers.get(node);
    if (p === undefined) {
      const peer = new OutPeer(node, address, this.countersOf(node));
      peer.nextSeq = this.seqAfterRemoval.get(node) ?? 1;
      this.peers.set(node, peer);
      this.dial(peer);
      return;
    }
    if (p.address === address) return;
    this.log.info({ node, from: p.address, to: address }, 'cluster link: peer address changed');
    p.address = address;
    p.attempt = 0;
    if (p.socket) p.socket.destroy(); // onOutClose redials
    else this.redialNow(p); // abandons a dial in progress
  }

  removePeer(node: string): void {
    const p = this.peers.get(node);
    if (p === undefined) return;
    p.removed = true;
    this.peers.delete(node);
    // The peer dedups by seq for as long as this process lives: a re-added peer continues the count.
    this.seqAfterRemoval.set(node, p.nextSeq);
    this.unbusy(p);
    if (p.pending.size > 0) {
      p.c.dropped += p.pending.size;
      this.log.warn({ node, dropped: p.pending.size }, 'cluster link: peer left, its unacked messages are dropped');
      for (const e of p.pending.values()) e.done?.();
      p.pending.clear();
    }
    this.closePeer(p, `node ${node} left the cluster`);
  }

  /** Closes the connections to and from node (every peer's when omitted); they are redialled. */
  disconnect(node?: string): void {
    for (const p of this.peers.values()) {
      if (node !== undefined && p.node !== node) continue;
      if (p.socket !== null) p.socket.destroy();
      else if (p.cancelDial !== null) this.dialFailed(p, new Error('disconnected'));
    }
    for (const conn of this.inbound) if (node === undefined || conn.node === node) conn.socket.destroy();
  }

  peerState(node: string): 'up' | 'down' {
    return this.peers.get(node)?.state === 'up' ? 'up' : 'down';
  }

  stats(): Record<string, LinkPeerStats> {
    const out: Record<string, LinkPeerStats> = {};
    for (const [node, c] of this.counters) {
      const p = this.peers.get(node);
      out[node] = {
        state: p?.state === 'up' ? 'up' : 'down',
        forwarded: c.forwarded, acked: c.acked, pending: p?.pending.size ?? 0, dropped: c.dropped,
        received: c.received, duplicates: c.duplicates, rttMs: c.rttMs, reconnects: c.reconnects,
        protocolErrors: c.protocolErrors, queuedBytes: p?.writer.bytes ?? 0,
      };
    }
    return out;
  }

  // ------------------------------------------------------------ sending

  /**
   * Sends a message to a peer. `done` (QoS 1/2) runs when the peer acknowledged it — or when it is
   * dropped (peer gone, maxPending), so a waiting publisher is never held forever.
   */
  forward(node: string, msg: Message, plain: boolean, groups: Array<[string, string]>, done?: () => void): void {
    const p = this.peers.get(node);
    if (p === undefined) {
      this.unknownPeerDrops++;
      done?.();
      this.log.debug({ node, id: msg.id }, 'cluster link: forward to a node that is not a peer, dropped');
      return;
    }
    try {
      if (msg.qos === 0) this.forwardQos0(p, msg, plain, groups);
      else this.forwardAcked(p, msg, plain, groups, done);
    } catch (err) {
      p.c.dropped++;
      done?.();
      this.log.error({ node, id: msg.id, err: (err as Error).message }, 'cluster link: message cannot be encoded, dropped');
    }
  }

  private forwardQos0(p: OutPeer, msg: Message, plain: boolean, groups: Array<[string, string]>): void {
    if (p.state === 'up' && p.writer.bytes < this.maxBufferBytes) {
      encodeFwdInto(p.writer, false, 0, plain, msg, groups);
      p.c.forwarded++;
      return;
    }
    p.c.dropped++;
  }

  private forwardAcked(p: OutPeer, msg: Message, plain: boolean, groups: Array<[string, string]>, done?: () => void): void {
    if (p.pending.size >= this.opts.maxPending) {
      p.c.dropped++;
      done?.();
      if (!p.dropBurst) {
        p.dropBurst = true;
        this.log.warn({ node: p.node, maxPending: this.opts.maxPending, state: p.state }, 'cluster link: too many unacked messages, dropping QoS 1/2 until the peer catches up');
      }
      return;
    }
    p.dropBurst = false;
    const seq = p.nextSeq;
    p.nextSeq = nextU32(seq);
    // Encoded into the writer's chunk when the peer is up (the view is kept for resends), else on its own.
    const frame = p.state === 'up' ? encodeFwdInto(p.writer, true, seq, plain, msg, groups)! : encodeFwd(seq, plain, msg, groups);
    p.pending.set(seq, { frame, sentAt: Date.now(), done });
    p.c.forwarded++;
    if (p.state === 'up') {
      if (!p.busy && p.pending.size >= this.busyAt) { p.busy = true; this.busyPeers++; }
    }
  }

  /**
   * True while a live peer has `busyAt` QoS 1/2 messages unacknowledged (it is slower than the
   * publishers here): the broker then stops reading publishers until `onRelief`. A peer that is
   * down does not count — local traffic goes on while its messages wait (up to maxPending).
   */
  get congested(): boolean { return this.busyPeers > 0; }
  /** Called when the last congested peer has caught up (half of busyAt). */
  onRelief: (() => void) | null = null;
  private busyPeers = 0;
  private get busyAt(): number { return Math.max(1, Math.min(10_000, Math.floor(this.opts.maxPending / 2))); }

  private unbusy(p: OutPeer): void {
    if (!p.busy) return;
    p.busy = false;
    if (--this.busyPeers === 0) this.onRelief?.();
  }

  call(node: string, method: string, args: unknown, timeoutMs = 5000): Promise<unknown> {
    const p = this.peers.get(node);
    if (p === undefined) return Promise.reject(new Error(`cluster call ${method} to ${node}: not a peer of ${this.opts.self}`));
    if (p.state !== 'up') return Promise.reject(new Error(`cluster call ${method} to ${node}: link is down`));
    let frame: Buffer;
    const id = p.nextCallId;
    try {
      frame = encodeCall(id, method, args);
    } catch (err) {
      return Promise.reject(new Error(`cluster call ${method} to ${node}: arguments cannot be encoded (${(err as Error).message})`));
    }
    p.nextCallId = nextU32(id);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        p.calls.delete(id);
        reject(new Error(`cluster call ${method} to ${node}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      p.calls.set(id, { method, resolve, reject, timer });
      p.writer.push(frame);
    });
  }

  // ------------------------------------------------------------ outbound connections

  private dial(p: OutPeer): void {
    p.retryTimer = null;
    p.cancelDial?.();
    p.cancelDial = null;
    if (p.removed || this.stopped) return;
    const { host, port } = parseHostPort(p.address);
    const t = this.opts.tls;
    p.state = 'connecting';
    p.lastRx = Date.now();
    p.decoder = new LinkDecoder({ maxFrame: this.maxFrame });
    // A sibling worker on this host: its Unix socket, plain (ClusterLinkOptions.local).
    const local = this.opts.local?.peerPath(p.node) ?? null;
    const rawDone = (err: NodeJS.ErrnoException | null, conn: Connection | null): void => {
      p.cancelDial = null;
      if (err !== null) this.dialFailed(p, err);
      else this.connected(p, conn!);
    };
    if (local !== null && this.rawLocal) {
      p.cancelDial = rawPipeConnect(local, LINK_LISTENER, rawDone);
      return;
    }
    if (local === null && this.raw) {
      let cancelled = false;
      p.cancelDial = () => { cancelled = true; };
      resolveHost(host).then((ip) => {
        if (!cancelled) p.cancelDial = rawConnect(ip, port, LINK_LISTENER, rawDone);
      }, (err: Error) => { if (!cancelled) { p.cancelDial = null; this.dialFailed(p, err); } });
      return;
    }
    const tls = local === null ? t : null;
    // Peers are trusted by the cluster CA; their certificates need not name the dialled address.
    const socket = local !== null ? tcpConnect({ path: local })
      : tls ? tlsConnect({ host, port, ca: tls.ca, cert: tls.cert, key: tls.key, checkServerIdentity: () => undefined })
        : tcpConnect({ host, port });
    const conn = local !== null ? wrapSocket(socket, 'tcp', local, 0) : wrapSocket(socket, tls ? 'ssl' : 'tcp', host, port);
    p.socket = conn;
    this.handleOut(p, conn);
    socket.once(tls ? 'secureConnect' : 'connect', () => this.connected(p, conn));
  }

  /** The outbound connection is up (TCP connected, TLS handshaken): HELLO goes first. */
  private connected(p: OutPeer, conn: Connection): void {
    if (p.socket !== conn) {
      if (p.socket !== null || p.removed || this.stopped) { conn.destroy(); return; }
      p.socket = conn;
      this.handleOut(p, conn);
    }
    p.writer.attach(conn);
    p.writer.push(encodeHello(this.opts.cluster, this.opts.self, this.opts.incarnation, true, this.opts.ackDelayMs));
  }

  private handleOut(p: OutPeer, conn: Connection): void {
    conn.setHandler({
      data: (chunk) => this.onOutData(p, conn, chunk),
      drain: () => p.writer.flush(),
      close: (err) => {
        if (err) this.log.debug({ node: p.node, address: p.address, err: err.message }, 'cluster link: connection error');
        this.onOutClose(p, conn);
      },
    });
  }

  /** A raw-handle dial failed before there was a connection: as a close, redialled after backoff. */
  private dialFailed(p: OutPeer, err: Error): void {
    p.cancelDial?.();
    p.cancelDial = null;
    this.log.debug({ node: p.node, address: p.address, err: err.message }, 'cluster link: connection error');
    if (p.socket !== null) return;
    p.decoder = null;
    p.state = 'down';
    if (!p.removed && !this.stopped) this.scheduleRedial(p);
  }

  private onOutData(p: OutPeer, socket: Connection, chunk: Buffer): void {
    if (p.socket !== socket) return;
    p.lastRx = Date.now();
    const frames: LinkFrame[] = [];
    const err = decodeInto(p.decoder!, chunk, frames);
    for (const f of frames) {
      if (socket.closed) return;
      this.onOutFrame(p, socket, f);
    }
    if (err && !socket.closed) this.protocolError(socket, p.c, p.node, err);
  }

  private onOutFrame(p: OutPeer, socket: Connection, f: LinkFrame): void {
    if (p.state === 'connecting') {
      if (f.type === 'hello') this.helloAnswered(p, socket, f);
      else this.protocolError(socket, p.c, p.node, new Error(`expected HELLO, got ${f.type.toUpperCase()}`));
      return;
    }
    switch (f.type) {
      case 'ack':
        for (const seq of f.seqs) {
          const e = p.pending.get(seq);
          if (e === undefined) continue;
          p.pending.delete(seq);
          p.c.acked++;
          e.done?.();
        }
        if (p.busy && p.pending.size <= this.busyAt / 2) this.unbusy(p);
        return;
      case 'reply': return this.replied(p, f);
      case 'pong':
        if (p.pingSentAt > 0) p.c.rttMs = Math.round((performance.now() - p.pingSentAt) * 100) / 100;
        p.pingSentAt = 0;
        return;
      default:
        this.protocolError(socket, p.c, p.node, new Error(`unexpected ${f.type.toUpperCase()} on an outbound connection`));
    }
  }

  private helloAnswered(p: OutPeer, socket: Connection, f: HelloFrame): void {
    if (f.cluster !== this.opts.cluster || f.node !== p.node) {
      this.protocolError(socket, p.c, p.node, new Error(`peer at ${p.address} is ${f.node} of cluster ${f.cluster}, expected ${p.node} of ${this.opts.cluster}`));
      return;
    }
    p.state = 'up';
    p.attempt = 0;
    p.writer.useAliases(f.aliases);
    if (p.everUp) p.c.reconnects++;
    p.everUp = true;
    const now = Date.now();
    for (const entry of p.pending.values()) {
      entry.sentAt = now;
      p.writer.push(entry.frame);
    }
    this.log.info({ node: p.node, address: p.address, incarnation: f.incarnation, resent: p.pending.size }, 'cluster link up');
    this.notifyPeerState(p.node, true);
  }

  private replied(p: OutPeer, f: ReplyFrame): void {
    const call = p.calls.get(f.id);
    if (call === undefined) return; // timed out already
    p.calls.delete(f.id);
    clearTimeout(call.timer);
    if (f.ok) call.resolve(f.value);
    else call.reject(new Error(`cluster call ${call.method} to ${p.node} failed: ${f.error}`));
  }

  private onOutClose(p: OutPeer, socket: Connection): void {
    if (p.socket !== socket) return;
    const wasUp = p.state === 'up';
    p.socket = null;
    p.decoder = null;
    p.state = 'down';
    p.pingSentAt = 0;
    p.writer.detach();
    this.unbusy(p);
    this.rejectCalls(p, `link to ${p.node} went down`);
    if (wasUp) {
      this.log.warn({ node: p.node, address: p.address, pending: p.pending.size }, 'cluster link down');
      this.notifyPeerState(p.node, false);
    }
    if (!p.removed && !this.stopped) this.scheduleRedial(p);
  }

  private scheduleRedial(p: OutPeer): void {
    const { minMs, maxMs } = this.backoff;
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(p.attempt, 30));
    p.attempt++;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    p.retryTimer = setTimeout(() => this.dial(p), delay);
    p.retryTimer.unref();
  }

  private redialNow(p: OutPeer): void {
    if (p.retryTimer) clearTimeout(p.retryTimer);
    this.dial(p);
  }

  /** Ends everything about an outbound peer (removal or stop): no redial. */
  private closePeer(p: OutPeer, why: string): void {
    const wasUp = p.state === 'up';
    p.removed = true;
    if (p.retryTimer) clearTimeout(p.retryTimer);
    p.retryTimer = null;
    p.cancelDial?.();
    p.cancelDial = null;
    p.socket?.destroy();
    p.socket = null;
    p.state = 'down';
    p.writer.detach();
    this.rejectCalls(p, why);
    if (wasUp) this.notifyPeerState(p.node, false);
  }

  private rejectCalls(p: OutPeer, why: string): void {
    for (const call of p.calls.values()) {
      clearTimeout(call.timer);
      call.reject(new Error(`cluster call ${call.method} to ${p.node}: ${why}`));
    }
    p.calls.clear();
  }

  // ------------------------------------------------------------ inbound connections

  private accept(socket: Connection): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const conn = new InboundConn(socket, new LinkDecoder({ maxFrame: this.maxFrame }));
    this.inbound.add(conn);
    conn.writer.attach(socket);
    socket.setHandler({
      data: (chunk) => this.onInData(conn, chunk),
      drain: () => conn.writer.flush(),
      close: (err) => {
        if (err) this.log.debug({ node: conn.node, err: err.message }, 'cluster link: inbound connection error');
        this.inbound.delete(conn);
        conn.writer.detach();
      },
    });
  }

  private onInData(conn: InboundConn, chunk: Buffer): void {
    conn.lastRx = Date.now();
    const frames: LinkFrame[] = [];
    const err = decodeInto(conn.decoder, chunk, frames);
    this.handleInFrames(conn, frames, 0, err);
  }

  /**
   * Handles frames[from…], then err. A delivery that asks to hold this peer (its subscribers'
   * queues are full) stops the loop: the rest wait, reading pauses (TCP pushes back on the sender,
   * whose unacknowledged messages then make its publishers wait) and handling resumes when the
   * delivery says so — so forwarded QoS 1/2 messages wait rather than overflow those queues.
   */
  private handleInFrames(conn: InboundConn, frames: LinkFrame[], from: number, err: LinkProtocolError | null): void {
    for (let i = from; i < frames.length; i++) {
      if (conn.socket.closed) return;
      this.onInFrame(conn, frames[i]!);
      const hold = this.holdRequest;
      if (hold !== null) {
        this.holdRequest = null;
        if (i + 1 < frames.length || err !== null) {
          conn.held = frames.slice(i + 1);
          conn.heldError = err;
        }
        conn.socket.pause();
        hold.then(() => this.releaseHeld(conn), () => this.releaseHeld(conn));
        return;
      }
    }
    if (err && !conn.socket.closed) this.protocolError(conn.socket, conn.c, conn.node, err);
  }

  private releaseHeld(conn: InboundConn): void {
    if (conn.socket.closed) return;
    const frames = conn.held ?? [];
    const err = conn.heldError;
    conn.held = null;
    conn.heldError = null;
    conn.socket.resume();
    this.handleInFrames(conn, frames, 0, err);
  }

  /**
   * Called by the deliver handler while it delivers: stop handling (and reading) the sending
   * peer's frames until `until` settles. The message being delivered is not affected.
   */
  holdDelivery(until: Promise<unknown>): void {
    this.holdRequest = until;
  }
  private holdRequest: Promise<unknown> | null = null;

  private onInFrame(conn: InboundConn, f: LinkFrame): void {
    if (conn.node === null) {
      if (f.type === 'hello') this.greet(conn, f);
      else this.protocolError(conn.socket, null, null, new Error(`expected HELLO, got ${f.type.toUpperCase()}`));
      return;
    }
    switch (f.type) {
      case 'fwd': return this.receive(conn, f);
      case 'call': return this.serveCall(conn, f);
      case 'ping': return conn.writer.push(encodePong());
      default:
        this.protocolError(conn.socket, conn.c, conn.node, new Error(`unexpected ${f.type.toUpperCase()} on an inbound connection`));
    }
  }

  private greet(conn: InboundConn, f: HelloFrame): void {
    if (f.cluster !== this.opts.cluster) {
      this.protocolError(conn.socket, null, f.node, new Error(`HELLO from ${f.node} of cluster ${JSON.stringify(f.cluster)}, this is ${JSON.stringify(this.opts.cluster)}`));
      return;
    }
    if (f.node === this.opts.self) {
      this.protocolError(conn.socket, null, f.node, new Error(`HELLO from a node with this node's own name ${f.node}`));
      return;
    }
    conn.node = f.node;
    conn.c = this.countersOf(f.node);
    conn.dedup = this.dedupWindowOf(f.node, f.incarnation);
    if (f.ackDelayMs !== undefined) conn.writer.ackDelayMs = f.ackDelayMs;
    conn.writer.push(encodeHello(this.opts.cluster, this.opts.self, this.opts.incarnation));
    this.log.debug({ node: f.node, incarnation: f.incarnation }, 'cluster link: peer connected');
  }

  private dedupWindowOf(node: string, incarnation: number): DedupWindow {
    const d = this.dedup.get(node);
    if (d !== undefined && d.incarnation === incarnation) return d.window;
    // A new incarnation restarted with an empty pending list: the old window cannot match anything.
    const window = new DedupWindow(this.dedupSize);
    this.dedup.set(node, { incarnation, window });
    return window;
  }

  private receive(conn: InboundConn, f: FwdFrame): void {
    const c = conn.c!;
    c.received++;
    if (f.seq !== 0 && conn.dedup!.check(f.seq)) {
      c.duplicates++;
      conn.writer.ack(f.seq);
      return;
    }
    let later: void | Promise<unknown> = undefined;
    try {
      later = this.handlers.deliver(conn.node!, f.msg, f.plain, f.groups);
    } catch (err) {
      this.log.error({ node: conn.node, id: f.msg.id, err: (err as Error).message }, 'cluster link: deliver handler threw');
    }
    if (f.seq === 0) return;
    if (later instanceof Promise) {
      const seq = f.seq;
      later.catch(() => {}).then(() => { if (!conn.socket.closed) conn.writer.ack(seq); });
    } else conn.writer.ack(f.seq);
  }

  private serveCall(conn: InboundConn, f: CallFrame): void {
    const from = conn.node!;
    new Promise((resolve) => resolve(this.handlers.call(from, f.method, f.args)))
      .then((value) => ({ ok: true as const, value }), (err: unknown) => ({ ok: false as const, error: err instanceof Error ? err.message : String(err) }))
      .then((result) => {
        if (conn.socket.closed) return;
        try {
          conn.writer.push(encodeReply(f.id, result));
        } catch (err) {
          conn.writer.push(encodeReply(f.id, { ok: false, error: `reply cannot be encoded: ${(err as Error).message}` }));
        }
      });
  }

  // ------------------------------------------------------------ shared

  /** Logs and counts a protocol error, then closes only the connection it happened on. */
  private protocolError(socket: Connection, c: Counters | null, node: string | null, err: Error): void {
    if (c) c.protocolErrors++;
    else this.unattributedProtocolErrors++;
    const code = err instanceof LinkProtocolError ? err.code : 'HANDSHAKE';
    this.log.warn({ node, remote: `${socket.info.remoteAddress}:${socket.info.remotePort}`, code, err: err.message }, 'cluster link: protocol error, closing the connection');
    socket.destroy();
  }

  /** Pings, closes silent connections and resends QoS 1/2 left unacked for resendAfterMs. */
  private tick(): void {
    const now = Date.now();
    const deadAfter = 3 * this.pingIntervalMs;
    for (const p of this.peers.values()) {
      if (p.socket === null) {
        // A raw-handle dial that hangs (a peer address that drops SYNs): abandoned like a silent connection.
        if (p.cancelDial !== null && now - p.lastRx > deadAfter) this.dialFailed(p, new Error(`no connection after ${now - p.lastRx} ms`));
        continue;
      }
      if (now - p.lastRx > deadAfter) {
        this.log.warn({ node: p.node, silentMs: now - p.lastRx }, 'cluster link: peer silent, closing the connection');
        p.socket.destroy();
        continue;
      }
      if (p.state !== 'up') continue;
      if (now >= p.nextPingAt) {
        p.nextPingAt = now + this.pingIntervalMs;
        p.pingSentAt = performance.now();
        p.writer.push(encodePing());
      }
      if (!p.writer.busy) this.resendOverdue(p, now);
    }
    for (const conn of this.inbound) {
      if (now - conn.lastRx > deadAfter) conn.socket.destroy();
    }
  }

  private resendOverdue(p: OutPeer, now: number): void {
    for (const entry of p.pending.values()) {
      if (now - entry.sentAt < this.resendAfterMs) continue;
      entry.sentAt = now;
      p.writer.push(entry.frame);
    }
  }

  private countersOf(node: string): Counters {
    let c = this.counters.get(node);
    if (c === undefined) this.counters.set(node, (c = new Counters()));
    return c;
  }

  private notifyPeerState(node: string, up: boolean): void {
    try {
      this.handlers.peerState?.(node, up);
    } catch (err) {
      this.log.error({ node, up, err: (err as Error).message }, 'cluster link: peerState handler threw');
    }
  }
}
