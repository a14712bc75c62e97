/**
 * The etcd ClusterState against a real etcd (Debian's etcd-server, one member on loopback):
 * membership, route and retained replication by watch, the client claim transaction and its
 * race, routes leaving with a node's lease, and a full resync after etcd compacted past a node that
 * was cut off (through a TCP proxy that drops its connections).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import type { Message } from '../../../broker/src/types.js';
import { CutProxy } from '../../support/cut-proxy.js';
import { startEtcdCluster, type EtcdTestCluster } from '../../support/etcd-cluster.js';
import { EtcdClusterState } from '../../../broker/src/cluster/etcd.js';
import { until } from '../../support/broker.js';


let etcd: EtcdTestCluster;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
let prefixes = 0;

before(async () => { etcd = await startEtcdCluster(['e0']); });
after(async () => { await etcd.stop(); });

function state(name: string, prefix: string, ttl = 3, endpoints = etcd.clientURLs.map((u) => u.replace('http://', ''))): EtcdClusterState {
  return new EtcdClusterState({
    nodeName: name, role: 'core', region: 'r1', endpoints, prefix, tls: null,
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
  b.addRoute('+/status'); // first level a wildcard: an explicit route key
  b.joinGroup('g', 'y/#');
  await until(() => a.routes.nodesOf('+/status').includes('b@127.0.0.1') && a.routes.groupNodes('g', 'y/#').includes('b@127.0.0.1'), 5000, 'routes replicated');
  const seen: string[] = [];
  a.routes.match('dev/status', '', (n, g) => seen.push(`${n}:${g}`));
  assert.deepEqual(seen, ['b@127.0.0.1:null']);
  b.removeRoute('+/status');
  await until(() => a.routes.nodesOf('+/status').length === 0, 5000, 'route removal replicated');
  b.stop();
  await until(() => a.members().length === 1 && a.routes.remoteRoutes === 0, 8000, 'b left, its group route with it');
  a.stop();
});

test('1,000 device filters reach the other node as a route summary; removal is local until a snapshot', async () => {
  const [a, b] = await pair();
  const nodesFor = (topic: string): string[] => { const out: string[] = []; b.routes.match(topic, '', (n) => out.push(n)); return out; };
  for (let i = 0; i < 1000; i++) a.addRoute(`dev/${i}/cmd`);
  a.addRoute('fleet/7/#');
  await until(() => nodesFor('dev/999/cmd').length === 1, 10_000, 'the summary on b');
  for (let i = 0; i < 1000; i++) assert.deepEqual(nodesFor(`dev/${i}/cmd`), ['a@127.0.0.1'], `dev/${i}/cmd`);
  assert.deepEqual(nodesFor('fleet/7/x/y'), ['a@127.0.0.1'], 'a # filter after a literal prefix');
  let fp = 0;
  for (let i = 0; i < 1000; i++) fp += nodesFor(`other/${i}/cmd`).length;
  assert.ok(fp <= 5, `false positives: ${fp} of 1000`);
  assert.equal(b.routes.remoteRoutes, 1, 'one summary, however many filters');
  // a later route arrives as a delta
  a.addRoute('late/1');
  await until(() => nodesFor('late/1').length === 1, 5000, 'the delta on b');
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


function retainedMsg(topic: string, payload: string): Message {
  return { id: 1, topic, payload: Buffer.from(payload), qos: 0, retain: true, properties: {}, from: 'c', timestamp: Date.now(), expiresAt: 0 };
}

test('full resync after compaction: a node cut off while routes and retained messages change reloads them', async () => {
  const prefix = `/t${++prefixes}`;
  const target = new URL(etcd.clientURLs[0]!);
  const proxy = new CutProxy({ host: target.hostname, port: Number(target.port) });
  const viaProxy = await proxy.listen();
  const admin = new Etcd3({ hosts: etcd.clientURLs.map((u) => u.replace('http://', '')), dialTimeout: 2000 });
  const a = state('a@127.0.0.1', prefix);
  // b only knows etcd through the proxy; a long lease, so being cut off does not make it leave
  const b = state('b@127.0.0.1', prefix, 60, [viaProxy]);
  const A = 'a@127.0.0.1';
  try {
    await a.connect();
    await b.connect();

    // what a owns in etcd, as b should see it: explicit routes and retained topic → payload
    const truth = async (): Promise<{ routes: string[]; retained: string[] }> => {
      const routes = Object.keys(await admin.getAll().prefix(a.keys.routesOf(A)).strings())
        .map((k) => { const r = a.keys.parseRoute(k)!; return `${r.group ?? ''}|${r.topicFilter}`; });
      const retained = Object.entries(await admin.getAll().prefix(a.keys.retained).strings())
        .map(([k, v]) => `${k.slice(a.keys.retained.length)}=${Buffer.from((JSON.parse(v) as { payload: string }).payload, 'base64').toString()}`);
      return { routes: routes.sort(), retained: retained.sort() };
    };
    const copyOnB = (): { routes: string[]; retained: string[] } => ({
      routes: b.routes.routesOf(A).map((r) => `${r.group ?? ''}|${r.topicFilter}`).sort(),
      retained: [...b.retained.values()].map((m) => `${m.topic}=${m.payload.toString()}`).sort(),
    });

    a.addRoute('+/gone');
    a.addRoute('+/kept');
    a.joinGroup('g', 'gone/#');
    a.joinGroup('g', 'kept/#');
    a.putRetained(retainedMsg('r/gone', 'old'));
    a.putRetained(retainedMsg('r/kept', 'v1'));
    await until(() => copyOnB().routes.length === 4 && copyOnB().retained.length === 2, 5000, 'the first state on b');
    const before = { ...copyOnB() };
    assert.deepEqual(before, await truth());

    // b is cut off; a adds, changes and deletes
    proxy.setCut(true);
    a.removeRoute('+/gone');
    a.leaveGroup('g', 'gone/#');
    a.addRoute('+/new');
    a.joinGroup('g', 'new/#');
    a.addRoute('late/1'); // literal: a route summary change, not a route key
    a.deleteRetained('r/gone');
    a.putRetained(retainedMsg('r/kept', 'v2'));
    a.putRetained(retainedMsg('r/new', 'n'));
    await a.settle();
    const want = { routes: ['g|kept/#', 'g|new/#', '|+/kept', '|+/new'], retained: ['r/kept=v2', 'r/new=n'] };
    await until(async () => JSON.stringify(await truth()) === JSON.stringify(want), 5000, 'a\'s changes in etcd');
    assert.deepEqual(copyOnB(), before, 'b fell behind');

    // etcd forgets the history b's watches would resume from
    const rev = (await admin.put(`${prefix}/compact-mark`).value('1').exec()).header.revision;
    await admin.kv.compact({ revision: rev, physical: true });
    const resyncs = b.counters.resyncs;

    proxy.setCut(false);
    await until(() => b.counters.resyncs > resyncs, 30_000, 'b\'s watches cancelled for compaction');
    await until(() => JSON.stringify(copyOnB()) === JSON.stringify(want), 10_000, 'b reloaded');
    assert.deepEqual(copyOnB(), await truth());
    const nodesFor = (topic: string): string[] => { const out: string[] = []; b.routes.match(topic, '', (n) => out.push(n)); return out; };
    assert.deepEqual(nodesFor('x/gone'), [], 'a deleted route is gone from b');
    assert.deepEqual(nodesFor('late/1'), [A], 'the summary was reloaded too');

    // watching again from the reload: a later change still reaches b
    a.addRoute('+/after');
    await until(() => b.routes.nodesOf('+/after').includes(A), 5000, 'a change after the resync');
  } finally {
    a.stop(); b.stop();
    // b leaves through the proxy (watches cancelled, lease revoked): only then is the proxy closed,
    // or b's client keeps redialling it and the test process never ends
    await until(async () => (await admin.getAll().prefix(a.keys.nodes).keys()).length === 0, 5000, 'a and b left').catch(() => {});
    admin.close();
    proxy.close();
  }
});
