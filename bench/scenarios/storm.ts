/**
 * Reconnect storm (opt-in): N clients with persistent sessions (clean session off, one QoS 1
 * subscription each) connect, all drop their connections at once (the sockets are destroyed, as
 * when a gateway or a load balancer in front of a fleet restarts), and all reconnect at once with
 * `--connect-concurrency` CONNECTs in flight per generator worker. Reported: the time until the
 * last CONNACK, the reconnect rate, how many got their session back (CONNACK session present),
 * the broker's CPU per reconnect and its peak RSS. Broker figures are the whole process tree (a
 * node of several workers, `petrel-workers`, included). The generator dials from many loopback
 * addresses (bench/gen/client.ts), or the ephemeral ports of one would run out.
 */
import { spread } from '../gen/pool.js';
import { sampleProcess } from '../lib/proc-stat.js';
import { ETCD_CPU_METRIC, WORKER_CPU_METRICS, sampleBroker, requireConnected, saturationNote, sleep, type Scenario, type ScenarioResult, type WorkerSnapshot } from './common.js';

interface ConnectResult { connected: number; failed: number; firstError: string | null; sessionPresent: number; elapsedMs: number }

export const storm: Scenario = {
  name: 'storm',
  title: 'reconnect storm: every persistent client drops and reconnects at once',
  optIn: true,
  metrics: [
    { key: 'seconds', label: 'storm: last CONNACK after s', unit: 's', better: 'lower', digits: 2 },
    { key: 'rate', label: 'reconnects /s', unit: '/s', better: 'higher', digits: 0 },
    { key: 'resumed', label: 'sessions resumed %', unit: '%', better: 'higher', digits: 1 },
    { key: 'cpuPerConn', label: 'broker CPU µs/reconnect', unit: 'µs', better: 'lower', digits: 1 },
    { key: 'brokerCpu', label: 'broker CPU % during the storm', unit: '%', better: 'none', digits: 0 },
    { key: 'rssMiB', label: 'broker RSS MiB after', unit: 'MiB', better: 'lower', digits: 0 },
    { key: 'genCpu', label: 'generator CPU % (busiest worker)', unit: '%', better: 'none', digits: 0 },
    ETCD_CPU_METRIC,
    ...WORKER_CPU_METRICS,
  ],
  async run(ctx): Promise<ScenarioResult> {
    const { pool, broker, opts } = ctx;
    const parts = spread(opts.connections, pool.size);
    const ids = (wi: number): string[] => parts[wi]!.map((i) => `bst-${ctx.tag}-${i}`);
    const connectAll = (group: string): Promise<ConnectResult[]> => Promise.all(parts.map((_, wi) => pool.workers[wi]!.call<ConnectResult>('connect', {
      group, port: broker.port, ids: ids(wi), clean: false, keepalive: 600, concurrency: opts.connectConcurrency, timeoutMs: 60_000,
      topics: ids(wi).map((id) => `storm/${id}`), qos: 1,
    }, 600_000)));
    requireConnected(await connectAll('before'), 'persistent clients');
    await sleep(1000);
    // Every connection dropped at once: the sockets destroyed, no DISCONNECT.
    await pool.all('drop', () => ({ group: 'before' }));
    const aside = (): Record<string, number> => Object.fromEntries(Object.entries(broker.aside ?? {}).map(([k, pid]) => [k, sampleProcess(pid).cpuUs]));
    const aside0 = aside();
    const before = sampleBroker(broker);
    const g0 = await pool.all<WorkerSnapshot>('snapshot', () => ({}));
    const t0 = performance.now();
    const res = await connectAll('after');
    const elapsed = performance.now() - t0;
    const after = sampleBroker(broker);
    const aside1 = aside();
    const g1 = await pool.all<WorkerSnapshot>('snapshot', () => ({}));
    requireConnected(res, 'reconnecting clients');
    let genCpu = 0;
    for (let i = 0; i < g1.length; i++) {
      const dt = (g1[i]!.wall - g0[i]!.wall) * 1000;
      if (dt > 0) genCpu = Math.max(genCpu, ((g1[i]!.cpuUs - g0[i]!.cpuUs) / dt) * 100);
    }
    const connected = res.reduce((n, r) => n + r.connected, 0);
    const resumed = res.reduce((n, r) => n + r.sessionPresent, 0);
    const notes = saturationNote(genCpu);
    if (resumed < connected) notes.push(`${connected - resumed} reconnects found no session`);
    return {
      values: {
        seconds: elapsed / 1000, rate: connected / (elapsed / 1000), resumed: (resumed / connected) * 100,
        cpuPerConn: (after.cpuUs - before.cpuUs) / connected, brokerCpu: ((after.cpuUs - before.cpuUs) / (elapsed * 1000)) * 100,
        rssMiB: after.rssKiB / 1024, genCpu, connected,
        // etcd's and each worker's CPU over the storm, % of one core
        ...Object.fromEntries(Object.keys(aside1).map((k) => [`${k}Cpu`, ((aside1[k]! - (aside0[k] ?? 0)) / (elapsed * 1000)) * 100])),
      },
      notes,
    };
  },
};
