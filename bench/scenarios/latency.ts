/**
 * Latency: one QoS 1 publisher at a fixed rate → one QoS 1 subscriber, both in the same worker
 * process, so the send time written into the payload (performance.now) and the receive time
 * come from the same monotonic clock. Samples are kept for messages sent inside the measured
 * window; p50 / p99 / p99.9 in milliseconds.
 */
import {
  type Scenario, type ScenarioResult, mark, rate, brokerCpu, generatorCpu, drain, sumGroup,
  saturationNote, requireConnected, sleep, asideCpu, subPort, routesReady, ETCD_CPU_METRIC, WORKER_CPU_METRICS,
} from './common.js';

interface LatencyResult { count: number; p50: number; p99: number; p999: number; max: number }

export const latency: Scenario = {
  name: 'latency',
  title: 'latency, QoS 1 at a fixed rate (1 publisher → 1 subscriber)',
  crossNode: true,
  metrics: [
    { key: 'p50', label: 'p50 ms', unit: 'ms', better: 'lower', digits: 3 },
    { key: 'p99', label: 'p99 ms', unit: 'ms', better: 'lower', digits: 3 },
    { key: 'p999', label: 'p99.9 ms', unit: 'ms', better: 'lower', digits: 3 },
    { key: 'msgs', label: 'achieved msg/s', unit: 'msg/s', better: 'none', digits: 0 },
    { key: 'cpuPerMsg', label: 'broker CPU µs/msg', unit: 'µs', better: 'lower', digits: 2 },
    { key: 'lost', label: 'lost messages', unit: '', better: 'lower', digits: 0 },
    ETCD_CPU_METRIC,
    ...WORKER_CPU_METRICS,
  ],
  async run(ctx): Promise<ScenarioResult> {
    const { pool, broker, opts } = ctx;
    const w = pool.workers[0];
    const common = { port: broker.port, clean: true, keepalive: 600, concurrency: 1, timeoutMs: 10_000 };
    requireConnected([await w.call('connect', { ...common, port: subPort(ctx), group: 'sub', ids: [`bl-s-${ctx.tag}`], topic: 'bench/lat', qos: 1, latency: true, track: true }, 20_000)], 'subscriber');
    await routesReady(ctx, 1);
    requireConnected([await w.call('connect', { ...common, group: 'pub', ids: [`bl-p-${ctx.tag}`] }, 20_000)], 'publisher');
    await sleep(200);
    await w.call('latencyWindow', { fromMs: opts.warmupMs, toMs: opts.warmupMs + opts.durationMs });
    await w.call('start', {
      group: 'pub', mode: 'paced', topics: ['bench/lat'], qos: 1, payload: opts.payload,
      rate: opts.latencyRate, window: 10_000, maxMs: opts.warmupMs + opts.durationMs, streamBase: 0,
    });
    await sleep(opts.warmupMs);
    const m0 = await mark(ctx);
    await sleep(opts.durationMs);
    const m1 = await mark(ctx);
    await pool.all('stop', () => ({ group: 'pub' }));
    await w.call('waitIdle', { group: 'pub', timeoutMs: 10_000 }, 15_000);
    const after = await pool.all<{ groups: Record<string, { sent: number }> }>('snapshot', () => ({}));
    const sent = after[0].groups.pub?.sent ?? 0;
    const snaps = await drain(ctx, 'sub', sent, 1000, 10_000);
    const lat = await w.call<LatencyResult>('latencyResult');
    const delivered = rate(m0, m1, 'sub', 'received');
    const cpu = brokerCpu(m0, m1);
    const sub = sumGroup(snaps, 'sub');
    const values = {
      p50: lat.p50, p99: lat.p99, p999: lat.p999, max: lat.max, samples: lat.count,
      msgs: delivered.perSec,
      cpuPerMsg: delivered.count > 0 ? cpu.us / delivered.count : NaN,
      lost: sumGroup(snaps, 'pub').sent - sub.unique,
      genCpu: generatorCpu(m0, m1),
      ...asideCpu(m0, m1),
    };
    const notes = saturationNote(values.genCpu);
    if (values.msgs < opts.latencyRate * 0.95) notes.push(`achieved ${values.msgs.toFixed(0)} msg/s, below the target ${opts.latencyRate}`);
    if (values.lost > 0) notes.push(`LOST ${values.lost} QoS 1 messages`);
    return { values, notes };
  },
};
