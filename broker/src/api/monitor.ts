/**
 * EMQX's dashboard monitor: the node samples its own gauges and counters every 10 s and keeps
 * the last hour in memory (360 samples, a few hundred bytes each), so a dashboard opened now
 * can draw the last hour at once. Counters are kept as the change over the sample's interval
 * (EMQX's `received`, `sent`, `dropped` in /monitor); /monitor_current turns the last change
 * into a per-second rate. This node's figures only: on a cluster, ask each node (or use
 * /api/v5/stats and /metrics with aggregate=true for the sums now).
 *
 * The sampler belongs to the API server (started by listen, stopped by close), which hands it
 * to the routes through `monitorOf(admin)`: routes only ever see the AdminApi.
 */
import type { AdminApi } from './admin.js';

export const MONITOR_INTERVAL_MS = 10_000;
const KEEP = 360;

export interface MonitorSample {
  /** Milliseconds since the epoch, as EMQX's time_stamp. */
  time_stamp: number;
  connections: number;
  live_connections: number;
  sessions: number;
  subscriptions: number;
  topics: number;
  retained_msg_count: number;
  /** Messages received, sent and dropped since the previous sample. */
  received: number;
  sent: number;
  dropped: number;
}

type Counters = { received: number; sent: number; dropped: number };

function counters(m: Record<string, number>): Counters {
  return {
    received: m['messages.received'] ?? 0,
    sent: m['messages.sent'] ?? 0,
    // EMQX's "dropped": messages nobody took plus deliveries dropped.
    dropped: (m['messages.dropped.no_subscribers'] ?? 0) + (m['messages.dropped.hook'] ?? 0)
      + (m['messages.dropped.await_pubrel_timeout'] ?? 0) + (m['delivery.dropped'] ?? 0),
  };
}

/** A counter that went down (reset) counts from zero, never negative. */
const delta = (now: number, before: number): number => (now >= before ? now - before : now);

export class Monitor {
  private readonly admin: AdminApi;
  private readonly intervalMs: number;
  private readonly samples: MonitorSample[] = [];
  private last: Counters = { received: 0, sent: 0, dropped: 0 };
  private lastAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(admin: AdminApi, intervalMs = MONITOR_INTERVAL_MS) {
    this.admin = admin;
    this.intervalMs = intervalMs;
  }

  start(): void {
    if (this.timer !== null) return;
    this.last = counters(this.admin.metrics());
    this.lastAt = Date.now();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  sample(): MonitorSample {
    const s = this.admin.stats();
    const c = counters(this.admin.metrics());
    const now = Date.now();
    const row: MonitorSample = {
      time_stamp: now,
      connections: s['connections.count'] ?? 0,
      live_connections: s['live_connections.count'] ?? 0,
      sessions: s['sessions.count'] ?? 0,
      subscriptions: s['subscriptions.count'] ?? 0,
      topics: s['topics.count'] ?? 0,
      retained_msg_count: s['retained.count'] ?? 0,
      received: delta(c.received, this.last.received),
      sent: delta(c.sent, this.last.sent),
      dropped: delta(c.dropped, this.last.dropped),
    };
    this.last = c;
    this.lastAt = now;
    this.samples.push(row);
    if (this.samples.length > KEEP) this.samples.shift();
    return row;
  }

  /** The last `n` samples (all kept when n is absent), oldest first. */
  latest(n?: number): MonitorSample[] {
    return n === undefined ? this.samples.slice() : this.samples.slice(Math.max(0, this.samples.length - n));
  }

  /** Gauges now, and rates per second over the time since the last sample (or the last interval). */
  current(): Record<string, number> {
    const s = this.admin.stats();
    const c = counters(this.admin.metrics());
    const prev = this.samples.length > 0 ? this.samples[this.samples.length - 1]! : null;
    const secs = (Date.now() - this.lastAt) / 1000;
    // Right after a sample the open interval is too short to mean anything: use the sample's.
    const rate = (k: keyof Counters): number => (secs >= 1 ? delta(c[k], this.last[k]) / secs : prev !== null ? prev[k] / (this.intervalMs / 1000) : 0);
    return {
      connections: s['connections.count'] ?? 0,
      live_connections: s['live_connections.count'] ?? 0,
      sessions: s['sessions.count'] ?? 0,
      subscriptions: s['subscriptions.count'] ?? 0,
      topics: s['topics.count'] ?? 0,
      retained_msg_count: s['retained.count'] ?? 0,
      received_msg_rate: round(rate('received')),
      sent_msg_rate: round(rate('sent')),
      dropped_msg_rate: round(rate('dropped')),
    };
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;

const monitors = new WeakMap<AdminApi, Monitor>();

export function registerMonitor(admin: AdminApi, m: Monitor): void { monitors.set(admin, m); }

export function monitorOf(admin: AdminApi): Monitor | undefined { return monitors.get(admin); }
