/**
 * A real Petrel cluster for black-box tests: an N-member etcd (test/support/etcd-cluster.ts) and one
 * broker process per node, run from the built dist/ with `cluster.backend: etcd`, each with its own
 * temp data dir and its own free ports for MQTT, the REST API and the node-to-node link.
 *
 * The tests see the cluster only as its users do: MQTT clients (`node.connect()`), the REST API
 * (`node` is a `HasApi` for test/support/api.ts) and processes (`kill`, `restart`, `output`).
 *
 * A node may run inside a test network namespace (`netns`, test/support/netns.ts): it then binds
 * MQTT and the API on every address of its namespace and is reached through the namespace's access
 * veth; its link binds the namespace side of the cluster veth; it reaches etcd through the host
 * side, on which etcd and the host nodes' links then listen too. One namespace per cluster.
 *
 * Every node gets an API key (api_key.bootstrap_file) and every REST call sends it, so the API
 * works the same on loopback and over a veth.
 *
 * `stop()` removes everything (processes, etcd, temp dirs); a test process that dies without
 * calling it kills the brokers and removes the dirs on exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { api, nodes, type HasApi } from './api.js';
import { client, collect, repoRoot, sleep, type Received } from './broker.js';
import { freePort, startEtcdCluster, type EtcdTestCluster } from './etcd-cluster.js';
import { IP_BIN, type Netns } from './netns.js';

export interface ClusterNodeSpec {
  /** `name@host`; a bare name gets `@127.0.0.1` (`@<nsAddr>` inside a namespace). */
  name: string;
  role?: 'core' | 'replica';
  region?: string;
  /** Run this node inside the namespace (see the module comment). */
  netns?: Netns;
  /** Raw config values for this node only, merged over the cluster's `extra`. */
  config?: Record<string, unknown>;
}

export interface StartClusterOptions {
  /** etcd members (default 3). */
  etcdMembers?: number;
  nodes: ClusterNodeSpec[];
  /** cluster.etcd.lease_ttl (default "3s"). */
  leaseTtl?: string;
  /** Raw config values for every node, as in the YAML file. */
  extra?: Record<string, unknown>;
  /** How long each node has to answer GET /api/v5/status (default 20 s). */
  startTimeoutMs?: number;
}

export interface ClusterNode extends HasApi {
  readonly name: string;
  readonly role: 'core' | 'replica';
  readonly region: string;
  /** Address MQTT and REST clients use (127.0.0.1, or the namespace's access address). */
  readonly host: string;
  readonly mqttPort: number;
  readonly apiPort: number;
  readonly apiHost: string;
  readonly apiAuth: string;
  readonly linkPort: number;
  /** `mqtt://host:port`. */
  readonly url: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly netns: Netns | undefined;
  /** Whether the process runs. */
  readonly alive: boolean;
  /** An MQTT.js client connected to this node (CONNACK received; no automatic reconnect). */
  connect(opts?: IClientOptions): Promise<MqttClient>;
  /** Sends `signal` (default SIGKILL: kill -9) and waits for the process to end. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the node again (same config, data dir and ports) and waits for its REST API. */
  restart(): Promise<void>;
  /** Everything the process wrote to stdout and stderr, over every run. */
  output(): string;
}

export interface TestCluster {
  readonly etcd: EtcdTestCluster;
  readonly nodes: ClusterNode[];
  readonly leaseTtlMs: number;
  /** The node with this name (bare or `name@host`). */
  node(name: string): ClusterNode;
  /**
   * Resolves when /api/v5/nodes on every running node lists `n` nodes; fails after `timeoutMs`
   * (default lease_ttl + 15 s) with what each node listed last.
   */
  waitJoined(n: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const API_KEY = 'petrel-test';

/** Milliseconds of a test duration such as "3s", "500ms", "1m". */
export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`duration ${d}: use ms, s or m`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

export function mergeConfig(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
      ? mergeConfig(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

const running = (p: ChildProcess | undefined): p is ChildProcess => p !== undefined && p.exitCode === null && p.signalCode === null;

function waitExit(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (!running(p)) return resolve();
    p.once('exit', () => resolve());
  });
}

class NodeProcess implements ClusterNode {
  readonly name: string;
  readonly role: 'core' | 'replica';
  readonly region: string;
  readonly host: string;
  readonly apiHost: string;
  readonly apiAuth: string;
  readonly url: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly netns: Netns | undefined;
  private proc: ChildProcess | undefined = undefined;
  private log = '';

  constructor(spec: ClusterNodeSpec, dir: string, readonly mqttPort: number, readonly apiPort: number, readonly linkPort: number,
    config: Record<string, unknown>, apiAuth: string, private readonly startTimeoutMs: number) {
    this.name = spec.name;
    this.role = spec.role ?? 'core';
    this.region = spec.region ?? '';
    this.netns = spec.netns;
    this.host = spec.netns ? spec.netns.accessAddr : '127.0.0.1';
    this.apiHost = this.host;
    this.apiAuth = apiAuth;
    this.url = `mqtt://${this.host}:${mqttPort}`;
    this.dataDir = join(dir, 'data');
    this.configFile = join(dir, 'petrel.yaml');
    mkdirSync(this.dataDir, { recursive: true });
    // JSON is YAML: no quoting rules to get wrong
    writeFileSync(this.configFile, JSON.stringify(mergeConfig(config, { node: { data_dir: this.dataDir } }), null, 2));
  }

  get alive(): boolean { return running(this.proc); }

  get pid(): number | undefined { return this.alive ? this.proc!.pid : undefined; }

  output(): string { return this.log; }

  connect(opts: IClientOptions = {}): Promise<MqttClient> {
    return client(this.mqttPort, { host: this.host, ...opts });
  }

  async start(): Promise<void> {
    if (this.alive) throw new Error(`node ${this.name} is already running`);
    const main = join(repoRoot(), 'dist', 'broker', 'src', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} missing: run "make build" first`);
    const args = [main, '--config', this.configFile];
    const p = this.netns
      ? spawn(IP_BIN, ['netns', 'exec', this.netns.name, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    this.log += `--- start ${new Date().toISOString()}\n`;
    p.stdout!.on('data', (d) => { this.log += d; });
    p.stderr!.on('data', (d) => { this.log += d; });
    p.on('exit', (code, sig) => { this.log += `--- exit code=${code} signal=${sig}\n`; });
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      if (!running(p)) throw new Error(`node ${this.name} exited during start:\n${this.log.slice(-3000)}`);
      try {
        const r = await api(this, '/api/v5/status', { signal: AbortSignal.timeout(1000) });
        await r.body?.cancel();
        if (r.status === 200) return;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`node ${this.name}: GET /api/v5/status did not answer 200 within ${this.startTimeoutMs} ms:\n${this.log.slice(-3000)}`);
      await sleep(100);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!running(p)) return;
    const done = waitExit(p);
    p.kill(signal);
    if (signal !== 'SIGKILL') {
      const t = setTimeout(() => { if (running(p)) p.kill('SIGKILL'); }, 10_000);
      await done;
      clearTimeout(t);
    }
    await done;
  }

  /** Synchronous last resort for process exit. */
  killNow(): void {
    if (running(this.proc)) this.proc.kill('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.kill('SIGKILL');
    await this.start();
  }
}

/**
 * Starts etcd and every node (in the order given, each one answering REST before the next
 * starts). Does not wait for the nodes to find each other: that is `waitJoined`.
 */
export async function startCluster(opts: StartClusterOptions): Promise<TestCluster> {
  const leaseTtl = opts.leaseTtl ?? '3s';
  const leaseTtlMs = durationMs(leaseTtl);
  const namespaces = [...new Set(opts.nodes.map((n) => n.netns).filter((n): n is Netns => n !== undefined))];
  if (namespaces.length > 1) throw new Error('startCluster: at most one network namespace per cluster');
  const ns = namespaces[0];
  const dir = mkdtempSync(join(tmpdir(), 'petrel-cluster-'));
  const auth = `${API_KEY}:${randomBytes(12).toString('hex')}`;
  const keyFile = join(dir, 'api-keys');
  writeFileSync(keyFile, auth + '\n');
  const members = Array.from({ length: opts.etcdMembers ?? 3 }, (_, i) => `etcd-${i}`);
  const list: NodeProcess[] = [];
  let etcd: EtcdTestCluster | undefined;
  let stopped = false;

  const onExit = (): void => {
    for (const n of list) n.killNow();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // nodes before etcd: a node that deregisters on the way out needs etcd still there
    await Promise.all(list.map((n) => n.kill('SIGTERM')));
    await etcd?.stop();
    process.removeListener('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    etcd = await startEtcdCluster(members, 30_000, { clientHosts: ns ? [ns.hostAddr] : [] });
    const prefix = `/petrel-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    for (const spec of opts.nodes) {
      const inNs = spec.netns !== undefined;
      const linkHost = inNs ? ns!.nsAddr : ns ? ns.hostAddr : '127.0.0.1';
      const name = spec.name.includes('@') ? spec.name : `${spec.name}@${inNs ? ns!.nsAddr : '127.0.0.1'}`;
      const [mqttPort, apiPort, linkPort] = [await freePort(), await freePort(), await freePort()];
      const bindHost = inNs ? '0.0.0.0' : '127.0.0.1';
      const base: Record<string, unknown> = {
        node: { name, role: spec.role ?? 'core', region: spec.region ?? '' },
        log: { level: process.env.PETREL_TEST_LOG ?? 'info', format: 'json' },
        listeners: { tcp: { default: { bind: `${bindHost}:${mqttPort}` } }, ws: { default: { enable: false } } },
        dashboard: { listeners: { http: { bind: `${bindHost}:${apiPort}` } } },
        api_key: { bootstrap_file: keyFile },
        cluster: {
          backend: 'etcd',
          etcd: { endpoints: inNs ? etcd.clientURLsOn(ns!.hostAddr) : etcd.clientURLs, prefix, lease_ttl: leaseTtl, dial_timeout: '2s' },
          link: { bind: `${linkHost}:${linkPort}`, advertise: `${linkHost}:${linkPort}` },
        },
      };
      const config = mergeConfig(mergeConfig(base, opts.extra ?? {}), spec.config ?? {});
      const nodeDir = join(dir, name.replace(/[^a-zA-Z0-9_.-]/g, '_'));
      const n = new NodeProcess({ ...spec, name }, nodeDir, mqttPort, apiPort, linkPort, config, auth, opts.startTimeoutMs ?? 20_000);
      list.push(n);
      await n.start();
    }
  } catch (e) {
    await stop();
    throw e;
  }

  const node = (name: string): ClusterNode => {
    const n = list.find((x) => x.name === name || x.name.split('@')[0] === name);
    if (!n) throw new Error(`no node ${name} (nodes: ${list.map((x) => x.name).join(', ')})`);
    return n;
  };

  const waitJoined = async (n: number, timeoutMs = leaseTtlMs + 15_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const seen = new Map<string, string>();
    for (;;) {
      let ok = true;
      for (const x of list) {
        if (!x.alive) continue;
        try {
          const rows = await nodes(x);
          seen.set(x.name, rows.map((r) => r.node).join(', '));
          if (rows.length !== n) ok = false;
        } catch (e) {
          seen.set(x.name, `error: ${(e as Error).message}`);
          ok = false;
        }
      }
      if (ok) return;
      if (Date.now() > deadline) {
        const report = [...seen].map(([k, v]) => `  ${k} lists [${v}]`).join('\n');
        throw new Error(`the cluster did not reach ${n} nodes within ${timeoutMs} ms:\n${report}`);
      }
      await sleep(200);
    }
  };

  return { etcd: etcd!, nodes: list, leaseTtlMs, node, waitJoined, stop };
}

/**
 * Publishes QoS 0 probes to `probeTopic` from `pub` until every list in `gots` holds one: the
 * subscribers' routes have reached the publisher's node (routes replicate through etcd).
 */
export async function routed(pub: MqttClient, probeTopic: string, gots: Received[][], ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; ; i++) {
    if (gots.every((g) => g.some((m) => m.topic === probeTopic))) return;
    if (Date.now() > deadline) throw new Error(`no probe on ${probeTopic} reached every subscriber within ${ms} ms (route not replicated)`);
    pub.publish(probeTopic, `probe-${i}`, { qos: 0 });
    await sleep(100);
  }
}

/**
 * An MQTT.js v5 client of node `n` (no reconnect) with its CONNACK; every message it gets is
 * collected (`collect`); the client is pushed onto `open` for the test to end.
 */
export function connectAck(n: Pick<ClusterNode, 'host' | 'mqttPort'>, opts: IClientOptions, open: MqttClient[]): Promise<{ c: MqttClient; connack: IConnackPacket }> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: n.host, port: n.mqttPort, reconnectPeriod: 0, connectTimeout: 8000, protocolVersion: 5, ...opts });
    collect(c);
    open.push(c);
    const onErr = (err: Error): void => { c.end(true); reject(err); };
    c.once('connect', (connack) => { c.off('error', onErr); resolve({ c, connack }); });
    c.once('error', onErr);
  });
}
