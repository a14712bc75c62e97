/**
 * LinkWriter: the write side of one cluster-link connection. Frames (and the seqs to ACK) pile up
 * during an event-loop turn and go out together on the next one, corked into a single writev.
 * Back-pressure: while the socket holds more than WRITE_HIGH_WATER unsent bytes nothing more is
 * handed to it; frames wait here until 'drain'. Callers that may drop (QoS 0) ask pushDroppable,
 * which refuses a frame once this queue plus the socket's own buffer would pass their limit.
 */
import type { Socket } from 'node:net';
import { encodeAck } from './link-codec.js';

/** Unsent bytes in the socket above which the writer stops handing it frames. */
export const WRITE_HIGH_WATER = 1024 * 1024;

function flushWriter(w: LinkWriter): void {
  w.flush();
}

export class LinkWriter {
  private socket: Socket | null;
  private queue: Buffer[];
  private queuedBytes: number;
  private acks: number[];
  private scheduled: boolean;

  constructor() {
    this.socket = null;
    this.queue = [];
    this.queuedBytes = 0;
    this.acks = [];
    this.scheduled = false;
  }

  /** Starts writing to socket; the caller wires the socket's 'drain' to flush(). */
  attach(socket: Socket): void {
    this.socket = socket;
    this.schedule();
  }

  /** The connection is gone: whatever was queued is discarded (QoS 1/2 frames live on in pending). */
  detach(): void {
    this.socket = null;
    this.queue = [];
    this.queuedBytes = 0;
    this.acks = [];
  }

  /** Bytes not yet on the wire: queued here plus buffered in the socket. */
  get bytes(): number {
    return this.queuedBytes + (this.socket?.writableLength ?? 0);
  }

  /** True while the socket is over its high-water mark or frames wait here. */
  get busy(): boolean {
    return this.queue.length > 0 || (this.socket?.writableLength ?? 0) > WRITE_HIGH_WATER;
  }

  push(frame: Buffer): void {
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    this.schedule();
  }

  /** Queues the frame unless that would put more than limit bytes in flight; false = dropped. */
  pushDroppable(frame: Buffer, limit: number): boolean {
    if (this.bytes + frame.length > limit) return false;
    this.push(frame);
    return true;
  }

  /** Acknowledges seq in the next ACK frame (one per turn). */
  ack(seq: number): void {
    this.acks.push(seq);
    this.schedule();
  }

  flush(): void {
    this.scheduled = false;
    const socket = this.socket;
    if (socket === null || socket.destroyed) return;
    if (this.acks.length > 0) {
      // ACKs jump the queue: they are small and the peer's pending list waits on them.
      this.queue.unshift(encodeAck(this.acks));
      this.queuedBytes += this.queue[0]!.length;
      this.acks = [];
    }
    if (this.queue.length === 0 || socket.writableLength > WRITE_HIGH_WATER) return;
    socket.cork();
    let i = 0;
    while (i < this.queue.length && socket.writableLength <= WRITE_HIGH_WATER) {
      const frame = this.queue[i++]!;
      this.queuedBytes -= frame.length;
      socket.write(frame);
    }
    socket.uncork();
    this.queue = i === this.queue.length ? [] : this.queue.slice(i);
  }

  private schedule(): void {
    if (this.scheduled || this.socket === null) return;
    this.scheduled = true;
    setImmediate(flushWriter, this);
  }
}
