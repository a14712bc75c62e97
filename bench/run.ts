/**
 * `make bench`: Petrel against Aedes and Mosquitto in one run.
 *
 * For each scenario, for each repetition, each broker in turn (A B C A B C …) is started fresh
 * on a free loopback port, the scenario runs against it with the load generator's worker
 * processes, and the broker is stopped. A broker that fails to start or to answer is recorded as
 * "failed" for that run and the benchmark goes on. Prints a table (median [min–max] per broker,
 * ratio Petrel/peer per repetition) and writes bench/results/<date>-<commit>.json and
 * bench/results/latest.md.
 *
 * With --baseline DIR (a built checkout of an earlier commit, see scripts/bench-baseline.sh) a
 * fourth broker, petrel-baseline, runs from DIR exactly as Petrel runs from here, in the same
 * rotation (the two swap places on even repetitions), and the table gains the ratio
 * petrel/petrel-baseline: a before/after in one run.
 *
 * With --brokers …,petrel-cluster, two Petrel nodes over etcd run the scenarios that support it
 * (fan-in, fan-out, QoS 1/2, latency) with publishers on one node and subscribers on the other,
 * in the same rotation as Petrel (the two swap places on even repetitions); the table gains the
 * column petrel-cluster vs petrel (ratio per repetition, difference for latencies) and the
 * cluster's targets are checked (CPU per message at most 2×, p99 at most 1 ms more).
 *
 * With --only access (opt-in, never in the default run), Petrel alone runs once per access
 * setup (open, built-in sha256, built-in bcrypt, JWT, a 1,000-rule ACL file; see
 * bench/scenarios/access.ts), the setups interleaved in every repetition; the table gives each
 * setup's ratio to the open broker and the ≤ 10 % target lines.
 *
 * With --only gateways,handshake (opt-in), Petrel alone runs once per gateway path (MQTT-SN,
 * CoAP, OCPP, MQTT over QUIC, and plain MQTT over TCP as the reference) and once per transport
 * for the connection set-up time (TCP, TLS, QUIC); bench/scenarios/gateways.ts, handshake.ts.
 *
 * With --only rules (opt-in), Petrel alone runs once per rule setup (no rules, a WHERE rule true
 * with republish, false, a rule on other topics; bench/scenarios/rules.ts) on a fan-in flood of
 * JSON (or at one paced rate, --rules-rate); the target lines give the broker CPU µs per message
 * each setup adds to the plain broker. Its sink setups (a rule inserting into a real PostgreSQL,
 * producing to a real Kafka) run paced at --sink-rate against plain-paced, and report the sink's
 * own rate, buffer and drops.
 *
 *   node dist/bench/run.js [--reps 3] [--duration 5] [--warmup 1] [--only fanin,latency]
 *                          [--brokers petrel,mosquitto] [--workers 2] [--quick] [--help]
 *                          [--baseline DIR]
 */
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { Pool } from './gen/pool.js';
import {
  launchBroker, killBrokers, snapshotPetrel, deepMerge, removePetrelSnapshot, prepareBaseline, repetitionOrder, BROKERS, ALL_BROKERS, BASELINE, CLUSTER,
  type BrokerName, type BrokerHandle, type Baseline, type LaunchOptions,
} from './brokers/launch.js';
import { launchCluster } from './brokers/cluster.js';
import { launchRelay, RELAY } from './brokers/relay.js';
import { launchWorkers, WORKERS } from './brokers/workers.js';
import { SCENARIOS, DEFAULT_SCENARIOS } from './scenarios/index.js';
import type { RunOptions, Scenario, Setup, SetupPlan } from './scenarios/common.js';
import { summarizeScenario, renderText, renderMarkdown, type RunRecord, type BenchReport } from './report.js';
import { summarizeSetups, setupOrder } from './report-setups.js';
import { SETUP_NAMES } from './access/setups.js';
import { machineInfo, gitCommit } from './lib/machine.js';
import { parsePin, pinProcesses, type Pinning } from './lib/pin.js';
import { repoRoot } from './lib/repo.js';

const USAGE = `usage: node dist/bench/run.js [options]
  --reps N              repetitions per scenario and broker (default 3)
  --duration S          measured seconds per throughput/latency run (default 5)
  --warmup S            warm-up seconds before measuring (default 1)
  --only a,b            scenarios: ${SCENARIOS.map((s) => s.name).join(',')}
                        (default: all but ${SCENARIOS.filter((s) => s.optIn).map((s) => s.name).join(',')})
  --brokers a,b         brokers: ${ALL_BROKERS.join(',')} (default: ${BROKERS.join(',')},
                        and petrel-baseline with --baseline); petrel-cluster = two Petrel
                        nodes over etcd, publishers on one, subscribers on the other (runs
                        ${SCENARIOS.filter((s) => s.crossNode).map((s) => s.name).join(',')} only); petrel-relay = one Petrel
                        node with a bare TCP relay process in front of its subscribers (the
                        same scenarios): the cost of an extra process hop that does nothing;
                        petrel-workers = one Petrel node of --node-workers processes over
                        etcd (node.workers), every client on its one port
  --baseline DIR        also run petrel-baseline: Petrel from DIR, a built checkout of an
                        earlier commit (scripts/bench-baseline.sh REF makes one), started as
                        Petrel is; adds the ratio petrel/petrel-baseline (never replaces latest.md)
  --workers N           load-generator worker processes (default 2)
  --node-workers N      petrel-workers: the node's broker processes (default 2)
  --publishers N        fan-in publishers (default 50)
  --subscribers N       fan-out subscribers (default 100)
  --pairs N             QoS 1/2 pairs (default 20)
  --window N            in-flight window per QoS 1/2 publisher (default 10)
  --inflight N          QoS 0 floods: most deliveries outstanding (default 10000 fan-in,
                        20000 fan-out; 0 = open loop)
  --rate N              latency scenario msg/s (default 5000)
  --connections N       idle connections (default 19000)
  --connect-concurrency N  CONNECTs in flight per worker (default 100)
  --retained N          retained topics (default 10000)
  --persist-clients N   persistent-session clients (default 1000)
  --persist-burst N     messages queued per persistent client (default 100)
  --payload BYTES       payload size (default 64)
  --access-connections N   access: clients of the connect phase (default 5000)
  --bcrypt-connections N   access: the same with bcrypt, a hash per connect (default 200)
  --acl-rules N         access: rules in the generated acl.conf (default 1000)
  --rules-rate N        rules: total msg/s the publishers send, the same for every setup
                        (default 0 = flood, each setup at its highest rate)
  --sink-rate N         rules: total msg/s of the pgsql-sink and kafka-sink setups and of
                        their reference plain-paced (default 20000)
  --sink-batch-time D   rules: the sink actions' resource_opts.batch_time (default 0ms, as EMQX)
  --gw-devices N        gateways: devices per path (default 20)
  --gw-rate N           gateways: total msg/s of the paced (latency) phase (default 2000)
  --gw-window N         gateways: messages in flight per device, end to end (default 20)
  --gw-quic-rate N      gateways: the paced rate of quic-qos1, at most --gw-rate (default 200:
                        MQTT over QUIC does not carry 2,000 msg/s here)
  --handshakes N        handshake: timed connections per setup (default 200)
  --setups a,b          access: setups besides open: ${SETUP_NAMES.filter((n) => n !== 'open').join(',')} (default all)
  --petrel-config FILE  YAML merged over the generated Petrel config
  --petrel-node-args "A B"  node options for Petrel, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  --pin GEN/BROKER      CPU lists for taskset: the generator (coordinator and workers) on GEN,
                        every broker-side process (nodes, etcd, relay) on BROKER, e.g. 0/1
  --quick               1 rep, 1 s runs, 2,000 connections (access: 1,000, bcrypt 50): a smoke
                        run (never replaces latest.md)
  --no-save             print only; write no result files
`;

interface Cli {
  reps: number;
  only: string[];
  brokers: BrokerName[];
  save: boolean;
  quick: boolean;
  petrelExtra: Record<string, unknown>;
  petrelNodeArgs: string[];
  petrelMain?: string;
  baselineDir?: string;
  baseline?: Baseline;
  pin?: Pinning;
  /** petrel-workers: node.workers. */
  nodeWorkers: number;
  /** --brokers was given (else the default set, plus petrel-baseline with --baseline). */
  brokersGiven: boolean;
  opts: RunOptions;
}

function parseArgs(argv: string[]): Cli {
  const opts: RunOptions = {
    warmupMs: 1000, durationMs: 5000, payload: 64, workers: 2, fanInPublishers: 50, fanOutSubscribers: 100,
    pairs: 20, window: 10, inflightFanIn: 10_000, inflightFanOut: 20_000, latencyRate: 5000, connections: 19_000, connectConcurrency: 100, retained: 10_000,
    persistClients: 1000, persistBurst: 100, accessConnections: 5000, bcryptConnections: 200, aclRules: 1000, rulesRate: 0, sinkRate: 20_000, sinkBatchTime: '0ms', accessSetups: [...SETUP_NAMES],
    gwDevices: 20, gwRate: 2000, gwWindow: 20, gwQuicRate: 200, handshakes: 200,
  };
  const cli: Cli = { reps: 3, only: DEFAULT_SCENARIOS.map((s) => s.name), brokers: [...BROKERS], brokersGiven: false, nodeWorkers: 2, save: true, quick: false, petrelExtra: {}, petrelNodeArgs: [], opts };
  const num = (v: string | undefined, name: string): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--help': case '-h': process.stdout.write(USAGE); process.exit(0); break;
      case '--reps': cli.reps = Math.round(num(v, a)); i++; break;
      case '--duration': opts.durationMs = num(v, a) * 1000; i++; break;
      case '--warmup': opts.warmupMs = Number(v) * 1000; i++; break;
      case '--only': {
        cli.only = (v ?? '').split(',').filter(Boolean); i++;
        const bad = cli.only.filter((s) => !SCENARIOS.some((x) => x.name === s));
        if (bad.length) throw new Error(`unknown scenario(s): ${bad.join(',')}`);
        break;
      }
      case '--brokers': {
        const list = (v ?? '').split(',').filter(Boolean); i++;
        const bad = list.filter((b) => !(ALL_BROKERS as string[]).includes(b));
        if (bad.length || list.length === 0) throw new Error(`unknown broker(s): ${bad.join(',')}`);
        cli.brokers = ALL_BROKERS.filter((b) => list.includes(b));
        cli.brokersGiven = true;
        break;
      }
      case '--baseline':
        if (!v) throw new Error('--baseline needs a directory (a built checkout; see scripts/bench-baseline.sh)');
        cli.baselineDir = v; i++;
        break;
      case '--workers': opts.workers = Math.round(num(v, a)); i++; break;
      case '--node-workers': cli.nodeWorkers = Math.round(num(v, a)); i++; break;
      case '--publishers': opts.fanInPublishers = Math.round(num(v, a)); i++; break;
      case '--subscribers': opts.fanOutSubscribers = Math.round(num(v, a)); i++; break;
      case '--pairs': opts.pairs = Math.round(num(v, a)); i++; break;
      case '--window': opts.window = Math.round(num(v, a)); i++; break;
      case '--inflight': opts.inflightFanIn = opts.inflightFanOut = Math.max(0, Math.round(Number(v) || 0)); i++; break;
      case '--connect-concurrency': opts.connectConcurrency = Math.round(num(v, a)); i++; break;
      case '--rate': opts.latencyRate = num(v, a); i++; break;
      case '--connections': opts.connections = Math.round(num(v, a)); i++; break;
      case '--retained': opts.retained = Math.round(num(v, a)); i++; break;
      case '--persist-clients': opts.persistClients = Math.round(num(v, a)); i++; break;
      case '--persist-burst': opts.persistBurst = Math.round(num(v, a)); i++; break;
      case '--payload': opts.payload = Math.max(16, Math.round(num(v, a))); i++; break;
      case '--access-connections': opts.accessConnections = Math.round(num(v, a)); i++; break;
      case '--bcrypt-connections': opts.bcryptConnections = Math.round(num(v, a)); i++; break;
      case '--acl-rules': opts.aclRules = Math.max(6, Math.round(num(v, a))); i++; break;
      case '--rules-rate': opts.rulesRate = v === '0' ? 0 : num(v, a); i++; break;
      case '--sink-rate': opts.sinkRate = num(v, a); i++; break;
      case '--sink-batch-time':
        if (!/^\d+(ms|s)$/.test(v ?? '')) throw new Error(`${a} needs a duration such as 0ms, 10ms or 1s, got ${JSON.stringify(v)}`);
        opts.sinkBatchTime = v!; i++;
        break;
      case '--gw-devices': opts.gwDevices = Math.round(num(v, a)); i++; break;
      case '--gw-rate': opts.gwRate = num(v, a); i++; break;
      case '--gw-window': opts.gwWindow = Math.round(num(v, a)); i++; break;
      case '--gw-quic-rate': opts.gwQuicRate = num(v, a); i++; break;
      case '--handshakes': opts.handshakes = Math.round(num(v, a)); i++; break;
      case '--setups': {
        opts.accessSetups = (v ?? '').split(',').filter(Boolean); i++;
        const bad = opts.accessSetups.filter((x) => !(SETUP_NAMES as readonly string[]).includes(x));
        if (bad.length) throw new Error(`unknown setup(s): ${bad.join(',')} (known: ${SETUP_NAMES.join(',')})`);
        break;
      }
      case '--petrel-config': cli.petrelExtra = (yaml.load(readFileSync(String(v), 'utf8')) ?? {}) as Record<string, unknown>; i++; break;
      case '--petrel-node-args': cli.petrelNodeArgs = String(v ?? '').split(' ').filter(Boolean); i++; break;
      case '--quick':
        cli.quick = true;
        cli.reps = 1; opts.durationMs = 1000; opts.warmupMs = 500; opts.connections = 2000; opts.retained = 2000;
        opts.persistClients = 200; opts.persistBurst = 20; opts.accessConnections = 1000; opts.bcryptConnections = 50; opts.handshakes = 50;
        break;
      case '--pin': cli.pin = parsePin(String(v ?? '')); i++; break;
      case '--no-save': cli.save = false; break;
      default: throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  if (cli.baselineDir) {
    if (!cli.brokersGiven) cli.brokers = [...ALL_BROKERS];
    else if (!cli.brokers.includes(BASELINE)) throw new Error('--baseline given but --brokers leaves out petrel-baseline');
  } else if (cli.brokers.includes(BASELINE)) {
    throw new Error('petrel-baseline needs --baseline DIR');
  }
  // Each worker process is limited to 20,000 open files here: keep every share well under it.
  const perWorker = Math.ceil(Math.max(opts.connections, opts.accessConnections) / opts.workers);
  if (perWorker > 19_500) throw new Error(`${opts.connections} connections over ${opts.workers} workers exceeds the per-process file limit; add --workers`);
  return cli;
}

const log = (s: string) => process.stderr.write(`${s}\n`);

/** Upper bound on one scenario run, so a broker that stops answering cannot hang the benchmark. */
function runBudgetMs(opts: RunOptions): number {
  // + 4 ms per client of the connection scenarios: a storm of 100,000 over etcd connects twice at < 1,000/s
  return 120_000 + 3 * (opts.warmupMs + opts.durationMs) + 4 * opts.connections;
}

/** The broker of the run in progress: stopped on SIGINT/SIGTERM (a cluster is three processes). */
let running: BrokerHandle | null = null;

async function runOnce(sc: Scenario, broker: BrokerName, rep: number, pool: Pool, cli: Cli, setup?: Setup): Promise<RunRecord> {
  const t0 = performance.now();
  let handle: BrokerHandle | null = null;
  const rec: RunRecord = { rep, broker, ok: false, seconds: 0 };
  if (setup) rec.setup = setup.name;
  try {
    await pool.reset();
    const launch: LaunchOptions = {
      readyTimeoutMs: 15_000, petrelNodeArgs: cli.petrelNodeArgs, petrelMain: cli.petrelMain, baseline: cli.baseline,
      // --petrel-config still wins over the setup's keys (e.g. to try the ACL with the cache off).
      petrelExtra: setup ? deepMerge(setup.petrel, cli.petrelExtra) : cli.petrelExtra, probe: setup?.probe,
    };
    handle = broker === CLUSTER ? await launchCluster(launch) : broker === RELAY ? await launchRelay(launch)
      : broker === WORKERS ? await launchWorkers(launch, cli.nodeWorkers) : await launchBroker(broker, launch);
    running = handle;
    if (cli.pin) {
      pinProcesses([process.pid, ...pool.workers.map((w) => w.pid)], cli.pin.gen);
      pinProcesses([...handle.pids, ...Object.values(handle.aside ?? {})], cli.pin.broker);
    }
    const tag = `${rep}${broker === BASELINE ? 'B' : broker === CLUSTER ? 'C' : broker === RELAY ? 'R' : broker === WORKERS ? 'W' : broker[0]}${Math.random().toString(36).slice(2, 7)}`;
    let timer: NodeJS.Timeout | undefined;
    const budget = runBudgetMs(cli.opts);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`scenario did not finish within ${budget / 1000} s`)), budget);
    });
    try {
      const res = await Promise.race([sc.run({ pool, broker: handle, opts: cli.opts, tag, setup }), timeout]);
      rec.ok = true;
      rec.values = res.values;
      rec.notes = res.notes;
      if (handle.exited()) { rec.notes.push('broker exited during the run'); }
      rec.notes.push(...(await dropNotes(handle)));
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    rec.error = (e as Error).message;
    if (handle?.exited()) rec.error += ` (broker exited; output: ${handle.output().trim().slice(-300)})`;
    // One line, bounded: the reason goes into a table note.
    rec.error = rec.error.replace(/\s*\n\s*/g, ' | ').slice(0, 500);
  } finally {
    await pool.reset().catch(() => undefined);
    await handle?.stop();
    running = null;
    rec.seconds = (performance.now() - t0) / 1000;
  }
  return rec;
}

/** What the broker itself counted as dropped deliveries (where the handle reads its counters). */
async function dropNotes(handle: BrokerHandle): Promise<string[]> {
  if (!handle.counters) return [];
  try {
    const c = await handle.counters();
    const out: string[] = [];
    const dropped = c.delivery_dropped ?? 0;
    if (dropped > 0) {
      const why = Object.entries(c).filter(([k, v]) => k.startsWith('delivery_dropped_') && v > 0).map(([k, v]) => `${k.slice('delivery_dropped_'.length)} ${v}`);
      out.push(`the broker dropped ${dropped} deliveries (${why.join(', ') || 'no reason counted'})`);
    }
    // The node link's own drops (peer down, or cluster.link.max_pending reached).
    if ((c.cluster_link_dropped ?? 0) > 0) out.push(`the node link dropped ${c.cluster_link_dropped} messages`);
    return out;
  } catch (e) {
    return [`broker counters not read: ${(e as Error).message}`];
  }
}

function brief(sc: Scenario, rec: RunRecord): string {
  if (!rec.ok) return `FAILED: ${rec.error}`;
  return sc.metrics.slice(0, 3).map((m) => `${m.label} ${Number(rec.values?.[m.key]).toFixed(m.digits)}`).join(', ') +
    (rec.notes?.length ? ` [${rec.notes.join('; ')}]` : '');
}

async function main(): Promise<void> {
  const cli = parseArgs(process.argv.slice(2));
  const scenarios = SCENARIOS.filter((s) => cli.only.includes(s.name));
  const started = new Date();
  if (cli.baselineDir) {
    // Unlike a missing build of this checkout, a bad --baseline stops the run before it starts
    // (and before Petrel's snapshot exists, so nothing is left behind).
    cli.baseline = await prepareBaseline(cli.baselineDir);
    log(`bench: petrel-baseline = ${cli.baseline.commit} from ${cli.baseline.dir} (node options ${cli.baseline.nodeFlags.join(' ') || 'none'}, ` +
      `from ${cli.baseline.nodeFlagsFrom === 'baseline' ? "the baseline's" : "this checkout's"} runtime.ts)`);
  }
  if (cli.brokers.includes('petrel') || cli.brokers.includes(CLUSTER) || cli.brokers.includes(WORKERS)) {
    try {
      cli.petrelMain = snapshotPetrel();
    } catch (e) {
      log(`bench: ${(e as Error).message}; Petrel runs will fail`);
    }
  }
  const pool = new Pool(cli.opts.workers);
  const report: BenchReport = {
    date: started.toISOString(),
    commit: gitCommit(),
    machine: machineInfo(),
    options: { reps: cli.reps, brokers: cli.brokers, scenarios: cli.only, ...cli.opts, ...(cli.pin ? { pin: `${cli.pin.gen}/${cli.pin.broker}` } : {}) },
    brokers: cli.brokers,
    scenarios: [],
  };
  if (cli.baseline) {
    const b = cli.baseline;
    report.baseline = { commit: b.commit, dir: b.dir, nodeFlags: [...b.nodeFlags], nodeFlagsFrom: b.nodeFlagsFrom };
  }
  let plan: SetupPlan | null = null;
  const removeSnapshots = async () => {
    if (cli.petrelMain) removePetrelSnapshot(cli.petrelMain);
    if (cli.baseline) removePetrelSnapshot(cli.baseline.main);
    const p = plan;
    plan = null;
    await p?.dispose();
  };
  const stopAll = () => {
    Promise.allSettled([removeSnapshots(), running?.stop(), pool.close()]).finally(() => { killBrokers(); process.exit(130); });
  };
  process.once('exit', killBrokers);
  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);
  try {
    for (const sc of scenarios) {
      const runs: RunRecord[] = [];
      if (sc.setups) {
        const skipped = cli.brokers.filter((b) => b !== 'petrel');
        if (skipped.length) log(`${sc.name}: Petrel only, ${skipped.join(', ')} skipped`);
        if (!cli.brokers.includes('petrel')) continue;
        log(`${sc.name}: preparing the setups${sc.name === 'access' ? ' (users files, tokens, acl.conf)' : sc.name === 'rules' ? ' (PostgreSQL and Kafka for the sinks)' : ''}`);
        plan = await sc.setups(cli.opts);
        for (let rep = 1; rep <= cli.reps; rep++) {
          for (const setup of setupOrder(plan.setups, rep)) {
            const rec = await runOnce(sc, 'petrel', rep, pool, cli, setup);
            runs.push(rec);
            log(`${sc.name} rep ${rep} petrel/${setup.name} (${rec.seconds.toFixed(1)} s): ${brief(sc, rec)}`);
          }
        }
        report.scenarios.push(summarizeSetups(sc.name, sc.title, sc.metrics, runs, plan));
        const done = plan;
        plan = null;
        await done.dispose();
        continue;
      }
      if (!sc.crossNode && cli.brokers.includes(CLUSTER)) log(`${sc.name}: not a cross-node scenario, ${CLUSTER} skipped`);
      for (let rep = 1; rep <= cli.reps; rep++) {
        for (const b of repetitionOrder(cli.brokers, rep)) {
          if ((b === CLUSTER || b === RELAY) && !sc.crossNode) continue;
          const rec = await runOnce(sc, b, rep, pool, cli);
          runs.push(rec);
          log(`${sc.name} rep ${rep} ${b} (${rec.seconds.toFixed(1)} s): ${brief(sc, rec)}`);
        }
      }
      report.scenarios.push(summarizeScenario(sc.name, sc.title, sc.metrics, runs, cli.brokers));
    }
  } finally {
    await pool.close();
    await removeSnapshots();
  }
  process.stdout.write(`\n${renderText(report)}\n`);
  if (cli.save) {
    const dir = join(repoRoot(), 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    // Only a complete, default-sized run of the default brokers replaces the published table; a
    // run with a baseline or with the cluster is a comparison and keeps its own Markdown next to
    // its JSON.
    const complete = DEFAULT_SCENARIOS.every((s) => scenarios.includes(s)) && !cli.quick;
    const withSetups = report.scenarios.some((s) => s.setups !== undefined);
    const full = complete && !cli.baseline && cli.brokers.length === BROKERS.length && !cli.brokers.includes(CLUSTER) && !cli.brokers.includes(WORKERS) && !withSetups;
    const comparison = report.baseline !== undefined || cli.brokers.includes(CLUSTER) || cli.brokers.includes(WORKERS) || withSetups;
    const day = report.date.slice(0, 10);
    const time = report.date.slice(11, 19).replace(/:/g, '');
    let name: string;
    if (report.baseline) {
      name = `${day}-${report.commit}-baseline-${report.baseline.commit}${complete ? '' : '-partial'}-${time}.json`;
    } else if (cli.brokers.includes(CLUSTER)) {
      name = `${day}-${report.commit}-cluster${cli.quick ? '-quick' : ''}-${time}.json`;
    } else if (cli.brokers.includes(WORKERS)) {
      name = `${day}-${report.commit}-workers${cli.quick ? '-quick' : ''}-${time}.json`;
    } else if (withSetups) {
      const which = report.scenarios.filter((x) => x.setups !== undefined).map((x) => x.name).join('+');
      name = `${day}-${report.commit}-${which}${cli.quick ? '-quick' : ''}-${time}.json`;
    } else {
      name = full ? `${day}-${report.commit}.json` : `${day}-${report.commit}-partial-${time}.json`;
    }
    writeFileSync(join(dir, name), JSON.stringify(report, null, 2) + '\n');
    log(`results: bench/results/${name}`);
    if (comparison) {
      const md = name.replace(/\.json$/, '.md');
      writeFileSync(join(dir, md), renderMarkdown(report));
      log(`table: bench/results/${md}`);
    } else if (full) {
      writeFileSync(join(dir, 'latest.md'), renderMarkdown(report));
      log('table: bench/results/latest.md');
    }
  }
}

main().catch((e) => {
  log(`bench: ${(e as Error).message}`);
  process.exit(1);
});
