/**
 * 22 — a cluster (cluster.backend: etcd), black-box: a real 3-member etcd and broker processes
 * (2 cores + 1 replica, lease_ttl 3s), seen only through MQTT.js clients, the REST API and the
 * processes themselves (test/support/cluster.ts).
 *
 * v3 vs v5: routing, shared subscriptions and retained messages behave the same for both; the
 * takeover tests use v5 to see the DISCONNECT reason (0x8E Session taken over) and the session
 * expiry, and the persistent session is a v5 one (clean start 0, expiry 300 s).
 *
 * Routes reach the other nodes asynchronously (through etcd), so a test that subscribes on one
 * node and publishes on another first sends probe messages to a sibling topic until the
 * subscriber sees one; the data messages counted are on other topics.
 *
 * The "harness" tests check the processes, the REST API and the cleanup, and pass on a broker
 * that does not implement the etcd backend yet (such a node runs standalone); every other test
 * needs the backend.
 */
import { after, afterEach, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import mqtt, { type IClientOptions, type IConnackPacket, type IDisconnectPacket, type MqttClient } from 'mqtt';
import { collect, until, sleep, end, type Received } from '../support/broker.js';
import { getJson, nodes, routes, clientInfo } from '../support/api.js';
import { routed, startCluster, type ClusterNode, type TestCluster } from '../support/cluster.js';

const LEASE_TTL = '3s';
const SPECS = [
  { name: 'a', role: 'core' as const, region: 'eu-west' },
  { name: 'b', role: 'core' as const, region: 'eu-west' },
  { name: 'c', role: 'replica' as const, region: 'eu-north' },
];

/** Clients opened by the current test, closed after it whatever happened. */
const open: MqttClient[] = [];
afterEach(async () => { await end(...open.splice(0)); });

async function connect(n: ClusterNode, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await n.connect({ protocolVersion: 5, ...opts });
  open.push(c);
  return c;
}

/** Connects and returns the CONNACK too (for sessionPresent). */
function connectAck(n: ClusterNode, opts: IClientOptions): Promise<{ c: MqttClient; connack: IConnackPacket }> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: n.host, port: n.mqttPort, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5, ...opts });
    collect(c); // from the first packet: queued messages can come with the CONNACK
    open.push(c);
    const onErr = (err: Error): void => { c.end(true); reject(err); };
    c.once('connect', (connack) => { c.off('error', onErr); resolve({ c, connack }); });
    c.once('error', onErr);
  });
}

const data = (got: Received[], prefix: string): Received[] => got.filter((m) => m.topic.startsWith(prefix));

async function mainCluster(): Promise<TestCluster> {
  return startCluster({ etcdMembers: 3, nodes: SPECS, leaseTtl: LEASE_TTL });
}

describe('a cluster of 2 cores and 1 replica on a 3-member etcd', () => {
  let cl: TestCluster;
  let A: ClusterNode, B: ClusterNode, C: ClusterNode;
  let joined: Promise<void> | undefined;
  // every test needs the 3 nodes joined; waited for once, its outcome shared
  const waitJoined = (): Promise<void> => (joined ??= cl.waitJoined(3));

  before(async () => {
    cl = await mainCluster();
    [A, B, C] = cl.nodes;
  });
  after(async () => { await cl?.stop(); });

  it('harness: every node process runs and answers GET /api/v5/status with its own name', async () => {
    for (const n of cl.nodes) {
      assert.ok(n.alive, `${n.name} runs`);
      const s = await getJson<{ node: string; status: string }>(n, '/api/v5/status');
      assert.equal(s.node, n.name);
      assert.equal(s.status, 'running');
      assert.ok(n.output().includes('"level"'), `${n.name} logs JSON`);
    }
    assert.equal(new Set(cl.nodes.flatMap((n) => [n.mqttPort, n.apiPort, n.linkPort])).size, 9, 'ports are distinct');
  });

  it('lists all 3 nodes with their role and region on every node (/api/v5/nodes)', async () => {
    await waitJoined();
    for (const n of cl.nodes) {
      const rows = await nodes(n);
      assert.deepEqual(rows.map((r) => r.node).sort(), cl.nodes.map((x) => x.name).sort(), `nodes seen by ${n.name}`);
      for (const x of cl.nodes) {
        const row = rows.find((r) => r.node === x.name)!;
        assert.equal(row.role, x.role, `role of ${x.name} seen by ${n.name}`);
        assert.equal(row.region, x.region, `region of ${x.name} seen by ${n.name}`);
        assert.equal(row.node_status, 'running');
      }
    }
  });

  for (const qos of [0, 1, 2] as const) {
    it(`delivers a QoS ${qos} message published on one node to a subscriber on another, once, at QoS ${qos}`, async () => {
      await waitJoined();
      for (const [pubNode, subNode] of [[A, B], [C, A], [B, C]]) {
        const tag = `x/q${qos}/${pubNode.name[0]}${subNode.name[0]}`;
        const sub = await connect(subNode, { clientId: `sub-${tag.replace(/\//g, '-')}` });
        const got = collect(sub);
        await sub.subscribeAsync(`${tag}/#`, { qos });
        const pub = await connect(pubNode, { clientId: `pub-${tag.replace(/\//g, '-')}` });
        await routed(pub, `${tag}/probe`, [got]);
        for (let i = 0; i < 5; i++) await pub.publishAsync(`${tag}/data`, `m${i}`, { qos });
        await until(() => data(got, `${tag}/data`).length >= 5, 5000, `5 QoS ${qos} messages ${pubNode.name} → ${subNode.name}`);
        await sleep(300); // duplicates would arrive by now
        const msgs = data(got, `${tag}/data`);
        assert.deepEqual(msgs.map((m) => m.payload), ['m0', 'm1', 'm2', 'm3', 'm4'], `${pubNode.name} → ${subNode.name}: each once, in order`);
        for (const m of msgs) assert.equal(m.packet.qos, qos);
      }
    });
  }

  it('matches wildcard subscriptions on other nodes (+ and #)', async () => {
    await waitJoined();
    const plus = await connect(B, { clientId: 'wc-plus' });
    const plusGot = collect(plus);
    await plus.subscribeAsync('wc/+/temp', { qos: 1 });
    const hash = await connect(C, { clientId: 'wc-hash' });
    const hashGot = collect(hash);
    await hash.subscribeAsync('wc/#', { qos: 1 });
    const pub = await connect(A, { clientId: 'wc-pub' });
    await routed(pub, 'wc/probe/temp', [plusGot, hashGot]);
    for (const t of ['wc/k1/temp', 'wc/k1/hum', 'wc/k2/temp', 'wc/k2/temp/deep']) await pub.publishAsync(t, t, { qos: 1 });
    await until(() => data(hashGot, 'wc/k').length >= 4 && data(plusGot, 'wc/k').length >= 2, 5000, 'wildcard deliveries');
    await sleep(300);
    assert.deepEqual(data(plusGot, 'wc/k').map((m) => m.topic), ['wc/k1/temp', 'wc/k2/temp']);
    assert.deepEqual(data(hashGot, 'wc/k').map((m) => m.topic), ['wc/k1/temp', 'wc/k1/hum', 'wc/k2/temp', 'wc/k2/temp/deep']);
  });

  it('gives each message of a shared subscription to exactly one member, members on two nodes both served', async () => {
    await waitJoined();
    const m1 = await connect(A, { clientId: 'sh-m1' });
    const m2 = await connect(B, { clientId: 'sh-m2' });
    const got1 = collect(m1);
    const got2 = collect(m2);
    await m1.subscribeAsync('$share/g/sh/#', { qos: 1 });
    await m2.subscribeAsync('$share/g/sh/#', { qos: 1 });
    const pub = await connect(C, { clientId: 'sh-pub' });
    await routed(pub, 'sh/probe', [got1, got2]);
    for (let i = 0; i < 100; i++) await pub.publishAsync(`sh/data/${i}`, `s${i}`, { qos: 1 });
    const all = (): Received[] => [...data(got1, 'sh/data'), ...data(got2, 'sh/data')];
    await until(() => all().length >= 100, 10_000, '100 shared messages');
    await sleep(500);
    const payloads = all().map((m) => m.payload);
    assert.equal(payloads.length, 100, 'each message delivered once to the group');
    assert.equal(new Set(payloads).size, 100, 'no message to two members');
    assert.ok(data(got1, 'sh/data').length > 0, `member on ${A.name} served`);
    assert.ok(data(got2, 'sh/data').length > 0, `member on ${B.name} served`);
  });

  it('serves a message retained on one node to a new subscriber on another', async () => {
    await waitJoined();
    const pub = await connect(A, { clientId: 'ret-pub' });
    await pub.publishAsync('ret/cluster', 'kept', { qos: 1, retain: true });
    // retained messages reach the other nodes asynchronously: a new subscriber every 500 ms
    let msg: Received | undefined;
    const deadline = Date.now() + 10_000;
    for (let i = 0; msg === undefined && Date.now() < deadline; i++) {
      const s = await connect(C, { clientId: `ret-sub-${i}` });
      const got = collect(s);
      await s.subscribeAsync('ret/cluster', { qos: 1 });
      await sleep(500);
      msg = got.find((m) => m.topic === 'ret/cluster');
    }
    assert.ok(msg, `retained message published on ${A.name} seen by a new subscriber on ${C.name}`);
    assert.equal(msg.payload, 'kept');
    assert.equal(msg.packet.retain, true);
    await pub.publishAsync('ret/cluster', '', { qos: 1, retain: true });
  });

  it('resumes a persistent session on another node with its queued messages and sessionPresent', async () => {
    await waitJoined();
    const session = { clientId: 'tk-persist', clean: false, properties: { sessionExpiryInterval: 300 } };
    const x = await connect(A, session);
    const xGot = collect(x);
    await x.subscribeAsync('tk/x/#', { qos: 1 });
    const pub = await connect(C, { clientId: 'tk-pub' });
    await routed(pub, 'tk/x/probe', [xGot]);
    await end(x);
    for (let i = 0; i < 5; i++) await pub.publishAsync('tk/x/data', `q${i}`, { qos: 1 });
    await sleep(300);
    const { c: y, connack } = await connectAck(B, session);
    assert.equal(connack.sessionPresent, true, 'sessionPresent on the other node');
    const got = collect(y);
    await until(() => data(got, 'tk/x/data').length >= 5, 5000, '5 queued messages after the move');
    await sleep(300);
    assert.deepEqual(data(got, 'tk/x/data').map((m) => m.payload), ['q0', 'q1', 'q2', 'q3', 'q4']);
    const info = await clientInfo(B, 'tk-persist');
    assert.equal(info?.connected, true);
  });

  it('takes over a live connection from another node: the old one gets DISCONNECT 0x8E and closes', async () => {
    await waitJoined();
    const first = await connect(A, { clientId: 'tk-live' });
    let reason: number | undefined;
    first.on('disconnect', (p: IDisconnectPacket) => { reason = p.reasonCode; });
    let closed = false;
    first.on('close', () => { closed = true; });
    const second = await connect(B, { clientId: 'tk-live' });
    await until(() => closed, 5000, `the connection on ${A.name} to close`);
    assert.equal(reason, 0x8e, 'DISCONNECT reason Session taken over');
    await sleep(500);
    assert.equal(second.connected, true, `the connection on ${B.name} stays`);
  });

  it('leaves exactly one connection when the same client id connects to two nodes at once', async () => {
    await waitJoined();
    for (let round = 0; round < 5; round++) {
      const id = `race-${round}`;
      const attempts = await Promise.allSettled([connect(A, { clientId: id }), connect(B, { clientId: id })]);
      const cs = attempts.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      assert.ok(cs.length >= 1, `round ${round}: at least one CONNECT accepted`);
      await until(() => cs.filter((c) => c.connected).length <= 1, cl.leaseTtlMs + 5000, `round ${round}: one connection left`);
      await sleep(1000);
      const live = cs.filter((c) => c.connected);
      assert.equal(live.length, 1, `round ${round}: exactly one connected`);
      // the survivor is a working connection
      const got = collect(live[0]);
      await live[0].subscribeAsync(`race/${round}`, { qos: 1 });
      await live[0].publishAsync(`race/${round}`, 'alive', { qos: 1 });
      await until(() => got.some((m) => m.topic === `race/${round}`), 5000, `round ${round}: survivor receives`);
    }
  });
});

describe('a core killed with SIGKILL', () => {
  let cl: TestCluster;
  before(async () => { cl = await mainCluster(); });
  after(async () => { await cl?.stop(); });

  it('leaves /api/v5/nodes within lease_ttl + 5 s, its routes go, and publishing keeps working', async () => {
    await cl.waitJoined(3);
    const [A, B, C] = cl.nodes;
    const onB = await connect(B, { clientId: 'kill-sub-b' });
    const onC = await connect(C, { clientId: 'kill-sub-c' });
    const gotB = collect(onB);
    const gotC = collect(onC);
    await onB.subscribeAsync('kill/#', { qos: 1 });
    await onC.subscribeAsync('kill/#', { qos: 1 });
    const pub = await connect(A, { clientId: 'kill-pub' });
    await routed(pub, 'kill/probe', [gotB, gotC]);
    assert.ok((await routes(A)).some((r) => r.node === B.name), `${A.name} routes to ${B.name} before the kill`);

    const killedAt = Date.now();
    await B.kill('SIGKILL');
    onB.end(true);
    await until(async () => {
      for (const n of [A, C]) if ((await nodes(n)).some((r) => r.node === B.name)) return false;
      return true;
    }, cl.leaseTtlMs + 5000, `${B.name} to leave /api/v5/nodes on ${A.name} and ${C.name}`);
    const gone = Date.now() - killedAt;
    for (const n of [A, C]) {
      assert.deepEqual((await nodes(n)).map((r) => r.node).sort(), [A.name, C.name].sort(), `nodes seen by ${n.name} after ${gone} ms`);
      assert.ok(!(await routes(n)).some((r) => r.node === B.name), `${n.name} holds no route to ${B.name}`);
    }
    const acked = pub.publishAsync('kill/after', 'still-works', { qos: 1 });
    await Promise.race([acked, sleep(5000).then(() => { throw new Error('no PUBACK within 5 s after the kill'); })]);
    await until(() => gotC.some((m) => m.topic === 'kill/after'), 5000, `the subscriber on ${C.name} to receive`);
  });
});

describe('one etcd member killed', () => {
  let cl: TestCluster;
  before(async () => { cl = await mainCluster(); });
  after(async () => { await cl?.stop(); });

  it('keeps cross-node pub/sub going without interruption and keeps every node a member', async () => {
    await cl.waitJoined(3);
    const [A, B] = cl.nodes;
    const sub = await connect(B, { clientId: 'etcd-sub' });
    const got = collect(sub);
    const arrivals: number[] = [];
    sub.on('message', (topic) => { if (topic === 'ek/data') arrivals.push(Date.now()); });
    await sub.subscribeAsync('ek/#', { qos: 1 });
    const pub = await connect(A, { clientId: 'etcd-pub' });
    await routed(pub, 'ek/probe', [got]);

    // the leader: the worst member to lose (an election follows)
    const leader = await cl.etcd.leader();
    const N = 200;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      if (i === 50) await cl.etcd.kill(leader);
      sends.push(pub.publishAsync('ek/data', `e${i}`, { qos: 1 }));
      await sleep(20);
    }
    await Promise.all(sends);
    await until(() => data(got, 'ek/data').length >= N, 10_000, `${N} messages across the member loss`);
    await sleep(300);
    assert.deepEqual(data(got, 'ek/data').map((m) => m.payload), Array.from({ length: N }, (_, i) => `e${i}`), 'every message once, in order');
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]);
    assert.ok(Math.max(...gaps) < 2000, `no stall: largest gap between messages ${Math.max(...gaps)} ms`);
    // leases are renewed through the remaining members: nobody drops out
    await sleep(cl.leaseTtlMs + 2000);
    await cl.waitJoined(3, 5000);
  });
});

test('harness: a node restarted after kill -9 answers again on the same ports, and stop() removes every process and directory', async () => {
  const cl = await startCluster({ etcdMembers: 1, nodes: [{ name: 'solo' }], leaseTtl: LEASE_TTL });
  const n = cl.nodes[0];
  try {
    const before = { mqtt: n.mqttPort, api: n.apiPort };
    await n.kill('SIGKILL');
    assert.equal(n.alive, false);
    await n.restart();
    assert.equal(n.alive, true);
    assert.deepEqual({ mqtt: n.mqttPort, api: n.apiPort }, before);
    assert.equal((await getJson<{ node: string }>(n, '/api/v5/status')).node, n.name);
    const c = await connect(n, { clientId: 'harness' });
    await end(c);
    assert.match(n.output(), /--- exit code=null signal=SIGKILL/);
  } finally {
    await cl.stop();
  }
  assert.equal(n.alive, false, 'process stopped');
  assert.equal(existsSync(n.dataDir), false, 'data dir removed');
});
