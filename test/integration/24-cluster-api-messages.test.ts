/**
 * The routes added with the OpenAPI document, across two nodes in this process (real etcd, real
 * node link): a session's queued messages are read through the node that does not hold it (the
 * `clients.messages` peer call), and a delayed message — one table, held in etcd — is listed and
 * deleted through either node, and never goes out.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcdCluster, type EtcdTestCluster } from '../support/etcd-cluster.js';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';

let etcd: EtcdTestCluster;
const nodes: TestBroker[] = [];

const get = async (b: TestBroker, path: string): Promise<{ status: number; body: any }> => {
  const r = await fetch(`http://127.0.0.1:${b.apiPort}${path}`);
  return { status: r.status, body: r.status === 204 ? null : await r.json() };
};
const del = (b: TestBroker, path: string) => fetch(`http://127.0.0.1:${b.apiPort}${path}`, { method: 'DELETE' });

before(async () => {
  etcd = await startEtcdCluster(['e0']);
  const prefix = `/m${process.pid}`;
  for (let i = 0; i < 2; i++) {
    nodes.push(await startBroker({
      node: { name: `m${i}@127.0.0.1`, role: 'core' },
      cluster: { backend: 'etcd', etcd: { endpoints: etcd.clientURLs, prefix, lease_ttl: '3s' }, link: { bind: '127.0.0.1:0' } },
    }));
  }
  await until(async () => {
    for (const b of nodes) {
      const rows = (await get(b, '/api/v5/nodes')).body as Array<{ node_status: string; link_state: string }>;
      if (rows.length !== 2 || rows.some((r) => r.node_status !== 'running' || r.link_state === 'down')) return false;
    }
    return true;
  }, 15_000, 'both nodes joined');
});
after(async () => {
  for (const b of nodes) await b.stop().catch(() => {});
  await etcd.stop();
});

test("a session's queued messages are read through the other node", async () => {
  const [a, b] = nodes as [TestBroker, TestBroker];
  const away = await client(b, { clientId: 'far-q', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
  await away.subscribeAsync('far/t', { qos: 1 });
  await end(away);
  const pub = await client(b, { protocolVersion: 5 });
  for (let i = 0; i < 2; i++) await pub.publishAsync('far/t', `f${i}`, { qos: 1 });
  await end(pub);
  const r = await get(a, '/api/v5/clients/far-q/mqueue_messages?payload=plain');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.data.map((m: { payload: string }) => m.payload), ['f0', 'f1']);
  assert.equal((await get(a, '/api/v5/clients/nobody/inflight_messages')).status, 404);
});

test('a delayed message is listed and deleted through either node, and never published', async () => {
  const [a, b] = nodes as [TestBroker, TestBroker];
  const sub = await client(a, { protocolVersion: 5 });
  await sub.subscribeAsync('soon/#', { qos: 1 });
  const got = collect(sub);
  const pub = await client(a, { protocolVersion: 5 });
  await pub.publishAsync('$delayed/3/soon/x', 'drop me', { qos: 1 });
  let row: { msgid: string; node: string } | undefined;
  await until(async () => { row = (await get(b, '/api/v5/mqtt/delayed/messages')).body.data[0]; return row !== undefined; }, 3000, 'the delayed message on the other node');
  assert.equal((await del(b, `/api/v5/mqtt/delayed/messages/${row!.node}/${row!.msgid}`)).status, 204);
  await until(async () => (await get(a, '/api/v5/mqtt/delayed/messages')).body.meta.count === 0, 3000, 'the deletion to reach the first node');
  await sleep(3500);
  assert.equal(got.length, 0, 'the deleted message never went out');
  await end(sub, pub);
});
