/**
 * The cost of access control: Petrel open, and with each setup of bench/access/setups.ts
 * (built-in database with sha256 or bcrypt, JWT, a 1,000-rule ACL file), interleaved in every
 * repetition on a fresh broker each, and reported as ratios to the open broker of the same run.
 *
 * One run (one setup, one fresh broker):
 *   1. Checks that the setup is in force: its wrong credentials are refused at CONNECT and its
 *      denied filters at SUBSCRIBE; otherwise the run fails (a setup that lets everyone in would
 *      otherwise look free).
 *   2. QoS 1 pairs, as the `qos1` scenario (same window, warm-up and duration); pair i's
 *      publisher and subscriber are user `bench-<i>` on topic `pair/bench-<i>`.
 *   3. With those clients gone, the connect phase: N clients (`--access-connections`; bcrypt
 *      `--bcrypt-connections`) CONNECT with their own credentials, `--connect-concurrency` in
 *      flight per worker, as the `connections` scenario does. Rate = connected ÷ the slowest
 *      worker's time; broker CPU per connect includes bcrypt's thread pool.
 * A refused client fails the run (it never counts as a connect).
 */
import { spread } from '../gen/pool.js';
import { BenchClient } from '../gen/client.js';
import type { Credentials } from '../lib/packets.js';
import { accessSetups, connectClients, connectUser, pairUser, PROBE_USER } from '../access/setups.js';
import { BENCH_TOPIC } from '../access/acl-conf.js';
import { runThroughput, RELIABLE_METRICS } from './throughput.js';
import { type Scenario, type ScenarioContext, type ScenarioResult, type Setup, type WorkerSnapshot, requireConnected, saturationNote, sleep, sampleBroker } from './common.js';

const qos1Metric = (key: string) => {
  const m = RELIABLE_METRICS.find((x) => x.key === key);
  if (!m) throw new Error(`no QoS 1 metric ${key}`);
  return { ...m, label: `QoS 1 ${m.label}` };
};

/** Throws unless the setup refuses what it must: wrong credentials, denied filters. */
async function checkInForce(port: number, setup: Setup): Promise<void> {
  for (const [i, cred] of setup.mustRefuse.entries()) {
    const c = new BenchClient(`bench-check-${process.pid}-${i}`);
    let accepted = false;
    try {
      await c.connect(port, true, 30, 10_000, cred);
      accepted = true;
    } catch (e) {
      if (!/CONNACK return code [1-5]/.test((e as Error).message)) throw new Error(`${setup.name}: check of wrong credentials: ${(e as Error).message}`);
    } finally {
      c.destroy();
    }
    if (accepted) throw new Error(`${setup.name}: wrong credentials of ${cred.username} were accepted: the setup is not in force`);
  }
  if (setup.mustDenySubscribe.length === 0) return;
  const c = new BenchClient(`bench-check-${process.pid}-acl`);
  try {
    await c.connect(port, true, 30, 10_000, setup.probe);
    for (const filter of setup.mustDenySubscribe) {
      let granted = false;
      try {
        await c.subscribe(filter, 1, 10_000);
        granted = true;
      } catch (e) {
        if (!/subscription refused/.test((e as Error).message)) throw new Error(`${setup.name}: check of ${filter}: ${(e as Error).message}`);
      }
      if (granted) throw new Error(`${setup.name}: ${PROBE_USER} was granted ${filter}: the ACL is not in force`);
    }
  } finally {
    c.destroy();
  }
}

async function connectPhase(ctx: ScenarioContext, setup: Setup): Promise<Record<string, number> & { genCpu: number }> {
  const { pool, broker, opts } = ctx;
  const n = connectClients(setup.name, opts);
  const parts = spread(n, pool.size);
  // Credentials go to the workers inside the connect call; each worker times only its connects.
  const args = parts.map((idx) => {
    const cred: Credentials[] = idx.map((i) => setup.credentials(connectUser(i)));
    return {
      group: 'conn', port: broker.port, ids: idx.map((i) => `bc-${ctx.tag}-${i}`), clean: true, keepalive: 600,
      usernames: cred.map((c) => c.username), passwords: cred.map((c) => c.password),
      concurrency: opts.connectConcurrency, timeoutMs: 120_000,
    };
  });
  const g0 = await pool.all<WorkerSnapshot>('snapshot', () => ({}));
  const before = sampleBroker(broker);
  const res = await Promise.all(args.map((a, wi) => pool.workers[wi].call<{ connected: number; failed: number; firstError: string | null; elapsedMs: number }>('connect', a, 600_000)));
  const after = sampleBroker(broker);
  const g1 = await pool.all<WorkerSnapshot>('snapshot', () => ({}));
  requireConnected(res, `connect-phase clients (${setup.name})`);
  const connected = res.reduce((s, r) => s + r.connected, 0);
  const slowest = Math.max(...res.map((r) => r.elapsedMs));
  let genCpu = 0;
  for (let i = 0; i < g1.length; i++) {
    const dt = (g1[i].wall - g0[i].wall) * 1000;
    if (dt > 0) genCpu = Math.max(genCpu, ((g1[i].cpuUs - g0[i].cpuUs) / dt) * 100);
  }
  return {
    connClients: connected,
    connRate: connected / (slowest / 1000),
    cpuPerConn: (after.cpuUs - before.cpuUs) / connected,
    genCpu,
  };
}

export const access: Scenario = {
  name: 'access',
  title: 'access control: connect rate and QoS 1 pairs per setup, against the open broker',
  optIn: true,
  metrics: [
    { key: 'connRate', label: 'connect rate /s', unit: '/s', better: 'higher', digits: 0 },
    qos1Metric('msgs'),
    { key: 'cpuPerConn', label: 'broker CPU µs/connect', unit: 'µs', better: 'lower', digits: 0 },
    qos1Metric('cpuPerMsg'),
    { key: 'connClients', label: 'clients connected', unit: '', better: 'none', digits: 0 },
    qos1Metric('brokerCpu'),
    qos1Metric('genCpu'),
    qos1Metric('lost'),
    qos1Metric('duplicates'),
  ],
  setups: (opts) => accessSetups(opts, opts.accessSetups),
  async run(ctx): Promise<ScenarioResult> {
    const setup = ctx.setup;
    if (!setup) throw new Error('the access scenario runs once per setup');
    await checkInForce(ctx.broker.port, setup);
    const q = await runThroughput(ctx, {
      qos: 1, subCount: ctx.opts.pairs, subTopic: (i) => BENCH_TOPIC(pairUser(i)), pubCount: ctx.opts.pairs,
      pubTopic: (i) => BENCH_TOPIC(pairUser(i)), fanout: 1, mode: 'window', paired: true, subUser: pairUser, pubUser: pairUser,
    });
    await ctx.pool.reset();
    await sleep(300);
    const c = await connectPhase(ctx, setup);
    const notes = [...q.notes, ...saturationNote(c.genCpu).map((n) => `connect phase: ${n}`)];
    return { values: { ...q.values, connClients: c.connClients, connRate: c.connRate, cpuPerConn: c.cpuPerConn }, notes };
  },
};
