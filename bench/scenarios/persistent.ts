/**
 * Persistent sessions: N clients connect with clean session = false, subscribe at QoS 1 and
 * disconnect; a publisher sends a burst of B QoS 1 messages (all acknowledged) while they are
 * offline; then all N reconnect and we time until every one has received its B queued messages
 * (N × B deliveries). Counts lost messages (sequence numbers in the payload).
 */
import { spread } from '../gen/pool.js';
import { type Scenario, type ScenarioResult, type WorkerSnapshot, requireConnected, sumGroup, sleep, sampleBroker } from './common.js';

interface ReconnectResult { done: boolean; received: number; failed: number; firstError: string | null; sessionPresent: number; elapsedMs: number }

export const persistent: Scenario = {
  name: 'persistent',
  title: 'persistent sessions (offline QoS 1 subscribers drain a burst on reconnect)',
  metrics: [
    { key: 'ms', label: 'time to drain, ms', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'msgs', label: 'drain msg/s', unit: 'msg/s', better: 'higher', digits: 0 },
    { key: 'cpuPerMsg', label: 'broker CPU µs/msg', unit: 'µs', better: 'lower', digits: 2 },
    { key: 'lost', label: 'lost messages', unit: '', better: 'lower', digits: 0 },
  ],
  async run(ctx): Promise<ScenarioResult> {
    const { pool, broker, opts } = ctx;
    const n = opts.persistClients;
    const burst = opts.persistBurst;
    const parts = spread(n, pool.size);
    const res = await Promise.all(parts.map((idx, wi) => pool.workers[wi].call<{ connected: number; failed: number; firstError: string | null }>('connect', {
      group: 'sub', port: broker.port, ids: idx.map((i) => `bps-${ctx.tag}-${i}`), clean: false, keepalive: 600,
      concurrency: 50, timeoutMs: 10_000, topic: 'bench/persist', qos: 1, track: true,
    }, 120_000)));
    requireConnected(res, 'persistent subscribers');
    await pool.all('disconnect', () => ({ group: 'sub', concurrency: 100 }), 60_000);
    const w = pool.workers[0];
    requireConnected([await w.call('connect', { group: 'pub', port: broker.port, ids: [`bpp-${ctx.tag}`], clean: true, keepalive: 600, concurrency: 1, timeoutMs: 10_000 }, 20_000)], 'publisher');
    await w.call('start', { group: 'pub', mode: 'window', topics: ['bench/persist'], qos: 1, payload: opts.payload, window: 100, maxMs: 60_000, streamBase: 0, limit: burst });
    const idle = await w.call<{ idle: boolean }>('waitIdle', { group: 'pub', timeoutMs: 60_000 }, 70_000);
    if (!idle.idle) throw new Error('burst not acknowledged by the broker');
    await sleep(300);
    const b0 = sampleBroker(broker);
    const rr = await pool.all<ReconnectResult>('reconnectAndWait', () => ({
      group: 'sub', port: broker.port, keepalive: 600, concurrency: 50, expectEach: burst, timeoutMs: 120_000,
    }), 130_000);
    const elapsed = Math.max(...rr.map((r) => r.elapsedMs));
    const b1 = sampleBroker(broker);
    await sleep(200);
    const snaps = await pool.all<WorkerSnapshot>('snapshot', () => ({}));
    const sub = sumGroup(snaps, 'sub');
    const expected = n * burst;
    const received = rr.reduce((s, r) => s + r.received, 0);
    const notes: string[] = [];
    const failed = rr.reduce((s, r) => s + r.failed, 0);
    if (failed > 0) notes.push(`${failed} reconnects failed: ${rr.find((r) => r.firstError)?.firstError}`);
    const done = rr.every((r) => r.done);
    if (!done) notes.push(`received ${received} of ${expected} queued messages`);
    const lost = expected - sub.unique;
    if (lost > 0) notes.push(`LOST ${lost} of ${expected} queued QoS 1 messages`);
    return {
      values: {
        ms: done ? elapsed : NaN,
        msgs: done ? expected / (elapsed / 1000) : NaN,
        cpuPerMsg: received > 0 ? (b1.cpuUs - b0.cpuUs) / received : NaN,
        lost,
        duplicates: sub.duplicates,
      },
      notes,
    };
  },
};
