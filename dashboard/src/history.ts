/**
 * The overview's charts: the browser samples /api/v5/stats and /api/v5/metrics (aggregated over
 * the cluster) every SAMPLE_MS while the dashboard is open and keeps the last hour in memory.
 * Rates are differences of counters between two samples; a counter that went down (a node
 * restarted) gives no rate for that step rather than a negative one.
 *
 * On opening, a single node's last hour comes from its own 10 s samples (/api/v5/monitor), so
 * the charts are not empty after a reload. A cluster's is not filled in: the monitor is per
 * node, and one node's history next to the cluster's live sums would mislead.
 */
import { get } from './api.js';

export const SAMPLE_MS = 5000;
const KEEP_S = 3600;

export interface Series {
  t: number[];          // seconds since epoch
  connections: number[];
  inRate: (number | null)[];
  outRate: (number | null)[];
  droppedRate: (number | null)[];
}

export interface Gauges { [k: string]: number }

export const series: Series = { t: [], connections: [], inRate: [], outRate: [], droppedRate: [] };
export let latest: Gauges = {};

let prev: { at: number; recv: number; sent: number; dropped: number } | null = null;
let timer: ReturnType<typeof setInterval> | null = null;
const subscribers = new Set<() => void>();

export function subscribe(f: () => void): () => void {
  subscribers.add(f);
  return () => { subscribers.delete(f); };
}

function rate(now: number, before: number, secs: number): number | null {
  return now >= before && secs > 0 ? (now - before) / secs : null;
}

/** EMQX's "dropped": messages no one took (no subscriber, a hook, a PUBREL timeout) plus deliveries dropped. */
function dropped(m: Gauges): number {
  return (m['messages.dropped.no_subscribers'] ?? 0) + (m['messages.dropped.hook'] ?? 0)
    + (m['messages.dropped.await_pubrel_timeout'] ?? 0) + (m['delivery.dropped'] ?? 0);
}

export async function sampleNow(): Promise<void> {
  const [stats, metrics] = await Promise.all([
    get<Gauges>('/api/v5/stats?aggregate=true'),
    get<Gauges>('/api/v5/metrics?aggregate=true'),
  ]);
  const at = Date.now();
  const cur = { at, recv: metrics['messages.received'] ?? 0, sent: metrics['messages.sent'] ?? 0, dropped: dropped(metrics) };
  const secs = prev === null ? 0 : (at - prev.at) / 1000;
  series.t.push(at / 1000);
  series.connections.push(stats['connections.count'] ?? 0);
  series.inRate.push(prev === null ? null : rate(cur.recv, prev.recv, secs));
  series.outRate.push(prev === null ? null : rate(cur.sent, prev.sent, secs));
  series.droppedRate.push(prev === null ? null : rate(cur.dropped, prev.dropped, secs));
  while (series.t.length > 0 && series.t[0]! < at / 1000 - KEEP_S) for (const a of Object.values(series)) (a as unknown[]).shift();
  prev = cur;
  latest = { ...stats, ...metrics };
  for (const f of subscribers) f();
}

interface MonitorSample { time_stamp: number; connections: number; received: number; sent: number; dropped: number }

async function prefill(): Promise<void> {
  const nodes = await get<unknown[]>('/api/v5/nodes');
  if (nodes.length !== 1) return;
  const rows = await get<MonitorSample[]>('/api/v5/monitor');
  if (series.t.length > 0) return; // a live sample came first: keep the series in order
  let prevAt: number | null = null;
  for (const r of rows) {
    const secs = prevAt === null ? 10 : (r.time_stamp - prevAt) / 1000;
    series.t.push(r.time_stamp / 1000);
    series.connections.push(r.connections);
    series.inRate.push(r.received / secs);
    series.outRate.push(r.sent / secs);
    series.droppedRate.push(r.dropped / secs);
    prevAt = r.time_stamp;
  }
}

export function startSampling(): void {
  if (timer !== null) return;
  prefill().catch(() => undefined).finally(() => { sampleNow().catch(() => undefined); });
  timer = setInterval(() => { sampleNow().catch(() => undefined); }, SAMPLE_MS);
}

export function stopSampling(): void {
  if (timer !== null) clearInterval(timer);
  timer = null;
  prev = null;
  for (const a of Object.values(series)) (a as unknown[]).length = 0;
}
