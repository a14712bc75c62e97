/**
 * One raw MQTT 3.1.1 client of the load generator, over a plain `net` socket.
 *
 * It plays whichever roles a scenario gives it: subscriber (counts PUBLISH frames, acks QoS 1/2,
 * optionally checks sequence numbers and records latency), publisher (QoS 0 flood of a pre-built
 * batch, QoS 1/2 with a fixed in-flight window, or paced at a fixed rate), or idle connection.
 * Received bytes go through the FrameSplitter; acks produced while handling one chunk are written
 * with a single socket write. Handlers are methods bound once per client, never per message.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { WebSocket, createWebSocketStream } from 'ws';
import { FrameSplitter, type FrameSink } from '../lib/frame-splitter.js';
import { floodGate, type Pausable } from './flood-gate.js';
import {
  connectPacket, subscribePacket, type Credentials, DISCONNECT, repeatFrame, publishPayloadStart,
  PUBACK, PUBREC, PUBREL, PUBCOMP, PAYLOAD_TS, PAYLOAD_STREAM, PAYLOAD_SEQ,
  type PublishTemplate, type QoS,
} from '../lib/packets.js';

/** Latency samples (ms) of messages whose send time falls in [from, to). */
export class LatencyRecorder {
  samples: Float64Array;
  count = 0;
  from = Infinity;
  to = -Infinity;
  constructor(capacity: number) {
    this.samples = new Float64Array(capacity);
  }
  record(sentAt: number, now: number): void {
    if (sentAt < this.from || sentAt >= this.to || this.count >= this.samples.length) return;
    this.samples[this.count++] = now - sentAt;
  }
}

/** Per-stream "seen" bitmap to find duplicates and gaps (QoS 1/2 checks). */
export class SequenceTracker {
  private seen = new Map<number, Uint8Array>();
  unique = 0;
  duplicates = 0;
  mark(stream: number, seq: number): void {
    let bits = this.seen.get(stream);
    if (bits === undefined || seq >= bits.length) {
      if (seq >= 1 << 26) return; // beyond any bounded run; ignore rather than allocate
      let size = bits ? bits.length : 1024;
      while (size <= seq) size *= 2;
      const grown = new Uint8Array(size);
      if (bits) grown.set(bits);
      bits = grown;
      this.seen.set(stream, bits);
    }
    if (bits[seq] === 0) {
      bits[seq] = 1;
      this.unique++;
    } else {
      this.duplicates++;
    }
  }
}

const MAX_PACKET_ID = 65535;
const FLOOD_BATCHES_PER_TURN = 16;

export class BenchClient implements FrameSink, Pausable {
  readonly id: string;
  socket: Duplex | null = null;
  private splitter: FrameSplitter;
  private ackBuf = Buffer.allocUnsafe(512);
  private ackLen = 0;
  private connectWaiter: { resolve: (sp: boolean) => void; reject: (e: Error) => void } | null = null;
  private subWaiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  connected = false;
  closed = false;
  error: string | null = null;

  // Receive side.
  received = 0;
  receivedRetained = 0;
  tracker: SequenceTracker | null = null;
  latency: LatencyRecorder | null = null;
  /** Called when `received` reaches `expect` (0 = never). */
  expect = 0;
  onExpected: (() => void) | null = null;

  // Publish side.
  private template: PublishTemplate | null = null;
  private qos: QoS = 0;
  private floodBuf: Buffer | null = null;
  private floodCount = 0;
  private window = 0;
  private rate = 0;
  private pacer: NodeJS.Timeout | null = null;
  private paceStart = 0;
  private stopAt = 0;
  /** Publishing allowed. */
  running = false;
  sent = 0;
  acked = 0;
  inflight = 0;
  /** Stop after this many messages (0 = no limit). */
  limit = 0;
  private nextPid = 1;
  private needFill = false;
  private streamId = 0;
  private onIdle: (() => void) | null = null;
  private readonly pumpBound: () => void;
  private turnScheduled = false;
  private waitingDrain = false;
  private waitingGate = false;

  constructor(id: string) {
    this.id = id;
    this.splitter = new FrameSplitter(this);
    this.pumpBound = this.pump.bind(this);
  }

  /**
   * Open the socket and wait for CONNACK; resolves with the session-present flag. A refusal
   * rejects with "CONNACK return code N".
   */
  connect(port: number, clean: boolean, keepalive: number, timeoutMs: number, cred: Credentials | null = null, transport: ClientTransport = 'tcp'): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const sock = dial(port, transport);
      this.socket = sock;
      this.closed = false;
      this.connected = false;
      const timer = setTimeout(() => {
        this.connectWaiter = null;
        sock.destroy();
        reject(new Error(`${this.id}: no CONNACK within ${timeoutMs} ms`));
      }, timeoutMs);
      this.connectWaiter = {
        resolve: (sp) => { clearTimeout(timer); resolve(sp); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      // A fresh framer per connection: a frame cut off by the previous close must not leak in.
      this.splitter = new FrameSplitter(this);
      this.ackLen = 0;
      // Events of an earlier socket of this client (reconnects) are ignored.
      sock.on('data', (chunk: Buffer) => { if (this.socket === sock) this.onData(chunk); });
      sock.on('error', (e: Error) => { if (this.socket === sock) this.onError(e); });
      sock.on('close', () => { if (this.socket === sock) this.onClose(); });
      sock.on('drain', () => { if (this.socket === sock) this.onDrain(); });
      sock.write(connectPacket(this.id, clean, keepalive, cred));
    });
  }

  subscribe(topic: string, qos: QoS, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!this.socket || this.closed) { reject(new Error(`${this.id}: not connected`)); return; }
      const timer = setTimeout(() => {
        this.subWaiter = null;
        reject(new Error(`${this.id}: no SUBACK within ${timeoutMs} ms`));
      }, timeoutMs);
      this.subWaiter = {
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      this.socket.write(subscribePacket(1, topic, qos));
    });
  }

  /** Send a raw frame (used for the SUBSCRIBE whose reply is measured elsewhere). */
  write(buf: Buffer): void {
    this.socket?.write(buf);
  }

  /** Send DISCONNECT and wait for the socket to close (bounded). */
  disconnect(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const sock = this.socket;
      if (!sock || this.closed) { resolve(); return; }
      const timer = setTimeout(() => { sock.destroy(); resolve(); }, timeoutMs);
      sock.once('close', () => { clearTimeout(timer); resolve(); });
      sock.end(DISCONNECT);
    });
  }

  destroy(): void {
    this.running = false;
    if (this.pacer) { clearInterval(this.pacer); this.pacer = null; }
    this.socket?.destroy();
  }

  // ---- publishing -------------------------------------------------------------------------

  /** QoS 0: write a pre-built batch of `batch` frames until stopped or back-pressured. */
  startFlood(template: PublishTemplate, batch: number, stopAt: number): void {
    this.template = template;
    this.qos = 0;
    this.floodBuf = repeatFrame(template.frame, batch);
    this.floodCount = batch;
    this.stopAt = stopAt;
    this.running = true;
    this.turnScheduled = true;
    setImmediate(this.pumpBound);
  }

  /** QoS 1/2: keep `window` messages in flight; each carries (stream, seq, timestamp). */
  startWindow(template: PublishTemplate, qos: QoS, window: number, streamId: number, stopAt: number): void {
    this.template = template;
    this.qos = qos;
    this.window = window;
    this.streamId = streamId;
    this.stopAt = stopAt;
    this.running = true;
    this.fill();
  }

  /** Fixed rate (msg/s) with at most `window` in flight: the latency scenario. */
  startPaced(template: PublishTemplate, qos: QoS, rate: number, window: number, streamId: number, stopAt: number): void {
    this.template = template;
    this.qos = qos;
    this.rate = rate;
    this.window = window;
    this.streamId = streamId;
    this.stopAt = stopAt;
    this.running = true;
    this.paceStart = performance.now();
    this.pacer = setInterval(() => this.paceTick(), 1);
  }

  stopPublishing(): void {
    this.running = false;
    if (this.pacer) { clearInterval(this.pacer); this.pacer = null; }
  }

  /** Resolves when no QoS 1/2 message is in flight (bounded by timeoutMs). */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.inflight === 0 || this.closed) return Promise.resolve(this.inflight === 0);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { this.onIdle = null; resolve(false); }, timeoutMs);
      this.onIdle = () => { clearTimeout(timer); this.onIdle = null; resolve(true); };
    });
  }

  /**
   * The flood loop. Exactly one of these holds while running: a turn is scheduled
   * (setImmediate), the socket is back-pressured (resumed on 'drain'), or the flood gate is
   * shut (resumed by the gate).
   */
  private pump(): void {
    this.turnScheduled = false;
    const sock = this.socket;
    if (!sock || this.closed || this.floodBuf === null) return;
    for (let i = 0; i < FLOOD_BATCHES_PER_TURN; i++) {
      if (!this.running || performance.now() >= this.stopAt) { this.running = false; return; }
      if (this.limit > 0 && this.sent >= this.limit) { this.running = false; return; }
      if (!floodGate.allow(this)) { this.waitingGate = true; return; }
      this.sent += this.floodCount;
      floodGate.localSent += this.floodCount;
      if (!sock.write(this.floodBuf)) { this.waitingDrain = true; return; }
    }
    this.turnScheduled = true;
    setImmediate(this.pumpBound);
  }

  private onDrain(): void {
    if (this.floodBuf !== null) {
      if (this.waitingDrain) { this.waitingDrain = false; this.pump(); }
    } else if (this.qos > 0 && this.pacer === null) {
      this.fill();
    }
  }

  resume(): void {
    if (this.waitingGate && !this.turnScheduled) {
      this.waitingGate = false;
      this.turnScheduled = true;
      setImmediate(this.pumpBound);
    }
  }

  private buildBatch(n: number, stamp: number): Buffer {
    const t = this.template as PublishTemplate;
    const flen = t.frame.length;
    const out = Buffer.allocUnsafe(flen * n);
    for (let k = 0; k < n; k++) {
      const base = k * flen;
      t.frame.copy(out, base);
      let pid = this.nextPid;
      this.nextPid = pid === MAX_PACKET_ID ? 1 : pid + 1;
      if (t.pidOffset >= 0) {
        out[base + t.pidOffset] = pid >> 8;
        out[base + t.pidOffset + 1] = pid & 0xff;
      }
      if (!t.stamped) continue;
      const p = base + t.payloadOffset;
      out.writeDoubleLE(stamp, p + PAYLOAD_TS);
      out.writeUInt32LE(this.streamId, p + PAYLOAD_STREAM);
      out.writeUInt32LE(this.sent + k, p + PAYLOAD_SEQ);
    }
    return out;
  }

  private fill(): void {
    const sock = this.socket;
    if (!this.running || !sock || this.closed) return;
    if (performance.now() >= this.stopAt) { this.running = false; return; }
    let n = this.window - this.inflight;
    if (this.limit > 0) n = Math.min(n, this.limit - this.sent);
    if (n <= 0) { if (this.limit > 0 && this.sent >= this.limit) this.running = false; return; }
    const batch = this.buildBatch(n, performance.now());
    this.sent += n;
    this.inflight += n;
    sock.write(batch);
  }

  private paceTick(): void {
    const sock = this.socket;
    if (!this.running || !sock || this.closed) return;
    const now = performance.now();
    if (now >= this.stopAt) { this.stopPublishing(); return; }
    const due = Math.floor(((now - this.paceStart) * this.rate) / 1000) - this.sent;
    const n = Math.min(due, this.window - this.inflight, Math.ceil(this.rate / 100));
    if (n <= 0) return;
    const batch = this.buildBatch(n, now);
    this.sent += n;
    // QoS 0 is never acknowledged: nothing stays in flight.
    if (this.qos > 0) this.inflight += n;
    sock.write(batch);
  }

  // ---- receiving --------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    try {
      this.splitter.push(chunk);
    } catch (e) {
      this.error = (e as Error).message;
      this.socket?.destroy();
      return;
    }
    if (this.ackLen > 0) {
      const out = Buffer.from(this.ackBuf.subarray(0, this.ackLen));
      this.ackLen = 0;
      this.socket?.write(out);
    }
    if (this.needFill) {
      this.needFill = false;
      this.fill();
    }
  }

  private pushAck(type: number, buf: Buffer, pidAt: number): void {
    if (this.ackLen + 4 > this.ackBuf.length) {
      const grown = Buffer.allocUnsafe(this.ackBuf.length * 2);
      this.ackBuf.copy(grown, 0, 0, this.ackLen);
      this.ackBuf = grown;
    }
    const a = this.ackBuf;
    const l = this.ackLen;
    a[l] = type;
    a[l + 1] = 2;
    a[l + 2] = buf[pidAt];
    a[l + 3] = buf[pidAt + 1];
    this.ackLen = l + 4;
  }

  onFrame(header: number, buf: Buffer, start: number, end: number): void {
    switch (header >> 4) {
      case 3: { // PUBLISH
        const qos = (header >> 1) & 3;
        this.received++;
        if ((header & 1) !== 0) this.receivedRetained++;
        if (qos > 0 || this.tracker !== null || this.latency !== null) {
          const p = publishPayloadStart(buf, start, qos);
          if (qos === 1) this.pushAck(PUBACK, buf, p - 2);
          else if (qos === 2) this.pushAck(PUBREC, buf, p - 2);
          if (p + 16 <= end) {
            if (this.tracker !== null) this.tracker.mark(buf.readUInt32LE(p + PAYLOAD_STREAM), buf.readUInt32LE(p + PAYLOAD_SEQ));
            if (this.latency !== null) this.latency.record(buf.readDoubleLE(p + PAYLOAD_TS), performance.now());
          }
        }
        if (this.received === this.expect && this.onExpected !== null) this.onExpected();
        break;
      }
      case 4: // PUBACK
      case 7: // PUBCOMP
        this.acked++;
        if (this.inflight > 0) this.inflight--;
        if (this.inflight === 0 && this.onIdle !== null) this.onIdle();
        if (this.running && this.pacer === null) this.needFill = true;
        break;
      case 5: // PUBREC → PUBREL
        this.pushAck(PUBREL, buf, start);
        break;
      case 6: // PUBREL → PUBCOMP
        this.pushAck(PUBCOMP, buf, start);
        break;
      case 2: { // CONNACK
        const rc = buf[start + 1];
        const w = this.connectWaiter;
        this.connectWaiter = null;
        if (rc === 0) { this.connected = true; w?.resolve((buf[start] & 1) === 1); }
        else w?.reject(new Error(`${this.id}: CONNACK return code ${rc}`));
        break;
      }
      case 9: { // SUBACK
        const w = this.subWaiter;
        this.subWaiter = null;
        if (buf[end - 1] === 0x80) w?.reject(new Error(`${this.id}: subscription refused`));
        else w?.resolve();
        break;
      }
      default:
        break; // PINGRESP, UNSUBACK: nothing to count
    }
  }

  private onError(e: Error): void {
    if (this.error === null) this.error = e.message;
    this.connectWaiter?.reject(e);
    this.connectWaiter = null;
  }

  private onClose(): void {
    this.closed = true;
    this.connected = false;
    this.running = false;
    if (this.pacer) { clearInterval(this.pacer); this.pacer = null; }
    this.connectWaiter?.reject(new Error(`${this.id}: connection closed before CONNACK`));
    this.connectWaiter = null;
    this.subWaiter?.reject(new Error(`${this.id}: connection closed before SUBACK`));
    this.subWaiter = null;
    if (this.onIdle !== null) this.onIdle();
  }
}

/** How a bench client reaches the broker: plain TCP, TLS, or MQTT over secure WebSocket (`/mqtt`). */
export type ClientTransport = 'tcp' | 'tls' | 'wss';

/**
 * Generator worker k dials plain TCP from the loopback addresses 127.0.<k+1>.1–250 in turn
 * (bench/gen/pool.ts): connect() gets about 14,000 ephemeral ports per source address and
 * destination here, and the sockets a storm drops hold theirs for a minute (TIME_WAIT).
 */
const GEN_INDEX = Number(process.env.BENCH_GEN_INDEX ?? 0);
let dials = 0;
const localAddress = (): string => `127.0.${(GEN_INDEX % 254) + 1}.${(dials++ % 250) + 1}`;

/** Opens the byte stream to 127.0.0.1:port; writes made before it is open are queued by it. */
function dial(port: number, transport: ClientTransport): Duplex {
  // The benchmark's throw-away certificate is self-signed: not verified.
  if (transport === 'tls') return tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  if (transport === 'wss') {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/mqtt`, 'mqtt', { rejectUnauthorized: false, perMessageDeflate: false });
    return createWebSocketStream(ws);
  }
  const sock = net.connect({ host: '127.0.0.1', port, localAddress: localAddress() });
  sock.setNoDelay(true);
  return sock;
}
