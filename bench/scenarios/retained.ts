/**
 * Retained burst: one publisher stores N retained messages on distinct topics (QoS 1, all
 * acknowledged), then one client subscribes to `#` and we time how long until all N retained
 * messages have arrived.
 */
import { sampleProcess } from '../lib/proc-stat.js';
import { type Scenario, type ScenarioResult, requireConnected, sleep } from './common.js';

export const retained: Scenario = {
  name: 'retained',
  title: 'retained burst (N retained topics → one `#` subscriber)',
  metrics: [
    { key: 'ms', label: 'time to receive all, ms', unit: 'ms', better: 'lower', digits: 1 },
    { key: 'cpuPerMsg', label: 'broker CPU µs/msg', unit: 'µs', better: 'lower', digits: 2 },
    { key: 'storeMs', label: 'time to store (publish, acked), ms', unit: 'ms', better: 'lower', digits: 0 },
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
    await sleep(300);
    const b0 = sampleProcess(broker.pid);
    const r = await w.call<{ done: boolean; received: number; elapsedMs: number }>('timedSubscribe', {
      group: 'sub', topic: '#', qos: 0, expect: opts.retained, timeoutMs: 60_000,
    }, 70_000);
    const b1 = sampleProcess(broker.pid);
    const notes: string[] = [];
    if (!r.done) notes.push(`received only ${r.received} of ${opts.retained} retained messages`);
    return {
      values: {
        ms: r.done ? r.elapsedMs : NaN,
        received: r.received,
        cpuPerMsg: r.received > 0 ? (b1.cpuUs - b0.cpuUs) / r.received : NaN,
        storeMs: stored.elapsedMs,
      },
      notes,
    };
  },
};
