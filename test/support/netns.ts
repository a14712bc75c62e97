/**
 * Network namespaces for partition tests: a node placed in a namespace of its own can be cut off
 * from the host (etcd, the core nodes) and healed again, while its clients keep reaching it.
 *
 * A namespace gets two veth pairs, each a /30 in 10.213.0.0/16, both ending in the host namespace:
 * - the *cluster* pair (host side `hostAddr`, namespace side `nsAddr`): what the node uses to reach
 *   etcd and the other nodes, and what they use to reach its link. `cut()` sets it down, `heal()` up.
 * - the *access* pair (`accessHostAddr` / `accessAddr`): how the test's MQTT and REST clients reach
 *   the node. It is never cut: an edge replica's local clients keep their own network.
 *
 * Nothing routes towards real networks: the namespace has no default route, the host does not
 * forward (we do not touch ip_forward), and while the cluster pair is down the host has an
 * `unreachable` route for its /30, so packets for `nsAddr` fail at once instead of following the
 * host's default route. The addresses exist only on veth devices created here.
 *
 * Needs root and `ip netns` (iproute2); `netnsUnavailable()` names the reason when either is
 * missing, for `t.skip(reason)`. No iptables or nft is used: the machines have neither, and a link
 * going down is the partition we want to model (a cut cable, a lost WAN link).
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';

export const IP_BIN = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p)) ?? 'ip';

export interface Netns {
  /** Namespace name, for `ip netns exec`. */
  readonly name: string;
  /** Host side of the cluster pair: the address host processes listen on to be reachable from inside. */
  readonly hostAddr: string;
  /** Namespace side of the cluster pair: the address a node inside binds its cluster link to. */
  readonly nsAddr: string;
  /** Host side of the access pair. */
  readonly accessHostAddr: string;
  /** Namespace side of the access pair: where the test's clients reach a node inside. */
  readonly accessAddr: string;
  /** Whether the cluster pair is currently cut. */
  readonly isCut: boolean;
}

interface NetnsState extends Netns {
  isCut: boolean;
  hostVeth: string;
  accessVeth: string;
  clusterNet: string;
  removed: boolean;
}

function ip(...args: string[]): string {
  return execFileSync(IP_BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function ipQuiet(...args: string[]): void {
  try { ip(...args); } catch { /* already gone */ }
}

/** Why namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'network namespaces need root (run the tests as root)';
  try {
    ip('netns', 'list');
  } catch (e) {
    return `"ip netns" is unavailable (${(e as Error).message.split('\n')[0]}); install iproute2`;
  }
  return null;
}

const live = new Set<NetnsState>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test process that dies without calling removeNetns() must not leave namespaces, veths or
  // routes behind: remove them synchronously on exit.
  process.once('exit', () => { for (const n of [...live]) removeNow(n); });
}

/** The /24 index k of 10.213.k.0 that no existing address uses (a crashed run may have left one). */
function freeSubnetIndex(): number {
  const used = ip('-o', '-4', 'addr', 'show') + ip('-4', 'route', 'show');
  // start from a pid-derived index: two test processes creating namespaces at the same moment
  // most likely pick different subnets
  const start = process.pid % 254;
  for (let i = 0; i < 254; i++) {
    const k = ((start + i) % 254) + 1;
    if (!used.includes(`10.213.${k}.`)) return k;
  }
  throw new Error('no free 10.213.k.0/24 subnet for a test namespace');
}

/**
 * Creates a namespace with its cluster and access veth pairs, both up, lo up inside. `tag` makes
 * the name readable (`petrel-<tag>-<pid>`); a leftover namespace of the same name is removed first.
 */
export function createNetns(tag = 'ns'): Netns {
  const reason = netnsUnavailable();
  if (reason) throw new Error(reason);
  installExitHook();
  const k = freeSubnetIndex();
  const name = `petrel-${tag}-${process.pid}`;
  // interface names are at most 15 characters
  const hostVeth = `pt${k}c${process.pid % 100000}`.slice(0, 15);
  const nsVeth = `pt${k}cn`;
  const accessVeth = `pt${k}a${process.pid % 100000}`.slice(0, 15);
  const nsAccessVeth = `pt${k}an`;
  const n: NetnsState = {
    name, hostVeth, accessVeth, clusterNet: `10.213.${k}.0/30`, removed: false, isCut: false,
    hostAddr: `10.213.${k}.1`, nsAddr: `10.213.${k}.2`,
    accessHostAddr: `10.213.${k}.5`, accessAddr: `10.213.${k}.6`,
  };
  if (ip('netns', 'list').split('\n').some((l) => l.split(' ')[0] === name)) ipQuiet('netns', 'del', name);
  ipQuiet('link', 'del', hostVeth);
  ipQuiet('link', 'del', accessVeth);
  live.add(n);
  try {
    ip('netns', 'add', name);
    ip('netns', 'exec', name, IP_BIN, 'link', 'set', 'lo', 'up');
    for (const [hv, nv, ha, na] of [[hostVeth, nsVeth, n.hostAddr, n.nsAddr], [accessVeth, nsAccessVeth, n.accessHostAddr, n.accessAddr]]) {
      ip('link', 'add', hv, 'type', 'veth', 'peer', 'name', nv);
      ip('link', 'set', nv, 'netns', name);
      ip('addr', 'add', `${ha}/30`, 'dev', hv);
      ip('netns', 'exec', name, IP_BIN, 'addr', 'add', `${na}/30`, 'dev', nv);
      ip('link', 'set', hv, 'up');
      ip('netns', 'exec', name, IP_BIN, 'link', 'set', nv, 'up');
    }
    // While the cluster pair is down its connected route is gone; this one (a worse metric than
    // the kernel's 0) then answers "unreachable" instead of letting the default route take it.
    ip('route', 'add', 'unreachable', n.clusterNet, 'metric', '4000');
  } catch (e) {
    removeNow(n);
    throw e;
  }
  return n;
}

function state(n: Netns): NetnsState {
  return n as NetnsState;
}

/** Cuts the namespace off from the host's cluster side (the cluster veth pair goes down). */
export function cut(n: Netns): void {
  ip('link', 'set', state(n).hostVeth, 'down');
  state(n).isCut = true;
}

/** Restores the cluster veth pair. */
export function heal(n: Netns): void {
  ip('link', 'set', state(n).hostVeth, 'up');
  state(n).isCut = false;
}

/**
 * Spawns `cmd args` inside the namespace (`ip netns exec` execs into it: the child's pid is the
 * command's own, so signals reach it directly).
 */
export function runInNetns(n: Netns | string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const name = typeof n === 'string' ? n : n.name;
  return spawn(IP_BIN, ['netns', 'exec', name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

function removeNow(n: NetnsState): void {
  if (n.removed) return;
  n.removed = true;
  live.delete(n);
  ipQuiet('route', 'del', 'unreachable', n.clusterNet, 'metric', '4000');
  // deleting one end of a veth pair deletes both
  ipQuiet('link', 'del', n.hostVeth);
  ipQuiet('link', 'del', n.accessVeth);
  ipQuiet('netns', 'del', n.name);
}

/**
 * Removes the namespace, its veth pairs and its route. Processes still running inside keep an
 * anonymous namespace with no links: stop them first (the cluster helper does).
 */
export function removeNetns(n: Netns): void {
  removeNow(state(n));
}
