/**
 * 62 — one node on several processes (node.workers), black-box: one `petrel` process with
 * `node.workers: 2` and a real etcd (test/support/cluster.ts), MQTT.js clients on its one MQTT
 * port, its REST API, and the processes.
 *
 * - Connections are spread over the workers in turn; messages (QoS 0/1/2), retained messages and
 *   shared subscriptions cross between them; a client id taken on one worker is taken over from
 *   the other, a persistent session moves with every queued message.
 * - The REST API shows the node as one (nodes, stats, metrics, Prometheus) and each worker on
 *   request (`?workers=true`, `aggregate=false`).
 * - A worker killed with SIGKILL is started again while the other keeps its clients; SIGTERM to the
 *   node stops every worker cleanly; bad settings and a busy port stop the node with exit code 2 / 3.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IClientOptions, IConnackPacket, MqttClient } from 'mqtt';
import mqtt from 'mqtt';
import { collect, end, sleep, spawnBroker, until } from '../support/broker.js';
import { api, getJson } from '../support/api.js';
import { connectAck as connectTo, routed, startCluster, type ClusterNode, type TestCluster } from '../support/cluster.js';
import { freePort } from '../support/etcd-cluster.js';

const open: MqttClient[] = [];

interface NodeRow { node: string; node_status: string; connections: number | null; workers?: number; workers_running?: number }
interface ClientRow { clientid: string; node: string; connected: boolean }

const connectAck = (n: ClusterNode, opts: IClientOptions): Promise<{ c: MqttClient; connack: IConnackPacket }> => connectTo(n, opts, open);
const connect = async (n: ClusterNode, opts: IClientOptions = {}): Promise<MqttClient> => (await connectAck(n, opts)).c;

/** The member (worker) holding the client's connection, from the REST API. */
async function workerOf(n: ClusterNode, id: string): Promise<string> {
  const r = await getJson<ClientRow>(n, `/api/v5/clients/${encodeURIComponent(id)}`);
  return r.node;
}

const workerRows = (n: ClusterNode): Promise<NodeRow[]> => getJson<NodeRow[]>(n, '/api/v5/nodes?workers=true');

/** worker index → pid, the latest "worker ready" line of each. */
function workerPids(n: ClusterNode): Map<number, number> {
  const pids = new Map<number, number>();
  for (const line of n.output().split('\n')) {
    if (!line.includes('"worker ready"')) continue;
    const m = /"worker":(\d+).*"worker_pid":(\d+)/.exec(line);
    if (m) pids.set(Number(m[1]), Number(m[2]));
  }
  return pids;
}

describe('a node of two worker processes behind one port', () => {
  let cl: TestCluster;
  let N: ClusterNode;
  const W1 = 'w@127.0.0.1';
  const W2 = 'w.w2@127.0.0.1';

  before(async () => {
    cl = await startCluster({
      etcdMembers: 1, leaseTtl: '3s',
      nodes: [{ name: 'w', config: { node: { workers: 2 }, cluster: { link: { bind: '127.0.0.1:0', advertise: '' } } } }],
    });
    N = cl.nodes[0]!;
    await until(async () => (await workerRows(N)).length === 2, 20_000, 'both workers listed');
  });
  after(async () => { await end(...open.splice(0)); await cl?.stop(); });

  it('spreads connections over the workers in turn', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `spread-${i}`);
    for (const id of ids) await connect(N, { clientId: id });
    const where = await Promise.all(ids.map((id) => workerOf(N, id)));
    assert.equal(where.filter((w) => w === W1).length, 4, `4 on worker 1: ${where.join(', ')}`);
    assert.equal(where.filter((w) => w === W2).length, 4, `4 on worker 2: ${where.join(', ')}`);
    for (let i = 1; i < where.length; i++) assert.notEqual(where[i], where[i - 1], 'each connection on the other worker than the one before');
    await end(...open.splice(0));
  });

  it('messages, retained messages and shared subscriptions cross the workers', async () => {
    const s1 = await connect(N, { clientId: 'x-sub-1' });
    const s2 = await connect(N, { clientId: 'x-sub-2' });
    assert.notEqual(await workerOf(N, 'x-sub-1'), await workerOf(N, 'x-sub-2'));
    await s1.subscribeAsync('x/#', { qos: 2 });
    await s2.subscribeAsync('x/#', { qos: 2 });
    const p1 = await connect(N, { clientId: 'x-pub-1' });
    const p2 = await connect(N, { clientId: 'x-pub-2' });
    assert.notEqual(await workerOf(N, 'x-pub-1'), await workerOf(N, 'x-pub-2'));
    await routed(p1, 'x/probe1', [collect(s1), collect(s2)]);
    await routed(p2, 'x/probe2', [collect(s1), collect(s2)]);
    for (let i = 0; i < 20; i++) {
      await p1.publishAsync('x/m', `a${i}`, { qos: (i % 3) as 0 | 1 | 2 });
      await p2.publishAsync('x/m', `b${i}`, { qos: (i % 3) as 0 | 1 | 2 });
    }
    const got = (c: MqttClient): string[] => collect(c).filter((m) => m.topic === 'x/m').map((m) => m.payload);
    await until(() => got(s1).length >= 40 && got(s2).length >= 40, 10_000, '40 messages at each subscriber');
    await sleep(200);
    // MQTT orders a publisher's messages per topic and QoS (MQTT 5 §4.6); across QoS levels the workers' link may not
    for (const s of [s1, s2]) {
      for (const from of ['a', 'b']) {
        for (const qos of [0, 1, 2]) {
          const want = Array.from({ length: 20 }, (_, i) => i).filter((i) => i % 3 === qos).map((i) => `${from}${i}`);
          assert.deepEqual(got(s).filter((p) => p.startsWith(from) && Number(p.slice(1)) % 3 === qos), want, `${from}'s QoS ${qos} messages once, in order`);
        }
      }
    }
    // retained: set through one worker, read by subscribers on both
    await p1.publishAsync('x/ret', 'kept', { qos: 1, retain: true });
    const r1 = await connect(N, { clientId: 'x-ret-1' });
    const r2 = await connect(N, { clientId: 'x-ret-2' });
    // the REST request lands on either worker: four answers in a row that hold it
    let inARow = 0;
    await until(async () => {
      inARow = (await getJson<{ data: unknown[] }>(N, '/api/v5/retainer/messages')).data.length >= 1 ? inARow + 1 : 0;
      return inARow >= 4;
    }, 5000, 'the retained message on both workers');
    await r1.subscribeAsync('x/ret', { qos: 1 });
    await r2.subscribeAsync('x/ret', { qos: 1 });
    await until(() => collect(r1).some((m) => m.payload === 'kept') && collect(r2).some((m) => m.payload === 'kept'), 5000, 'the retained message on both workers');
    // a shared group with a member on each worker: every message to exactly one of them
    const g1 = await connect(N, { clientId: 'x-g-1' });
    const g2 = await connect(N, { clientId: 'x-g-2' });
    assert.notEqual(await workerOf(N, 'x-g-1'), await workerOf(N, 'x-g-2'));
    await g1.subscribeAsync('$share/g/xs/#', { qos: 1 });
    await g2.subscribeAsync('$share/g/xs/#', { qos: 1 });
    await sleep(500);
    for (let i = 0; i < 40; i++) await p1.publishAsync(`xs/${i}`, String(i), { qos: 1 });
    const shared = (): string[] => [...collect(g1), ...collect(g2)].filter((m) => m.topic.startsWith('xs/')).map((m) => m.payload);
    await until(() => shared().length >= 40, 10_000, '40 shared messages');
    await sleep(300);
    assert.deepEqual(shared().map(Number).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i), 'each shared message once');
    await end(...open.splice(0));
  });

  it('takes over a client id and moves a persistent session between workers', async () => {
    // a live takeover: the second connection lands on the other worker
    const first = await connect(N, { clientId: 'tk' });
    const firstOn = await workerOf(N, 'tk');
    const gone = new Promise<number | undefined>((r) => first.once('disconnect', (p) => r(p.reasonCode)));
    const second = await connect(N, { clientId: 'tk' });
    assert.equal(await gone, 0x8e, 'the first connection is told its session was taken over');
    await until(async () => (await workerOf(N, 'tk')) !== firstOn, 5000, 'the client on the other worker');
    await end(second);
    // a persistent session with queued messages
    const session = { clientId: 'dur', clean: false, properties: { sessionExpiryInterval: 600 } };
    const x = await connect(N, session);
    const xOn = await workerOf(N, 'dur');
    await x.subscribeAsync('dur/#', { qos: 1 });
    const pub = await connect(N, { clientId: 'dur-pub' });
    await routed(pub, 'dur/probe', [collect(x)]);
    await end(x);
    for (let i = 0; i < 30; i++) await pub.publishAsync('dur/m', String(i), { qos: 1 });
    // the next connection goes to the worker after dur-pub's: connect a filler when that is dur's old one
    if ((await workerOf(N, 'dur-pub')) !== xOn) await connect(N, { clientId: 'filler' });
    const { c: y, connack } = await connectAck(N, session);
    assert.notEqual(await workerOf(N, 'dur'), xOn, 'the session came back on the other worker');
    assert.equal(connack.sessionPresent, true);
    const got = (): string[] => collect(y).filter((m) => m.topic === 'dur/m').map((m) => m.payload);
    await until(() => got().length >= 30, 10_000, '30 queued messages');
    await sleep(200);
    assert.deepEqual(got(), Array.from({ length: 30 }, (_, i) => String(i)), 'every queued message, once, in order');
    await end(...open.splice(0));
  });

  it('shows the node as one in the REST API, and each worker on request', async () => {
    for (let i = 0; i < 6; i++) await connect(N, { clientId: `api-${i}` });
    // every request may land on either worker: ask several times
    for (let i = 0; i < 4; i++) {
      const rows = await getJson<NodeRow[]>(N, '/api/v5/nodes');
      assert.equal(rows.length, 1, 'one node');
      assert.equal(rows[0]!.node, W1);
      assert.equal(rows[0]!.workers, 2);
      assert.equal(rows[0]!.workers_running, 2);
      assert.equal(rows[0]!.connections, 6);
      const one = await getJson<NodeRow>(N, `/api/v5/nodes/${W1}`);
      assert.equal(one.workers, 2);
      assert.equal((await getJson<NodeRow>(N, `/api/v5/nodes/${W2}`)).node, W2, 'a worker by its own name');
      const stats = await getJson<Record<string, number>>(N, '/api/v5/stats');
      assert.equal(stats['connections.count'], 6, 'this node\'s connections: both workers\'');
      const metrics = await getJson<Record<string, number | string>>(N, '/api/v5/metrics');
      assert.equal(metrics['node'], W1);
      assert.ok((metrics['client.connected'] as number) >= 6);
      const prom = await (await api(N, '/metrics')).text();
      assert.match(prom, new RegExp(`petrel_connections_count\\{node="${W1.replace(/\./g, '\\.')}"\\} 6\\n`));
      const emqx = await (await api(N, '/api/v5/prometheus/stats')).text();
      assert.match(emqx, /emqx_connections_count\{node="w@127\.0\.0\.1"\} 6\n/);
    }
    const per = await workerRows(N);
    assert.deepEqual(per.map((r) => r.node).sort(), [W1, W2].sort());
    assert.equal(per.reduce((n, r) => n + (r.connections ?? 0), 0), 6);
    const perStats = await getJson<Array<{ node: string; 'connections.count': number }>>(N, '/api/v5/stats?aggregate=false');
    assert.deepEqual(perStats.map((r) => r['connections.count']), [3, 3], 'three connections on each worker');
    await end(...open.splice(0));
  });

  it('lists, stops, starts and changes a listener on every worker', async () => {
    type L = { id: string; running: boolean; currentConnections: number; workers_running: number; bind: string };
    const listener = async (): Promise<L> => (await getJson<L[]>(N, '/api/v5/listeners')).find((l) => l.id === 'tcp:default')!;
    for (let i = 0; i < 4; i++) await connect(N, { clientId: `lst-${i}` });
    for (let i = 0; i < 3; i++) {
      const l = await listener();
      assert.equal(l.currentConnections, 4, 'both workers\' connections');
      assert.equal(l.workers_running, 2);
      assert.equal(l.running, true);
    }
    await end(...open.splice(0));
    const put = (path: string, body?: unknown): Promise<Response> => api(N, path, { method: 'PUT', ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    assert.equal((await put('/api/v5/listeners/tcp:default/stop')).status, 204);
    const l = await listener();
    assert.equal(l.running, false);
    assert.equal(l.workers_running, 0);
    await assert.rejects(connect(N, { clientId: 'refused', connectTimeout: 2000 }), 'no worker accepts');
    assert.equal((await put('/api/v5/listeners/tcp:default/start')).status, 204);
    const a = await connect(N, { clientId: 'st-a' });
    const b = await connect(N, { clientId: 'st-b' });
    assert.deepEqual([await workerOf(N, 'st-a'), await workerOf(N, 'st-b')].sort(), [W1, W2].sort(), 'both workers accept again');
    await end(a, b);
    open.splice(0);
    // a new port: every worker moves to it
    const port = await freePort();
    const r = await put('/api/v5/listeners/tcp:default', { bind: `127.0.0.1:${port}` });
    assert.equal(r.status, 200, await r.text());
    const at = (id: string): Promise<MqttClient> => new Promise((resolve, reject) => {
      const c = mqtt.connect({ host: '127.0.0.1', port, clientId: id, reconnectPeriod: 0, protocolVersion: 5 });
      open.push(c);
      c.once('connect', () => resolve(c));
      c.once('error', reject);
    });
    await at('np-a');
    await at('np-b');
    assert.deepEqual([await workerOf(N, 'np-a'), await workerOf(N, 'np-b')].sort(), [W1, W2].sort(), 'both workers on the new port');
    await assert.rejects(connect(N, { clientId: 'old-port', connectTimeout: 2000 }), 'the old port is closed');
    await end(...open.splice(0));
    const back = await put('/api/v5/listeners/tcp:default', { bind: `127.0.0.1:${N.mqttPort}` });
    assert.equal(back.status, 200, await back.text());
  });

  it('starts a killed worker again while the other keeps its clients', async () => {
    const a = await connect(N, { clientId: 'live-a' });
    const b = await connect(N, { clientId: 'live-b' });
    const aOn = await workerOf(N, 'live-a');
    const bOn = await workerOf(N, 'live-b');
    assert.notEqual(aOn, bOn);
    const [keep, lose] = aOn === W1 ? [a, b] : [b, a];
    const lost = new Promise<void>((r) => lose.once('close', () => r()));
    const before = workerPids(N);
    assert.equal(before.size, 2, N.output().slice(-2000));
    process.kill(before.get(2)!, 'SIGKILL');
    await lost;
    await keep.subscribeAsync('live/#', { qos: 1 });
    await keep.publishAsync('live/1', 'still here', { qos: 1 });
    await until(() => collect(keep).some((m) => m.payload === 'still here'), 5000, 'the surviving worker serves its client');
    assert.equal(keep.connected, true);
    await until(() => (workerPids(N).get(2) ?? 0) !== before.get(2), 15_000, 'worker 2 started again');
    await until(async () => (await workerRows(N)).filter((r) => r.node_status === 'running').length === 2, 15_000, 'both workers listed again');
    assert.match(N.output(), /"worker":2.*"worker died: starting it again"/);
    // new connections reach both workers again and their messages cross
    const c1 = await connect(N, { clientId: 'after-1' });
    const c2 = await connect(N, { clientId: 'after-2' });
    assert.deepEqual([await workerOf(N, 'after-1'), await workerOf(N, 'after-2')].sort(), [W1, W2].sort());
    await c1.subscribeAsync('after/#', { qos: 1 });
    await routed(c2, 'after/probe', [collect(c1)]);
    await end(...open.splice(0));
  });

  it('stops every worker on SIGTERM, with exit code 0, also when every process of the group gets it (as systemd sends it)', async () => {
    for (const pid of workerPids(N).values()) process.kill(pid, 'SIGTERM');
    await N.kill('SIGTERM');
    const out = N.output();
    assert.doesNotMatch(out, /second signal/);
    assert.match(out, /--- exit code=0 signal=null\n$/);
    assert.match(out, /"worker":1,.*"msg":"node stopped"/);
    assert.match(out, /"worker":2,.*"msg":"node stopped"/);
  });
});

describe('node.workers refused or failing at start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-workers-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (name: string, config: Record<string, unknown>): Promise<{ code: number | null; out: string }> => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, JSON.stringify({ node: { data_dir: join(dir, name) }, log: { format: 'json' }, ...config }));
    const b = await spawnBroker(file);
    const closed = new Promise<void>((r) => b.proc.once('close', () => r()));
    const code = await b.exited;
    await closed;
    return { code, out: b.output() };
  };

  it('refuses more than one worker without etcd, and a bad count', async () => {
    const api0 = await freePort();
    const local = await run('local', { node: { workers: 2, data_dir: join(dir, 'l') }, listeners: { tcp: { default: { bind: '127.0.0.1:0' } }, ws: { default: { enable: false } } }, dashboard: { listeners: { http: { bind: `127.0.0.1:${api0}` } } } });
    assert.equal(local.code, 2, local.out);
    assert.match(local.out, /node\.workers: more than one worker needs cluster\.backend: etcd/);
    const zero = await run('zero', { node: { workers: 0, data_dir: join(dir, 'z') } });
    assert.equal(zero.code, 2, zero.out);
    assert.match(zero.out, /node\.workers: must be a whole number of processes from 1 to 256, or auto \(got 0\)/);
  });

  it('stops the node with exit code 3 when a worker cannot bind', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    const cl = await startCluster({ etcdMembers: 1, nodes: [] });
    try {
      const r = await run('busy', {
        node: { name: 'b@127.0.0.1', workers: 2, data_dir: join(dir, 'b') },
        listeners: { tcp: { default: { bind: `127.0.0.1:${port}` } }, ws: { default: { enable: false } } },
        dashboard: { listeners: { http: { bind: `127.0.0.1:${await freePort()}` } } },
        cluster: { backend: 'etcd', etcd: { endpoints: cl.etcd.clientURLs, prefix: '/busy' }, link: { bind: '127.0.0.1:0' } },
      });
      assert.equal(r.code, 3, r.out);
      assert.match(r.out, /EADDRINUSE/);
      assert.match(r.out, /worker exited while starting: stopping the node/);
    } finally {
      busy.close();
      await cl.stop();
    }
  });
});

