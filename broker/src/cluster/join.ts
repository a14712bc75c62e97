/**
 * Joining a cluster (`cluster.backend: etcd`): the node-to-node link is started first (its bound
 * port goes into the membership record), then the etcd state connects, loads the cluster and
 * announces this node. The broker is wired to both by the caller (node.ts): its forwarder sends
 * on the link, the link's deliveries go to broker.dispatchRemote.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import type { Message } from '../types.js';
import type { SharedStrategy } from '../router/index.js';
import { EtcdClusterState, type EtcdStateOptions } from './etcd.js';
import { ClusterLink, parseHostPort } from './link.js';
import { ACK_DELAY_MS, LAZY_ACK_DELAY_MS } from './link-writer.js';
import { formatBind } from '../config/bind.js';
import { EtcdAccessStore } from './access-store.js';
import { workerLinkDir } from '../workers/worker.js';
import { nodeOfMember, workerIndexOf, workerLinkPath } from '../workers/config.js';

export interface Joined {
  state: EtcdClusterState;
  link: ClusterLink;
  /** Users, rules, bans and REST-changed chains, shared through etcd (loaded before the node builds its access control). */
  access: EtcdAccessStore;
  /** Set by the node: where messages forwarded by other nodes go. */
  onDeliver: (from: string, msg: Message, plain: boolean, groups: Array<[string, string]>) => void | Promise<unknown>;
  leave(): Promise<void>;
}

type Log = EtcdStateOptions['log'];

export async function joinCluster(cfg: Config, log: Log): Promise<Joined> {
  const c = cfg.cluster;
  if (c.etcd.endpoints.length === 0) throw new Error('cluster.backend is etcd but cluster.etcd.endpoints is empty');
  const read = (what: string, file: string): Buffer | undefined => {
    if (file === '') return undefined;
    try { return readFileSync(file); } catch (err) { throw new Error(`${what}: cannot read ${file}: ${(err as Error).message}`); }
  };
  const e = c.etcd.ssl_options;
  const etcdTls = e.cacertfile === '' && e.certfile === '' ? null
    : { ca: read('cluster.etcd.ssl_options.cacertfile', e.cacertfile), cert: read('cluster.etcd.ssl_options.certfile', e.certfile), key: read('cluster.etcd.ssl_options.keyfile', e.keyfile) };
  const state = new EtcdClusterState({
    nodeName: cfg.node.name, role: cfg.node.role, region: cfg.node.region,
    endpoints: c.etcd.endpoints.map((u) => u.replace(/^https?:\/\//, '')), prefix: c.etcd.prefix, tls: etcdTls,
    leaseTtlSec: c.etcd.lease_ttl / 1000, dialTimeoutMs: c.etcd.dial_timeout,
    strategy: cfg.mqtt.shared_subscription_strategy as SharedStrategy, maxDelayed: cfg.delayed.max_delayed_messages, log,
  });
  const l = c.link.ssl_options;
  const linkTls = !l.enable ? null : {
    ca: read('cluster.link.ssl_options.cacertfile', l.cacertfile)!, cert: read('cluster.link.ssl_options.certfile', l.certfile)!, key: read('cluster.link.ssl_options.keyfile', l.keyfile)!,
  };
  if (linkTls !== null && (linkTls.ca === undefined || linkTls.cert === undefined || linkTls.key === undefined)) {
    throw new Error('cluster.link.ssl_options.enable needs cacertfile, certfile and keyfile');
  }
  const joined: Joined = {
    state,
    link: null as unknown as ClusterLink,
    access: new EtcdAccessStore(state.etcd, state.keys, log, state.dialTimeoutMs),
    onDeliver: () => {},
    async leave() {
      await joined.access.stop();
      await state.stop();
      await joined.link.stop();
    },
  };
  const link = new ClusterLink({
    self: cfg.node.name, cluster: c.etcd.prefix, incarnation: Date.now(), bind: c.link.bind, tls: linkTls,
    maxPending: c.link.max_pending, log,
    // Only a sync-mode publisher's PUBACK waits for the peer's ACK; otherwise let it batch them.
    ackDelayMs: cfg.durability.mode === 'sync' ? ACK_DELAY_MS : LAZY_ACK_DELAY_MS,
    ...(workerLinkDir !== '' ? { local: sameHostLink(cfg.node.name) } : {}),
  }, {
    deliver: (from, msg, plain, groups) => joined.onDeliver(from, msg, plain, groups),
    call: (from, method, args) => state.answer(method, args, from),
  });
  joined.link = link;
  await link.start();
  state.linkAddress = advertise(cfg, link.port);
  state.link = link;
  state.linkStats = () => link.stats();
  try {
    await state.connect();
    await joined.access.start();
  } catch (err) {
    await joined.access.stop();
    state.stop();
    await link.stop();
    throw err;
  }
  return joined;
}

/** A worker of a multi-process node links to its siblings over Unix sockets in the primary's directory. */
function sameHostLink(self: string): { path: string; peerPath(node: string): string | null } {
  const node = nodeOfMember(self);
  return {
    path: workerLinkPath(workerLinkDir, workerIndexOf(self)),
    peerPath: (peer) => (nodeOfMember(peer) === node ? workerLinkPath(workerLinkDir, workerIndexOf(peer)) : null),
  };
}

/**
 * host:port other nodes dial: cluster.link.advertise, else the bind host when it names one
 * (not 0.0.0.0 or ::), else the host part of node.name; with the port actually bound.
 */
export function advertise(cfg: Config, boundPort: number): string {
  const a = cfg.cluster.link.advertise;
  if (a !== '') return a;
  let { host } = parseHostPort(cfg.cluster.link.bind);
  if (host === '0.0.0.0' || host === '::') host = cfg.node.name.slice(cfg.node.name.indexOf('@') + 1);
  return formatBind({ host, port: boundPort });
}
