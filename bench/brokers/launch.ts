/**
 * Starting and stopping the brokers under test, each as a child process on a free loopback port
 * with its own temporary directory:
 *   - aedes:     bench/brokers/aedes-server.js (npm aedes 1.x, in-memory persistence)
 *   - mosquitto: /usr/sbin/mosquitto with a generated config (persistence file in the temp dir)
 *   - petrel:    node dist/broker/src/main.js --config <generated yaml> (defaults, persistence on)
 *   - petrel-baseline (with --baseline DIR): the same, from DIR's build of an earlier commit
 *   - petrel-cluster: two Petrel nodes and one etcd member (./cluster.ts)
 * A broker is ready when it answers CONNECT with CONNACK. Failing to start or to answer throws,
 * with the tail of the broker's output, and the caller reports the scenario as failed.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync, readFileSync, cpSync, openSync, writeSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import net from 'node:net';
import yaml from 'js-yaml';
import { BenchClient } from '../gen/client.js';
import type { Credentials } from '../lib/packets.js';
import { repoRoot } from '../lib/repo.js';
import { NODE_FLAGS } from '../../broker/src/runtime.js';

export type BrokerName = 'aedes' | 'mosquitto' | 'petrel' | 'petrel-cluster' | 'petrel-relay' | 'petrel-workers' | 'petrel-baseline';
/** The brokers of a default run. */
export const BROKERS: BrokerName[] = ['aedes', 'mosquitto', 'petrel'];
/** Every broker the benchmark knows, in run order; petrel-baseline needs --baseline DIR. */
export const ALL_BROKERS: BrokerName[] = ['aedes', 'mosquitto', 'petrel', 'petrel-relay', 'petrel-cluster', 'petrel-workers', 'petrel-baseline'];
export const BASELINE: BrokerName = 'petrel-baseline';
/** Two Petrel nodes over etcd: publishers on one node, subscribers on the other. */
export const CLUSTER: BrokerName = 'petrel-cluster';

/**
 * The order of one repetition: the brokers as listed, except that with both Petrel and the
 * baseline (or, without a baseline, Petrel and petrel-cluster), the two swap places on every even
 * repetition, so that neither always runs right after the other (or after the same peer) and an
 * order effect cannot pass for a code change or for the cost of the cluster.
 */
export function repetitionOrder(brokers: readonly BrokerName[], rep: number): BrokerName[] {
  const order = [...brokers];
  const a = order.indexOf('petrel');
  const b = order.includes(BASELINE) ? order.indexOf(BASELINE) : order.includes(CLUSTER) ? order.indexOf(CLUSTER) : order.indexOf('petrel-workers');
  if (rep % 2 === 0 && a >= 0 && b >= 0) [order[a], order[b]] = [order[b], order[a]];
  return order;
}

export const MOSQUITTO = '/usr/sbin/mosquitto';

/**
 * Petrel runs from a private copy of dist/broker taken when the benchmark starts, so a rebuild of
 * dist/ by someone else during a long run cannot change (or half-break) the broker under test.
 * The copy stays inside dist/ so node_modules still resolves by walking up. `root` is the checkout
 * (this one, or the --baseline checkout); `label` keeps two snapshots of one checkout apart.
 */
export function snapshotPetrel(root: string = repoRoot(), label = ''): string {
  const src = join(root, 'dist', 'broker');
  if (!existsSync(join(src, 'src', 'main.js'))) throw new Error(`${src}/src/main.js not found: build first (npx tsc -p tsconfig.json)`);
  const dest = join(root, 'dist', `.bench-snapshot-${process.pid}${label}`);
  rmSync(dest, { recursive: true, force: true });
  cpSync(src, join(dest, 'broker'), { recursive: true });
  return join(dest, 'broker', 'src', 'main.js');
}

export function removePetrelSnapshot(main: string): void {
  const dir = join(main, '..', '..', '..');
  if (dir.includes('.bench-snapshot-')) rmSync(dir, { recursive: true, force: true });
}

/** The baseline Petrel of a before/after run (--baseline DIR). */
export interface Baseline {
  /** The checkout, absolute. */
  dir: string;
  /** `git -C DIR rev-parse --short HEAD` (with "-dirty" when its tracked files differ), or the build marker's. */
  commit: string;
  /** Entry point: a snapshot of DIR/dist/broker, as for Petrel. */
  main: string;
  /** Node options: NODE_FLAGS of DIR's broker/src/runtime.ts when it has one, else this checkout's. */
  nodeFlags: readonly string[];
  nodeFlagsFrom: 'baseline' | 'current';
}

function git(dir: string, args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

/**
 * The commit of a baseline checkout: its git HEAD when DIR is the top of a git work tree (a
 * `git worktree add`), else the marker scripts/bench-baseline.sh writes into DIR/dist, else
 * "unknown". A directory inside some other repository is not taken for that repository's HEAD.
 */
export function baselineCommit(dir: string): string {
  try {
    if (realpathSync(git(dir, ['rev-parse', '--show-toplevel'])) === realpathSync(dir)) {
      const id = git(dir, ['rev-parse', '--short', 'HEAD']);
      return git(dir, ['status', '--porcelain', '--untracked-files=no']) ? `${id}-dirty` : id;
    }
  } catch {
    // not a git work tree: try the marker
  }
  try {
    return readFileSync(join(dir, 'dist', '.bench-baseline-commit'), 'utf8').trim().slice(0, 7) || 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Prepare the baseline Petrel from DIR (a built checkout of an earlier commit): snapshot its
 * dist/broker, read its Node options from the snapshot's runtime.js (compiled from
 * broker/src/runtime.ts), and name its commit. Throws when DIR has no build.
 */
export async function prepareBaseline(dirArg: string): Promise<Baseline> {
  const dir = resolve(dirArg);
  if (!existsSync(join(dir, 'dist', 'broker', 'src', 'main.js'))) {
    throw new Error(`--baseline ${dir}: dist/broker/src/main.js not found (build it: scripts/bench-baseline.sh REF)`);
  }
  const commit = baselineCommit(dir);
  const main = snapshotPetrel(dir, '-baseline');
  let nodeFlags: readonly string[] = NODE_FLAGS;
  let nodeFlagsFrom: Baseline['nodeFlagsFrom'] = 'current';
  const runtime = join(main, '..', 'runtime.js');
  if (existsSync(runtime)) {
    try {
      const mod = (await import(pathToFileURL(runtime).href)) as { NODE_FLAGS?: unknown };
      if (Array.isArray(mod.NODE_FLAGS) && mod.NODE_FLAGS.every((f) => typeof f === 'string')) {
        nodeFlags = mod.NODE_FLAGS as string[];
        nodeFlagsFrom = 'baseline';
      }
    } catch (e) {
      removePetrelSnapshot(main);
      throw new Error(`--baseline ${dir}: cannot load ${runtime}: ${(e as Error).message}`);
    }
  }
  return { dir, commit, main, nodeFlags, nodeFlagsFrom };
}

export interface LaunchOptions {
  /** Extra YAML merged over the generated Petrel config (keys the benchmark does not know). */
  petrelExtra?: Record<string, unknown>;
  readyTimeoutMs: number;
  /** Extra node options for the Petrel process, e.g. ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"]. */
  petrelNodeArgs?: string[];
  /** Petrel entry point (a snapshot from snapshotPetrel()); default dist/broker/src/main.js. */
  petrelMain?: string;
  /** For petrel-baseline: its entry point and Node options (prepareBaseline()). */
  baseline?: Baseline;
  /** What the readiness probe sends in CONNECT (a broker with authentication on refuses a bare one). */
  probe?: Credentials;
}

export interface BrokerHandle {
  name: BrokerName;
  /** Where publishers (and every client of a single-node scenario) connect. */
  port: number;
  /** Where subscribers connect when that is another node (petrel-cluster); scenarios use `subPort ?? port`. */
  subPort?: number;
  /** The main process (the node on `port`). */
  pid: number;
  /** Every process whose CPU and memory count as the broker's (two nodes of a cluster); [pid] otherwise. */
  pids: number[];
  /** Processes the broker needs but measured apart from it, by name (petrel-cluster: etcd). */
  aside?: Record<string, number>;
  /**
   * Resolves once `filters` distinct topic filters subscribed on `subPort` are routed on the
   * publishers' node (petrel-cluster: the route table replicated through etcd); throws after
   * `timeoutMs`. Absent for single nodes, where a SUBACK means the route is there.
   */
  routesReady?(filters: number, timeoutMs: number): Promise<void>;
  /**
   * Counters of the broker's own summed over its nodes (petrel-cluster: the Prometheus counters
   * of both nodes, without the `petrel_` prefix), read after a run to explain losses. Absent
   * where the benchmark does not read them.
   */
  counters?(): Promise<Record<string, number>>;
  /** Petrel's REST API port on 127.0.0.1 (the node on `port`); absent for the peers. */
  apiPort?: number;
  dir: string;
  stop(): Promise<void>;
  output(): string;
  exited(): boolean;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)) {
      out[k] = deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** The Mosquitto config the benchmark runs with. */
export function mosquittoConfig(port: number, dir: string): string {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'set_tcp_nodelay true',
    'max_connections -1',
    // Offline QoS 1 sessions of the persistent scenario must not be truncated.
    'max_queued_messages 1000000',
    'max_queued_bytes 0',
    'persistence true',
    `persistence_location ${dir}/`,
    'log_dest none',
    '',
  ].join('\n');
}

/** The Petrel config: defaults, except the loopback port and a private data directory. */
export function petrelConfig(port: number, dir: string, extra: Record<string, unknown> = {}, apiPort = 0): string {
  const base = {
    node: { data_dir: join(dir, 'data') },
    listeners: {
      tcp: { default: { bind: `127.0.0.1:${port}` } },
      // Kept on (as by default) but on free loopback ports, so runs never collide.
      ws: { default: { bind: '127.0.0.1:0' } },
    },
    dashboard: { listeners: { http: { bind: `127.0.0.1:${apiPort}` } } },
  };
  return yaml.dump(deepMerge(base, extra));
}

function spawnBroker(name: BrokerName, port: number, dir: string, opts: LaunchOptions, apiPort: number): ChildProcess {
  const root = repoRoot();
  const env = { ...process.env };
  if (name === 'mosquitto') {
    if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} not found: apt-get install mosquitto`);
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(conf, mosquittoConfig(port, dir));
    return spawn(MOSQUITTO, ['-c', conf], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env });
  }
  if (name === 'aedes') {
    const self = import.meta.url.endsWith('.ts') ? './aedes-server.ts' : './aedes-server.js';
    const entry = fileURLToPath(new URL(self, import.meta.url));
    return spawn(process.execPath, [...process.execArgv, entry, String(port)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env });
  }
  // Petrel and the baseline get the same generated config and the same extra options.
  return spawnPetrel(name === 'petrel-baseline', petrelConfig(port, dir, opts.petrelExtra, apiPort), dir, opts);
}

/** Start a Petrel (this checkout's snapshot, or the baseline's) on the given YAML config, written into `dir`. */
export function spawnPetrel(baseline: boolean, config: string, dir: string, opts: LaunchOptions): ChildProcess {
  let main: string;
  let flags: readonly string[];
  if (baseline) {
    if (!opts.baseline) throw new Error('petrel-baseline needs --baseline DIR');
    main = opts.baseline.main;
    flags = opts.baseline.nodeFlags;
  } else {
    main = opts.petrelMain ?? join(repoRoot(), 'dist', 'broker', 'src', 'main.js');
    flags = NODE_FLAGS;
  }
  if (!existsSync(main)) throw new Error(`${main} not found: build first (npx tsc -p tsconfig.json)`);
  const conf = join(dir, 'petrel.yaml');
  writeFileSync(conf, config);
  // As bin/petrel starts it: the broker's own Node options, then any given for this run.
  return spawn(process.execPath, [...flags, ...(opts.petrelNodeArgs ?? []), main, '--config', conf], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A broker's child process: its output tail (and whole log with BENCH_BROKER_LOG), its exit, a stop. */
export interface Watched {
  child: ChildProcess;
  output(): string;
  /** Why it exited, or null while it runs. */
  exitInfo(): string | null;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited (or 2 s after the SIGKILL). */
  stop(): Promise<void>;
}

/** Every broker process started and not yet exited (killBrokers() ends them). */
const LIVE = new Set<ChildProcess>();

/**
 * SIGKILL every broker process still running (also those of a cluster still starting): for an
 * interrupted benchmark, which must leave no broker behind. Synchronous, so it can run on 'exit'.
 */
export function killBrokers(): void {
  for (const c of LIVE) c.kill('SIGKILL');
  LIVE.clear();
}

export function watchProcess(child: ChildProcess, logName: string): Watched {
  LIVE.add(child);
  let out = '';
  let exitInfo: string | null = null;
  // BENCH_BROKER_LOG=DIR keeps each broker's whole output in DIR/<name>-<port>.log (diagnostics,
  // e.g. with --petrel-node-args "--trace-gc").
  const logDir = process.env.BENCH_BROKER_LOG;
  const logFd = logDir ? openSync(join(logDir, `${logName}.log`), 'w') : -1;
  const keep = (b: Buffer) => {
    out = (out + b.toString('utf8')).slice(-4000);
    if (logFd >= 0) writeSync(logFd, b);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', (code, signal) => { exitInfo = `exited (${code ?? signal})`; LIVE.delete(child); });
  child.on('error', (e) => { exitInfo = `spawn error: ${e.message}`; LIVE.delete(child); });
  return {
    child,
    output: () => out,
    exitInfo: () => exitInfo,
    stop: async () => {
      if (exitInfo !== null) return;
      child.kill('SIGTERM');
      for (let i = 0; i < 100 && exitInfo === null; i++) await sleep(50);
      if (exitInfo === null) {
        child.kill('SIGKILL');
        for (let i = 0; i < 40 && exitInfo === null; i++) await sleep(50);
      }
    },
  };
}

/**
 * Wait until the MQTT listener on `port` answers CONNECT with CONNACK: null when it did, else why
 * not (the process exited, or the last connect error at the deadline).
 */
export async function waitConnack(port: number, deadline: number, proc: Watched, cred: Credentials | null = null): Promise<string | null> {
  const t0 = performance.now();
  let lastError = 'no attempt';
  for (let attempt = 0; attempt < 1000 && performance.now() < deadline; attempt++) {
    if (proc.exitInfo() !== null) return proc.exitInfo();
    const probe = new BenchClient(`bench-probe-${process.pid}-${port}-${attempt}`);
    try {
      await probe.connect(port, true, 30, 1000, cred);
      await probe.disconnect(1000);
      return null;
    } catch (e) {
      lastError = (e as Error).message;
      probe.destroy();
    }
    await sleep(100);
  }
  return proc.exitInfo() ?? `not ready after ${Math.round(performance.now() - t0)} ms (${lastError})`;
}

/** Start a broker and wait until it answers CONNECT with CONNACK. */
export async function launchBroker(name: BrokerName, opts: LaunchOptions): Promise<BrokerHandle> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `petrel-bench-${name}-`));
  // A known REST port, so a scenario can read the node's own counters (the rules scenario's action metrics).
  const apiPort = name === 'petrel' || name === 'petrel-baseline' ? await freePort() : 0;
  const proc = watchProcess(spawnBroker(name, port, dir, opts, apiPort), `${name}-${port}`);
  const pid = proc.child.pid ?? -1;
  const handle: BrokerHandle = {
    name,
    port,
    pid,
    pids: [pid],
    ...(apiPort > 0 ? { apiPort } : {}),
    dir,
    output: proc.output,
    exited: () => proc.exitInfo() !== null,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const why = await waitConnack(port, performance.now() + opts.readyTimeoutMs, proc, opts.probe ?? null);
  if (why === null) return handle;
  await handle.stop();
  throw failedToStart(name, why, proc.output());
}

/** The error of a broker that did not come up: why, and the tail of its output. */
export function failedToStart(name: string, why: string, output: string, tail = 600): Error {
  const out = output.trim();
  return new Error(`${name} failed to start: ${why}${out ? `; output: ${out.slice(-tail)}` : ''}`);
}

/** Versions of the peers, for the results file. */
export function brokerVersions(): Record<string, string> {
  const v: Record<string, string> = {};
  try {
    const txt = execFileSync(MOSQUITTO, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    v.mosquitto = /version\s+(\S+)/.exec(txt)?.[1] ?? 'unknown';
  } catch (e) {
    const txt = String((e as { stdout?: string }).stdout ?? '');
    v.mosquitto = /version\s+(\S+)/.exec(txt)?.[1] ?? 'not installed';
  }
  try {
    const root = repoRoot();
    v.aedes = JSON.parse(readFileSync(join(root, 'node_modules', 'aedes', 'package.json'), 'utf8')).version;
    v.petrel = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  } catch {
    // versions are informative only
  }
  return v;
}
