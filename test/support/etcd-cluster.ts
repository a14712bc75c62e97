/**
 * A real etcd cluster for tests: N members of Debian's /usr/bin/etcd (package etcd-server) as
 * throwaway processes on 127.0.0.1, data in a temp dir, removed on stop(). Members can be given
 * names (the operator tests name them like core pods, `<cluster>-core-<i>`).
 *
 * etcd cannot bind port 0 and advertise it, so ports are picked by binding port 0 and releasing it
 * just before etcd starts (a small race, retried once on a bind failure).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';

export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

export interface EtcdTestCluster {
  clientURLs: string[];
  /**
   * The members' client URLs on another address they listen on (one of `clientHosts` given to
   * startEtcdCluster), e.g. the host side of a test network namespace's veth.
   */
  clientURLsOn(host: string): string[];
  names: string[];
  /**
   * Starts a member that was already added through MemberAdd with `peerURL` (127.0.0.1:port), as
   * a new pod of a scaled-up StatefulSet would: --initial-cluster-state existing. Resolves when the
   * cluster lists it as started.
   */
  join(name: string, peerURL: string, timeoutMs?: number): Promise<void>;
  /** Name of the member that currently leads the Raft group. */
  leader(): Promise<string>;
  /** Stops one member's process (the pod of a removed member going away). */
  kill(name: string): Promise<void>;
  stop(): Promise<void>;
}

export function requireEtcd(): void {
  if (!existsSync(ETCD_BIN)) throw new Error(`${ETCD_BIN} not found: install it with \`apt-get install etcd-server\``);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(clientURLs: string[], procs: ChildProcess[], output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const client = new Etcd3({ hosts: clientURLs, dialTimeout: 1000 });
  try {
    while (Date.now() < deadline) {
      if (procs.some((p) => p.exitCode !== null)) throw new Error(`etcd exited during start:\n${output().slice(-2000)}`);
      try {
        await client.put('petrel-test-health').value('1');
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`etcd cluster not healthy after ${timeoutMs}ms:\n${output().slice(-2000)}`);
  } finally {
    client.close();
  }
}

export interface EtcdStartOptions {
  /**
   * Addresses besides 127.0.0.1 the members also serve clients on (same port on each): a node
   * inside a test network namespace reaches etcd through its veth's host-side address.
   */
  clientHosts?: string[];
}

export async function startEtcdCluster(names: string[], timeoutMs = 30_000, opts: EtcdStartOptions = {}): Promise<EtcdTestCluster> {
  requireEtcd();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'petrel-etcd-'));
  const members: Array<{ name: string; peer: number; client: number }> = [];
  for (const name of names) members.push({ name, peer: await freePort(), client: await freePort() });
  const extraHosts = opts.clientHosts ?? [];
  const listenURLs = (port: number): string => ['127.0.0.1', ...extraHosts].map((h) => `http://${h}:${port}`).join(',');
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  let log = '';
  const byName = new Map<string, ChildProcess>();
  const spawnMember = (name: string, peerURL: string, clientPort: number, cluster: string, state: 'new' | 'existing'): ChildProcess => {
    const p = spawn(ETCD_BIN, [
      '--name', name,
      '--data-dir', path.join(dir, name),
      '--listen-peer-urls', peerURL,
      '--initial-advertise-peer-urls', peerURL,
      '--listen-client-urls', listenURLs(clientPort),
      '--advertise-client-urls', `http://127.0.0.1:${clientPort}`,
      '--initial-cluster', cluster,
      '--initial-cluster-state', state,
      '--initial-cluster-token', `petrel-test-${process.pid}`,
      // etcd's defaults: tighter timings flap leadership on a loaded 2-core machine
      '--heartbeat-interval', '100', '--election-timeout', '1000',
      '--log-level', 'error', '--logger', 'zap',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', (b: Buffer) => { log += b.toString(); });
    p.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
    byName.set(name, p);
    return p;
  };
  const procs = members.map((m) => spawnMember(m.name, `http://127.0.0.1:${m.peer}`, m.client, initialCluster, 'new'));
  // a test process that ends without calling stop() (a crash, an unhandled error) must not leave
  // etcd members running: kill them synchronously on exit
  const onExit = (): void => {
    for (const p of byName.values()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const clientURLs = members.map((m) => `http://127.0.0.1:${m.client}`);
  const killProc = (p: ChildProcess): Promise<void> => new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
    setTimeout(() => { if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL'); }, 3000).unref();
  });
  const stop = async (): Promise<void> => {
    process.removeListener('exit', onExit);
    await Promise.all([...byName.values()].map(killProc));
    rmSync(dir, { recursive: true, force: true });
  };
  const join = async (name: string, peerURL: string, timeoutMs = 30_000): Promise<void> => {
    const client = new Etcd3({ hosts: clientURLs, dialTimeout: 1000 });
    try {
      const list = (await client.cluster.memberList({})).members ?? [];
      const cluster = list.map((m) => `${m.name || (m.peerURLs.includes(peerURL) ? name : '')}=${m.peerURLs[0]}`).filter((e) => !e.startsWith('='));
      // idempotent: a retry after a slow start waits for the process already running
      const running = byName.get(name);
      const p = running && running.exitCode === null && running.signalCode === null
        ? running
        : spawnMember(name, peerURL, await freePort(), cluster.join(','), 'existing');
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (p.exitCode !== null) throw new Error(`etcd member ${name} exited while joining:\n${log.slice(-2000)}`);
        const now = (await client.cluster.memberList({})).members ?? [];
        if (now.some((m) => m.name === name)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`etcd member ${name} did not start within ${timeoutMs}ms:\n${log.slice(-2000)}`);
    } finally {
      client.close();
    }
  };
  const kill = async (name: string): Promise<void> => {
    const p = byName.get(name);
    if (p) await killProc(p);
  };
  try {
    await waitHealthy(clientURLs, procs, () => log, timeoutMs);
  } catch (e) {
    await stop();
    throw e;
  }
  const clientURLsOn = (host: string): string[] => {
    if (host !== '127.0.0.1' && !extraHosts.includes(host)) throw new Error(`etcd does not listen on ${host} (clientHosts: ${extraHosts.join(', ') || 'none'})`);
    return members.map((m) => `http://${host}:${m.client}`);
  };
  const leader = async (): Promise<string> => {
    const client = new Etcd3({ hosts: clientURLs, dialTimeout: 1000 });
    try {
      const status = await client.maintenance.status();
      const list = (await client.cluster.memberList({})).members ?? [];
      const m = list.find((x) => x.ID === status.leader);
      if (!m) throw new Error(`etcd leader ${status.leader} not in the member list`);
      return m.name;
    } finally {
      client.close();
    }
  };
  return { clientURLs, clientURLsOn, names, join, leader, kill, stop };
}
