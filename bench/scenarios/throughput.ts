/**
 * Throughput scenarios: fan-in QoS 0 (many publishers → one wildcard subscriber), fan-out QoS 0
 * (one publisher → many subscribers), and QoS 1 / QoS 2 pairs (each pair = one publisher and
 * one subscriber on its own topic, a fixed window of unacknowledged messages per publisher).
 *
 * Each run: connect and subscribe, publish for warm-up + duration, count deliveries in the
 * measured window only, then stop and drain to count loss (QoS 0) or check that every QoS 1/2
 * message arrived exactly once (sequence numbers in the payload). QoS 0 publishers write a
 * pre-built batch of frames as fast as TCP back-pressure allows.
 */
import { spread } from '../gen/pool.js';
import type { QoS } from '../lib/packets.js';
import {
  type Scenario, type ScenarioContext, type WorkerSnapshot, type ScenarioResult, type MetricDef,
  mark, rate, generatorCpu, brokerCpu, asideCpu, drain, sumGroup, saturationNote, requireConnected, sleep,
  subPort, routesReady, ETCD_CPU_METRIC, WORKER_CPU_METRICS,
} from './common.js';

export const THROUGHPUT_METRICS: MetricDef[] = [
  { key: 'msgs', label: 'delivered msg/s', unit: 'msg/s', better: 'higher', digits: 0 },
  { key: 'cpuPerMsg', label: 'broker CPU µs/msg', unit: 'µs', better: 'lower', digits: 2 },
  { key: 'brokerCpu', label: 'broker CPU %', unit: '%', better: 'none', digits: 0 },
  { key: 'genCpu', label: 'generator CPU % (busiest worker)', unit: '%', better: 'none', digits: 0 },
  ETCD_CPU_METRIC,
  ...WORKER_CPU_METRICS,
];

interface Share {
  worker: number;
  ids: string[];
  topics: string[];
  /** With a setup: each client's username and password (parallel to ids). */
  usernames?: string[];
  passwords?: (string | null)[];
}

interface Layout {
  subs: Share[];
  pubs: Share[];
}

export interface Plan {
  qos: QoS;
  subTopic: (i: number) => string;
  subCount: number;
  pubTopic: (i: number) => string;
  pubCount: number;
  /** Deliveries per published message. */
  fanout: number;
  /** paced: QoS 0 at `rate` msg/s per publisher (the same load whatever the broker's speed). */
  mode: 'flood' | 'window' | 'paced';
  rate?: number;
  /** Put publisher i with subscriber i (pairs), else publishers start after the subscribers. */
  paired: boolean;
  /** Flood gate limit (deliveries outstanding), QoS 0 only. */
  inflight?: number;
  /** A fixed payload (QoS 0 flood only): the rules scenario's JSON. */
  payloadText?: string;
  /**
   * Called with the measured window's start and end marks, beside them (the rules scenario reads
   * the broker's action counters there).
   */
  atMark?: (which: 'start' | 'end') => Promise<void>;
  /** Usernames of subscriber/publisher i; their passwords come from the run's setup. */
  subUser?: (i: number) => string;
  pubUser?: (i: number) => string;
}

function layout(ctx: ScenarioContext, p: Plan): Layout {
  const w = ctx.pool.size;
  const subSpread = spread(p.subCount, w);
  const pubSpread = spread(p.pubCount, w, p.paired ? 0 : 1);
  const share = (idx: number[], worker: number, prefix: string, topic: (i: number) => string, user?: (i: number) => string): Share => {
    const out: Share = { worker, ids: idx.map((i) => `${prefix}-${ctx.tag}-${i}`), topics: idx.map(topic) };
    if (user) {
      const cred = idx.map((i) => ctx.setup ? ctx.setup.credentials(user(i)) : { username: user(i), password: null });
      out.usernames = cred.map((c) => c.username);
      out.passwords = cred.map((c) => c.password);
    }
    return out;
  };
  return {
    subs: subSpread.map((idx, worker) => share(idx, worker, 'bs', p.subTopic, p.subUser)),
    pubs: pubSpread.map((idx, worker) => share(idx, worker, 'bp', p.pubTopic, p.pubUser)),
  };
}

export async function runThroughput(ctx: ScenarioContext, p: Plan): Promise<ScenarioResult> {
  const { pool, broker, opts } = ctx;
  const l = layout(ctx, p);
  const reliable = p.qos > 0;
  // bcrypt: the pairs' CONNECTs queue behind each other's hashes.
  const common = { port: broker.port, clean: true, keepalive: 600, concurrency: 50, timeoutMs: ctx.setup ? 120_000 : 10_000 };
  const subRes = await Promise.all(l.subs.map((s) => pool.workers[s.worker].call<{ connected: number; failed: number; firstError: string | null }>(
    'connect', { ...common, port: subPort(ctx), group: 'sub', ids: s.ids, usernames: s.usernames, passwords: s.passwords, topics: s.topics, qos: p.qos, track: reliable }, 180_000)));
  requireConnected(subRes, 'subscribers');
  await routesReady(ctx, new Set(l.subs.flatMap((s) => s.topics)).size);
  const pubRes = await Promise.all(l.pubs.map((s) => pool.workers[s.worker].call<{ connected: number; failed: number; firstError: string | null }>(
    'connect', { ...common, group: 'pub', ids: s.ids, usernames: s.usernames, passwords: s.passwords }, 180_000)));
  requireConnected(pubRes, 'publishers');
  await sleep(200);

  const maxMs = opts.warmupMs + opts.durationMs + 2000;
  if (p.mode === 'flood') {
    pool.clearRelay();
    pool.watchBroker(broker.pids);
    await pool.all('gate', () => ({ limit: p.inflight ?? 0, fanout: p.fanout, reportMs: 5 }));
  }
  let streamBase = 0;
  await Promise.all(l.pubs.map((s) => {
    const base = streamBase;
    streamBase += s.ids.length;
    return pool.workers[s.worker].call('start', {
      group: 'pub', mode: p.mode, topics: s.topics, qos: p.qos, payload: opts.payload, payloadText: p.payloadText,
      batch: 64, window: p.mode === 'paced' ? 1_000_000 : opts.window, rate: p.rate, maxMs, streamBase: base,
    });
  }));
  await sleep(opts.warmupMs);
  const [m0] = await Promise.all([mark(ctx), p.atMark?.('start')]);
  await sleep(opts.durationMs);
  const [m1] = await Promise.all([mark(ctx), p.atMark?.('end')]);
  await pool.all('stop', () => ({ group: 'pub' }));
  pool.unwatchBroker();
  const gateRes = await pool.all<{ stalls: number }>('gateOff', () => ({}));
  const stalls = gateRes.reduce((n, g) => n + g.stalls, 0);

  const delivered = rate(m0, m1, 'sub', 'received');
  const published = rate(m0, m1, 'pub', 'sent');
  const cpu = brokerCpu(m0, m1);
  const gen = generatorCpu(m0, m1);
  const values: Record<string, number> = {
    msgs: delivered.perSec,
    pubMsgs: published.perSec,
    cpuPerMsg: delivered.count > 0 ? cpu.us / delivered.count : NaN,
    brokerCpu: cpu.pct,
    genCpu: gen,
    ...asideCpu(m0, m1),
  };
  const notes = saturationNote(gen);
  if (stalls > 0) notes.push(`flood gate wrote off ${stalls}× (broker idle, no delivery for 300 ms, ${p.inflight} deliveries outstanding: dropped)`);

  if (reliable) await pool.all('waitIdle', () => ({ group: 'pub', timeoutMs: 10_000 }), 15_000);
  const after = await pool.all<WorkerSnapshot>('snapshot', () => ({}), 10_000);
  const target = sumGroup(after, 'pub').sent * p.fanout;
  const snaps = await drain(ctx, 'sub', target, 1000, 15_000);
  const pub = sumGroup(snaps, 'pub');
  const sub = sumGroup(snaps, 'sub');
  if (reliable) {
    values.lost = pub.sent - sub.unique;
    values.duplicates = sub.duplicates;
    if (pub.inflight > 0) notes.push(`${pub.inflight} messages still unacknowledged after the drain`);
    if (values.lost > 0) notes.push(`LOST ${values.lost} of ${pub.sent} QoS ${p.qos} messages`);
    if (values.duplicates > 0) notes.push(`${values.duplicates} duplicate deliveries${p.qos === 2 ? ' (QoS 2 must be exactly once)' : ''}`);
  } else {
    const expected = pub.sent * p.fanout;
    values.lossPct = expected > 0 ? (Math.max(0, expected - sub.received) / expected) * 100 : NaN;
  }
  if (sub.closed > 0 || pub.closed > 0) notes.push(`${sub.closed + pub.closed} client connections closed during the run${sub.firstError ? ` (${sub.firstError})` : ''}`);
  return { values, notes };
}

export const fanIn: Scenario = {
  name: 'fanin',
  title: 'fan-in QoS 0 (N publishers → 1 wildcard subscriber)',
  crossNode: true,
  metrics: [...THROUGHPUT_METRICS, { key: 'lossPct', label: 'loss %', unit: '%', better: 'lower', digits: 2 }],
  run: (ctx) => runThroughput(ctx, {
    qos: 0, subCount: 1, subTopic: () => 'bench/in/+', pubCount: ctx.opts.fanInPublishers,
    pubTopic: (i) => `bench/in/${i}`, fanout: 1, mode: 'flood', paired: false, inflight: ctx.opts.inflightFanIn,
  }),
};

export const fanOut: Scenario = {
  name: 'fanout',
  title: 'fan-out QoS 0 (1 publisher → N subscribers)',
  crossNode: true,
  metrics: [...THROUGHPUT_METRICS, { key: 'lossPct', label: 'loss %', unit: '%', better: 'lower', digits: 2 }],
  run: (ctx) => runThroughput(ctx, {
    qos: 0, subCount: ctx.opts.fanOutSubscribers, subTopic: () => 'bench/out', pubCount: 1,
    pubTopic: () => 'bench/out', fanout: ctx.opts.fanOutSubscribers, mode: 'flood', paired: false, inflight: ctx.opts.inflightFanOut,
  }),
};

export const RELIABLE_METRICS: MetricDef[] = [
  ...THROUGHPUT_METRICS,
  { key: 'lost', label: 'lost messages', unit: '', better: 'lower', digits: 0 },
  { key: 'duplicates', label: 'duplicates', unit: '', better: 'lower', digits: 0 },
];

function pairs(qos: 1 | 2): Scenario {
  return {
    name: `qos${qos}`,
    title: `QoS ${qos} pairs (publisher → subscriber per topic, fixed window)`,
    crossNode: true,
    metrics: RELIABLE_METRICS,
    run: (ctx) => runThroughput(ctx, {
      qos, subCount: ctx.opts.pairs, subTopic: (i) => `bench/pair/${i}`, pubCount: ctx.opts.pairs,
      pubTopic: (i) => `bench/pair/${i}`, fanout: 1, mode: 'window', paired: true,
    }),
  };
}

export const qos1Pairs = pairs(1);
export const qos2Pairs = pairs(2);
