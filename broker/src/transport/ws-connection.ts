/**
 * Connection over a WebSocket (listeners ws and wss), using the `ws` library. Each binary
 * message goes to handler.data(); write() sends one binary frame. cork()/uncork() gather the
 * writes in between into a single frame (MQTT allows several packets per frame
 * [MQTT-6.0.0-2]). A text frame is a protocol error for MQTT over WebSocket [MQTT-6.0.0-1],
 * so it closes the connection with status 1003. Back-pressure follows the underlying socket:
 * write() returns false while it needs draining, and its 'drain' is forwarded.
 *
 * pause() pauses the socket, but `ws` still emits the messages of bytes it has already read
 * (its receiver parses a whole chunk at once), so messages that arrive before setHandler() or
 * while paused are held here and delivered, in order, after resume().
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { END_GRACE_MS, type Connection, type ConnectionHandler, type ConnectionInfo } from './types.js';

const kConn = Symbol('petrel.ws-connection');
type OwnedWs = WebSocket & { [kConn]?: WsConnection };
type OwnedSocket = Socket & { [kConn]?: WsConnection };

const OPEN = 1;

export class WsConnection implements Connection {
  readonly info: ConnectionInfo;
  private readonly ws: OwnedWs;
  private readonly socket: OwnedSocket;
  private handler: ConnectionHandler | null;
  /** Messages received but not yet delivered (before setHandler() or while paused); null when none. */
  private held: Buffer[] | null;
  private corked: Buffer[] | null;
  private corkDepth: number;
  private corkedBytes: number;
  private userPaused: boolean;
  private ending: boolean;
  private finished: boolean;
  private error: Error | undefined;
  private endTimer: NodeJS.Timeout | null;

  constructor(ws: WebSocket, socket: Socket, info: ConnectionInfo) {
    this.info = info;
    this.ws = ws as OwnedWs;
    this.socket = socket as OwnedSocket;
    this.handler = null;
    this.held = null;
    this.corked = null;
    this.corkDepth = 0;
    this.corkedBytes = 0;
    this.userPaused = false;
    this.ending = false;
    this.finished = false;
    this.error = undefined;
    this.endTimer = null;
    this.ws[kConn] = this;
    this.socket[kConn] = this;
    socket.setNoDelay(true);
    ws.binaryType = 'nodebuffer';
    ws.on('message', wsOnMessage);
    ws.on('error', wsOnError);
    ws.on('close', wsOnClose);
    socket.on('drain', socketOnDrain);
    ws.pause(); // until setHandler()
  }

  setHandler(h: ConnectionHandler): void {
    this.handler = h;
    if (this.held !== null && !this.deliverHeld()) return; // paused from inside data()
    if (this.finished) { h.close(this.error); return; }
    if (!this.userPaused) this.ws.resume();
  }

  write(buf: Buffer): boolean {
    if (this.ending || this.ws.readyState !== OPEN) return false;
    if (this.corked) {
      this.corked.push(buf);
      this.corkedBytes += buf.length;
      return this.corkedBytes + this.socket.writableLength < this.socket.writableHighWaterMark;
    }
    this.ws.send(buf, { binary: true });
    return !this.socket.writableNeedDrain;
  }

  writev(bufs: Buffer[]): boolean {
    if (this.ending || this.ws.readyState !== OPEN) return false;
    if (bufs.length === 0) return !this.socket.writableNeedDrain;
    if (this.corked) { let ok = true; for (const b of bufs) ok = this.write(b); return ok; }
    this.ws.send(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs), { binary: true });
    return !this.socket.writableNeedDrain;
  }

  cork(): void {
    this.corkDepth++;
    this.corked ??= [];
  }

  uncork(): void {
    if (this.corkDepth === 0 || --this.corkDepth > 0) return;
    const bufs = this.corked!;
    this.corked = null;
    this.corkedBytes = 0;
    if (bufs.length > 0 && !this.ending && this.ws.readyState === OPEN) {
      this.ws.send(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs), { binary: true });
    }
  }

  pause(): void { this.userPaused = true; this.ws.pause(); }

  /** Held messages go out on the next tick (not inside resume(): the caller may be mid-drain()). */
  resume(): void {
    this.userPaused = false;
    if (this.handler === null || this.finished) return;
    if (this.held !== null) process.nextTick(resumeHeld, this);
    else this.ws.resume();
  }

  end(): void {
    if (this.ending) return;
    if (this.corked) { this.corkDepth = 1; this.uncork(); }
    this.ending = true;
    if (this.ws.readyState === OPEN) this.ws.close(1000);
    this.endTimer = setTimeout(endTimeout, END_GRACE_MS, this.ws);
    this.endTimer.unref();
  }

  destroy(): void {
    this.ending = true;
    this.ws.terminate();
  }

  get bufferedAmount(): number { return this.ws.bufferedAmount + this.corkedBytes; }
  get closed(): boolean { return this.ending || this.finished || this.ws.readyState !== OPEN; }

  /** @internal */ onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      this.error ??= new Error('text frame received; MQTT over WebSocket uses binary frames');
      this.ending = true;
      this.ws.close(1003, 'binary frames only');
      return;
    }
    if (this.handler !== null && !this.userPaused && this.held === null) { this.handler.data(data); return; }
    (this.held ??= []).push(data);
    this.ws.pause();
  }

  /** Delivers held messages in order until paused again (all of them once closed); true when none is left. */
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
    if (this.held === null || this.deliverHeld()) { if (!this.userPaused) this.ws.resume(); }
  }
  /** @internal */ onDrain(): void { if (this.handler && !this.finished) this.handler.drain(); }
  /** @internal */ onError(err: Error): void { this.error ??= err; }
  /** @internal */ onClose(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.endTimer) clearTimeout(this.endTimer);
    if (this.handler) {
      // What was received before the close still reaches the handler, paused or not.
      if (this.held !== null) this.deliverHeld();
      this.handler.close(this.error);
    }
  }
}

function wsOnMessage(this: OwnedWs, data: Buffer, isBinary: boolean): void { this[kConn]!.onMessage(data, isBinary); }
function wsOnError(this: OwnedWs, err: Error): void { this[kConn]!.onError(err); }
function wsOnClose(this: OwnedWs): void { this[kConn]!.onClose(); }
function socketOnDrain(this: OwnedSocket): void { this[kConn]!.onDrain(); }
function resumeHeld(conn: WsConnection): void { conn.onResumeHeld(); }
function endTimeout(ws: WebSocket): void { ws.terminate(); }
