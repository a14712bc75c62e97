/**
 * Connection over a net.Socket or tls.TLSSocket (listeners tcp and ssl). Socket events go
 * straight to the handler through module-level functions (no per-connection closures, no
 * stream piping); back-pressure is the socket's own: write() returns what socket.write()
 * returns and 'drain' is forwarded. pause() stops the socket's flow (the stream then stops
 * reading once its buffer is full, so the peer's TCP window closes); chunks that arrive before
 * setHandler() or while paused are held and delivered, in order, after resume().
 */
import type { Socket } from 'node:net';
import { END_GRACE_MS, type Connection, type ConnectionHandler, type ConnectionInfo } from './types.js';

const kConn = Symbol('petrel.connection');
/** Corked writes up to this many bytes in total are copied into one buffer; larger ones go out as a writev. */
const CONCAT_MAX = 64 * 1024;
type OwnedSocket = Socket & { [kConn]?: SocketConnection };

export class SocketConnection implements Connection {
  readonly info: ConnectionInfo;
  private readonly socket: OwnedSocket;
  private handler: ConnectionHandler | null;
  /** Chunks read but not yet delivered (before setHandler() or while paused); null when none. */
  private held: Buffer[] | null;
  private userPaused: boolean;
  private ending: boolean;
  private finished: boolean;
  private error: Error | undefined;
  private endTimer: NodeJS.Timeout | null;
  /** Writes gathered between cork() and uncork() (null when not corked). */
  private corked: Buffer[] | null;
  private corkedBytes: number;
  /** Called once when the socket has closed (the listener counts its connections with it). */
  onFinished: (() => void) | null;

  constructor(socket: Socket, info: ConnectionInfo) {
    this.info = info;
    this.socket = socket as OwnedSocket;
    this.handler = null;
    this.held = null;
    this.userPaused = false;
    this.ending = false;
    this.finished = false;
    this.error = undefined;
    this.endTimer = null;
    this.corked = null;
    this.corkedBytes = 0;
    this.onFinished = null;
    this.socket[kConn] = this;
    socket.setNoDelay(true);
    socket.on('data', socketOnData);
    socket.on('drain', socketOnDrain);
    socket.on('error', socketOnError);
    socket.on('close', socketOnClose);
    socket.pause(); // until setHandler()
  }

  setHandler(h: ConnectionHandler): void {
    this.handler = h;
    if (this.held !== null && !this.deliverHeld()) return; // paused from inside data()
    if (this.finished) { h.close(this.error); return; }
    if (!this.userPaused) this.socket.resume();
  }

  write(buf: Buffer): boolean {
    if (this.ending || this.socket.destroyed) return false;
    const c = this.corked;
    if (c !== null) {
      c.push(buf);
      this.corkedBytes += buf.length;
      // A long burst in one turn goes out in 64 KiB writes as it is produced (see raw-tcp.ts).
      if (this.corkedBytes >= CONCAT_MAX) { this.flushGathered(); this.corked = []; }
      return this.corkedBytes + this.socket.writableLength < this.socket.writableHighWaterMark;
    }
    return this.socket.write(buf);
  }

  writev(bufs: Buffer[]): boolean {
    if (this.ending || this.socket.destroyed) return false;
    let ok = true;
    this.cork();
    for (const b of bufs) ok = this.write(b);
    this.uncork();
    return ok;
  }

  /**
   * Gathers writes here rather than in the socket's own cork buffer: the stream's buffered-write
   * bookkeeping (a request object per chunk, then writev) costs more than copying a few small
   * packets into one buffer, and a single write takes the socket's fast path.
   */
  cork(): void { this.corked ??= []; }

  uncork(): void { this.flushGathered(); }

  /** Writes what cork() gathered (one buffer up to CONCAT_MAX, else one socket writev) and stops gathering. */
  private flushGathered(): void {
    const c = this.corked;
    if (c === null) return;
    this.corked = null;
    const bytes = this.corkedBytes;
    this.corkedBytes = 0;
    if (c.length === 0 || this.ending || this.socket.destroyed) return;
    if (c.length === 1) { this.socket.write(c[0]!); return; }
    if (bytes <= CONCAT_MAX) { this.socket.write(Buffer.concat(c, bytes)); return; }
    this.socket.cork();
    for (let i = 0; i < c.length; i++) this.socket.write(c[i]!);
    this.socket.uncork();
  }

  pause(): void { this.userPaused = true; this.socket.pause(); }

  /** Held chunks go out on the next tick (not inside resume(): the caller may be mid-drain()). */
  resume(): void {
    this.userPaused = false;
    if (this.handler === null || this.finished) return;
    if (this.held !== null) process.nextTick(resumeHeld, this);
    else this.socket.resume();
  }

  end(): void {
    if (this.ending || this.socket.destroyed) return;
    if (this.corked !== null) this.uncork(); // what was written before end() still goes out
    this.ending = true;
    this.socket.end();
    this.endTimer = setTimeout(endTimeout, END_GRACE_MS, this.socket);
    this.endTimer.unref();
  }

  destroy(): void {
    this.ending = true;
    this.socket.destroy();
  }

  get bufferedAmount(): number { return this.socket.writableLength + this.corkedBytes; }
  get closed(): boolean { return this.ending || this.finished || this.socket.destroyed; }

  /** Delivers held chunks in order until paused again (all of them once closed); true when none is left. */
  private deliverHeld(): boolean {
    const held = this.held!;
    while (held.length > 0) {
      if (this.userPaused && !this.finished) return false;
      this.handler!.data(held.shift()!);
    }
    this.held = null;
    return true;
  }

  /** @internal */ onResumeHeld(): void {
    if (this.userPaused || this.finished || this.handler === null) return;
    if (this.held === null || this.deliverHeld()) { if (!this.userPaused) this.socket.resume(); }
  }

  /** @internal */ onData(buf: Buffer): void {
    if (this.handler !== null && !this.userPaused && this.held === null) { this.handler.data(buf); return; }
    (this.held ??= []).push(buf);
    this.socket.pause();
  }
  /** @internal */ onDrain(): void { if (this.handler && !this.finished) this.handler.drain(); }
  /** @internal */ onError(err: Error): void { this.error ??= err; }
  /** @internal */ onClose(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.endTimer) clearTimeout(this.endTimer);
    if (this.handler) {
      // What was read before the close still reaches the handler, paused or not.
      if (this.held !== null) this.deliverHeld();
      this.handler.close(this.error);
    }
    if (this.onFinished !== null) this.onFinished();
  }
}

function socketOnData(this: OwnedSocket, buf: Buffer): void { this[kConn]!.onData(buf); }
function socketOnDrain(this: OwnedSocket): void { this[kConn]!.onDrain(); }
function socketOnError(this: OwnedSocket, err: Error): void { this[kConn]!.onError(err); }
function socketOnClose(this: OwnedSocket): void { this[kConn]!.onClose(); }
function resumeHeld(conn: SocketConnection): void { conn.onResumeHeld(); }
function endTimeout(socket: Socket): void { socket.destroy(); }
