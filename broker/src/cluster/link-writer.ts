/**
 * LinkWriter: the write side of one cluster-link connection. FWD frames are encoded straight
 * into a shared chunk (FrameSink: no buffer per message); other frames are queued as they are.
 * Everything written during an event-loop turn goes out together on the next one — usually one
 * socket write for a whole chunk of messages.
 * Back-pressure: while the socket holds more than WRITE_HIGH_WATER unsent bytes nothing more is
 * handed to it; frames wait here until 'drain'. Callers that may drop (QoS 0) check `bytes`
 * against their limit first.
 *
 * A chunk is only ever appended to: regions handed to the socket, and views kept for QoS 1/2
 * resends, stay valid; a full chunk is replaced, and lives on while such views hold it.
 */
import type { Connection } from '../transport/types.js';
import { encodeAck, viewOf, type FrameSink } from './link-codec.js';
import { AliasOut } from './link-strings.js';

/** Unsent bytes in the socket above which the writer stops handing it frames. */
export const WRITE_HIGH_WATER = 1024 * 1024;
const CHUNK_SIZE = 64 * 1024;
/** Frames larger than this get a buffer of their own rather than a chunk's tail. */
const MAX_IN_CHUNK = 16 * 1024;
/**
 * ACKs alone wait up to `ackDelayMs` for company: at a few thousand messages a second each would
 * otherwise cost the two nodes a write and a read of their own — wake-ups that also make both
 * nodes' latency tail. The dialler names the delay in its HELLO: a node whose publishers' PUBACKs
 * wait on these ACKs (`durability.mode: sync`) asks for ACK_DELAY_MS, others for LAZY_ACK_DELAY_MS;
 * a peer that names none gets ACK_DELAY_MS. Whatever the delay, ACK_BATCH seqs go out at once.
 */
export const ACK_DELAY_MS = 1;
export const LAZY_ACK_DELAY_MS = 10;
export const ACK_BATCH = 1024;

function flushWriter(w: LinkWriter): void {
  w.flush();
}

export class LinkWriter implements FrameSink {
  chunk: Buffer;
  view: DataView;
  /** Topics and client ids the peer knows by number on the attached connection (null: the peer does not decode them). */
  aliases: AliasOut | null = null;
  private readonly aliasTable = new AliasOut();
  /** Bytes of `chunk` written so far. */
  private used: number;
  /** Bytes of `chunk` already moved to the queue. */
  private sealed: number;
  private socket: Connection | null;
  private queue: Buffer[];
  private queuedBytes: number;
  private acks: number[];
  private scheduled: boolean;
  private ackTimer: NodeJS.Timeout | null;
  /** How long ACKs alone may wait (the peer's HELLO; see ACK_DELAY_MS). */
  ackDelayMs = ACK_DELAY_MS;

  constructor() {
    this.chunk = Buffer.allocUnsafeSlow(CHUNK_SIZE);
    this.view = viewOf(this.chunk);
    this.used = 0;
    this.sealed = 0;
    this.socket = null;
    this.queue = [];
    this.queuedBytes = 0;
    this.acks = [];
    this.scheduled = false;
    this.ackTimer = null;
  }

  /** Starts writing to the connection; the caller wires its handler's drain() to flush(). */
  attach(socket: Connection): void {
    this.socket = socket;
    this.useAliases(false);
    this.schedule();
  }

  /** The connection is gone: whatever was queued is discarded (QoS 1/2 frames live on in pending). */
  detach(): void {
    this.socket = null;
    this.queue = [];
    this.queuedBytes = 0;
    this.sealed = this.used;
    this.acks = [];
    this.useAliases(false);
    this.clearAckTimer();
  }

  /** Whether FWD frames on this connection may alias strings (the peer's HELLO said it decodes them); starts empty. */
  useAliases(on: boolean): void {
    this.aliasTable.reset();
    this.aliases = on ? this.aliasTable : null;
  }

  /** Bytes not yet on the wire: queued here plus buffered in the socket. */
  get bytes(): number {
    return this.queuedBytes + (this.socket?.bufferedAmount ?? 0);
  }

  /** True while the socket is over its high-water mark or frames wait here. */
  get busy(): boolean {
    return this.queuedBytes > 0 || (this.socket?.bufferedAmount ?? 0) > WRITE_HIGH_WATER;
  }

  reserve(n: number): number {
    if (n > MAX_IN_CHUNK) return -1;
    if (this.used + n > this.chunk.length) {
      this.seal();
      this.chunk = Buffer.allocUnsafeSlow(CHUNK_SIZE);
      this.view = viewOf(this.chunk);
      this.used = 0;
      this.sealed = 0;
    }
    return this.used;
  }

  commit(n: number): void {
    this.used += n;
    this.queuedBytes += n;
    this.schedule();
  }

  push(frame: Buffer): void {
    this.seal(); // keeps frames in the order they were written
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    this.schedule();
  }

  /** Acknowledges seq in the next ACK frame: with the next frames written, or within ackDelayMs. */
  ack(seq: number): void {
    this.acks.push(seq);
    if (this.scheduled || this.socket === null) return;
    if (this.acks.length >= ACK_BATCH) { this.clearAckTimer(); this.schedule(); return; }
    if (this.ackTimer === null) this.ackTimer = setTimeout(flushWriter, this.ackDelayMs, this);
  }

  flush(): void {
    this.scheduled = false;
    this.clearAckTimer();
    const socket = this.socket;
    if (socket === null || socket.closed) return;
    this.seal();
    if (this.acks.length > 0) {
      // ACKs jump the queue: they are small and the peer's pending list waits on them.
      this.queue.unshift(encodeAck(this.acks));
      this.queuedBytes += this.queue[0]!.length;
      this.acks = [];
    }
    if (this.queue.length === 0 || socket.bufferedAmount > WRITE_HIGH_WATER) return;
    const many = this.queue.length > 1;
    if (many) socket.cork();
    let i = 0;
    while (i < this.queue.length && socket.bufferedAmount <= WRITE_HIGH_WATER) {
      const frame = this.queue[i++]!;
      this.queuedBytes -= frame.length;
      socket.write(frame);
    }
    if (many) socket.uncork();
    this.queue = i === this.queue.length ? [] : this.queue.slice(i);
  }

  /** Moves what was written into the chunk since the last seal to the queue. */
  private seal(): void {
    if (this.used === this.sealed) return;
    this.queue.push(this.chunk.subarray(this.sealed, this.used));
    this.sealed = this.used;
  }

  private clearAckTimer(): void {
    if (this.ackTimer !== null) { clearTimeout(this.ackTimer); this.ackTimer = null; }
  }

  private schedule(): void {
    if (this.scheduled || this.socket === null) return;
    this.scheduled = true;
    setImmediate(flushWriter, this);
  }
}
