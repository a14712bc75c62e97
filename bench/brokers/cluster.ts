/**
 * The `petrel-cluster` broker of the benchmark: two Petrel nodes (n1, n2) of one cluster over a
 * single etcd member (Debian's /usr/bin/etcd), all three child processes on loopback ports with
 * their data in one temp dir. Scenarios that support it connect publishers to n1 (`port`) and
 * subscribers to n2 (`subPort`), so every message crosses the node link once per receiving node.
 * Broker CPU and memory are the SUM of both nodes; etcd is measured apart (`aside.etcd`).
 *
 * Ready means: etcd answers /health, both nodes answer CONNECT with CONNACK, each node counts two
 * members, and a probe message published on n1 reached a subscriber on n2 (the link is up). The
 * probe's route is gone again on n1 before the handle is returned, so `routesReady(n)` can wait
 * for exactly the scenario's routes (n1's `petrel_cluster_routes_remote`, read from the open
 * Prometheus endpoint `/metrics`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { BenchClient } from '../gen/client.js';
import { publishTemplate } from '../lib/packets.js';
import {
  freePort, deepMerge, failedToStart, spawnPetrel, watchProcess, waitConnack, sleep,
  type BrokerHandle, type LaunchOptions, type Watched,
} from './launch.js';

export const ETCD = process.env.ETCD_BIN ?? '/usr/bin/etcd';

/** The config of cluster node `name`: the benchmark's Petrel config plus the cluster keys. */
export function clusterNodeConfig(
  name: string, ports: { mqtt: number; api: number }, etcdURL: string, dir: string, extra: Record<string, unknown> = {},
): string {
  const base = {
    node: { name: `${name}@127.0.0.1`, data_dir: join(dir, 'data') },
    listeners: {
      tcp: { default: { bind: `127.0.0.1:${ports.mqtt}` } },
      ws: { default: { bind: '127.0.0.1:0' } },
    },
    dashboard: { listeners: { http: { bind: `127.0.0.1:${ports.api}` } } },
    cluster: {
      backend: 'etcd',
      etcd: { endpoints: [etcdURL], prefix: '/petrel-bench', lease_ttl: '10s' },
      // Port 0: the node advertises the port it bound (cluster.link.advertise "").
      link: { bind: '127.0.0.1:0' },
    },
  };
  return yaml.dump(deepMerge(base, extra));
}

/** Every sample of a node's Prometheus text, by name without the `petrel_` prefix. */
export function samples(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^petrel_(\w+)\{[^}]*\} (\S+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** One gauge of a node's Prometheus text (`petrel_<name>{node="…"} value`), NaN when absent. */
export function gauge(text: string, name: string): number {
  const m = new RegExp(`^petrel_${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function metricsOf(apiPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/metrics`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** Poll until `ok` holds (errors count as not yet), or throw `what` after `timeoutMs`. */
export async function until(ok: () => Promise<boolean>, timeoutMs: number, what: string, procs: Watched[]): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    const dead = procs.find((p) => p.exitInfo() !== null);
    if (dead) throw new Error(`${what}: a process ${dead.exitInfo()}`);
    try {
      if (await ok()) return;
    } catch (e) {
      last = ` (${(e as Error).message})`;
    }
    await sleep(50);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last}`);
}

function startEtcd(dir: string, clientPort: number, peerPort: number): Watched {
  if (!existsSync(ETCD)) throw new Error(`${ETCD} not found: apt-get install etcd-server`);
  const peer = `http://127.0.0.1:${peerPort}`;
  const client = `http://127.0.0.1:${clientPort}`;
  const child = spawn(ETCD, [
    '--name', 'bench', '--data-dir', join(dir, 'etcd'),
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--initial-cluster', `bench=${peer}`, '--initial-cluster-state', 'new',
    '--initial-cluster-token', `petrel-bench-${process.pid}`,
    '--log-level', 'error', '--logger', 'zap',
  ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  return watchProcess(child, `etcd-${clientPort}`);
}

/** Starts etcd (pushed onto `procs`) and waits until it answers /health; its client URL. */
export async function startHealthyEtcd(dir: string, procs: Watched[], timeoutMs: number): Promise<{ etcd: Watched; url: string }> {
  const port = await freePort();
  const etcd = startEtcd(dir, port, await freePort());
  procs.push(etcd);
  const url = `http://127.0.0.1:${port}`;
  await until(async () => {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && (await res.json() as { health?: string }).health === 'true';
  }, timeoutMs, 'etcd healthy', procs);
  return { etcd, url };
}

/**
 * Cross-node probe: a subscriber on n2, a QoS 0 publish on n1 every 100 ms until it arrives, then
 * the subscriber leaves and n1 forgets its route.
 */
async function probe(ports: { pub: number; sub: number; api: number }, procs: Watched[], timeoutMs: number): Promise<void> {
  const sub = new BenchClient(`bench-cluster-probe-s-${process.pid}`);
  const pub = new BenchClient(`bench-cluster-probe-p-${process.pid}`);
  try {
    await sub.connect(ports.sub, true, 30, 2000);
    await sub.subscribe('bench-probe/x', 0, 2000);
    await until(async () => gauge(await metricsOf(ports.api), 'cluster_routes_remote') >= 1, timeoutMs, 'probe route replicated to n1', procs);
    await pub.connect(ports.pub, true, 30, 2000);
    const frame = publishTemplate('bench-probe/x', 0, 16).frame;
    await until(async () => { pub.write(frame); await sleep(100); return sub.received > 0; }, timeoutMs, 'probe message from n1 to n2', procs);
  } finally {
    await Promise.all([sub.disconnect(1000), pub.disconnect(1000)]);
  }
  await until(async () => gauge(await metricsOf(ports.api), 'cluster_routes_remote') === 0, timeoutMs, 'probe route removed on n1', procs);
}

/** Start etcd and two nodes, and wait until a message crosses from n1 to n2. */
export async function launchCluster(opts: LaunchOptions): Promise<BrokerHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-bench-petrel-cluster-'));
  const procs: Watched[] = [];
  const nodes: Watched[] = [];
  const stopAll = async (): Promise<void> => {
    // The nodes first (they leave the cluster through etcd), then etcd.
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  const output = (): string => [
    ...nodes.map((n, i) => `[n${i + 1}] ${n.output().trim().slice(-1200)}`),
    ...procs.filter((p) => !nodes.includes(p)).map((p) => `[etcd] ${p.output().trim().slice(-600)}`),
  ].join('\n');
  try {
    const deadline = performance.now() + opts.readyTimeoutMs + 15_000;
    const left = () => Math.max(1000, deadline - performance.now());
    const { etcd, url: etcdURL } = await startHealthyEtcd(dir, procs, left());

    const ports: { mqtt: number; api: number }[] = [];
    for (const name of ['n1', 'n2']) {
      const p = { mqtt: await freePort(), api: await freePort() };
      const nodeDir = join(dir, name);
      mkdirSync(nodeDir);
      const proc = watchProcess(spawnPetrel(false, clusterNodeConfig(name, p, etcdURL, nodeDir, opts.petrelExtra), nodeDir, opts), `petrel-cluster-${name}-${p.mqtt}`);
      nodes.push(proc);
      procs.push(proc);
      ports.push(p);
    }
    for (let i = 0; i < nodes.length; i++) {
      const why = await waitConnack(ports[i].mqtt, performance.now() + left(), nodes[i]);
      if (why !== null) throw new Error(`node n${i + 1}: ${why}`);
    }
    await until(async () => {
      const counts = await Promise.all(ports.map(async (p) => gauge(await metricsOf(p.api), 'cluster_nodes_count')));
      return counts.every((c) => c === 2);
    }, left(), 'both nodes see two members', procs);
    await probe({ pub: ports[0].mqtt, sub: ports[1].mqtt, api: ports[0].api }, procs, left());

    const pids = nodes.map((n) => n.child.pid ?? -1);
    return {
      name: 'petrel-cluster',
      port: ports[0].mqtt,
      subPort: ports[1].mqtt,
      pid: pids[0],
      pids,
      aside: { etcd: etcd.child.pid ?? -1 },
      dir,
      // n2's filters are in its route summary (one remote "route" on n1 however many filters): ready
      // when n2 counts them all and has no etcd write pending, and n1 holds n2's summary.
      routesReady: (filters, timeoutMs) => until(async () => {
        const n2 = await metricsOf(ports[1].api);
        const n1 = await metricsOf(ports[0].api);
        return gauge(n2, 'cluster_routes_count') >= filters
          && gauge(n2, 'cluster_etcd_pending_writes') === 0 && gauge(n1, 'cluster_routes_remote') >= 1;
      }, timeoutMs, `${filters} routes replicated to n1`, procs).then(() => new Promise((r) => setTimeout(r, 300))),
      counters: async () => {
        const sum: Record<string, number> = {};
        for (const p of ports) for (const [k, v] of Object.entries(samples(await metricsOf(p.api)))) sum[k] = (sum[k] ?? 0) + v;
        return sum;
      },
      output,
      exited: () => procs.some((p) => p.exitInfo() !== null),
      stop: stopAll,
    };
  } catch (e) {
    const out = output();
    await stopAll();
    throw failedToStart('petrel-cluster', (e as Error).message, out, 1200);
  }
}
