/**
 * Retained burst: one publisher stores N retained messages on distinct topics (QoS 1, all
 * acknowledged), then one client subscribes to `bench/ret/#` and we time how long until all N retained
 * messages have arrived. Meanwhile another pair of clients (in another worker) talks at
 * OTHER_RATE msg/s QoS 0: their latency while the burst goes out is what the burst costs everyone
 * else (issue 15's target: p99 < 2 ms during a 10,000-message burst).
 */
import { type Scenario, type ScenarioResult, requireConnected, sleep, sampleBroker } from './common.js';

const OTHER_TOPIC = 'bench/other';
const OTHER_RATE = 2000;

export const retained: Scenario = {
  name: 'retained',
  title: 'retained burst (N retained topics → one `bench/ret/#` subscriber), another pair timed meanwhile',
  metrics: [
    { key: 'ms', label: 'time to receive all, ms', unit: 'ms', better: 'lower', digits: 1 },
    { key: 'cpuPerMsg', label: 'broker CPU µs/msg', unit: 'µs', better: 'lower', digits: 2 },
    { key: 'storeMs', label: 'time to store (publish, acked), ms', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'otherP99', label: 'another client\'s latency during the burst, p99 ms', unit: 'ms', better: 'lower', digits: 3 },
    { key: 'otherMax', label: 'another client\'s latency during the burst, max ms', unit: 'ms', better: 'lower', digits: 3 },
  ],
  async run(ctx): Promise<ScenarioResult> {
    const { pool, broker, opts } = ctx;
    const w = pool.workers[0];
    const common = { port: broker.port, clean: true, keepalive: 600, concurrency: 1, timeoutMs: 10_000 };
    requireConnected([await w.call('connect', { ...common, group: 'pub', ids: [`br-p-${ctx.tag}`] }, 20_000)], 'publisher');
    const stored = await w.call<{ sent: number; acked: number; ok: boolean; elapsedMs: number }>('publishRetained', {
      group: 'pub', count: opts.retained, prefix: 'bench/ret/', payload: opts.payload, window: 500, timeoutMs: 120_000,
    }, 130_000);
    if (!stored.ok) throw new Error(`only ${stored.acked} of ${opts.retained} retained publishes acknowledged`);
    requireConnected([await w.call('connect', { ...common, group: 'sub', ids: [`br-s-${ctx.tag}`] }, 20_000)], 'subscriber');
    // The other pair, in the other worker when there is one: its latency is timed during the burst.
    const o = pool.workers[pool.workers.length > 1 ? 1 : 0]!;
    requireConnected([await o.call('connect', { ...common, group: 'osub', ids: [`br-os-${ctx.tag}`], topic: OTHER_TOPIC, qos: 0, latency: true, track: true }, 20_000)], 'other subscriber');
    requireConnected([await o.call('connect', { ...common, group: 'opub', ids: [`br-op-${ctx.tag}`] }, 20_000)], 'other publisher');
    await o.call('start', { group: 'opub', mode: 'paced', topics: [OTHER_TOPIC], qos: 0, payload: opts.payload, rate: OTHER_RATE, window: 10_000, maxMs: 70_000, streamBase: 0 });
    await sleep(300);
    await o.call('latencyWindow', { fromMs: 0, toMs: 70_000 });
    const b0 = sampleBroker(broker);
    const r = await w.call<{ done: boolean; received: number; elapsedMs: number }>('timedSubscribe', {
      group: 'sub', topic: 'bench/ret/#', qos: 0, expect: opts.retained, timeoutMs: 60_000,
    }, 70_000);
    const b1 = sampleBroker(broker);
    await o.call('stop', { group: 'opub' });
    const other = await o.call<{ count: number; p99: number; max: number }>('latencyResult');
    const notes: string[] = [];
    if (other.count < 10) notes.push(`only ${other.count} messages of the other pair were timed during the burst`);
    if (!r.done) notes.push(`received only ${r.received} of ${opts.retained} retained messages`);
    return {
      values: {
        ms: r.done ? r.elapsedMs : NaN,
        received: r.received,
        cpuPerMsg: r.received > 0 ? (b1.cpuUs - b0.cpuUs) / r.received : NaN,
        storeMs: stored.elapsedMs,
        otherP99: other.p99,
        otherMax: other.max,
      },
      notes,
    };
  },
};
