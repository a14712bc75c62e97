/**
 * Connection over one QUIC stream (listener type quic, single-stream mode): the client's first
 * bidirectional stream carries the whole MQTT session and the QUIC connection lives exactly as
 * long as it. The stream's web streams are driven by two loops, one per direction:
 *
 * - reading: one `reader.read()` at a time while a handler is set and not paused. A paused
 *   connection stops calling read(), so quiche stops extending the stream's flow-control window
 *   and the client's sending backs up (the QUIC analogue of a closed TCP window). A chunk whose
 *   read was already under way when pause() came is held and delivered after resume().
 * - writing: write() appends to a queue and returns false once QUEUE_HWM bytes wait; a pump
 *   hands the queue to the stream, coalesced into one chunk per turn, and each chunk's promise
 *   settles when quiche took it (within the peer's flow-control window). drain() fires when the
 *   queue is empty again after a write() returned false.
 *
 * Close: the peer's CONNECTION_CLOSE, an idle timeout, a stream reset or FIN all end in one
 * handler.close(err?). end() flushes the queue, sends FIN and waits END_GRACE_MS for the peer to
 * close the connection before closing it ourselves (as SocketConnection waits after its FIN).
 */
import type { QUICConnection, QUICStream } from '@matrixai/quic';
import { events as quicEvents, errors as quicErrors } from '@matrixai/quic';
import { END_GRACE_MS, type Connection, type ConnectionHandler, type ConnectionInfo } from './types.js';

/** Queued output bytes above which write() says "wait for drain" (as a socket's writableHighWaterMark). */
export const QUEUE_HWM = 64 * 1024;
/** Largest chunk the pump hands to the stream at once. */
const CHUNK_MAX = 256 * 1024;
/** Application error code in our CONNECTION_CLOSE when we drop a connection (0 = orderly). */
export const QUIC_APP_ERROR = 1;

type Reader = ReadableStreamDefaultReader<Uint8Array>;
type Writer = WritableStreamDefaultWriter<Uint8Array>;

export class QuicConnection implements Connection {
  readonly info: ConnectionInfo;
  private readonly conn: QUICConnection;
  private readonly reader: Reader;
  private readonly writer: Writer;
  private handler: ConnectionHandler | null;
  private held: Buffer[] | null;
  private userPaused: boolean;
  private reading: boolean;
  private queue: Buffer[];
  private queuedBytes: number;
  /** Bytes handed to the stream whose write has not settled yet. */
  private inflight: number;
  private pumping: boolean;
  private corked: boolean;
  private needDrain: boolean;
  private ending: boolean;
  private finished: boolean;
  private error: Error | undefined;
  private endTimer: NodeJS.Timeout | null;
  /** Called once when the connection has closed (the listener counts its connections with it). */
  onFinished: (() => void) | null;

  constructor(conn: QUICConnection, stream: QUICStream, info: ConnectionInfo) {
    this.info = info;
    this.conn = conn;
    this.reader = stream.readable.getReader();
    this.writer = stream.writable.getWriter();
    this.handler = null;
    this.held = null;
    this.userPaused = false;
    this.reading = false;
    this.queue = [];
    this.queuedBytes = 0;
    this.inflight = 0;
    this.pumping = false;
    this.corked = false;
    this.needDrain = false;
    this.ending = false;
    this.finished = false;
    this.error = undefined;
    this.endTimer = null;
    this.onFinished = null;
    // Rejections surface through read()/write() and the connection's close event; these keep
    // the stream's own promises from counting as unhandled.
    this.writer.closed.catch(ignore);
    this.reader.closed.catch(ignore);
    conn.addEventListener(quicEvents.EventQUICConnectionClose.name, this.onConnClose, { once: true });
    if (conn.closed) queueMicrotask(() => this.finish(new Error('QUIC connection closed')));
  }

  setHandler(h: ConnectionHandler): void {
    this.handler = h;
    if (this.held !== null && !this.deliverHeld()) return;
    if (this.finished) { h.close(this.error); return; }
    this.readLoop();
  }

  write(buf: Buffer): boolean {
    if (this.ending || this.finished) return false;
    this.queue.push(buf);
    this.queuedBytes += buf.length;
    if (!this.corked && !this.pumping) { this.pumping = true; queueMicrotask(() => void this.pump()); }
    if (this.bufferedAmount < QUEUE_HWM) return true;
    this.needDrain = true;
    return false;
  }

  writev(bufs: Buffer[]): boolean {
    let ok = !(this.ending || this.finished);
    for (const b of bufs) ok = this.write(b);
    return ok;
  }

  /** Writes are coalesced by the pump anyway; cork only holds the pump back until uncork(). */
  cork(): void { this.corked = true; }

  uncork(): void {
    this.corked = false;
    if (this.queue.length > 0 && !this.pumping) { this.pumping = true; queueMicrotask(() => void this.pump()); }
  }

  pause(): void { this.userPaused = true; }

  /** Held chunks go out on the next tick (not inside resume(): the caller may be mid-drain()). */
  resume(): void {
    this.userPaused = false;
    if (this.handler === null || this.finished) return;
    process.nextTick(() => {
      if (this.userPaused || this.handler === null) return;
      if (this.held === null || this.deliverHeld()) this.readLoop();
    });
  }

  end(): void {
    if (this.ending || this.finished) return;
    this.corked = false;
    this.ending = true;
    this.endTimer = setTimeout(() => this.stop(QUIC_APP_ERROR), END_GRACE_MS);
    this.endTimer.unref();
    if (this.pumping) return; // the pump sends FIN when the queue is empty
    if (this.queue.length > 0) { this.pumping = true; void this.pump(); } else void this.finishWrites();
  }

  destroy(): void {
    if (this.finished) return;
    this.ending = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.stop(QUIC_APP_ERROR);
  }

  get bufferedAmount(): number { return this.queuedBytes + this.inflight; }
  get closed(): boolean { return this.ending || this.finished; }

  private readLoop(): void {
    if (this.reading || this.finished) return;
    this.reading = true;
    void this.readMore();
  }

  private async readMore(): Promise<void> {
    try {
      while (!this.userPaused && !this.finished && this.handler !== null) {
        const { value, done } = await this.reader.read();
        if (done) { this.finish(undefined); return; }
        const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        if (this.userPaused || this.held !== null) (this.held ??= []).push(buf);
        else this.handler.data(buf);
      }
    } catch (err) {
      this.finish(asError(err, 'QUIC stream reset by the client'));
    } finally {
      this.reading = false;
    }
  }

  private deliverHeld(): boolean {
    const held = this.held!;
    while (held.length > 0) {
      if (this.userPaused && !this.finished) return false;
      this.handler!.data(held.shift()!);
    }
    this.held = null;
    return true;
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.finished) {
        const chunk = this.take();
        this.inflight = chunk.length;
        await this.writer.write(chunk);
        this.inflight = 0;
        if (this.needDrain && this.queue.length === 0 && !this.ending) {
          this.needDrain = false;
          this.handler?.drain();
        }
      }
    } catch (err) {
      this.inflight = 0;
      this.finish(asError(err, 'QUIC stream stopped by the client'));
      return;
    } finally {
      this.pumping = false;
    }
    if (this.ending) await this.finishWrites();
  }

  /** The queue's head, up to CHUNK_MAX bytes in one buffer (zero-copy when it is one buffer). */
  private take(): Buffer {
    const q = this.queue;
    if (q.length === 1 || q[0]!.length >= CHUNK_MAX) {
      const b = q.shift()!;
      this.queuedBytes -= b.length;
      return b;
    }
    let n = 0;
    let bytes = 0;
    while (n < q.length && bytes + q[n]!.length <= CHUNK_MAX) bytes += q[n++]!.length;
    const parts = q.splice(0, n);
    this.queuedBytes -= bytes;
    return Buffer.concat(parts, bytes);
  }

  /** After end(): everything queued has been taken; send FIN and let the peer close. */
  private async finishWrites(): Promise<void> {
    if (this.finished || this.queue.length > 0) return;
    try {
      await this.writer.close();
    } catch {
      this.stop(QUIC_APP_ERROR);
    }
  }

  private stop(code: number): void {
    if (this.conn.closed) { this.finish(this.error); return; }
    this.conn.stop({ isApp: true, errorCode: code, force: true }).catch(ignore);
    // EventQUICConnectionClose follows from stop(); finish here too in case it was already spent.
    this.finish(this.error);
  }

  private readonly onConnClose = (evt: Event): void => {
    const detail = (evt as CustomEvent<unknown>).detail;
    this.finish(closeReason(detail));
  };

  private finish(err: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.error ??= err;
    if (this.endTimer !== null) { clearTimeout(this.endTimer); this.endTimer = null; }
    this.queue = [];
    this.queuedBytes = 0;
    this.conn.removeEventListener(quicEvents.EventQUICConnectionClose.name, this.onConnClose);
    // The session is over with its stream: close the QUIC connection too (a no-op when closing).
    if (!this.conn.closed) this.conn.stop({ isApp: true, errorCode: err === undefined ? 0 : QUIC_APP_ERROR, force: true }).catch(ignore);
    if (this.handler !== null) {
      if (this.held !== null) this.deliverHeld();
      this.handler.close(this.error);
    }
    if (this.onFinished !== null) this.onFinished();
  }
}

/**
 * Why the connection closed, as the channel logs it: undefined for an orderly close (either
 * side, application code 0), else an Error naming idle timeout or the peer's code.
 */
function closeReason(detail: unknown): Error | undefined {
  if (!(detail instanceof Error)) return undefined;
  const data = (detail as Error & { data?: { isApp?: boolean; errorCode?: number } }).data;
  if (detail instanceof quicErrors.ErrorQUICConnectionIdleTimeout) return new Error('QUIC idle timeout');
  if (data?.isApp === true && data.errorCode === 0) return undefined;
  if (data !== undefined) return new Error(`QUIC connection closed with ${data.isApp ? 'application' : 'transport'} code ${data.errorCode}`);
  return new Error(detail.message);
}

function asError(err: unknown, fallback: string): Error {
  return err instanceof Error ? err : new Error(fallback);
}

function ignore(): void { /* surfaced elsewhere */ }
