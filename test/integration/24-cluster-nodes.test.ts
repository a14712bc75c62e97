/**
 * Nodes of one cluster in this process (real 3-member etcd, real node link on loopback), observed
 * through MQTT and REST only: messages cross nodes for every QoS, once per node; shared groups serve
 * each message once cluster-wide; retained messages and persistent sessions follow the client.
 * Route replication is awaited with probe messages, never by looking inside a node.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcdCluster, type EtcdTestCluster } from '../support/etcd-cluster.js';
import type { MqttClient } from 'mqtt';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';

let etcd: EtcdTestCluster;
const nodes: TestBroker[] = [];
let clusterNo = 0;

async function cluster(n: number, extra: Record<string, unknown> = {}): Promise<TestBroker[]> {
  const prefix = `/c${process.pid}-${++clusterNo}`;
  const out: TestBroker[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await startBroker({
      node: { name: `n${i}@127.0.0.1`, role: i < 2 ? 'core' : 'replica', region: i < 2 ? 'r1' : 'r2' },
      cluster: { backend: 'etcd', etcd: { endpoints: etcd.clientURLs, prefix, lease_ttl: '3s' }, link: { bind: '127.0.0.1:0' } },
      ...extra,
    }));
  }
  nodes.push(...out);
  // every node lists every other (REST /api/v5/nodes), running, its link up
  await until(async () => {
    for (const b of out) {
      const rows = await (await fetch(`http://127.0.0.1:${b.apiPort}/api/v5/nodes`)).json() as Array<{ node_status: string; link_state: string }>;
      if (rows.length !== n || rows.some((r) => r.node_status !== 'running' || r.link_state === 'down')) return false;
    }
    return true;
  }, 15_000, 'all nodes joined');
  return out;
}

/**
 * Publishes probes on `topic` from `pub` until every client in `subs` got one (the routes they
 * need have reached the publisher's node), then forgets the probes.
 */
async function crossed(pub: MqttClient, subs: MqttClient[], topic: string): Promise<void> {
  const got = (c: MqttClient): boolean => collect(c).some((m) => m.payload === 'probe');
  await until(async () => { await pub.publishAsync(topic, 'probe', { qos: 0 }); await sleep(50); return subs.every(got); }, 10_000, `probes on ${topic}`);
  await sleep(100);
  for (const c of subs) { const l = collect(c); for (let i = l.length - 1; i >= 0; i--) if (l[i]!.payload === 'probe') l.splice(i, 1); }
}

before(async () => { etcd = await startEtcdCluster(['e0', 'e1', 'e2']); });
after(async () => {
  for (const b of nodes) await b.stop().catch(() => {});
  await etcd.stop();
});

test('a message published on one node reaches subscribers on the others, QoS 0/1/2, once each', async () => {
  const [a, b, c] = await cluster(3);
  const sb = await client(b, { clientId: 'sub-b', protocolVersion: 5 });
  const sc = await client(c, { clientId: 'sub-c' });
  await sb.subscribeAsync('t/+', { qos: 2 });
  await sc.subscribeAsync('t/#', { qos: 1 });
  await sc.subscribeAsync('t/x', { qos: 1 }); // overlapping: still one copy crosses to c
  const p = await client(a, { clientId: 'pub-a' });
  await crossed(p, [sb, sc], 't/probe');
  for (const qos of [0, 1, 2] as const) await p.publishAsync('t/x', `q${qos}`, { qos });
  await until(() => collect(sb).length === 3 && collect(sc).length >= 3, 5000, 'deliveries');
  await sleep(200);
  assert.deepEqual(collect(sb).map((m) => [m.payload, m.packet.qos]), [['q0', 0], ['q1', 1], ['q2', 2]]);
  // MQTT 3.1.1: one copy per client at the highest matching QoS
  assert.deepEqual(collect(sc).map((m) => [m.payload, m.packet.qos]), [['q0', 0], ['q1', 1], ['q2', 1]]);
  await end(sb, sc, p);
});

test('a shared group with members on two nodes gets each message once', async () => {
  const [a, b, c] = await cluster(3);
  const m1 = await client(b, { clientId: 'm1' });
  const m2 = await client(c, { clientId: 'm2' });
  await m1.subscribeAsync('$share/g/s/#', { qos: 1 });
  await m2.subscribeAsync('$share/g/s/#', { qos: 1 });
  const p = await client(a, { clientId: 'pub' });
  await crossed(p, [m1, m2], 's/probe'); // each member has had one: both nodes' group routes are on a
  for (let i = 0; i < 100; i++) await p.publishAsync(`s/${i}`, String(i), { qos: 1 });
  await until(() => collect(m1).length + collect(m2).length >= 100, 10_000, 'all 100 delivered');
  await sleep(300);
  const got = [...collect(m1), ...collect(m2)].map((m) => Number(m.payload)).sort((x, y) => x - y);
  assert.deepEqual(got, [...Array(100).keys()], 'each message exactly once');
  assert.ok(collect(m1).length > 0 && collect(m2).length > 0, `both nodes served (${collect(m1).length}/${collect(m2).length})`);
  await end(m1, m2, p);
});

test('a retained message published on one node is sent to a new subscriber on another', async () => {
  const [a, , c] = await cluster(3);
  const p = await client(a, { clientId: 'rp' });
  await p.publishAsync('r/1', 'kept', { qos: 1, retain: true });
  // a new subscriber on c, until the retained message has reached c
  let s: MqttClient | null = null;
  await until(async () => {
    if (s !== null) await end(s);
    s = await client(c, { clientId: 'rs' });
    await s.subscribeAsync('r/#', { qos: 1 });
    await sleep(100);
    return collect(s).length === 1;
  }, 5000, 'retained delivered on c');
  assert.equal(collect(s!)[0]!.payload, 'kept');
  assert.equal(collect(s!)[0]!.packet.retain, true);
  await end(p, s!);
});

test('a persistent session moves to the node its client reconnects to, with its queued messages', async () => {
  const [a, b] = await cluster(2);
  const x = await client(a, { clientId: 'x', clean: false });
  await x.subscribeAsync('q/1', { qos: 1 });
  await end(x);
  // a watcher on a with the same filter: when it gets what b publishes, so did x's session on a
  const watch = await client(a, { clientId: 'watch' });
  await watch.subscribeAsync('q/1', { qos: 1 });
  const p = await client(b, { clientId: 'qp' });
  await crossed(p, [watch], 'q/1');
  for (let i = 0; i < 5; i++) await p.publishAsync('q/1', `m${i}`, { qos: 1 });
  await until(() => collect(watch).length === 5, 5000, 'the 5 messages reached a');
  const x2 = await client(b, { clientId: 'x', clean: false });
  await until(() => collect(x2).filter((m) => m.payload !== 'probe').length === 5, 5000, 'queued messages on b');
  assert.deepEqual(collect(x2).filter((m) => m.payload !== 'probe').map((m) => m.payload), ['m0', 'm1', 'm2', 'm3', 'm4']);
  const l = collect(x2); l.length = 0;
  // and it keeps its subscription on b
  await p.publishAsync('q/1', 'after', { qos: 1 });
  await until(() => collect(x2).some((m) => m.payload === 'after'), 5000, 'live delivery after the move');
  await end(x2, p, watch);
});

test('a live connection taken over on another node gets DISCONNECT 0x8E', async () => {
  const [a, b] = await cluster(2);
  const probeSub = await client(b, { clientId: 'probe-sub' });
  await probeSub.subscribeAsync('probe', { qos: 0 });
  const probePub = await client(a, { clientId: 'probe-pub' });
  await crossed(probePub, [probeSub], 'probe'); // the link from a to b is up
  await end(probeSub, probePub);
  const first = await client(a, { clientId: 'dup', protocolVersion: 5 });
  const reason = new Promise<number>((r) => first.on('disconnect', (pkt) => r(pkt.reasonCode ?? -1)));
  const second = await client(b, { clientId: 'dup', protocolVersion: 5 });
  assert.equal(await reason, 0x8e);
  assert.ok(second.connected);
  await end(first, second);
});

test('$exclusive: one holder cluster-wide; free again when it unsubscribes', async () => {
  const [a, b] = await cluster(2);
  const x = await client(a, { clientId: 'ex1', protocolVersion: 5 });
  const y = await client(b, { clientId: 'ex2', protocolVersion: 5 });
  const gx = await x.subscribeAsync('$exclusive/e/1', { qos: 1 });
  assert.equal(gx[0]!.qos, 1);
  await assert.rejects(y.subscribeAsync('$exclusive/e/1', { qos: 1 }), /Quota exceeded/, 'taken on the other node: SUBACK 0x97');
  await x.unsubscribeAsync('$exclusive/e/1');
  await until(async () => y.subscribeAsync('$exclusive/e/1', { qos: 1 }).then(() => true, () => false), 5000, 'free after unsubscribe');
  await end(x, y);
});

test('delayed messages are published once, by the next node when the one publishing them leaves', async () => {
  const [a, b, c] = await cluster(3); // a (n0, the first core) publishes delayed messages
  const s = await client(c, { clientId: 'ds' });
  await s.subscribeAsync('d/#', { qos: 1 });
  const p = await client(b, { clientId: 'dp' });
  await crossed(p, [s], 'd/probe');
  await p.publishAsync('$delayed/1/d/1', 'soon', { qos: 1 });
  await p.publishAsync('$delayed/4/d/2', 'later', { qos: 1 });
  await until(() => collect(s).some((m) => m.payload === 'soon'), 5000, 'the first delayed message');
  await a.stop(); // the publishing node leaves (its lease is revoked): n1 takes over
  await until(() => collect(s).some((m) => m.payload === 'later'), 10_000, 'the second delayed message after a left');
  await sleep(500);
  assert.deepEqual(collect(s).map((m) => m.payload).sort(), ['later', 'soon']);
  await end(s, p);
});

for (const strategy of ['round_robin', 'hash_topic', 'hash_clientid', 'sticky', 'local'] as const) {
  test(`shared groups across nodes with the ${strategy} strategy: each message once per group`, async () => {
    const [a, b] = await cluster(2, { mqtt: { shared_subscription_strategy: strategy } });
    const onA = await client(a, { clientId: `${strategy}-ma` });
    const onB = await client(b, { clientId: `${strategy}-mb` });
    await onA.subscribeAsync('$share/g/st/#', { qos: 1 });
    await onB.subscribeAsync('$share/g/st/#', { qos: 1 });
    const p = await client(a, { clientId: `${strategy}-pub` });
    // round_robin reaches both members (so both group routes are on a); the others may pick one only
    if (strategy === 'round_robin') await crossed(p, [onA, onB], 'st/probe'); else await sleep(1500);
    for (const l of [collect(onA), collect(onB)]) l.length = 0;
    for (let i = 0; i < 60; i++) await p.publishAsync(`st/${i % 6}`, String(i), { qos: 1 });
    await until(() => collect(onA).length + collect(onB).length >= 60, 10_000, '60 deliveries');
    await sleep(300);
    const got = [...collect(onA), ...collect(onB)].map((m) => Number(m.payload)).sort((x, y) => x - y);
    assert.deepEqual(got, [...Array(60).keys()], 'each message exactly once');
    const [na, nb] = [collect(onA).length, collect(onB).length];
    if (strategy === 'local') assert.equal(na, 60, 'local: the member on the publisher\'s node takes them all');
    if (strategy === 'round_robin') assert.ok(na > 0 && nb > 0, `round_robin serves both (${na}/${nb})`);
    if (strategy === 'hash_clientid' || strategy === 'sticky') assert.ok(na === 60 || nb === 60, `${strategy}: one publisher, one member (${na}/${nb})`);
    await end(onA, onB, p);
  });
}
