/**
 * Idle connections on a freshly started broker: N clients (spread over the workers so each
 * process stays under its open-file limit) connect with a bounded number of CONNECTs in flight
 * per worker. Reports the connect rate (CONNACKs/s), broker CPU µs per connect, and broker RSS
 * per connection: (RSS after the connections settled − RSS before) / N.
 */
import { spread } from '../gen/pool.js';
import { sampleProcess } from '../lib/proc-stat.js';
import { type Scenario, type ScenarioResult, type WorkerSnapshot, requireConnected, saturationNote, sleep } from './common.js';

export const connections: Scenario = {
  name: 'connections',
  title: 'idle connections on a fresh broker',
  metrics: [
    { key: 'rate', label: 'connect rate /s', unit: '/s', better: 'higher', digits: 0 },
    { key: 'cpuPerConn', label: 'broker CPU µs/connect', unit: 'µs', better: 'lower', digits: 1 },
    { key: 'kibPerConn', label: 'broker RSS KiB/connection', unit: 'KiB', better: 'lower', digits: 2 },
    { key: 'brokerCpu', label: 'broker CPU % while connecting', unit: '%', better: 'none', digits: 0 },
    { key: 'genCpu', label: 'generator CPU % (busiest worker)', unit: '%', better: 'none', digits: 0 },
    { key: 'connected', label: 'connected', unit: '', better: 'none', digits: 0 },
  ],
  async run(ctx): Promise<ScenarioResult> {
    const { pool, broker, opts } = ctx;
    await sleep(500);
    const before = sampleProcess(broker.pid);
    const parts = spread(opts.connections, pool.size);
    const g0 = await pool.all<WorkerSnapshot>('snapshot', () => ({}));
    const t0 = performance.now();
    const res = await Promise.all(parts.map((idx, wi) => pool.workers[wi].call<{ connected: number; failed: number; firstError: string | null }>('connect', {
      group: 'idle', port: broker.port, ids: idx.map((i) => `bc-${ctx.tag}-${i}`), clean: true, keepalive: 600,
      concurrency: opts.connectConcurrency, timeoutMs: 30_000,
    }, 300_000)));
    const elapsed = performance.now() - t0;
    const afterConnect = sampleProcess(broker.pid);
    const g1 = await pool.all<WorkerSnapshot>('snapshot', () => ({}));
    let genCpu = 0;
    for (let i = 0; i < g1.length; i++) {
      const dt = (g1[i].wall - g0[i].wall) * 1000;
      if (dt > 0) genCpu = Math.max(genCpu, ((g1[i].cpuUs - g0[i].cpuUs) / dt) * 100);
    }
    const connected = res.reduce((s, r) => s + r.connected, 0);
    requireConnected(res, 'idle clients');
    // Let the broker settle (lazy allocations, GC) before reading its memory.
    await sleep(2000);
    const after = sampleProcess(broker.pid);
    return {
      values: {
        connected,
        rate: connected / (elapsed / 1000),
        cpuPerConn: (afterConnect.cpuUs - before.cpuUs) / connected,
        kibPerConn: (after.rssKiB - before.rssKiB) / connected,
        genCpu,
        brokerCpu: ((afterConnect.cpuUs - before.cpuUs) / (elapsed * 1000)) * 100,
        rssBeforeMiB: before.rssKiB / 1024,
        rssAfterMiB: after.rssKiB / 1024,
      },
      notes: saturationNote(genCpu),
    };
  },
};
