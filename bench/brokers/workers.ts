/**
 * The `petrel-workers` broker of the benchmark: one Petrel node with `node.workers: N` (default 2,
 * --node-workers) over a single etcd member, all on loopback ports with their data in one temp dir.
 * Every client connects to the node's one MQTT port; the primary hands the connections to the
 * workers in turn, so a scenario's publishers and subscribers are spread over the workers and a
 * message crosses the same-host link whenever its subscriber is on another worker than its
 * publisher (the latency scenario's one subscriber and one publisher: always).
 *
 * Broker CPU and memory are the SUM of the primary and the workers; each worker is also sampled
 * apart (`aside.w1`, `aside.w2` → the `w1Cpu`, `w2Cpu` rows), and etcd apart (`aside.etcd`).
 *
 * Ready means: etcd answers /health, the node answers CONNECT with CONNACK, and every worker lists
 * N members (per-worker gauges from the open /api/v5/prometheus/stats?mode=all_nodes_unaggregated).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, deepMerge, failedToStart, spawnPetrel, watchProcess, waitConnack, sleep, type BrokerHandle, type BrokerName, type LaunchOptions, type Watched } from './launch.js';
import { clusterNodeConfig, startHealthyEtcd, until } from './cluster.js';

export const WORKERS: BrokerName = 'petrel-workers';

/** Per-worker gauges of the node, by member name: `emqx_<key>{node="…"} value` lines of all_nodes_unaggregated. */
async function perWorker(apiPort: number, key: string): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/api/v5/prometheus/stats?mode=all_nodes_unaggregated`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`/api/v5/prometheus/stats answered ${res.status}`);
  const out = new Map<string, number>();
  for (const m of (await res.text()).matchAll(new RegExp(`^emqx_${key}\\{node="([^"]+)"\\} (\\S+)$`, 'gm'))) out.set(m[1]!, Number(m[2]));
  return out;
}

/** The primary's children (the workers), in pid order. */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

export async function launchWorkers(opts: LaunchOptions, workers: number): Promise<BrokerHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-bench-petrel-workers-'));
  const procs: Watched[] = [];
  let node: Watched | null = null;
  const stopAll = async (): Promise<void> => {
    if (node !== null) await node.stop();
    await Promise.all(procs.filter((p) => p !== node).map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  const output = (): string => procs.map((p) => `[${p === node ? 'node' : 'etcd'}] ${p.output().trim().slice(-1500)}`).join('\n');
  try {
    const deadline = performance.now() + opts.readyTimeoutMs + 15_000;
    const left = () => Math.max(1000, deadline - performance.now());
    const { etcd, url: etcdURL } = await startHealthyEtcd(dir, procs, left());
    const ports = { mqtt: await freePort(), api: await freePort() };
    const config = clusterNodeConfig('w', ports, etcdURL, dir, deepMerge({ node: { workers } }, opts.petrelExtra ?? {}));
    node = watchProcess(spawnPetrel(false, config, dir, opts), `petrel-workers-${ports.mqtt}`);
    procs.push(node);
    const why = await waitConnack(ports.mqtt, performance.now() + left(), node);
    if (why !== null) throw new Error(why);
    await until(async () => {
      const counts = await perWorker(ports.api, 'cluster_nodes_count');
      return counts.size === workers && [...counts.values()].every((c) => c === workers);
    }, left(), `every worker sees ${workers} members`, procs);
    const primary = node.child.pid ?? -1;
    const kids = childPids(primary);
    if (kids.length !== workers) throw new Error(`the primary has ${kids.length} children, not ${workers}`);
    const aside: Record<string, number> = { etcd: etcd.child.pid ?? -1 };
    kids.forEach((pid, i) => { aside[`w${i + 1}`] = pid; });
    return {
      name: WORKERS,
      port: ports.mqtt,
      pid: primary,
      // The primary's process tree: the workers are counted through it.
      pids: [primary],
      aside,
      apiPort: ports.api,
      dir,
      // Each worker's own filters count in its route summary; every other worker holds that summary
      // as one remote route: ready when the workers' own routes cover the filters, no etcd write is
      // pending, and each worker holds a summary from every other worker that has routes.
      routesReady: (filters, timeoutMs) => until(async () => {
        const [own, remote, pending] = await Promise.all(['cluster_routes_count', 'cluster_routes_remote', 'cluster_etcd_pending_writes'].map((k) => perWorker(ports.api, k)));
        const withRoutes = [...own.values()].filter((n) => n > 0).length;
        let sum = 0;
        for (const n of own.values()) sum += n;
        if (sum < filters || [...pending.values()].some((n) => n !== 0)) return false;
        return [...own.keys()].every((w) => (remote.get(w) ?? 0) >= withRoutes - ((own.get(w) ?? 0) > 0 ? 1 : 0));
      }, timeoutMs, `${filters} routes replicated between the workers`, procs).then(() => sleep(300)),
      output,
      exited: () => procs.some((p) => p.exitInfo() !== null),
      stop: stopAll,
    };
  } catch (e) {
    const out = output();
    await stopAll();
    throw failedToStart(WORKERS, (e as Error).message, out, 1500);
  }
}
