/**
 * What a worker of a multi-process node (`node.workers`) runs: the node's config with its own
 * name, data dir and link port. Worker 1 is the node as configured (name, data dir, link port),
 * so a node that goes from one process to several keeps its sessions; worker i > 1 is
 * `<name>.w<i>@<host>` with its data in `<data_dir>/workers/<i>` and its link on the link port
 * + i − 1 (or a port of its own when the link binds port 0).
 *
 * Datagram listeners (QUIC, the CoAP and MQTT-SN gateways) run on worker 1 only: a datagram
 * peer's state (its QUIC connection, its gateway session) lives in one process, and the kernel
 * would hand a shared UDP socket's datagrams to any of them.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { formatBind, parseBind } from '../config/bind.js';

/** How many broker processes the config asks for (auto = one per CPU this process may use). */
export function workerCount(cfg: Config): number {
  const w = cfg.node.workers;
  if (w !== 'auto') return w;
  const limit = cgroupCpuLimit();
  return Math.max(1, Math.min(availableParallelism(), limit ?? Infinity));
}

/**
 * CPUs a container's CPU limit allows (cgroup v2 `cpu.max`, else v1 `cpu.cfs_quota_us` /
 * `cpu.cfs_period_us`), rounded up; null when there is no limit or no cgroup file to read.
 * availableParallelism() sees the CPUs of the host (or the affinity mask), not a pod's
 * `resources.limits.cpu`.
 */
export function cgroupCpuLimit(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number | null {
  const tryRead = (path: string): string | null => { try { return read(path).trim(); } catch { return null; } };
  const v2 = tryRead('/sys/fs/cgroup/cpu.max');
  if (v2 !== null) {
    const [quota, period] = v2.split(/\s+/);
    if (quota === 'max' || quota === undefined) return null;
    const q = Number(quota);
    const p = Number(period ?? 100_000);
    return q > 0 && p > 0 ? Math.ceil(q / p) : null;
  }
  for (const dir of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    const quota = tryRead(`${dir}/cpu.cfs_quota_us`);
    const period = tryRead(`${dir}/cpu.cfs_period_us`);
    if (quota === null || period === null) continue;
    const q = Number(quota);
    const p = Number(period);
    return q > 0 && p > 0 ? Math.ceil(q / p) : null;
  }
  return null;
}

/** The name worker `index` (1-based) of node `name` is a cluster member under. */
export function workerName(name: string, index: number): string {
  if (index === 1) return name;
  const at = name.indexOf('@');
  return `${name.slice(0, at)}.w${index}${name.slice(at)}`;
}

/** The part of a member name that makes it worker i > 1 of a node: `.w<i>` before the `@`. */
const WORKER_SUFFIX = /\.w(\d+)@/;

/** The node a member name belongs to: `<name>.w<i>@<host>` → `<name>@<host>`; any other name is its own node. */
export function nodeOfMember(member: string): string {
  return member.replace(WORKER_SUFFIX, '@');
}

/** Whether a member name is that of a worker i > 1 (`<name>.w<i>@<host>`). */
export function isWorkerName(member: string): boolean {
  return WORKER_SUFFIX.test(member);
}

/** A member's worker index within its node: 1 for the node's own name, i for `<name>.w<i>@<host>`. */
export function workerIndexOf(member: string): number {
  const m = WORKER_SUFFIX.exec(member);
  return m === null ? 1 : Number(m[1]);
}

/** The Unix socket worker `index` listens on for its siblings' link (in the primary's private directory). */
export function workerLinkPath(dir: string, index: number): string {
  return join(dir, `w${index}.sock`);
}

export function workerConfig(cfg: Config, index: number): Config {
  if (index === 1) return cfg;
  const c = structuredClone(cfg) as Mutable<Config>;
  c.node.name = workerName(cfg.node.name, index);
  c.node.data_dir = join(cfg.node.data_dir, 'workers', String(index));
  const link = parseBind(cfg.cluster.link.bind);
  if (link.ok && link.value.port !== 0) c.cluster.link.bind = formatBind({ host: link.value.host, port: link.value.port + index - 1 });
  if (cfg.cluster.link.advertise !== '') {
    const adv = parseBind(cfg.cluster.link.advertise);
    if (adv.ok && adv.value.port !== 0) c.cluster.link.advertise = formatBind({ host: adv.value.host, port: adv.value.port + index - 1 });
  }
  c.listeners.quic = {};
  c.gateway.mqttsn = null;
  c.gateway.coap = null;
  return c as Config;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };
