/**
 * Connection over a net.Socket or tls.TLSSocket (listeners tcp and ssl). Socket events go
 * straight to the handler through module-level functions (no per-connection closures, no
 * stream piping); back-pressure is the socket's own: write() returns what socket.write()
 * returns and 'drain' is forwarded.
 */
import type { Socket } from 'node:net';
import { END_GRACE_MS, type Connection, type ConnectionHandler, type ConnectionInfo } from './types.js';

const kConn = Symbol('petrel.connection');
type OwnedSocket = Socket & { [kConn]?: SocketConnection };

export class SocketConnection implements Connection {
  readonly info: ConnectionInfo;
  private readonly socket: OwnedSocket;
  private handler: ConnectionHandler | null;
  private pending: Buffer[] | null;
  private userPaused: boolean;
  private ending: boolean;
  private finished: boolean;
  private error: Error | undefined;
  private endTimer: NodeJS.Timeout | null;
  /** Called once when the socket has closed (the listener counts its connections with it). */
  onFinished: (() => void) | null;

  constructor(socket: Socket, info: ConnectionInfo) {
    this.info = info;
    this.socket = socket as OwnedSocket;
    this.handler = null;
    this.pending = [];
    this.userPaused = false;
    this.ending = false;
    this.finished = false;
    this.error = undefined;
    this.endTimer = null;
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
    const pending = this.pending;
    this.pending = null;
    if (pending) for (const b of pending) h.data(b);
    if (this.finished) { h.close(this.error); return; }
    if (!this.userPaused) this.socket.resume();
  }

  write(buf: Buffer): boolean {
    if (this.ending || this.socket.destroyed) return false;
    return this.socket.write(buf);
  }

  writev(bufs: Buffer[]): boolean {
    if (this.ending || this.socket.destroyed) return false;
    let ok = true;
    this.socket.cork();
    for (const b of bufs) ok = this.socket.write(b);
    this.socket.uncork();
    return ok;
  }

  cork(): void { this.socket.cork(); }
  uncork(): void { this.socket.uncork(); }

  pause(): void { this.userPaused = true; this.socket.pause(); }
  resume(): void {
    this.userPaused = false;
    if (this.handler) this.socket.resume();
  }

  end(): void {
    if (this.ending || this.socket.destroyed) return;
    this.ending = true;
    this.socket.end();
    this.endTimer = setTimeout(endTimeout, END_GRACE_MS, this.socket);
    this.endTimer.unref();
  }

  destroy(): void {
    this.ending = true;
    this.socket.destroy();
  }

  get bufferedAmount(): number { return this.socket.writableLength; }
  get closed(): boolean { return this.ending || this.finished || this.socket.destroyed; }

  /** @internal */ onData(buf: Buffer): void {
    if (this.handler) this.handler.data(buf);
    else { this.pending!.push(buf); this.socket.pause(); }
  }
  /** @internal */ onDrain(): void { if (this.handler && !this.finished) this.handler.drain(); }
  /** @internal */ onError(err: Error): void { this.error ??= err; }
  /** @internal */ onClose(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.endTimer) clearTimeout(this.endTimer);
    if (this.handler) this.handler.close(this.error);
    if (this.onFinished !== null) this.onFinished();
  }
}

function socketOnData(this: OwnedSocket, buf: Buffer): void { this[kConn]!.onData(buf); }
function socketOnDrain(this: OwnedSocket): void { this[kConn]!.onDrain(); }
function socketOnError(this: OwnedSocket, err: Error): void { this[kConn]!.onError(err); }
function socketOnClose(this: OwnedSocket): void { this[kConn]!.onClose(); }
function endTimeout(socket: Socket): void { socket.destroy(); }
