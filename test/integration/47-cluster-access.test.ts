/**
 * 47 — access control is the cluster's, not a node's (`cluster.backend: etcd`): nodes in this
 * process, a real etcd, observed through MQTT and REST only. What one node's REST API changes —
 * built-in users, SCRAM users, the authentication chain, built-in authorization rules and
 * sources, the banned list — another node enforces, a node started later loads, and a node
 * restarted keeps. Each check polls until the other node agrees and reports how long it took
 * after the 2xx (the write is in etcd by then; the rest is the watch).
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcdCluster, type EtcdTestCluster } from '../support/etcd-cluster.js';
import type { MqttClient } from 'mqtt';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { api, getJson } from '../support/api.js';

let etcd: EtcdTestCluster;
const running = new Set<TestBroker>();
let clusterNo = 0;

const BUILT_IN = { mechanism: 'password_based', backend: 'built_in_database' };
const USERS = '/api/v5/authentication/password_based:built_in_database/users';
const json = (method: string, body: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A node of the cluster `prefix`; `dataDir` to start it again on the same data. */
async function node(prefix: string, name: string, extra: Record<string, unknown> = {}, dataDir?: string): Promise<TestBroker> {
  const b = await startBroker({
    node: { name: `${name}@127.0.0.1` },
    cluster: { backend: 'etcd', etcd: { endpoints: etcd.clientURLs, prefix, lease_ttl: '3s' }, link: { bind: '127.0.0.1:0' } },
    ...extra,
  }, { dataDir, keepData: dataDir !== undefined });
  running.add(b);
  return b;
}

async function stopNode(b: TestBroker): Promise<void> { running.delete(b); await b.stop(); }

/** Two nodes of a fresh cluster, both listing each other. */
async function pair(extra: Record<string, unknown> = {}): Promise<{ prefix: string; a: TestBroker; b: TestBroker }> {
  const prefix = `/acc${process.pid}-${++clusterNo}`;
  const a = await node(prefix, 'a', extra);
  const b = await node(prefix, 'b', extra);
  await until(async () => (await getJson<unknown[]>(b, '/api/v5/nodes')).length === 2, 15_000, 'both nodes joined');
  return { prefix, a, b };
}

/** CONNECT (MQTT 5) over a raw socket: the CONNACK reason code, or 'closed'. */
async function connack(b: TestBroker, opts: { clientId: string; username?: string; password?: string }): Promise<number | 'closed'> {
  const r = await rawClient(b.port, 5);
  try {
    const ack = await r.connect({ ...opts, password: opts.password === undefined ? undefined : Buffer.from(opts.password) });
    return ack.reasonCode as number;
  } catch { return 'closed'; } finally { r.destroy(); }
}

/** Polls until `b` answers `code` for the CONNECT; returns the ms it took. */
async function connackBecomes(b: TestBroker, opts: Parameters<typeof connack>[1], code: number, what: string): Promise<number> {
  const t0 = Date.now();
  let last: number | 'closed' = 'closed';
  await until(async () => (last = await connack(b, opts)) === code, 10_000, `${what} (last CONNACK: ${String(last)})`);
  return Date.now() - t0;
}

/** The PUBACK reason code of a QoS 1 publish (MQTT.js rejects on an error code). */
async function puback(c: MqttClient, topic: string, payload: string): Promise<number> {
  try { return ((await c.publishAsync(topic, payload, { qos: 1 })) as { reasonCode?: number } | undefined)?.reasonCode ?? 0; } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

const uid = (p: string): string => `${p}-${Math.random().toString(16).slice(2, 8)}`;
const figure = (t: TestContext, what: string, ms: number): void => t.diagnostic(`figure: ${what}: ${ms} ms after the 2xx`);

before(async () => { etcd = await startEtcdCluster(['e0']); });
after(async () => {
  for (const b of running) await b.stop().catch(() => {});
  await etcd.stop();
});

test('a user added through REST on node A connects on node B; deleted on A, refused on B; SCRAM users are shared too', async (t) => {
  const { a, b } = await pair({ authentication: [BUILT_IN, { mechanism: 'scram', backend: 'built_in_database' }] });
  const who = { clientId: uid('u'), username: 'alice', password: 'alice-pw' };
  assert.equal(await connack(b, who), 0x87, 'nobody knows alice yet');
  assert.equal((await api(a, USERS, json('POST', { user_id: 'alice', password: 'alice-pw' }))).status, 201);
  figure(t, 'user added on A → login on B', await connackBecomes(b, who, 0, 'alice logs in on B'));
  assert.equal(await connack(b, { ...who, password: 'wrong' }), 0x86, 'a wrong password is still refused');
  assert.deepEqual(await getJson(b, `${USERS}/alice`), { user_id: 'alice', is_superuser: false });

  assert.equal((await api(b, `${USERS}/alice`, json('PUT', { password: 'changed' }))).status, 200);
  await connackBecomes(a, { ...who, password: 'changed' }, 0, 'the password changed on B works on A');
  assert.equal(await connack(a, who), 0x86, 'the old password no longer works on A');

  assert.equal((await api(a, `${USERS}/alice`, { method: 'DELETE' })).status, 204);
  figure(t, 'user deleted on A → refused on B', await connackBecomes(b, { ...who, password: 'changed' }, 0x87, 'alice refused on B'));
  assert.equal((await api(b, `${USERS}/alice`)).status, 404);

  // The same user added on both nodes at once: one is created, the other is told it exists.
  const both = await Promise.all([a, b].map((n) => api(n, USERS, json('POST', { user_id: 'twin', password: `pw-${n.port}` }))));
  assert.deepEqual(both.map((r) => r.status).sort(), [201, 409]);
  const winner = [a, b][both.findIndex((r) => r.status === 201)]!;
  for (const n of [a, b]) await connackBecomes(n, { clientId: uid('t'), username: 'twin', password: `pw-${winner.port}` }, 0, 'the winning password on both nodes');

  const scram = '/api/v5/authentication/scram:built_in_database/users';
  assert.equal((await api(a, scram, json('POST', { user_id: 'sam', password: 'sam-pw' }))).status, 201);
  await until(async () => (await api(b, `${scram}/sam`)).status === 200, 5000, 'the SCRAM user listed on B');
  assert.equal((await api(b, scram, json('POST', { user_id: 'sam', password: 'x' }))).status, 409, 'B knows sam exists');
  await Promise.all([stopNode(a), stopNode(b)]);
});

test('an authorization rule added on A is obeyed on B at once (its cached answers dropped); a source added on A runs on B', async (t) => {
  const { a, b } = await pair({ authorization: { sources: [{ type: 'built_in_database' }], no_match: 'allow' } });
  const sub = await client(b, { clientId: uid('s'), protocolVersion: 5 });
  await sub.subscribeAsync('order/#', { qos: 1 });
  const pub = await client(b, { clientId: uid('p'), username: 'mallory', protocolVersion: 5 });
  // Allowed, and the answer is now cached on B for this client and topic.
  assert.equal(await puback(pub, 'order/1', 'before'), 0);
  await until(() => collect(sub).some((m) => m.payload === 'before'), 5000, 'the first message');

  const rules = [{ username: 'mallory', rules: [{ topic: 'order/#', permission: 'deny', action: 'publish' }] }];
  assert.equal((await api(a, '/api/v5/authorization/sources/built_in_database/rules/users', json('POST', rules))).status, 204);
  const t0 = Date.now();
  await until(async () => await puback(pub, 'order/1', 'after') === 0x87, 5000, 'the publish denied on B');
  figure(t, 'rule added on A → publish denied on B', Date.now() - t0);
  await sleep(200);
  assert.ok(!collect(sub).some((m) => m.payload === 'after'), 'nothing denied was delivered');
  const shown = await getJson<{ username: string; rules: Array<{ topic: string }> }>(b, '/api/v5/authorization/sources/built_in_database/rules/users/mallory');
  assert.deepEqual([shown.username, shown.rules.map((r) => r.topic)], ['mallory', ['order/#']]);

  assert.equal((await api(a, '/api/v5/authorization/sources/built_in_database/rules/users/mallory', { method: 'DELETE' })).status, 204);
  await until(async () => (await puback(pub, 'order/1', 'again')) === 0, 5000, 'allowed again on B');

  // A source added and settings changed through A's REST API apply on B.
  assert.equal((await api(a, '/api/v5/authorization/sources', json('POST', { type: 'file', rules: '{deny, all, publish, ["audit/#"]}.' }))).status, 204);
  await until(async () => ((await getJson<{ sources: Array<{ type: string }> }>(b, '/api/v5/authorization/sources')).sources.map((s) => s.type).join()) === 'built_in_database,file', 5000, 'B lists the file source');
  await until(async () => await puback(pub, 'audit/1', 'x') === 0x87, 5000, 'the file source denies on B');
  assert.equal((await api(a, '/api/v5/authorization/settings', json('PUT', { no_match: 'deny' }))).status, 204);
  await until(async () => await puback(pub, 'free/1', 'x') === 0x87, 5000, 'no_match deny on B');
  await end(sub, pub);
  await Promise.all([stopNode(a), stopNode(b)]);
});

test('a ban added on A kicks a client connected to B and refuses it there; removed on A, B lets it in', async (t) => {
  const { a, b } = await pair();
  const id = uid('banned');
  const c = await client(b, { clientId: id, protocolVersion: 5 });
  const kicked = new Promise<number>((resolve) => c.once('close', () => resolve(Date.now())));
  const res = await api(a, '/api/v5/banned', json('POST', { as: 'clientid', who: id, reason: 'test' }));
  assert.equal(res.status, 200);
  const t0 = Date.now();
  const at = await Promise.race([kicked, sleep(5000).then(() => 0)]);
  assert.ok(at > 0, 'the client on B was disconnected');
  figure(t, 'ban added on A → client on B kicked', Math.max(0, at - t0));
  assert.equal(await connack(b, { clientId: id }), 0x8a, 'refused on B');
  assert.deepEqual((await getJson<{ data: Array<{ who: string }> }>(b, '/api/v5/banned')).data.map((r) => r.who), [id]);
  assert.equal((await api(a, `/api/v5/banned/clientid/${id}`, { method: 'DELETE' })).status, 204);
  await connackBecomes(b, { clientId: id }, 0, 'let in on B after the ban went');
  c.end(true);
  await Promise.all([stopNode(a), stopNode(b)]);
});

test('an authenticator added, then disabled, through REST on A takes effect on B; a node started later and a node restarted keep all of it', async (t) => {
  const { prefix, a, b } = await pair();
  const anon = { clientId: uid('anon') };
  assert.equal(await connack(b, anon), 0, 'no authentication yet');
  assert.equal((await api(a, '/api/v5/authentication', json('POST', BUILT_IN))).status, 200);
  figure(t, 'authenticator added on A → anonymous refused on B', await connackBecomes(b, anon, 0x87, 'anonymous refused on B'));
  assert.equal((await api(a, USERS, json('POST', { user_id: 'bob', password: 'bob-pw' }))).status, 201);
  const bob = { clientId: uid('bob'), username: 'bob', password: 'bob-pw' };
  await connackBecomes(b, bob, 0, 'bob logs in on B');

  // Rules, a source and a ban, all made on A.
  assert.equal((await api(a, '/api/v5/authorization/sources', json('POST', { type: 'built_in_database' }))).status, 204);
  assert.equal((await api(a, '/api/v5/authorization/sources/built_in_database/rules/all', json('POST', { rules: [{ topic: 'secret/#', permission: 'deny', action: 'all' }] }))).status, 204);
  assert.equal((await api(a, '/api/v5/banned', json('POST', { as: 'username', who: 'eve' }))).status, 200);
  assert.equal((await api(a, USERS, json('POST', { user_id: 'eve', password: 'eve-pw' }))).status, 201);

  /** Everything above, as `n` enforces it. */
  const holds = async (n: TestBroker, what: string): Promise<void> => {
    assert.equal(await connack(n, anon), 0x87, `${what}: anonymous refused`);
    assert.equal(await connack(n, bob), 0, `${what}: bob logs in`);
    assert.equal(await connack(n, { clientId: uid('eve'), username: 'eve', password: 'eve-pw' }), 0x8a, `${what}: eve is banned`);
    const c = await client(n, { clientId: uid('bob'), username: 'bob', password: 'bob-pw', protocolVersion: 5 });
    assert.equal(await puback(c, 'secret/1', 'x'), 0x87, `${what}: the rule for all denies`);
    assert.equal(await puback(c, 'open/1', 'x'), 0, `${what}: other topics allowed`);
    await end(c);
  };
  let why = '';
  await until(async () => { try { await holds(b, 'B'); return true; } catch (err) { why = (err as Error).message; return false; } }, 5000, 'B enforces what A was told').catch((err: Error) => { throw new Error(`${err.message}: ${why}`); });

  const c = await node(prefix, 'c');
  await holds(c, 'a node started later');
  const dataDir = b.dataDir;
  await stopNode(b);
  const b2 = await node(prefix, 'b', {}, dataDir);
  await holds(b2, 'B restarted');

  // Disabled on A: the chain has no enabled authenticator left, so everyone is let in again, on B and C.
  assert.equal((await api(a, '/api/v5/authentication/password_based:built_in_database', json('PUT', { ...BUILT_IN, enable: false }))).status, 204);
  figure(t, 'authenticator disabled on A → anonymous let in on B', await connackBecomes(b2, anon, 0, 'anonymous let in on B'));
  await connackBecomes(c, anon, 0, 'anonymous let in on C');
  await Promise.all([stopNode(a), stopNode(b2), stopNode(c)]);
});

test('etcd unreachable: a REST change answers 503 naming etcd and changes nothing; the node keeps serving the clients it knows', async () => {
  const own = await startEtcdCluster(['f0']);
  const prefix = `/acc${process.pid}-down`;
  let a: TestBroker | undefined;
  try {
    a = await startBroker({
      node: { name: 'down@127.0.0.1' },
      cluster: { backend: 'etcd', etcd: { endpoints: own.clientURLs, prefix, lease_ttl: '10s', dial_timeout: '1s' }, link: { bind: '127.0.0.1:0' } },
      authentication: [BUILT_IN],
    });
    assert.equal((await api(a, USERS, json('POST', { user_id: 'kept', password: 'kept-pw' }))).status, 201);
    await own.stop();
    const res = await api(a, USERS, json('POST', { user_id: 'lost', password: 'lost-pw' }));
    const body = await res.json() as { code: string; message: string };
    assert.deepEqual([res.status, body.code], [503, 'SERVICE_UNAVAILABLE']);
    assert.match(body.message, /could not be stored cluster-wide \(etcd: .+\); nothing changed, try again/);
    assert.equal((await api(a, `${USERS}/lost`)).status, 404, 'taken back on this node');
    assert.equal(await connack(a, { clientId: uid('l'), username: 'lost', password: 'lost-pw' }), 0x87);
    assert.equal(await connack(a, { clientId: uid('k'), username: 'kept', password: 'kept-pw' }), 0, 'known users still log in');
  } finally {
    await a?.stop();
    await own.stop();
  }
});
