/**
 * 23 — a replica cut off from the cluster. The replica runs in a network namespace
 * (test/support/netns.ts); etcd and the two cores run on the host. Its clients reach it over the
 * namespace's access veth, which is never cut; `cut()` takes down the cluster veth, so the replica
 * loses etcd and its links to the cores while its own clients stay connected — an edge site that
 * lost its uplink.
 *
 * - A cut shorter than lease_ttl: local pub/sub on the replica keeps working, and QoS 1 messages
 *   published on a core for a subscriber on the replica during the cut arrive after the heal.
 * - A cut longer than lease_ttl: the cores drop the replica from /api/v5/nodes; local pub/sub on
 *   the replica keeps working; after the heal it rejoins and its subscriptions route again.
 *
 * v3 vs v5: nothing here depends on the protocol version; the clients are v5.
 *
 * Needs root and `ip netns`: skipped, with the reason, otherwise. The first test checks the
 * namespace machinery itself with a standalone node and passes without the etcd backend.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IClientOptions, MqttClient } from 'mqtt';
import { client, collect, end, repoRoot, sleep, until, type Received } from '../support/broker.js';
import { getJson, nodes } from '../support/api.js';
import { routed, startCluster, type ClusterNode, type TestCluster } from '../support/cluster.js';
import { freePort } from '../support/etcd-cluster.js';
import { IP_BIN, createNetns, cut, heal, netnsUnavailable, removeNetns, runInNetns, type Netns } from '../support/netns.js';

const unavailable = netnsUnavailable();
const skip = unavailable ?? false;

const open: MqttClient[] = [];
afterEach(async () => { await end(...open.splice(0)); });

async function connect(n: ClusterNode, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await n.connect({ protocolVersion: 5, ...opts });
  open.push(c);
  return c;
}

const data = (got: Received[], topic: string): string[] => got.filter((m) => m.topic === topic).map((m) => m.payload);

/** Resolves with the PUBACK, or fails after `ms`: a publish that hangs is a failure here. */
function publishWithin(c: MqttClient, topic: string, payload: string, ms: number): Promise<void> {
  return Promise.race([
    c.publishAsync(topic, payload, { qos: 1 }).then(() => {}),
    sleep(ms).then(() => { throw new Error(`no PUBACK for ${topic} ${payload} within ${ms} ms`); }),
  ]);
}

/** What `ip route get` says about `addr` (its error when there is no route). */
function routeTo(addr: string): string {
  try {
    return execFileSync(IP_BIN, ['route', 'get', addr], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    return String((e as { stderr?: string }).stderr ?? e).trim();
  }
}

function tcpReachable(host: string, port: number, ms = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => { s.destroy(); resolve(false); }, ms);
    s.once('connect', () => { clearTimeout(t); s.destroy(); resolve(true); });
    s.once('error', () => { clearTimeout(t); resolve(false); });
  });
}

describe('network namespace harness', { skip }, () => {
  let ns: Netns;
  let dir: string;
  let proc: ReturnType<typeof runInNetns> | undefined;
  before(() => {
    ns = createNetns('h');
    dir = mkdtempSync(join(tmpdir(), 'petrel-netns-'));
  });
  after(async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    removeNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a node inside, reachable from the host over the veth; cut stops the cluster side only; heal restores it', async () => {
    const [mqttPort, apiPort] = [await freePort(), await freePort()];
    const cfg = join(dir, 'petrel.yaml');
    writeFileSync(cfg, JSON.stringify({
      node: { name: `h@${ns.nsAddr}`, data_dir: join(dir, 'data') },
      listeners: { tcp: { default: { bind: `0.0.0.0:${mqttPort}` } }, ws: { default: { enable: false } } },
      dashboard: { listeners: { http: { bind: `0.0.0.0:${apiPort}` } } },
      log: { level: 'info', format: 'json' },
    }));
    proc = runInNetns(ns, process.execPath, [join(repoRoot(), 'dist', 'broker', 'src', 'main.js'), '--config', cfg]);
    let out = '';
    proc.stdout!.on('data', (d) => { out += d; });
    proc.stderr!.on('data', (d) => { out += d; });
    const p = proc;
    await until(async () => {
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`the node in ${ns.name} exited:\n${out}`);
      return tcpReachable(ns.accessAddr, mqttPort, 300);
    }, 15_000, `the node in ${ns.name} to listen`).catch((e) => { throw new Error(`${e.message}\n${out}`); });

    // the node's own loopback is not the host's: nothing listens on 127.0.0.1:mqttPort out here
    assert.equal(await tcpReachable('127.0.0.1', mqttPort, 300), false);

    // reachable over both pairs; a subscriber over the cluster pair, a publisher over the access pair
    const sub = await client(mqttPort, { host: ns.nsAddr, clientId: 'ns-sub', protocolVersion: 5 });
    open.push(sub);
    const got = collect(sub);
    await sub.subscribeAsync('ns/#', { qos: 1 });
    const pub = await client(mqttPort, { host: ns.accessAddr, clientId: 'ns-pub', protocolVersion: 5 });
    open.push(pub);
    await pub.publishAsync('ns/before', 'b', { qos: 1 });
    await until(() => data(got, 'ns/before').length === 1, 3000, 'a message over the veth');

    // a server on the host side of the cluster pair, as etcd and the cores' links are in the cluster tests
    const hostSide = net.createServer((s) => s.end()).listen(0, ns.hostAddr);
    await new Promise((r) => hostSide.once('listening', r));
    const hostSidePort = (hostSide.address() as net.AddressInfo).port;
    try {
      cut(ns);
      assert.equal(ns.isCut, true);
      // the cut side is unreachable at once, and never through the host's default route
      assert.equal(await tcpReachable(ns.nsAddr, mqttPort), false, 'cluster side unreachable while cut');
      assert.match(routeTo(ns.nsAddr), /No route to host|unreachable/, 'the unreachable route answers, not the default route');
      // the access side stays, and host processes still reach each other on the host-side address
      assert.equal(await tcpReachable(ns.accessAddr, mqttPort), true, 'access side reachable while cut');
      assert.equal(await tcpReachable(ns.hostAddr, hostSidePort), true, 'host-side address usable on the host while cut');
      const status = await getJson<{ status: string }>({ apiPort, apiHost: ns.accessAddr }, '/api/v5/status');
      assert.equal(status.status, 'running');
      // the established connection over the cut pair stalls rather than failing
      await pub.publishAsync('ns/during', 'd', { qos: 1 });
      await sleep(1000);
      assert.deepEqual(data(got, 'ns/during'), [], 'nothing crosses the cut');
    } finally {
      heal(ns);
      hostSide.close();
    }
    assert.equal(ns.isCut, false);
    // TCP retransmits over the healed pair: the stalled message arrives on the same connection
    await until(() => data(got, 'ns/during').length === 1, 20_000, 'the stalled message after heal');
    assert.equal(sub.connected, true);
    assert.equal(await tcpReachable(ns.nsAddr, mqttPort), true, 'cluster side reachable after heal');
  });
});

/** etcd and cores a, b on the host; replica r in a namespace. */
async function partitionCluster(ns: Netns, leaseTtl: string): Promise<TestCluster> {
  return startCluster({
    etcdMembers: 3,
    leaseTtl,
    nodes: [
      { name: 'a', role: 'core', region: 'hq' },
      { name: 'b', role: 'core', region: 'hq' },
      { name: 'r', role: 'replica', region: 'edge', netns: ns },
    ],
  });
}

describe('a replica cut off for less than lease_ttl', { skip }, () => {
  let ns: Netns | undefined;
  let cl: TestCluster | undefined;
  before(async () => {
    ns = createNetns('p1');
    cl = await partitionCluster(ns, '10s');
  });
  after(async () => {
    if (ns?.isCut) heal(ns);
    await cl?.stop();
    if (ns) removeNetns(ns);
  });

  it('keeps local pub/sub on the replica working during the cut and delivers QoS 1 messages from a core after the heal', async () => {
    const c = cl!;
    await c.waitJoined(3);
    const [A, , R] = c.nodes;
    const localSub = await connect(R, { clientId: 'edge-local-sub' });
    const localGot = collect(localSub);
    await localSub.subscribeAsync('edge/local/#', { qos: 1 });
    const localPub = await connect(R, { clientId: 'edge-local-pub' });
    const remoteSub = await connect(R, { clientId: 'edge-remote-sub' });
    const remoteGot = collect(remoteSub);
    await remoteSub.subscribeAsync('edge/from-core/#', { qos: 1 });
    const corePub = await connect(A, { clientId: 'core-pub' });
    await routed(localPub, 'edge/local/probe', [localGot], 15_000);
    await routed(corePub, 'edge/from-core/probe', [remoteGot], 15_000);

    const cutAt = Date.now();
    cut(ns!);
    const local = Array.from({ length: 20 }, (_, i) => `l${i}`);
    const fromCore = Array.from({ length: 10 }, (_, i) => `c${i}`);
    // The core's PUBACKs are not awaited during the cut: whether a core acknowledges before its
    // peer does is the implementation's choice; that every message arrives is not.
    const coreAcks: Promise<unknown>[] = [];
    for (let i = 0; i < local.length; i++) {
      await publishWithin(localPub, 'edge/local/data', local[i], 2000);
      if (i < fromCore.length) coreAcks.push(corePub.publishAsync('edge/from-core/data', fromCore[i], { qos: 1 }));
      await sleep(100);
    }
    await until(() => data(localGot, 'edge/local/data').length >= local.length, 5000, 'local messages during the cut');
    assert.deepEqual(data(localGot, 'edge/local/data'), local, 'local pub/sub during the cut: each once, in order');
    const cutFor = Date.now() - cutAt;
    assert.ok(cutFor < c.leaseTtlMs, `the cut (${cutFor} ms) stays shorter than lease_ttl`);
    heal(ns!);

    await Promise.race([Promise.all(coreAcks), sleep(30_000).then(() => { throw new Error('the core did not acknowledge within 30 s of the heal'); })]);
    await until(() => new Set(data(remoteGot, 'edge/from-core/data')).size >= fromCore.length, 30_000, 'messages from the core after the heal');
    assert.deepEqual([...new Set(data(remoteGot, 'edge/from-core/data'))], fromCore, 'every QoS 1 message from the core, in order');
    assert.equal(localSub.connected && remoteSub.connected, true, 'the replica\'s clients stayed connected');
    await c.waitJoined(3, 10_000);
  });
});

describe('a replica cut off for longer than lease_ttl', { skip }, () => {
  let ns: Netns | undefined;
  let cl: TestCluster | undefined;
  before(async () => {
    ns = createNetns('p2');
    cl = await partitionCluster(ns, '3s');
  });
  after(async () => {
    if (ns?.isCut) heal(ns);
    await cl?.stop();
    if (ns) removeNetns(ns);
  });

  it('leaves the cluster while it keeps serving its local clients, then rejoins and routes again after the heal', async () => {
    const c = cl!;
    await c.waitJoined(3);
    const [A, B, R] = c.nodes;
    const localSub = await connect(R, { clientId: 'edge-local-sub' });
    const localGot = collect(localSub);
    await localSub.subscribeAsync('edge/local/#', { qos: 1 });
    const localPub = await connect(R, { clientId: 'edge-local-pub' });
    const remoteSub = await connect(R, { clientId: 'edge-remote-sub' });
    const remoteGot = collect(remoteSub);
    await remoteSub.subscribeAsync('edge/from-core/#', { qos: 1 });
    const corePub = await connect(A, { clientId: 'core-pub' });
    await routed(corePub, 'edge/from-core/probe', [remoteGot], 15_000);

    cut(ns!);
    try {
      await until(async () => {
        for (const n of [A, B]) if ((await nodes(n)).some((r) => r.node === R.name)) return false;
        return true;
      }, c.leaseTtlMs + 5000, `the cores to drop ${R.name}`);
      // past the lease: the replica is on its own and still serves its clients
      const local = Array.from({ length: 10 }, (_, i) => `l${i}`);
      for (const p of local) await publishWithin(localPub, 'edge/local/data', p, 2000);
      await until(() => data(localGot, 'edge/local/data').length >= local.length, 5000, 'local messages after the lease expired');
      assert.deepEqual(data(localGot, 'edge/local/data'), local);
      assert.equal((await getJson<{ status: string }>(R, '/api/v5/status')).status, 'running', 'the replica\'s API answers while cut off');
    } finally {
      heal(ns!);
    }

    await c.waitJoined(3);
    // its subscription, made before the cut, routes again without the client doing anything
    await routed(corePub, 'edge/from-core/after-heal', [remoteGot], 20_000);
    assert.equal(remoteSub.connected, true);
  });
});

