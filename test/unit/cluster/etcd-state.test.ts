/**
 * The etcd ClusterState against a real etcd (Debian's etcd-server, one member on loopback):
 * membership, route and retained replication by watch, the client claim transaction and its
 * race, routes leaving with a node's lease.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcdCluster, type EtcdTestCluster } from '../../support/etcd-cluster.js';
import { EtcdClusterState } from '../../../broker/src/cluster/etcd.js';

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let etcd: EtcdTestCluster;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
let prefixes = 0;

before(async () => { etcd = await startEtcdCluster(['e0']); });
after(async () => { await etcd.stop(); });

function state(name: string, prefix: string, ttl = 3): EtcdClusterState {
  return new EtcdClusterState({
    nodeName: name, role: 'core', region: 'r1', endpoints: etcd.clientURLs.map((u) => u.replace('http://', '')), prefix, tls: null,
    leaseTtlSec: ttl, dialTimeoutMs: 2000, strategy: 'random', maxDelayed: 100, log: quiet,
  });
}

async function pair(): Promise<[EtcdClusterState, EtcdClusterState]> {
  const prefix = `/t${++prefixes}`;
  const a = state('a@127.0.0.1', prefix);
  const b = state('b@127.0.0.1', prefix);
  await a.connect();
  await b.connect();
  return [a, b];
}

test('members see each other; a node that stops leaves with its routes', async () => {
  const [a, b] = await pair();
  await until(() => a.members().length === 2 && b.members().length === 2, 5000, 'both members listed');
  assert.deepEqual(a.members().map((m) => [m.name, m.self, m.role, m.region]), [['a@127.0.0.1', true, 'core', 'r1'], ['b@127.0.0.1', false, 'core', 'r1']]);
  b.addRoute('x/+');
  b.joinGroup('g', 'y/#');
  await until(() => a.routes.nodesOf('x/+').includes('b@127.0.0.1') && a.routes.groupNodes('g', 'y/#').includes('b@127.0.0.1'), 5000, 'routes replicated');
  const seen: string[] = [];
  a.routes.match('x/1', '', (n, g) => seen.push(`${n}:${g}`));
  assert.deepEqual(seen, ['b@127.0.0.1:null']);
  b.removeRoute('x/+');
  await until(() => a.routes.nodesOf('x/+').length === 0, 5000, 'route removal replicated');
  b.stop();
  await until(() => a.members().length === 1 && a.routes.remoteRoutes === 0, 8000, 'b left, its group route with it');
  a.stop();
});

test('a batch of 1,000 routes is replicated', async () => {
  const [a, b] = await pair();
  for (let i = 0; i < 1000; i++) a.addRoute(`dev/${i}/cmd`);
  await until(() => b.routes.remoteRoutes === 1000, 10_000, 'all routes on b');
  a.stop(); b.stop();
});

test('retained messages are shared and deleted cluster-wide', async () => {
  const [a, b] = await pair();
  a.putRetained({ id: 1, topic: 'r/1', payload: Buffer.from('hi'), qos: 1, retain: true, properties: { correlationData: Buffer.from([1, 2]), userProperties: { k: 'v' } }, from: 'c', timestamp: Date.now(), expiresAt: 0 });
  await until(() => b.retained.get('r/1') !== undefined, 5000, 'retained on b');
  const m = b.retained.get('r/1')!;
  assert.equal(m.payload.toString(), 'hi');
  assert.deepEqual(m.properties?.correlationData, Buffer.from([1, 2]));
  assert.deepEqual(m.properties?.userProperties, { k: 'v' });
  b.deleteRetained('r/1');
  await until(() => a.retained.get('r/1') === undefined, 5000, 'deleted on a');
  a.stop(); b.stop();
});

test('claiming a client id: the first claim finds nobody, the next names the holder; a race has one winner at a time', async () => {
  const [a, b] = await pair();
  assert.equal(await a.claimClient('c1'), null);
  assert.equal(await a.claimClient('c1'), null, 'claiming again on the same node');
  assert.equal(await b.clientNode('c1'), 'a@127.0.0.1');
  assert.equal(await b.claimClient('c1'), 'a@127.0.0.1');
  assert.equal(await a.clientNode('c1'), 'b@127.0.0.1');
  // both at once: one of them commits first, the other takes over from it
  const [ra, rb] = await Promise.all([a.claimClient('c2'), b.claimClient('c2')]);
  const holder = await a.clientNode('c2');
  assert.ok((ra === null && rb === 'a@127.0.0.1' && holder === 'b@127.0.0.1') || (rb === null && ra === 'b@127.0.0.1' && holder === 'a@127.0.0.1'), `ra=${ra} rb=${rb} holder=${holder}`);
  // unregistering on a node that no longer holds it leaves the new holder's record alone
  a.unregisterClient('c1');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await a.clientNode('c1'), 'b@127.0.0.1');
  b.unregisterClient('c1');
  await until(async () => (await a.clientNode('c1')) === null, 5000, 'c1 unregistered');
  a.stop(); b.stop();
});
