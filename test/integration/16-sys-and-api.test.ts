/**
 * 16 — $SYS topics and the REST API: $SYS/brokers (the node list) and
 * $SYS/brokers/{node}/version (retained), client connected/disconnected events, periodic
 * uptime/stats/metrics; /status and /api/v5/status for probes, /api/v5/nodes (and
 * `petrel ctl cluster`), /api/v5/clients (list with filters, get, kick with DELETE),
 * /api/v5/publish, subscriptions, retained messages, stats and metrics (aggregate), Prometheus
 * text, API keys. One node: the cluster-wide endpoints answer for it alone.
 *
 * v3 vs v5: a kicked v5 client gets DISCONNECT 0x98 (administrative action) before the
 * connection closes; a v3 client is just disconnected. $SYS works the same for both.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startBroker, client, collect, until, end, sleep, repoRoot, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { getJson, metrics, stats } from '../support/api.js';
import { VERSION } from '../../broker/src/version.js';

const NODE = 'petrel-test@127.0.0.1';
let b: TestBroker;
let keyed: TestBroker;
let keyDir: string;
before(async () => {
  keyDir = mkdtempSync(join(tmpdir(), 'petrel-keys-'));
  writeFileSync(join(keyDir, 'keys'), '# test keys\nops:s3cret\n');
  [b, keyed] = await Promise.all([
    startBroker({ node: { name: NODE, region: 'eu-west' }, sys_topics: { sys_msg_interval: '300ms', sys_heartbeat_interval: '300ms' } }),
    startBroker({ api_key: { bootstrap_file: join(keyDir, 'keys') } }),
  ]);
});
after(async () => { await Promise.all([b.stop(), keyed.stop()]); rmSync(keyDir, { recursive: true, force: true }); });

const api = (path: string, init: RequestInit = {}, tb: TestBroker = b) => fetch(`http://127.0.0.1:${tb.apiPort}${path}`, init);
const post = (path: string, body: unknown) => api(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };

test('$SYS/brokers/{node}/version is retained with the broker version', async () => {
  const c = await client(b, { protocolVersion: 5 });
  const got = collect(c);
  await c.subscribeAsync(`$SYS/brokers/${NODE}/version`, { qos: 0 });
  await until(() => got.length === 1);
  assert.equal(got[0].payload, VERSION);
  assert.equal(got[0].packet.retain, true);
  await end(c);
});

test('$SYS/brokers is retained with the node list', async () => {
  const c = await client(b, { protocolVersion: 4 });
  const got = collect(c);
  await c.subscribeAsync('$SYS/brokers', { qos: 0 });
  await until(() => got.length === 1);
  assert.equal(got[0].payload, NODE);
  assert.equal(got[0].packet.retain, true);
  await end(c);
});

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: $SYS client connected / disconnected events`, async () => {
    const w = await client(b, { protocolVersion });
    const got = collect(w);
    const id = `sys-ev-${protocolVersion}`;
    await w.subscribeAsync(`$SYS/brokers/${NODE}/clients/${id}/+`, { qos: 0 });
    const c = await client(b, { protocolVersion, clientId: id, username: 'u1' });
    await until(() => got.length === 1);
    assert.equal(got[0].topic, `$SYS/brokers/${NODE}/clients/${id}/connected`);
    const conn = JSON.parse(got[0].payload);
    assert.equal(conn.clientid, id);
    assert.equal(conn.username, 'u1');
    assert.equal(conn.proto_ver, protocolVersion);
    await new Promise<void>((r) => c.end(false, {}, () => r())); // with DISCONNECT
    await until(() => got.length === 2);
    assert.equal(got[1].topic, `$SYS/brokers/${NODE}/clients/${id}/disconnected`);
    assert.equal(JSON.parse(got[1].payload).reason, 'normal');
    await end(w);
  });
}

test('$SYS client events never carry wildcard characters in the topic name (client id "odd+id#")', async () => {
  const w = await client(b, { protocolVersion: 5 });
  const got = collect(w);
  await w.subscribeAsync(`$SYS/brokers/${NODE}/clients/#`, { qos: 0 });
  const c = await client(b, { protocolVersion: 5, clientId: 'odd+id#' });
  await until(() => got.some((m) => JSON.parse(m.payload).clientid === 'odd+id#'), 2000, 'event');
  const ev = got.find((m) => JSON.parse(m.payload).clientid === 'odd+id#')!;
  assert.doesNotMatch(ev.topic, /[+#]/, `topic name ${ev.topic}`);
  assert.equal(ev.topic, `$SYS/brokers/${NODE}/clients/odd%2Bid%23/connected`);
  await end(c, w);
});

test('$SYS uptime, stats and metrics are published periodically', async () => {
  const c = await client(b, { protocolVersion: 4 });
  const got = collect(c);
  await c.subscribeAsync([`$SYS/brokers/${NODE}/uptime`, `$SYS/brokers/${NODE}/stats/connections/count`, `$SYS/brokers/${NODE}/metrics/messages/received`], { qos: 0 });
  await until(() => new Set(got.map((m) => m.topic)).size === 3, 2000, 'three $SYS topics');
  const conns = got.find((m) => m.topic.endsWith('/stats/connections/count'))!;
  assert.ok(Number(conns.payload) >= 1);
  assert.match(got.find((m) => m.topic.endsWith('/uptime'))!.payload, /^\d+$/);
  assert.match(got.find((m) => m.topic.endsWith('/metrics/messages/received'))!.payload, /^\d+$/);
  await end(c);
});

test('GET /status and /api/v5/status answer for probes', async () => {
  const r = await api('/status');
  assert.equal(r.status, 200);
  assert.match(await r.text(), /is running/);
  const j = await (await api('/api/v5/status')).json() as Record<string, unknown>;
  assert.equal(j.status, 'running');
  assert.equal(j.node, NODE);
  assert.equal(j.version, VERSION);
});

test('GET /api/v5/nodes: this node, with role, region, link_state and connections; /nodes/{node}; another name → 404', async () => {
  const c = await client(b, { protocolVersion: 5 });
  const rows = await (await api('/api/v5/nodes')).json() as Array<Record<string, unknown>>;
  assert.equal(rows.length, 1);
  const row = rows[0];
  assert.deepEqual([row.node, row.node_status, row.version, row.role, row.region, row.link_state], [NODE, 'running', VERSION, 'core', 'eu-west', 'self']);
  assert.equal(typeof row.uptime, 'number');
  assert.ok((row.connections as number) >= 1, 'this client counts');
  assert.equal(typeof row.memory_used, 'number');
  const one = await api(`/api/v5/nodes/${encodeURIComponent(NODE)}`);
  assert.equal(one.status, 200);
  assert.equal(((await one.json()) as Record<string, unknown>).node, NODE);
  const other = await api('/api/v5/nodes/nobody@nowhere');
  assert.equal(other.status, 404);
  assert.equal(((await other.json()) as { code: string }).code, 'RESOURCE_NOT_FOUND');
  await end(c);
});

const ctl = promisify(execFile);
const petrelCtl = (...args: string[]) => ctl(process.execPath, [join(repoRoot(), 'dist', 'broker', 'src', 'main.js'), 'ctl', ...args, '--api', `http://127.0.0.1:${b.apiPort}`]);

test('petrel ctl cluster (and nodes) prints the node table; --json the API answer', async () => {
  const { stdout } = await petrelCtl('cluster');
  const lines = stdout.trimEnd().split('\n').map((l) => l.split(/\s+/));
  assert.deepEqual(lines[0], ['NAME', 'ROLE', 'REGION', 'STATUS', 'UPTIME', 'CONNECTIONS', 'LINK']);
  assert.equal(lines.length, 2);
  assert.deepEqual([lines[1][0], lines[1][1], lines[1][2], lines[1][3], lines[1][6]], [NODE, 'core', 'eu-west', 'running', 'self']);
  assert.match(lines[1][4], /^\d+(s|m\d\ds)$/);
  const alias = (await petrelCtl('nodes')).stdout.trimEnd().split('\n').map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(alias, ['NAME', NODE], 'nodes is an alias of cluster');
  const raw = JSON.parse((await petrelCtl('cluster', '--json')).stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(raw.map((r) => [r.node, r.link_state]), [[NODE, 'self']]);
});

test('GET /api/v5/clients filters: node, clientid, like_clientid, username, proto_ver; an unknown node is 400', async () => {
  const c5 = await client(b, { protocolVersion: 5, clientId: 'flt-five', username: 'flt-user' });
  const c4 = await client(b, { protocolVersion: 4, clientId: 'flt-four' });
  const ids = async (q: string): Promise<string[]> => {
    const r = await api(`/api/v5/clients?limit=10000&${q}`);
    assert.equal(r.status, 200, q);
    const page = await r.json() as { data: Array<{ clientid: string; node: string }>; meta: Record<string, unknown> };
    assert.ok(page.data.every((row) => row.node === NODE));
    assert.equal(page.meta.unreachable, undefined, 'every node answered');
    return page.data.map((row) => row.clientid).filter((id) => id.startsWith('flt-')).sort();
  };
  assert.deepEqual(await ids(`node=${encodeURIComponent(NODE)}`), ['flt-five', 'flt-four']);
  assert.deepEqual(await ids('clientid=flt-four'), ['flt-four']);
  assert.deepEqual(await ids('like_clientid=flt-f'), ['flt-five', 'flt-four']);
  assert.deepEqual(await ids('username=flt-user'), ['flt-five']);
  assert.deepEqual(await ids('like_clientid=flt-&proto_ver=4'), ['flt-four']);
  const bad = await api('/api/v5/clients?node=nobody@nowhere');
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { message: string }).message, /query\.node/);
  assert.equal((await api('/api/v5/clients?proto_ver=6')).status, 400);
  await end(c5, c4);
});

test('GET /api/v5/clients lists connected clients; /api/v5/clients/:id shows one; unknown → 404', async () => {
  const c = await client(b, { protocolVersion: 5, clientId: 'api-list', properties: { sessionExpiryInterval: 30 } });
  await c.subscribeAsync(['api/x', 'api/y'], { qos: 1 });
  const list = await (await api('/api/v5/clients?limit=10000')).json() as { data: Array<Record<string, unknown>>; meta: { count: number; hasnext: boolean } };
  assert.equal(list.meta.hasnext, false);
  const row = list.data.find((r) => r.clientid === 'api-list');
  assert.ok(row, 'client listed');
  assert.equal(row.proto_ver, 5);
  assert.equal(row.subscriptions_cnt, 2);
  assert.equal(row.expiry_interval, 30);
  const one = await api('/api/v5/clients/api-list');
  assert.equal(one.status, 200);
  assert.equal(((await one.json()) as Record<string, unknown>).connected, true);
  const subs = await (await api('/api/v5/clients/api-list/subscriptions')).json() as Array<Record<string, unknown>>;
  assert.deepEqual(subs.map((s) => s.topic).sort(), ['api/x', 'api/y']);
  assert.equal((await api('/api/v5/clients/nobody-here')).status, 404);
  await new Promise<void>((r) => c.end(false, { properties: { sessionExpiryInterval: 0 } }, () => r()));
});

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: DELETE /api/v5/clients/:id kicks the client${protocolVersion === 5 ? ' (DISCONNECT 0x98)' : ''} and ends its session`, async () => {
    const id = `kick-${protocolVersion}`;
    const r = await rawClient(b.port, protocolVersion);
    await r.connect({ clientId: id, clean: false, ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 60 } } : {}) });
    const res = await api(`/api/v5/clients/${id}`, { method: 'DELETE' });
    assert.equal(res.status, 204);
    await r.waitClosed(2000);
    if (protocolVersion === 5) assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x98);
    assert.equal((await api(`/api/v5/clients/${id}`)).status, 404);
    assert.equal((await api(`/api/v5/clients/${id}`, { method: 'DELETE' })).status, 404);
    const r2 = await rawClient(b.port, protocolVersion);
    const ack = await r2.connect({ clientId: id, clean: false, ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}) });
    assert.equal(ack.sessionPresent, false, 'session survived the kick');
    r2.destroy();
  });
}

test('POST /api/v5/publish delivers to subscribers (QoS, retain, base64); 202 without subscribers; 400 for bad input', async () => {
  const c = await client(b, { protocolVersion: 5 });
  const got = collect(c);
  await c.subscribeAsync('api/pub/#', { qos: 2 });
  const r1 = await post('/api/v5/publish', { topic: 'api/pub/a', payload: 'hello', qos: 1 });
  assert.equal(r1.status, 200);
  assert.ok(((await r1.json()) as { id: string }).id);
  const r2 = await post('/api/v5/publish', { topic: 'api/pub/b', payload: Buffer.from([0, 1, 2]).toString('base64'), payload_encoding: 'base64', qos: 2, retain: true });
  assert.equal(r2.status, 200);
  await until(() => got.length === 2);
  assert.deepEqual(got.map((m) => [m.topic, m.packet.qos]), [['api/pub/a', 1], ['api/pub/b', 2]]);
  assert.deepEqual([...got[1].packet.payload as Buffer], [0, 1, 2]);
  const stored = await api(`/api/v5/retainer/message/${encodeURIComponent('api/pub/b')}`);
  assert.equal(stored.status, 200, 'retain:true stored');
  const row = await stored.json() as { topic: string; qos: number; payload: string };
  assert.deepEqual([row.topic, row.qos, row.payload], ['api/pub/b', 2, Buffer.from([0, 1, 2]).toString('base64')]);
  const ret = await (await api('/api/v5/retainer/messages')).json() as { data: Array<{ topic: string }> };
  assert.ok(ret.data.some((m) => m.topic === 'api/pub/b'));
  assert.equal((await api(`/api/v5/retainer/message/${encodeURIComponent('api/pub/b')}`, { method: 'DELETE' })).status, 204);
  assert.equal((await api(`/api/v5/retainer/message/${encodeURIComponent('api/pub/b')}`)).status, 404);
  const r3 = await post('/api/v5/publish', { topic: 'api/nobody', payload: 'x' });
  assert.equal(r3.status, 202);
  assert.equal(((await r3.json()) as { reason_code: number }).reason_code, 0x10);
  assert.equal((await post('/api/v5/publish', { topic: 'api/+/bad', payload: 'x' })).status, 400);
  assert.equal((await post('/api/v5/publish', { topic: 'api/ok', qos: 3 })).status, 400);
  assert.equal((await api('/api/v5/publish', { method: 'POST', body: '{not json' })).status, 400);
  await end(c);
});

// A node of its own: the other tests of this file run concurrently, so counts on `b` move under us.
test('GET /api/v5/metrics, /api/v5/stats and Prometheus /metrics count what the clients did', async () => {
  const tb = await startBroker();
  try {
    const m0 = await metrics(tb);
    const s0 = await stats(tb);
    assert.equal(s0['connections.count'], 0);
    assert.equal(s0['sessions.count'], 0);
    assert.equal(s0['subscriptions.count'], 0);
    const sub = await client(tb, { protocolVersion: 5, clientId: 'm-sub' });
    const small = await client(tb, { protocolVersion: 5, clientId: 'm-small', properties: { maximumPacketSize: 100 } });
    const pub = await client(tb, { protocolVersion: 4, clientId: 'm-pub' });
    const got = collect(sub);
    await sub.subscribeAsync(['m/q/+', 'm/other'], { qos: 2 });
    await small.subscribeAsync('m/q/+', { qos: 2 });
    await pub.publishAsync('m/q/0', 'zero', { qos: 0, retain: true });
    await pub.publishAsync('m/q/1', Buffer.alloc(200, 1), { qos: 1 }); // too large for m-small
    await pub.publishAsync('m/q/2', 'two', { qos: 2 });
    await until(() => got.length === 3, 2000, 'three deliveries to m-sub');
    await sleep(50);
    const m = await metrics(tb);
    const d = (k: string): number => m[k] - m0[k];
    assert.equal(d('messages.received'), 3);
    assert.deepEqual([d('messages.qos0.received'), d('messages.qos1.received'), d('messages.qos2.received')], [1, 1, 1]);
    assert.equal(d('delivery.dropped.too_large'), 1);
    assert.equal(d('packets.subscribe.received'), 2);
    assert.equal(d('client.connected'), 3);
    const s = await stats(tb);
    assert.equal(s['connections.count'], 3);
    assert.equal(s['sessions.count'], 3);
    assert.equal(s['subscriptions.count'], 3);
    assert.equal(s['topics.count'], 2);
    assert.equal(s['retained.count'] - s0['retained.count'], 1);
    const p = await (await api('/metrics', {}, tb)).text();
    const prom = (name: string): number => Number(new RegExp(`^${name}\\{node="[^"]+"\\} (\\d+)$`, 'm').exec(p)?.[1]);
    assert.equal(prom('petrel_messages_received'), m['messages.received']);
    assert.equal(prom('petrel_delivery_dropped_too_large'), m['delivery.dropped.too_large']);
    assert.equal(prom('petrel_subscriptions_count'), 3);
    // One node: aggregate=true sums one node, aggregate=false lists it with its name (EMQX's shapes).
    assert.deepEqual(await getJson(tb, '/api/v5/stats?aggregate=true'), s);
    assert.deepEqual(await getJson(tb, '/api/v5/stats?aggregate=false'), [{ node: tb.node.config.node.name, ...s }]);
    const mAll = await getJson<Record<string, number>>(tb, '/api/v5/metrics?aggregate=true');
    assert.equal(mAll['messages.received'], m['messages.received']);
    assert.equal('node' in mAll, false);
    const mPer = await getJson<Array<Record<string, unknown>>>(tb, '/api/v5/metrics?aggregate=false');
    assert.deepEqual([mPer.length, mPer[0].node, mPer[0]['messages.received']], [1, tb.node.config.node.name, m['messages.received']]);
    assert.equal((await api('/api/v5/stats?aggregate=maybe', {}, tb)).status, 400);
    await end(sub, small, pub);
    await until(async () => (await stats(tb))['connections.count'] === 0, 2000, 'connections.count back to 0');
    const s2 = await stats(tb);
    assert.deepEqual([s2['sessions.count'], s2['subscriptions.count'], s2['topics.count']], [0, 0, 0]);
  } finally {
    await tb.stop();
  }
  assert.equal((await api('/api/v5/nope')).status, 404);
  const wrong = await api('/api/v5/stats', { method: 'DELETE' });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'GET');
});

test('API keys: with keys configured, /api/v5 needs HTTP Basic; /status stays open', async () => {
  assert.equal((await api('/api/v5/clients', {}, keyed)).status, 401);
  const bad = 'Basic ' + Buffer.from('ops:wrong').toString('base64');
  assert.equal((await api('/api/v5/clients', { headers: { authorization: bad } }, keyed)).status, 401);
  const good = 'Basic ' + Buffer.from('ops:s3cret').toString('base64');
  assert.equal((await api('/api/v5/clients', { headers: { authorization: good } }, keyed)).status, 200);
  assert.equal((await api('/status', {}, keyed)).status, 200);
});

test('SIGTERM-style stop: v5 clients get DISCONNECT 0x8B', async () => {
  const tb = await startBroker();
  const r = await rawClient(tb.port, 5);
  await r.connect();
  await tb.stop();
  await r.waitClosed(2000);
  assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x8b);
  await sleep(10);
});

describe('16 $SYS and REST API', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
