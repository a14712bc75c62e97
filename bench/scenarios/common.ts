/**
 * What every scenario shares: the options of a run, the metric definitions, the context a
 * scenario runs in (worker pool + a freshly started broker), and the measurement helpers
 * (snapshots of all workers, broker /proc samples, drain waits).
 */
import type { Pool } from '../gen/pool.js';
import type { BrokerHandle } from '../brokers/launch.js';
import { sampleProcess, sampleProcesses, type ProcSample } from '../lib/proc-stat.js';
import type { Credentials } from '../lib/packets.js';

export interface RunOptions {
  warmupMs: number;
  durationMs: number;
  payload: number;
  workers: number;
  fanInPublishers: number;
  fanOutSubscribers: number;
  pairs: number;
  window: number;
  /** QoS 0 floods: most deliveries the broker may owe (sent × fanout − received); 0 = open loop. */
  inflightFanIn: number;
  inflightFanOut: number;
  latencyRate: number;
  connections: number;
  connectConcurrency: number;
  retained: number;
  persistClients: number;
  persistBurst: number;
  /** Access scenario: clients of the connect phase, and of it with bcrypt (each connect costs a hash). */
  accessConnections: number;
  bcryptConnections: number;
  /** Access scenario: rules in the generated acl.conf, and the setups run besides `open`. */
  aclRules: number;
  /** Rules scenario: total msg/s of its paced publishers; 0 = flood. */
  rulesRate: number;
  /** Rules scenario: total msg/s of the publishers in the sink setups (and their plain reference). */
  sinkRate: number;
  /** Rules scenario: the sink actions' resource_opts.batch_time (EMQX's default 0ms). */
  sinkBatchTime: string;
  accessSetups: string[];
  /** Gateways scenario: devices per path, the paced phase's total msg/s, messages in flight per device. */
  gwDevices: number;
  gwRate: number;
  gwWindow: number;
  /** Gateways scenario: the paced rate of MQTT over QUIC, which does not carry --gw-rate here. */
  gwQuicRate: number;
  /** Handshake scenario: timed connections per setup. */
  handshakes: number;
}

export interface MetricDef {
  key: string;
  label: string;
  unit: string;
  /** Which direction is better; 'none' = informative, no ratio judged. */
  better: 'higher' | 'lower' | 'none';
  /** Decimal places in the table. */
  digits: number;
}

export interface ScenarioResult {
  values: Record<string, number>;
  notes: string[];
}

export interface ScenarioContext {
  pool: Pool;
  broker: BrokerHandle;
  opts: RunOptions;
  /** Unique per scenario run: client ids never collide between runs. */
  tag: string;
  /** The broker configuration this run measures (scenarios with `setups` only). */
  setup?: Setup;
}

/**
 * One configuration of Petrel that a scenario with setups measures against the others in the
 * same run (e.g. open, or with authentication). The clients' credentials belong to it.
 */
export interface Setup {
  name: string;
  /** YAML merged over the generated Petrel config (and under --petrel-config). */
  petrel: Record<string, unknown>;
  /** What the client with this username sends in CONNECT. */
  credentials(username: string): Credentials;
  /** What the launcher's readiness probe sends. */
  probe: Credentials;
  /** CONNECTs that must be refused (a wrong password): else the setup is not what it says. */
  mustRefuse: Credentials[];
  /** Filters the probe user must be refused (an ACL in force). */
  mustDenySubscribe: string[];
}

/** The setups of one benchmark run, made once (files, tokens) and removed at the end. */
export interface SetupPlan {
  setups: Setup[];
  /** The setup every other is divided by. */
  reference: string;
  /**
   * Setups compared with another reference than `reference` (one that ran under the same load,
   * e.g. paced at the sinks' rate), by setup name; a setup that is its own reference gets no
   * ratio columns.
   */
  referenceOf?: Record<string, string>;
  /** Lines judged or reported below the table. */
  targets: SetupTarget[];
  /** Removes what the plan made (files; services it started, hence a promise). */
  dispose(): void | Promise<void>;
}

/**
 * A line below a setups table: the median of the per-repetition ratios setup/reference of one
 * metric, judged against `minRatio` when given (a higher-is-better metric), else only reported
 * with `why`, plus the medians of the `show` metrics for both sides.
 */
export interface SetupTarget {
  metric: string;
  setups: string[];
  minRatio?: number;
  /**
   * The per-repetition difference setup − reference of the metric (its median), judged against
   * this bound: the rules scenario's broker CPU µs per message evaluated.
   */
  maxDelta?: number;
  /** Report the median difference setup − reference without judging it (a rate line). */
  delta?: boolean;
  why?: string;
  show?: string[];
}

export interface Scenario {
  name: string;
  title: string;
  /**
   * Publishers connect to `broker.port`, subscribers to `broker.subPort ?? broker.port`, and the
   * scenario waits for `broker.routesReady` after subscribing: it runs on petrel-cluster (others
   * are skipped there).
   */
  crossNode?: boolean;
  metrics: MetricDef[];
  /** Not in the default run: only with --only. */
  optIn?: boolean;
  /**
   * Runs once per setup on Petrel only (other brokers skipped), the setups interleaved in every
   * repetition; the report gives each setup's ratio to the reference.
   */
  setups?(opts: RunOptions): Promise<SetupPlan>;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

export interface GroupStats {
  clients: number;
  sent: number;
  acked: number;
  received: number;
  retained: number;
  inflight: number;
  closed: number;
  errors: number;
  firstError: string | null;
  unique: number;
  duplicates: number;
}

export interface WorkerSnapshot {
  wall: number;
  cpuUs: number;
  groups: Record<string, GroupStats>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function emptyStats(): GroupStats {
  return { clients: 0, sent: 0, acked: 0, received: 0, retained: 0, inflight: 0, closed: 0, errors: 0, firstError: null, unique: 0, duplicates: 0 };
}

/** Sum one group's counters over all workers. */
export function sumGroup(snaps: WorkerSnapshot[], name: string): GroupStats {
  const t = emptyStats();
  for (const s of snaps) {
    const g = s.groups[name];
    if (!g) continue;
    t.clients += g.clients; t.sent += g.sent; t.acked += g.acked; t.received += g.received;
    t.retained += g.retained; t.inflight += g.inflight; t.closed += g.closed; t.errors += g.errors;
    t.unique += g.unique; t.duplicates += g.duplicates;
    t.firstError ??= g.firstError;
  }
  return t;
}

export interface Mark {
  snaps: WorkerSnapshot[];
  /** Every process of the broker (both nodes of a cluster), summed. */
  broker: ProcSample;
  /** The processes measured apart (etcd), by name. */
  aside: Record<string, ProcSample>;
}

/** CPU and memory of the broker under test: all its processes (both nodes of a cluster). */
export function sampleBroker(broker: BrokerHandle): ProcSample {
  return sampleProcesses(broker.pids);
}

export async function mark(ctx: ScenarioContext): Promise<Mark> {
  const [snaps, broker] = await Promise.all([
    ctx.pool.all<WorkerSnapshot>('snapshot', () => ({}), 10_000),
    Promise.resolve(sampleBroker(ctx.broker)),
  ]);
  const aside: Record<string, ProcSample> = {};
  for (const [name, pid] of Object.entries(ctx.broker.aside ?? {})) aside[name] = sampleProcess(pid);
  return { snaps, broker, aside };
}

/** Rate of a group counter over [a, b], summed per worker with each worker's own clock. */
export function rate(a: Mark, b: Mark, group: string, field: 'received' | 'sent' | 'acked'): { perSec: number; count: number } {
  let perSec = 0;
  let count = 0;
  for (let i = 0; i < b.snaps.length; i++) {
    const g1 = b.snaps[i].groups[group];
    const g0 = a.snaps[i]?.groups[group];
    if (!g1 || !g0) continue;
    const d = g1[field] - g0[field];
    const dt = (b.snaps[i].wall - a.snaps[i].wall) / 1000;
    count += d;
    if (dt > 0) perSec += d / dt;
  }
  return { perSec, count };
}

/** Highest CPU use of any generator worker over [a, b], in % of one core. */
export function generatorCpu(a: Mark, b: Mark): number {
  let max = 0;
  for (let i = 0; i < b.snaps.length; i++) {
    const dt = (b.snaps[i].wall - a.snaps[i].wall) * 1000;
    if (dt > 0) max = Math.max(max, ((b.snaps[i].cpuUs - a.snaps[i].cpuUs) / dt) * 100);
  }
  return max;
}

/** Broker CPU over [a, b]: total µs and % of one core. */
export function brokerCpu(a: Mark, b: Mark): { us: number; pct: number } {
  const us = b.broker.cpuUs - a.broker.cpuUs;
  const dt = (b.broker.at - a.broker.at) * 1000;
  return { us, pct: dt > 0 ? (us / dt) * 100 : NaN };
}

/** CPU of the processes measured apart from the broker (etcd) over [a, b]: `<name>Cpu` in % of one core. */
export function asideCpu(a: Mark, b: Mark): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, s1] of Object.entries(b.aside)) {
    const s0 = a.aside[name];
    const dt = s0 ? (s1.at - s0.at) * 1000 : 0;
    if (dt > 0) out[`${name}Cpu`] = ((s1.cpuUs - s0.cpuUs) / dt) * 100;
  }
  return out;
}

/** The informative row for etcd's CPU (petrel-cluster only; '–' for single brokers). */
export const ETCD_CPU_METRIC: MetricDef = { key: 'etcdCpu', label: 'etcd CPU % (cluster)', unit: '%', better: 'none', digits: 1 };

/** The informative rows for each worker's CPU (petrel-workers only), in % of one core. */
export const WORKER_CPU_METRICS: MetricDef[] = [1, 2].map((i) => ({ key: `w${i}Cpu`, label: `worker ${i} CPU % (workers)`, unit: '%', better: 'none', digits: 1 }));

/** Where subscribers connect: the other node of a cluster, else the broker's one port. */
export function subPort(ctx: ScenarioContext): number {
  return ctx.broker.subPort ?? ctx.broker.port;
}

/** After subscribing `filters` distinct filters: wait until the publishers' node routes them (cluster). */
export async function routesReady(ctx: ScenarioContext, filters: number): Promise<void> {
  await ctx.broker.routesReady?.(filters, 15_000);
}

/**
 * Poll until the group's `received` reaches `target` or stops growing for `quietMs`; bounded by
 * `timeoutMs`. Returns the last snapshot set.
 */
export async function drain(ctx: ScenarioContext, group: string, target: number, quietMs: number, timeoutMs: number): Promise<WorkerSnapshot[]> {
  const deadline = performance.now() + timeoutMs;
  let last = -1;
  let lastChange = performance.now();
  let snaps: WorkerSnapshot[] = [];
  for (let i = 0; i < 10_000; i++) {
    snaps = await ctx.pool.all<WorkerSnapshot>('snapshot', () => ({}), 10_000);
    const r = sumGroup(snaps, group).received;
    const now = performance.now();
    if (r !== last) { last = r; lastChange = now; }
    if (r >= target || now - lastChange >= quietMs || now >= deadline) break;
    await sleep(100);
  }
  return snaps;
}

/** A note when a generator worker ran near a full core: the figures may be the generator's. */
export function saturationNote(genCpuPct: number): string[] {
  return genCpuPct >= 90 ? [`generator worker at ${genCpuPct.toFixed(0)}% CPU: may be generator-bound`] : [];
}

/** Throw if clients failed to connect; the scenario then counts as failed. */
export function requireConnected(results: { connected: number; failed: number; firstError: string | null }[], what: string): void {
  const failed = results.reduce((s, r) => s + r.failed, 0);
  if (failed > 0) {
    const first = results.find((r) => r.firstError)?.firstError;
    throw new Error(`${failed} ${what} failed to connect/subscribe: ${first}`);
  }
}
