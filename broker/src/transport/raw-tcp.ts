/**
 * Plain-TCP listener and connection straight on Node's libuv TCP handle, without a `net.Socket`
 * per connection.
 *
 * Why: an idle MQTT connection is mostly transport. A `net.Socket` brings a Duplex stream with
 * its ReadableState and WritableState, an event emitter, bound callbacks and peer-address objects:
 * ≈ 0.7 KiB of JavaScript heap per connection before MQTT adds anything, and creating it was ≈ 30 %
 * of the CPU of a connect (docs/performance.md). Here a connection is the handle (the same C++
 * `TCP` object a Socket wraps), one small object, and module-level callbacks.
 *
 * The handle API (`process.binding('tcp_wrap')` / `'stream_wrap'`) is Node's own, used by `net`;
 * it is internal and may change in any major, so it is used only on the Node majors a test run
 * has covered (RAW_TCP_TESTED_MAJORS, decided by `rawTcpChoice()`), and `rawTcpSupported()` checks
 * every piece before the listener uses it; otherwise the listener falls back to `net` (and
 * `listeners.tcp.<name>.raw_sockets: false` turns it off). TLS and WebSocket listeners always use
 * `net`/`tls`.
 *
 * Semantics follow SocketConnection: data is delivered as it arrives (fresh Buffers), write()
 * returns false past the high-water mark and drain() follows once libuv's queue is empty,
 * end() flushes, half-closes and closes when the peer does (or after END_GRACE_MS), a peer's
 * FIN closes the connection, close() fires exactly once.
 */
import { isIPv6 } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { END_GRACE_MS, type Connection, type ConnectionHandler, type ConnectionInfo } from './types.js';

interface StreamState { [i: number]: number }

interface TcpHandle {
  onconnection: ((err: number, client?: TcpHandle) => void) | null;
  onread: ((ab?: ArrayBuffer) => void) | null;
  readonly writeQueueSize: number;
  bind(addr: string, port: number): number;
  bind6(addr: string, port: number, flags: number): number;
  connect(req: ConnectReq, addr: string, port: number): number;
  connect6(req: ConnectReq, addr: string, port: number): number;
  listen(backlog: number): number;
  getsockname(out: Record<string, unknown>): number;
  getpeername(out: Record<string, unknown>): number;
  setNoDelay(on: boolean): number;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, buf: Buffer): number;
  writev(req: WriteReq, chunks: Buffer[], allBuffers: boolean): number;
  shutdown(req: ShutdownReq): number;
  close(cb?: () => void): void;
  /** Node's own slot for the object a handle belongs to (`owner` below); null on a fresh handle. */
  [owner: symbol]: RawConnection | null | undefined;
}
interface WriteReq { handle: TcpHandle; oncomplete: (status: number) => void; async: boolean; data?: Buffer | Buffer[] }
interface ShutdownReq { handle: TcpHandle; oncomplete: (status: number) => void }
interface ConnectReq { oncomplete: (status: number) => void; address: string; port: number }

interface Bindings {
  TCP: new (type: number) => TcpHandle;
  SERVER: number;
  SOCKET: number;
  TCPConnectWrap: new () => ConnectReq;
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  state: StreamState;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
  owner: symbol;
}

/**
 * Handle → connection, for the callbacks libuv makes with the handle as `this`: Node's template
 * gives every TCP handle an owner slot (its `owner_symbol`, null until net.Socket sets it), and the
 * raw connection takes it. A property of our own would cost a 64-byte property array per
 * connection, a Map entry ≈ 40–80 bytes (the table grows by doubling) and a lookup per read.
 */
let OWNER: symbol;
/** Peer addresses seen recently, so connections from one address (a NAT, a load balancer) share one string. */
const addresses = new Map<string, string>();
const MAX_ADDRESSES = 4096;

function intern(address: string): string {
  const known = addresses.get(address);
  if (known !== undefined) return known;
  if (addresses.size >= MAX_ADDRESSES) addresses.clear();
  addresses.set(address, address);
  return address;
}
const INHERITS_NODELAY = process.platform === 'linux';
/** libuv's UV_EOF (the same on every platform). */
const UV_EOF = -4095;
/** write() answers false once this many bytes wait in libuv's queue (net.Socket's default). */
const HIGH_WATER_MARK = 16 * 1024;
/** Corked writes up to this many bytes in total are copied into one buffer; larger ones are written one by one. */
const CONCAT_MAX = 64 * 1024;

let bindings: Bindings | null | undefined;

function load(): Bindings | null {
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
    const tcp = binding('tcp_wrap') as { TCP?: Bindings['TCP']; TCPConnectWrap?: Bindings['TCPConnectWrap']; constants?: { SERVER?: number; SOCKET?: number } };
    const sw = binding('stream_wrap') as Record<string, unknown>;
    const b: Bindings = {
      TCP: tcp.TCP!, SERVER: tcp.constants!.SERVER!, SOCKET: tcp.constants!.SOCKET!, TCPConnectWrap: tcp.TCPConnectWrap!,
      WriteWrap: sw.WriteWrap as Bindings['WriteWrap'], ShutdownWrap: sw.ShutdownWrap as Bindings['ShutdownWrap'],
      state: sw.streamBaseState as StreamState,
      kReadBytesOrError: sw.kReadBytesOrError as number,
      kArrayBufferOffset: sw.kArrayBufferOffset as number,
      kLastWriteWasAsync: sw.kLastWriteWasAsync as number,
      owner: ownerSymbol(tcp.TCP, tcp.constants?.SOCKET) as symbol, // checked below
    };
    const proto = b.TCP?.prototype as unknown as Record<string, unknown> | undefined;
    const methods = ['bind', 'bind6', 'connect', 'connect6', 'listen', 'getsockname', 'getpeername', 'setNoDelay', 'readStart', 'readStop', 'writeBuffer', 'writev', 'shutdown', 'close'];
    if (typeof b.TCP !== 'function' || typeof b.SERVER !== 'number' || typeof b.SOCKET !== 'number' || typeof b.TCPConnectWrap !== 'function' || typeof b.WriteWrap !== 'function' ||
        typeof b.ShutdownWrap !== 'function' || b.state === undefined || proto === undefined ||
        typeof b.kReadBytesOrError !== 'number' || typeof b.kArrayBufferOffset !== 'number' || typeof b.kLastWriteWasAsync !== 'number' || typeof b.owner !== 'symbol' ||
        methods.some((m) => typeof proto[m] !== 'function')) return null;
    OWNER = b.owner;
    return b;
  } catch {
    return null;
  }
}

/** The owner slot's symbol, read off a probe handle (closed at once); undefined if there is none. */
function ownerSymbol(TCP: Bindings['TCP'] | undefined, SOCKET: number | undefined): symbol | undefined {
  if (typeof TCP !== 'function' || typeof SOCKET !== 'number') return undefined;
  const probe = new TCP(SOCKET);
  const sym = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'owner_symbol' && probe[s] === null);
  probe.close();
  return sym;
}

/** True when this Node exposes the TCP handle API the raw listener needs. */
export function rawTcpSupported(): boolean {
  if (bindings === undefined) bindings = load();
  return bindings !== null;
}

/**
 * Node majors on which the transport tests (test/unit/transport, both modes) and the benchmarks
 * have run on raw handles. Add a major here only after running them on it: the handle API is
 * internal and a new major may change it in ways the availability check cannot see.
 */
export const RAW_TCP_TESTED_MAJORS: readonly number[] = [20];

/** Whether raw handles may be used, and why (for the start-up log and the listener status). */
export interface RawTcpChoice {
  readonly raw: boolean;
  readonly reason: string;
}

/**
 * The gate on the Node version alone: a pure function of a version string such as 'v20.11.1'
 * (process.version). An unparsable version is treated as untested.
 */
export function rawTcpVersionGate(version: string, tested: readonly number[] = RAW_TCP_TESTED_MAJORS): RawTcpChoice {
  const m = /^v?(\d+)\./.exec(version);
  const major = m ? Number(m[1]) : NaN;
  const list = tested.join(', ');
  if (tested.includes(major)) return { raw: true, reason: `Node ${version} is a tested major (${list}): raw TCP handles` };
  return { raw: false, reason: `Node ${version} is not a major raw TCP handles were tested on (${list}): net.Socket` };
}

/** The version gate, then the availability check of the handle API (only when the gate passes). */
export function rawTcpChoice(version: string = process.version, available: () => boolean = rawTcpSupported): RawTcpChoice {
  const gate = rawTcpVersionGate(version);
  if (!gate.raw) return gate;
  if (!available()) return { raw: false, reason: `Node ${version} lacks part of the TCP handle API: net.Socket` };
  return gate;
}

function uvError(code: number, syscall: string, extra = ''): NodeJS.ErrnoException {
  let name: string;
  try { name = getSystemErrorName(code); } catch { name = `E${-code}`; }
  const err = new Error(`${syscall} ${name}${extra}`) as NodeJS.ErrnoException;
  err.code = name;
  err.errno = code;
  err.syscall = syscall;
  return err;
}

/** A bound, listening TCP server handle and its port. Throws an errno-style error. */
function listenTcp(address: string, port: number, backlog: number): { handle: TcpHandle; port: number } {
  const b = bindings ?? load();
  if (b === null) throw new Error('raw TCP handles are not available in this Node');
  bindings = b;
  const h = new b.TCP(b.SERVER);
  let err = isIPv6(address) ? h.bind6(address, port, 0) : h.bind(address, port);
  if (err === 0) err = h.listen(backlog);
  if (err !== 0) { h.close(); throw uvError(err, 'listen', ` ${address}:${port}`); }
  // Linux copies TCP_NODELAY from the listening socket to every accepted one: set it once here.
  if (INHERITS_NODELAY) h.setNoDelay(true);
  const out: Record<string, unknown> = {};
  h.getsockname(out);
  return { handle: h, port: typeof out.port === 'number' ? out.port : port };
}

/** A listening TCP handle. `onConnection` gets each accepted connection that `admit` lets in. */
export class RawTcpServer {
  private handle: TcpHandle | null = null;
  /** Set when the connections come from the primary of a multi-process node (listenVia). */
  private shared: SharedListen | null = null;
  /** The bound port (the local port of every accepted connection). */
  port = 0;

  constructor(
    private readonly listenerId: string,
    private readonly admit: () => boolean,
    private readonly onConnection: (conn: RawConnection) => void,
    private readonly onRefused: (peer: { address: string; port: number }) => void,
    private readonly onAcceptError: (err: NodeJS.ErrnoException) => void,
  ) {}

  /** Binds and listens on an IP address (resolve host names first). Throws an errno-style error. */
  listen(address: string, port: number, backlog = 511): void {
    const { handle: h, port: bound } = listenTcp(address, port, backlog);
    this.port = bound;
    h.onconnection = (status: number, client?: TcpHandle) => this.accepted(status, client);
    this.handle = h;
  }

  /**
   * A worker of a multi-process node (node.workers): the node's primary process holds the
   * listening socket and hands this worker its share of the accepted connections.
   */
  async listenVia(shared: SharedListen, address: string, port: number): Promise<void> {
    this.port = await shared.listen(this.listenerId, address, port, (client) => this.accepted(0, client as TcpHandle));
    this.shared = shared;
  }

  close(): void {
    const h = this.handle;
    this.handle = null;
    if (h !== null) { h.onconnection = ignoreConnection; h.close(); }
    const shared = this.shared;
    this.shared = null;
    shared?.unlisten(this.listenerId);
  }

  private accepted(status: number, client: TcpHandle | undefined): void {
    if (status !== 0 || client === undefined) { this.onAcceptError(uvError(status, 'accept')); return; }
    const peer: Record<string, unknown> = {};
    client.getpeername(peer);
    let address = typeof peer.address === 'string' ? peer.address : '';
    if (address.startsWith('::ffff:')) address = address.slice(7);
    address = intern(address);
    const remotePort = typeof peer.port === 'number' ? peer.port : 0;
    if (!this.admit()) { client.close(); this.onRefused({ address, port: remotePort }); return; }
    if (!INHERITS_NODELAY) client.setNoDelay(true);
    this.onConnection(new RawConnection(client, this.listenerId, address, remotePort, this.port));
  }
}

interface PipeBindings {
  Pipe: new (type: number) => TcpHandle & { bind(path: string): number; connect(req: ConnectReq, path: string): number };
  PipeConnectWrap: new () => ConnectReq;
  SERVER: number;
  SOCKET: number;
}
let pipeBindings: PipeBindings | null | undefined;

function loadPipe(): PipeBindings | null {
  if (pipeBindings !== undefined) return pipeBindings;
  try {
    const p = (process as unknown as { binding(name: string): Record<string, unknown> }).binding('pipe_wrap') as {
      Pipe?: PipeBindings['Pipe']; PipeConnectWrap?: PipeBindings['PipeConnectWrap']; constants?: { SERVER?: number; SOCKET?: number };
    };
    const proto = p.Pipe?.prototype as unknown as Record<string, unknown> | undefined;
    pipeBindings = typeof p.Pipe === 'function' && typeof p.PipeConnectWrap === 'function' && typeof p.constants?.SERVER === 'number' && typeof p.constants.SOCKET === 'number'
      && proto !== undefined && ['bind', 'listen', 'connect'].every((m) => typeof proto[m] === 'function')
      ? { Pipe: p.Pipe, PipeConnectWrap: p.PipeConnectWrap, SERVER: p.constants.SERVER, SOCKET: p.constants.SOCKET } : null;
  } catch {
    pipeBindings = null;
  }
  return pipeBindings;
}

/** True when raw TCP handles are usable and this Node also exposes its Unix socket handles (pipe_wrap). */
export function rawPipeSupported(): boolean {
  return rawTcpChoice().raw && loadPipe() !== null;
}

/**
 * A Unix socket listener on a raw libuv pipe handle (the same stream machinery as the TCP handles:
 * RawConnection runs both); for the same-host link between a node's workers. Returns its close.
 */
export function rawPipeListen(path: string, listener: string, onConnection: (conn: RawConnection) => void, onAcceptError: (err: NodeJS.ErrnoException) => void): () => void {
  const p = loadPipe();
  const b = bindings ?? load();
  if (p === null || b === null) throw new Error('raw pipe handles are not available in this Node');
  bindings = b;
  const h = new p.Pipe(p.SERVER);
  let err = h.bind(path);
  if (err === 0) err = h.listen(511);
  if (err !== 0) { h.close(); throw uvError(err, 'listen', ` ${path}`); }
  h.onconnection = (status: number, client?: TcpHandle) => {
    if (status !== 0 || client === undefined) onAcceptError(uvError(status, 'accept'));
    else onConnection(new RawConnection(client, listener, path, 0, 0));
  };
  return () => { h.onconnection = ignoreConnection; h.close(); };
}

/** Dials a Unix socket on a raw pipe handle; as rawConnect. */
export function rawPipeConnect(path: string, listener: string, done: (err: NodeJS.ErrnoException | null, conn: RawConnection | null) => void): () => void {
  const p = loadPipe();
  const b = bindings ?? load();
  let settled = false;
  let abandoned = false;
  if (p === null || b === null) {
    process.nextTick(() => { if (!abandoned) done(new Error('raw pipe handles are not available in this Node'), null); });
    return () => { abandoned = true; };
  }
  bindings = b;
  const h = new p.Pipe(p.SOCKET);
  const req = new p.PipeConnectWrap();
  req.oncomplete = (status: number) => {
    if (settled) return;
    settled = true;
    if (abandoned || status < 0) { h.close(); if (!abandoned) done(uvError(status, 'connect', ` ${path}`), null); return; }
    done(null, new RawConnection(h, listener, path, 0, 0));
  };
  const err = h.connect(req, path);
  if (err !== 0) {
    settled = true;
    h.close();
    process.nextTick(() => { if (!abandoned) done(uvError(err, 'connect', ` ${path}`), null); });
  }
  return () => { abandoned = true; };
}

/** How a worker asks its primary for a share of a listening socket (workers/worker.ts). */
export interface SharedListen {
  /** Resolves to the bound port; `onHandle` gets each accepted connection's handle. Throws an errno-style error. */
  listen(id: string, address: string, port: number, onHandle: (handle: unknown) => void): Promise<number>;
  unlisten(id: string): void;
}

/**
 * The primary's side of a shared listener (workers/primary.ts): binds and listens, and gives
 * each accepted connection's handle, untouched, to `onHandle` (which sends it to a worker).
 */
export class RawTcpAcceptor {
  private handle: TcpHandle | null = null;
  port = 0;

  constructor(private readonly onHandle: (handle: unknown) => void, private readonly onAcceptError: (err: NodeJS.ErrnoException) => void) {}

  listen(address: string, port: number, backlog = 511): void {
    const { handle: h, port: bound } = listenTcp(address, port, backlog);
    this.port = bound;
    h.onconnection = (status: number, client?: TcpHandle) => {
      if (status !== 0 || client === undefined) this.onAcceptError(uvError(status, 'accept'));
      else this.onHandle(client);
    };
    this.handle = h;
  }

  close(): void {
    const h = this.handle;
    this.handle = null;
    if (h !== null) { h.onconnection = ignoreConnection; h.close(); }
  }
}

/** Closes a connection handle nobody took (a worker gone, a listener stopped). */
export function closeHandle(handle: unknown): void {
  (handle as TcpHandle).close();
}

/**
 * Dials address:port (an IP address: resolve host names first) on a raw handle, for outbound
 * connections such as the cluster link's. `done` gets the connection, or the error, exactly once
 * (on a later turn); the returned function abandons a dial still in progress (done is then not
 * called).
 */
export function rawConnect(address: string, port: number, listener: string, done: (err: NodeJS.ErrnoException | null, conn: RawConnection | null) => void): () => void {
  const b = bindings ?? load();
  let settled = false;
  let abandoned = false;
  const fail = (e: NodeJS.ErrnoException): void => { settled = true; process.nextTick(() => { if (!abandoned) done(e, null); }); };
  if (b === null) {
    fail(new Error('raw TCP handles are not available in this Node'));
    return () => { abandoned = true; };
  }
  bindings = b;
  const h = new b.TCP(b.SOCKET);
  const req = new b.TCPConnectWrap();
  req.address = address;
  req.port = port;
  req.oncomplete = (status: number) => {
    if (settled || abandoned) return;
    settled = true;
    if (status < 0) { h.close(); done(uvError(status, 'connect', ` ${address}:${port}`), null); return; }
    h.setNoDelay(true);
    const local: Record<string, unknown> = {};
    h.getsockname(local);
    done(null, new RawConnection(h, listener, intern(address), port, typeof local.port === 'number' ? local.port : 0));
  };
  const err = isIPv6(address) ? h.connect6(req, address, port) : h.connect(req, address, port);
  if (err !== 0) { h.close(); fail(uvError(err, 'connect', ` ${address}:${port}`)); }
  return () => {
    if (abandoned) return;
    abandoned = true;
    if (!settled) h.close();
  };
}

export class RawConnection implements Connection {
  // ConnectionInfo, held here rather than in an object of its own (`info` is this connection).
  readonly listener: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  private readonly handle: TcpHandle;
  private handler: ConnectionHandler | null = null;
  /**
   * Output gathered while corked or while a write is in flight (null when empty). As with
   * net.Socket, at most one write is handed to libuv at a time; what arrives meanwhile goes out
   * together when it completes, so a slow reader gets few large writes rather than many small ones.
   */
  private out: Buffer | Buffer[] | null = null; // one buffer alone is kept as is: no array per turn for a single packet
  private outBytes = 0;
  /** The booleans below, one bit each (an idle connection should be small: one field, not eight). */
  private flags = 0;
  private error: Error | undefined = undefined;
  private endTimer: NodeJS.Timeout | null = null;
  /** Called once when the connection has closed (the listener counts its connections with it). */
  onFinished: (() => void) | null = null;

  constructor(handle: TcpHandle, listener: string, remoteAddress: string, remotePort: number, localPort: number) {
    this.handle = handle;
    this.listener = listener;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.localPort = localPort;
    handle[OWNER] = this;
    handle.onread = onRead;
  }

  get info(): ConnectionInfo { return this; }
  get transport(): 'tcp' { return 'tcp'; }

  private get corked(): boolean { return (this.flags & 1) !== 0; }
  private set corked(on: boolean) { this.flags = on ? this.flags | 1 : this.flags & ~1; }
  private get inFlight(): boolean { return (this.flags & 2) !== 0; }
  private set inFlight(on: boolean) { this.flags = on ? this.flags | 2 : this.flags & ~2; }
  private get needDrain(): boolean { return (this.flags & 4) !== 0; }
  private set needDrain(on: boolean) { this.flags = on ? this.flags | 4 : this.flags & ~4; }
  private get reading(): boolean { return (this.flags & 8) !== 0; }
  private set reading(on: boolean) { this.flags = on ? this.flags | 8 : this.flags & ~8; }
  private get userPaused(): boolean { return (this.flags & 16) !== 0; }
  private set userPaused(on: boolean) { this.flags = on ? this.flags | 16 : this.flags & ~16; }
  private get ending(): boolean { return (this.flags & 32) !== 0; }
  private set ending(on: boolean) { this.flags = on ? this.flags | 32 : this.flags & ~32; }
  private get shutdownSent(): boolean { return (this.flags & 64) !== 0; }
  private set shutdownSent(on: boolean) { this.flags = on ? this.flags | 64 : this.flags & ~64; }
  private get finished(): boolean { return (this.flags & 128) !== 0; }
  private set finished(on: boolean) { this.flags = on ? this.flags | 128 : this.flags & ~128; }
  private get peerEnded(): boolean { return (this.flags & 256) !== 0; }
  private set peerEnded(on: boolean) { this.flags = on ? this.flags | 256 : this.flags & ~256; }

  setHandler(h: ConnectionHandler): void {
    this.handler = h;
    if (this.finished) { h.close(this.error); return; }
    if (!this.userPaused) this.startReading();
  }

  write(buf: Buffer): boolean {
    if (this.ending || this.finished) return false;
    if (this.corked || this.inFlight) {
      const out = this.out;
      if (out === null) this.out = buf;
      else if (Array.isArray(out)) out.push(buf);
      else this.out = [out, buf];
      this.outBytes += buf.length;
      // A long burst in one turn (retained messages on SUBSCRIBE, a queue drained on reconnect) goes
      // out in 64 KiB writes as it is produced, so the client reads while the broker still works.
      if (this.outBytes >= CONCAT_MAX && !this.inFlight) this.flushOut();
    } else {
      this.writeNow(buf);
    }
    if (this.bufferedAmount < HIGH_WATER_MARK) return true;
    this.needDrain = true;
    return false;
  }

  writev(bufs: Buffer[]): boolean {
    let ok = true;
    this.cork();
    for (const b of bufs) ok = this.write(b);
    this.uncork();
    return ok;
  }

  cork(): void { this.corked = true; }

  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    if (!this.inFlight) this.flushOut();
  }

  pause(): void {
    this.userPaused = true;
    if (this.reading && !this.finished) { this.reading = false; this.handle.readStop(); }
  }

  resume(): void {
    this.userPaused = false;
    if (this.handler !== null) this.startReading();
  }

  end(): void {
    if (this.ending || this.finished) return;
    this.uncork(); // what was written before end() still goes out
    this.ending = true;
    if (!this.inFlight) this.shutdown();
    this.endTimer = setTimeout(endTimeout, END_GRACE_MS, this);
    this.endTimer.unref();
  }

  destroy(): void {
    this.ending = true;
    this.closeHandle();
  }

  /** libuv's queue is empty unless a write is in flight: no native call per packet otherwise. */
  get bufferedAmount(): number { return this.finished ? 0 : (this.inFlight ? this.handle.writeQueueSize : 0) + this.outBytes; }
  get closed(): boolean { return this.ending || this.finished; }

  private startReading(): void {
    if (this.reading || this.finished) return;
    const err = this.handle.readStart();
    if (err !== 0) { this.fail(uvError(err, 'read')); return; }
    this.reading = true;
  }

  private flushOut(): void {
    const out = this.out;
    if (out === null || this.finished) return;
    this.out = null;
    const bytes = this.outBytes;
    this.outBytes = 0;
    this.writeNow(Array.isArray(out) && bytes <= CONCAT_MAX ? Buffer.concat(out, bytes) : out);
  }

  /** Hands one buffer (or, past CONCAT_MAX, the list as one writev) to libuv. */
  private writeNow(data: Buffer | Buffer[]): void {
    const b = bindings!;
    const req = new b.WriteWrap();
    req.handle = this.handle;
    req.oncomplete = onWriteComplete;
    req.async = false;
    const err = Array.isArray(data) ? this.handle.writev(req, data, true) : this.handle.writeBuffer(req, data);
    if (err !== 0) { this.fail(uvError(err, 'write')); return; }
    if (b.state[b.kLastWriteWasAsync] !== 0) {
      req.async = true;
      req.data = data; // libuv reads from it until the request completes
      this.inFlight = true;
    }
  }

  private shutdown(): void {
    if (this.shutdownSent || this.finished) return;
    this.shutdownSent = true;
    const req = new bindings!.ShutdownWrap();
    req.handle = this.handle;
    req.oncomplete = onShutdownComplete;
    const err = this.handle.shutdown(req);
    if (err !== 0) this.closeHandle();
  }

  private fail(err: Error): void {
    this.error ??= err;
    this.closeHandle();
  }

  private closeHandle(): void {
    if (this.finished) return;
    this.finished = true;
    this.out = null;
    this.outBytes = 0;
    if (this.endTimer !== null) { clearTimeout(this.endTimer); this.endTimer = null; }
    this.handle.onread = ignoreRead; // must stay a function (the binding checks)
    this.handle.close(onHandleClosed.bind(this));
  }

  /** @internal */ onData(buf: Buffer): void { if (!this.finished) this.handler!.data(buf); }
  /**
   * The peer sent FIN. As net.Socket does (allowHalfOpen false): what is still queued goes out,
   * then our FIN, then the handle closes; with nothing queued it closes at once.
   */
  /** @internal */ onEof(): void {
    this.peerEnded = true;
    if (this.out === null && !this.inFlight) { this.closeHandle(); return; }
    if (!this.ending) this.end();
  }
  /** @internal */ onShutdown(status: number): void { if (status < 0 || this.peerEnded) this.closeHandle(); }
  /** @internal */ onReadError(err: Error): void { this.fail(err); }
  /** @internal */ onWritten(status: number): void {
    this.inFlight = false;
    if (this.finished) return;
    if (status < 0) { this.fail(uvError(status, 'write')); return; }
    if (!this.corked && this.out !== null) {
      this.flushOut();
      if (this.inFlight || this.finished) return;
    }
    if (this.ending) { this.shutdown(); return; }
    if (this.needDrain && this.bufferedAmount < HIGH_WATER_MARK) { this.needDrain = false; this.handler?.drain(); }
  }
  /** @internal */ onClosed(): void {
    this.handle[OWNER] = null;
    if (this.handler !== null) this.handler.close(this.error);
    if (this.onFinished !== null) this.onFinished();
  }
}

function onRead(this: TcpHandle, ab?: ArrayBuffer): void {
  const b = bindings!;
  const nread = b.state[b.kReadBytesOrError]!;
  const conn = this[OWNER];
  if (conn == null) return;
  if (nread > 0) { conn.onData(Buffer.from(ab!, b.state[b.kArrayBufferOffset]!, nread)); return; }
  if (nread === 0) return;
  if (nread === UV_EOF) conn.onEof();
  else conn.onReadError(uvError(nread, 'read'));
}

function ignoreRead(): void {}
function ignoreConnection(this: TcpHandle, _status: number, client?: TcpHandle): void { client?.close(); }
function onWriteComplete(this: WriteReq, status: number): void { this.handle[OWNER]?.onWritten(status); }
function onShutdownComplete(this: ShutdownReq, status: number): void { this.handle[OWNER]?.onShutdown(status); }
function onHandleClosed(this: RawConnection): void { this.onClosed(); }
function endTimeout(conn: RawConnection): void { conn.destroy(); }
