/**
 * The access-control store over a real etcd (one member on loopback): two nodes' stores on one
 * prefix see each other's writes through the watch, never hear their own, batch a large import,
 * take back a write etcd did not take, and reload after etcd compacted past a node that was cut
 * off (through a TCP proxy that drops its connections).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { CutProxy } from '../../support/cut-proxy.js';
import { startEtcdCluster, type EtcdTestCluster } from '../../support/etcd-cluster.js';
import { EtcdAccessStore } from '../../../broker/src/cluster/access-store.js';
import { closeEtcdClient } from '../../../broker/src/cluster/etcd.js';
import { ClusterKeys } from '../../../broker/src/cluster/keys.js';
import { until } from '../../support/broker.js';

let etcd: EtcdTestCluster;
let admin: Etcd3;
const clients: Etcd3[] = [];
const quiet = { info() {}, warn() {} };
let prefixes = 0;

before(async () => {
  etcd = await startEtcdCluster(['e0']);
  admin = new Etcd3({ hosts: hosts(), dialTimeout: 2000 });
});
after(async () => {
  for (const c of clients) closeEtcdClient(c);
  admin.close();
  await etcd.stop();
});

function hosts(): string[] { return etcd.clientURLs.map((u) => u.replace('http://', '')); }

const clientOf = new WeakMap<EtcdAccessStore, Etcd3>();

async function store(prefix: string, endpoints = hosts(), timeoutMs = 2000): Promise<EtcdAccessStore> {
  const c = new Etcd3({ hosts: endpoints, dialTimeout: 1000 });
  clients.push(c);
  const s = new EtcdAccessStore(c, new ClusterKeys(prefix), quiet, timeoutMs);
  clientOf.set(s, c);
  await s.start();
  return s;
}

/**
 * Stops a store that reaches etcd through `proxy`, closes its client, then the proxy: in the
 * other order the client keeps redialling the proxy and the test process never ends.
 */
async function stopBehind(s: EtcdAccessStore, proxy: CutProxy): Promise<void> {
  proxy.setCut(false);
  await s.stop();
  closeEtcdClient(clientOf.get(s)!);
  proxy.close();
}

/** What a store's watchers of `ns` were told, as "key=value" (value JSON, or "-" for gone). */
function heard(s: EtcdAccessStore, ns: string): string[] {
  const out: string[] = [];
  s.watch(ns, (k, v) => out.push(`${k}=${v === undefined ? '-' : JSON.stringify(v)}`));
  return out;
}


test('a write on one node reaches the other node\'s copy and watchers; the writer does not hear itself', async () => {
  const prefix = `/as${++prefixes}`;
  const [x, y] = [await store(prefix), await store(prefix)];
  const onX = heard(x, 'users');
  const onY = heard(y, 'users');
  await x.put('users', 'g\u0000alice', { hash: 'h1' });
  assert.deepEqual(x.get('users', 'g\u0000alice'), { hash: 'h1' }, 'the writer\'s copy at once');
  await until(() => onY.length === 1, 5000, 'y told');
  assert.deepEqual(onY, ['g\u0000alice={"hash":"h1"}']);
  assert.deepEqual(y.get('users', 'g\u0000alice'), { hash: 'h1' });
  await y.put('users', 'g\u0000alice', { hash: 'h2' });
  await until(() => onX.length === 1, 5000, 'x told');
  await x.del('users', 'g\u0000alice');
  await until(() => onY.length === 2, 5000, 'y told of the deletion');
  assert.deepEqual(onY, ['g\u0000alice={"hash":"h1"}', 'g\u0000alice=-']);
  assert.equal(y.get('users', 'g\u0000alice'), undefined);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(onX, ['g\u0000alice={"hash":"h2"}'], 'x never heard its own writes');
  await Promise.all([x.stop(), y.stop()]);
});

test('two nodes creating one key at once: one wins, and both copies hold the winner\'s value', async () => {
  const prefix = `/as${++prefixes}`;
  const [x, y] = [await store(prefix), await store(prefix)];
  const won = await Promise.all([x.create('users', 'twin', { by: 'x' }), y.create('users', 'twin', { by: 'y' })]);
  assert.deepEqual(won.filter(Boolean).length, 1, `exactly one created it (${won.join()})`);
  const by = won[0] ? 'x' : 'y';
  await until(() => (x.get('users', 'twin') as { by: string } | undefined)?.by === by && (y.get('users', 'twin') as { by: string } | undefined)?.by === by, 5000, 'both hold the winner');
  assert.equal(await x.create('users', 'twin', { by: 'again' }), false);
  await Promise.all([x.stop(), y.stop()]);
});

test('300 rows written at once arrive in key order; a prefix deleted goes on both', async () => {
  const prefix = `/as${++prefixes}`;
  const [x, y] = [await store(prefix), await store(prefix)];
  const rows = Array.from({ length: 300 }, (_, i) => [`u${String(i).padStart(3, '0')}`, { i }] as const);
  await x.putAll('users', [...rows].reverse());
  await until(() => [...y.scan('users')].length === 300, 5000, '300 rows on y');
  assert.deepEqual([...y.scan('users', 'u00')].map(([k]) => k), ['u000', 'u001', 'u002', 'u003', 'u004', 'u005', 'u006', 'u007', 'u008', 'u009']);
  await y.delPrefix('users', 'u1');
  await until(() => [...x.scan('users')].length === 200, 5000, 'x lost the u1xx rows');
  assert.equal(x.get('users', 'u150'), undefined);
  assert.deepEqual(x.get('users', 'u250'), { i: 250 });
  await Promise.all([x.stop(), y.stop()]);
});

test('a write etcd does not take rejects naming etcd, and this node\'s copy goes back', async () => {
  const prefix = `/as${++prefixes}`;
  const target = new URL(etcd.clientURLs[0]!);
  const proxy = new CutProxy({ host: target.hostname, port: Number(target.port) });
  const x = await store(prefix, [await proxy.listen()], 1000);
  try {
    await x.put('banned', 'clientid\u0000a', { who: 'a' });
    const onX = heard(x, 'banned');
    proxy.setCut(true);
    const t0 = Date.now();
    await assert.rejects(x.put('banned', 'clientid\u0000a', { who: 'changed' }), { code: 'CLUSTER_WRITE_FAILED', message: /banned: the change could not be stored cluster-wide \(etcd: .+\); nothing changed/ });
    assert.ok(Date.now() - t0 < 3000, `bounded by the timeout (${Date.now() - t0} ms)`);
    assert.deepEqual(x.get('banned', 'clientid\u0000a'), { who: 'a' }, 'back to what etcd holds');
    await assert.rejects(x.del('banned', 'clientid\u0000a'), { code: 'CLUSTER_WRITE_FAILED' });
    assert.deepEqual(x.get('banned', 'clientid\u0000a'), { who: 'a' });
    assert.deepEqual(onX, ['clientid\u0000a={"who":"a"}', 'clientid\u0000a={"who":"a"}'], 'the watchers were told to go back');
    assert.deepEqual(JSON.parse((await admin.get(`${prefix}/access/banned/clientid\u0000a`).string())!), { who: 'a' });
  } finally {
    await stopBehind(x, proxy);
  }
});

test('a node cut off while etcd compacts reloads everything and tells its watchers what differs', async () => {
  const prefix = `/as${++prefixes}`;
  const target = new URL(etcd.clientURLs[0]!);
  const proxy = new CutProxy({ host: target.hostname, port: Number(target.port) });
  const x = await store(prefix);
  const y = await store(prefix, [await proxy.listen()]);
  try {
    await x.putAll('rules', [['gone', [1]], ['kept', [1]], ['changed', [1]]]);
    await until(() => [...y.scan('rules')].length === 3, 5000, 'y has the first rows');
    const onY = heard(y, 'rules');
    proxy.setCut(true);
    await x.del('rules', 'gone');
    await x.put('rules', 'changed', [2]);
    await x.put('rules', 'new', [3]);
    const rev = (await admin.put(`${prefix}/compact-mark`).value('1').exec()).header.revision;
    await admin.kv.compact({ revision: rev, physical: true });
    assert.equal([...y.scan('rules')].length, 3, 'y fell behind');
    proxy.setCut(false);
    await until(() => y.counters.resyncs > 0, 30_000, 'y\'s watch cancelled for compaction');
    await until(() => onY.length === 3, 10_000, 'y told of the three differences');
    assert.deepEqual(onY.sort(), ['changed=[2]', 'gone=-', 'new=[3]']);
    assert.deepEqual([...y.scan('rules')], [['changed', [2]], ['kept', [1]], ['new', [3]]]);
  } finally {
    await x.stop();
    await stopBehind(y, proxy);
  }
});
