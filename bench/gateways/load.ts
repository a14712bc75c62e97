/**
 * The driver of the gateway benchmark: N devices (./devices.ts) and one MQTT subscriber
 * (./subscriber.ts) in this process, so a message's send time and its arrival come from one
 * clock. Every path is driven the same way, whatever its protocol acknowledges: a device has at
 * most `window` messages sent and not yet seen by the subscriber.
 *
 *   paced    the devices together send `rate` msg/s (round robin, from a 1 ms timer); a device
 *            whose window is full skips its turn (counted: the path could not keep the rate)
 *   window   every device refills its window as soon as the subscriber sees one of its
 *            messages: the most the path delivers (closed loop, so no backlog builds up)
 *
 * A datagram can be lost (UDP, QoS 0): a device whose window has been full for 1 s with nothing
 * of it arriving writes its outstanding messages off and goes on; they count as lost unless they
 * still arrive.
 */
import { LatencyRecorder, SequenceTracker } from '../gen/client.js';
import { percentileSorted } from '../lib/stats.js';
import type { Device } from './devices.js';
import type { GwSubscriber } from './subscriber.js';
import type { Stamp } from './stamp.js';

const STALL_MS = 1000;
const TICK_MS = 100;

export interface LoadTotals { sent: number; unique: number; duplicates: number; skipped: number; writeOffs: number }
export interface LatencyFigures { samples: number; p50: number; p99: number; max: number }

export class GwLoad {
  private readonly sent: Uint32Array;
  private readonly writtenOff: Uint32Array;
  private readonly lastProgress: Float64Array;
  private readonly trackers: SequenceTracker[];
  private latency = new LatencyRecorder(1_000_000);
  private mode: 'idle' | 'paced' | 'window' = 'idle';
  private pacer: NodeJS.Timeout | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private stopAt = 0;
  private paceStart = 0;
  private paceRate = 0;
  private paceSent = 0;
  private next = 0;
  skipped = 0;
  writeOffs = 0;

  constructor(private readonly devices: Device[], private readonly sub: GwSubscriber, private readonly window: number) {
    const n = devices.length;
    this.sent = new Uint32Array(n);
    this.writtenOff = new Uint32Array(n);
    this.lastProgress = new Float64Array(n);
    this.trackers = devices.map(() => new SequenceTracker());
    sub.onMessage = (s, now) => this.onMessage(s, now);
  }

  outstanding(d: number): number {
    return Math.max(0, this.sent[d] - this.trackers[d].unique - this.writtenOff[d]);
  }

  totals(): LoadTotals {
    let sent = 0, unique = 0, duplicates = 0;
    for (let d = 0; d < this.devices.length; d++) { sent += this.sent[d]; unique += this.trackers[d].unique; duplicates += this.trackers[d].duplicates; }
    return { sent, unique, duplicates, skipped: this.skipped, writeOffs: this.writeOffs };
  }

  /** The first device error, or the subscriber's. */
  firstError(): string | null {
    return this.sub.error ?? this.devices.find((d) => d.error !== null)?.error ?? null;
  }

  /** Latency samples from now: those of messages sent in [now + fromMs, now + toMs). */
  latencyWindow(fromMs: number, toMs: number): void {
    this.latency = new LatencyRecorder(1_000_000);
    const now = performance.now();
    this.latency.from = now + fromMs;
    this.latency.to = now + toMs;
  }

  latencyFigures(): LatencyFigures {
    const s = this.latency.samples.slice(0, this.latency.count).sort();
    return { samples: s.length, p50: percentileSorted(s, 50), p99: percentileSorted(s, 99), max: s.length ? s[s.length - 1] : NaN };
  }

  /** Paced at `rate` msg/s over all devices for `ms`. */
  startPaced(rate: number, ms: number): void {
    this.begin('paced', ms);
    this.paceStart = performance.now();
    this.paceRate = rate;
    this.paceSent = 0;
    this.pacer = setInterval(() => this.pace(), 1);
  }

  /** Each device keeps its window full for `ms`. */
  startWindow(ms: number): void {
    this.begin('window', ms);
    for (let d = 0; d < this.devices.length; d++) this.refill(d);
  }

  stop(): void {
    this.mode = 'idle';
    if (this.pacer) clearInterval(this.pacer);
    if (this.ticker) clearInterval(this.ticker);
    this.pacer = this.ticker = null;
  }

  /** Resolves when nothing is outstanding, or nothing arrived for `quietMs`, or after `timeoutMs`. */
  async drain(quietMs: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let last = this.totals().unique;
    let lastChange = performance.now();
    for (;;) {
      const t = this.totals();
      const now = performance.now();
      if (t.unique !== last) { last = t.unique; lastChange = now; }
      if (t.unique >= t.sent || now - lastChange >= quietMs || now >= deadline) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private begin(mode: 'paced' | 'window', ms: number): void {
    this.stop();
    this.mode = mode;
    this.stopAt = performance.now() + ms;
    this.lastProgress.fill(performance.now());
    this.ticker = setInterval(() => this.tick(), TICK_MS);
  }

  private sendOne(d: number): void {
    const seq = this.sent[d]++;
    this.devices[d].send(seq, performance.now());
  }

  private refill(d: number): void {
    if (this.devices[d].error !== null) return;
    while (this.outstanding(d) < this.window) this.sendOne(d);
  }

  private pace(): void {
    const now = performance.now();
    if (now >= this.stopAt) { this.stop(); return; }
    const due = Math.floor(((now - this.paceStart) * this.paceRate) / 1000) - this.paceSent;
    const n = this.devices.length;
    for (let k = 0; k < due; k++) {
      const d = this.next;
      this.next = (d + 1) % n;
      this.paceSent++;
      if (this.outstanding(d) < this.window && this.devices[d].error === null) this.sendOne(d);
      else this.skipped++;
    }
  }

  private onMessage(s: Stamp, now: number): void {
    const d = s.device;
    if (d >= this.devices.length) return;
    this.trackers[d].mark(0, s.seq);
    this.lastProgress[d] = now;
    this.latency.record(s.sentAt, now);
    if (this.mode === 'window') this.refill(d);
  }

  private tick(): void {
    const now = performance.now();
    if (this.mode === 'window' && now >= this.stopAt) { this.stop(); return; }
    for (let d = 0; d < this.devices.length; d++) {
      const out = this.outstanding(d);
      if (out > 0 && out >= (this.mode === 'window' ? this.window : 1) && now - this.lastProgress[d] >= STALL_MS) {
        this.writtenOff[d] += out;
        this.writeOffs++;
        this.lastProgress[d] = now;
        if (this.mode === 'window') this.refill(d);
      }
    }
  }
}
