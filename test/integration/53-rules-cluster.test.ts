/**
 * 53 — rules are the cluster's (`cluster.backend: etcd`): a rule created through REST on node A
 * fires on node B for a message published on B; disabled on A, it stops on B; deleted on A, B
 * no longer has it; a node started later loads it; with etcd gone a change is refused (503) and
 * not kept on the node alone. Two nodes in this process, a real etcd,
 * observed through MQTT and REST only. Each step reports how long B took to agree after A's 2xx
 * (A answers once etcd has the change).
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcdCluster, type EtcdTestCluster } from '../support/etcd-cluster.js';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { api, getJson } from '../support/api.js';
import { createServer, type IncomingMessage } from 'node:http';

let etcd: EtcdTestCluster;
const running = new Set<TestBroker>();
const json = (method: string, body: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const figure = (t: TestContext, what: string, ms: number): void => t.diagnostic(`figure: ${what}: ${ms} ms after the 2xx`);

async function node(prefix: string, name: string): Promise<TestBroker> {
  const b = await startBroker({
    node: { name: `${name}@127.0.0.1` },
    cluster: { backend: 'etcd', etcd: { endpoints: etcd.clientURLs, prefix, lease_ttl: '3s' }, link: { bind: '127.0.0.1:0' } },
  });
  running.add(b);
  return b;
}

before(async () => { etcd = await startEtcdCluster(['e0']); });

test('a connector and an action made through REST on node A serve a rule on node B', async () => {
  const bodies: string[] = [];
  const http = createServer((req: IncomingMessage, res) => { let d = ''; req.on('data', (c) => { d += c; }); req.on('end', () => { bodies.push(d); res.end('ok'); }); });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  const port = (http.address() as { port: number }).port;
  const prefix = `/sinks${process.pid}`;
  const a = await node(prefix, 'sa');
  const b = await node(prefix, 'sb');
  try {
    await until(async () => (await getJson<unknown[]>(b, '/api/v5/nodes')).length === 2, 15_000, 'both nodes joined');
    assert.equal((await api(a, '/api/v5/connectors', json('POST', { type: 'http', name: 'hook', url: `http://127.0.0.1:${port}` }))).status, 201);
    assert.equal((await api(a, '/api/v5/actions', json('POST', { type: 'http', name: 'hook', connector: 'hook', parameters: { path: '/in', body: '${clientid}:${payload}' } }))).status, 201);
    await until(async () => (await api(b, '/api/v5/actions/http:hook')).status === 200, 10_000, 'B has the action');
    assert.equal((await api(a, '/api/v5/rules', json('POST', { id: 'to_hook', sql: 'SELECT clientid, payload FROM "hk/#"', actions: ['http:hook'] }))).status, 201);
    await until(async () => (await api(b, '/api/v5/rules/to_hook')).status === 200, 10_000, 'B has the rule');
    const pub = await client(b, { clientId: 'dev-on-b' });
    await pub.publishAsync('hk/1', 'hello', { qos: 1 });
    await until(() => bodies.length === 1, 10_000, 'the HTTP sink got the message published on B');
    assert.deepEqual(bodies, ['dev-on-b:hello']);
    await end(pub);
    assert.equal((await api(a, '/api/v5/rules/to_hook', { method: 'DELETE' })).status, 204);
    await until(async () => (await api(b, '/api/v5/rules/to_hook')).status === 404, 10_000, 'B drops the rule');
    assert.equal((await api(a, '/api/v5/actions/http:hook', { method: 'DELETE' })).status, 204);
    await until(async () => (await api(b, '/api/v5/actions/http:hook')).status === 404, 10_000, 'B drops the action');
  } finally {
    await a.stop(); await b.stop(); running.delete(a); running.delete(b);
    http.close();
  }
});
after(async () => {
  for (const b of running) await b.stop().catch(() => {});
  await etcd.stop().catch(() => {});
});

test('a rule created on node A fires on node B; disabled and deleted on A, B follows; a later node loads it', async (t) => {
  const prefix = `/rules${process.pid}`;
  const a = await node(prefix, 'a');
  const b = await node(prefix, 'b');
  await until(async () => (await getJson<unknown[]>(b, '/api/v5/nodes')).length === 2, 15_000, 'both nodes joined');

  const sub = await client(b, { clientId: 'watch-b' });
  await sub.subscribeAsync('cl-out/#', { qos: 1 });
  const got = collect(sub);
  const pub = await client(b, { clientId: 'pub-b' });

  const created = await api(a, '/api/v5/rules', json('POST', {
    id: 'shared', sql: 'SELECT payload.x as x FROM "cl/#" WHERE payload.x > 1',
    actions: [{ function: 'republish', args: { topic: 'cl-out/${x}', qos: 1, payload: 'from ${x}' } }],
  }));
  assert.equal(created.status, 201);
  let t0 = Date.now();
  await until(async () => (await api(b, '/api/v5/rules/shared')).status === 200, 10_000, 'B lists the rule');
  figure(t, 'rule created on A → listed on B', Date.now() - t0);

  await pub.publishAsync('cl/1', JSON.stringify({ x: 5 }), { qos: 1 });
  await pub.publishAsync('cl/1', JSON.stringify({ x: 0 }), { qos: 1 }); // WHERE false
  await until(() => got.length >= 1, 5000, 'the rule fired on B');
  await sleep(150);
  assert.deepEqual(got.map((m) => [m.topic, m.payload]), [['cl-out/5', 'from 5']]);
  const mb = (await getJson<{ metrics: Record<string, number> }>(b, '/api/v5/rules/shared/metrics')).metrics;
  assert.equal(mb.matched, 2, 'B evaluated both messages (metrics are per node, as EMQX\'s node_metrics)');
  assert.equal(mb.passed, 1);

  assert.equal((await api(a, '/api/v5/rules/shared', json('PUT', { enable: false }))).status, 200);
  t0 = Date.now();
  await until(async () => (await getJson<{ enable: boolean }>(b, '/api/v5/rules/shared')).enable === false, 10_000, 'B sees the rule disabled');
  figure(t, 'rule disabled on A → disabled on B', Date.now() - t0);
  await pub.publishAsync('cl/1', JSON.stringify({ x: 7 }), { qos: 1 });
  await sleep(300);
  assert.equal(got.length, 1, 'a disabled rule does not fire on B');
  assert.equal((await api(b, '/api/v5/rules/shared', json('PUT', { enable: true }))).status, 200, 'B can change it back');
  await until(async () => (await getJson<{ enable: boolean }>(a, '/api/v5/rules/shared')).enable === true, 10_000, 'A sees the rule enabled by B');

  // A node that joins later loads the rule from etcd.
  const c = await node(prefix, 'c');
  assert.equal((await getJson<{ id: string }>(c, '/api/v5/rules/shared')).id, 'shared');

  assert.equal((await api(a, '/api/v5/rules/shared', { method: 'DELETE' })).status, 204);
  t0 = Date.now();
  await until(async () => (await api(b, '/api/v5/rules/shared')).status === 404 && (await api(c, '/api/v5/rules/shared')).status === 404, 10_000, 'B and C drop it');
  figure(t, 'rule deleted on A → gone on B and C', Date.now() - t0);
  await pub.publishAsync('cl/1', JSON.stringify({ x: 9 }), { qos: 1 });
  await sleep(300);
  assert.equal(got.length, 1);
  await end(sub, pub);

  // etcd gone: a change is answered 503 and taken back, not kept on A alone.
  await etcd.stop();
  const refused = await api(a, '/api/v5/rules', json('POST', { id: 'lonely', sql: 'SELECT * FROM "x"', actions: [] }));
  assert.equal(refused.status, 503, await refused.text());
  assert.equal((await api(a, '/api/v5/rules/lonely')).status, 404, 'the refused rule is not kept on A');
});
