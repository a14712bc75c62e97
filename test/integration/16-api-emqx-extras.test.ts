/**
 * The EMQX routes added with the OpenAPI document, over a real node: a session's queued and
 * in-flight messages (position paging, payload encodings), delayed messages (list, show,
 * delete before due), alarms (a listener at its max_connections raises one; it clears, and
 * DELETE forgets it) and configs (GET by root, PUT log level, 400 for a root read at start).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, end, until, sleep, type TestBroker } from '../support/broker.js';
import { api, getJson } from '../support/api.js';

let b: TestBroker;
const h = () => ({ apiPort: b.apiPort });

before(async () => { b = await startBroker({ listeners: { tcp: { limited: { bind: '127.0.0.1:0', max_connections: 1 } } } }); });
after(async () => { await b.stop(); });

interface Page { data: Array<Record<string, any>>; meta: Record<string, any> }

describe('GET /api/v5/clients/{clientid}/mqueue_messages and inflight_messages', () => {
  it('pages a queue by position and encodes payloads as asked', async () => {
    const away = await client(b, { clientId: 'q1', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
    await away.subscribeAsync('mq/t', { qos: 1 });
    await end(away);
    const pub = await client(b, { protocolVersion: 5 });
    for (let i = 0; i < 5; i++) await pub.publishAsync('mq/t', `m${i}`, { qos: 1 });
    await end(pub);
    const p1 = await getJson<Page>(h(), '/api/v5/clients/q1/mqueue_messages?limit=2&payload=plain');
    assert.deepEqual(p1.data.map((m) => m.payload), ['m0', 'm1']);
    assert.equal(p1.meta.position, p1.data[1]!.msgid);
    assert.equal(p1.meta.start, p1.data[0]!.msgid);
    assert.equal(p1.data[0]!.topic, 'mq/t');
    assert.equal(p1.data[0]!.qos, 1);
    assert.equal(typeof p1.data[0]!.publish_at, 'number');
    const p2 = await getJson<Page>(h(), `/api/v5/clients/q1/mqueue_messages?limit=2&position=${p1.meta.position}`);
    assert.deepEqual(p2.data.map((m) => Buffer.from(m.payload, 'base64').toString()), ['m2', 'm3'], 'base64 by default');
    const p3 = await getJson<Page>(h(), `/api/v5/clients/q1/mqueue_messages?limit=2&position=${p2.meta.position}&payload=none`);
    assert.equal(p3.data.length, 1);
    assert.equal(p3.data[0]!.payload, undefined);
    const p4 = await getJson<Page>(h(), `/api/v5/clients/q1/mqueue_messages?position=${p3.meta.position}`);
    assert.deepEqual(p4, { data: [], meta: { start: p1.meta.start, position: 'none' } });
    const cut = await getJson<Page>(h(), '/api/v5/clients/q1/mqueue_messages?limit=1&payload=plain&max_payload_bytes=1');
    assert.equal(cut.data[0]!.payload, 'm');
    const inflight = await getJson<Page>(h(), '/api/v5/clients/q1/inflight_messages');
    assert.deepEqual(inflight.data, [], 'nothing in flight while away');
    assert.equal((await api(h(), '/api/v5/clients/nobody/mqueue_messages')).status, 404);
    const bad = await api(h(), '/api/v5/clients/q1/mqueue_messages?position=abc');
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, 'BAD_REQUEST');
  });

  it('lists what a client has not acknowledged as in flight', async () => {
    const slow = await client(b, { clientId: 'q2', protocolVersion: 5 });
    // Never calling back keeps MQTT.js from sending PUBACK.
    slow.handleMessage = (_packet, _cb) => {};
    await slow.subscribeAsync('if/t', { qos: 1 });
    const pub = await client(b, { protocolVersion: 5 });
    await pub.publishAsync('if/t', 'unacked', { qos: 1 });
    await until(async () => (await getJson<Page>(h(), '/api/v5/clients/q2/inflight_messages')).data.length === 1, 3000, 'one message in flight');
    const p = await getJson<Page>(h(), '/api/v5/clients/q2/inflight_messages?payload=plain');
    assert.equal(p.data[0]!.payload, 'unacked');
    assert.equal(p.data[0]!.from_clientid, pub.options.clientId);
    await end(pub);
    slow.end(true);
  });
});

describe('delayed messages', () => {
  it('lists, shows and deletes a held message before it is due', async () => {
    const settings = await getJson<Record<string, unknown>>(h(), '/api/v5/mqtt/delayed');
    assert.equal(settings.enable, true);
    const sub = await client(b, { protocolVersion: 5 });
    await sub.subscribeAsync('later/#', { qos: 1 });
    const got = collect(sub);
    const pub = await client(b, { protocolVersion: 5 });
    await pub.publishAsync('$delayed/2/later/a', 'to drop', { qos: 1 });
    const list = await getJson<Page>(h(), '/api/v5/mqtt/delayed/messages');
    assert.equal(list.meta.count, 1);
    const row = list.data[0]!;
    assert.equal(row.topic, 'later/a');
    assert.equal(row.delayed_interval, 2);
    assert.ok(row.delayed_remaining >= 1 && row.delayed_remaining <= 2);
    const one = await getJson<Record<string, any>>(h(), `/api/v5/mqtt/delayed/messages/${row.node}/${row.msgid}`);
    assert.equal(Buffer.from(one.payload, 'base64').toString(), 'to drop');
    assert.equal((await api(h(), `/api/v5/mqtt/delayed/messages/${row.node}/${row.msgid}`, { method: 'DELETE' })).status, 204);
    assert.equal((await api(h(), `/api/v5/mqtt/delayed/messages/${row.node}/${row.msgid}`, { method: 'DELETE' })).status, 404);
    assert.equal((await getJson<Page>(h(), '/api/v5/mqtt/delayed/messages')).meta.count, 0);
    await sleep(2600);
    assert.equal(got.length, 0, 'the deleted message never went out');
    await end(sub, pub);
  });
});

describe('alarms', () => {
  it('raises too_many_connections for a listener at its max_connections, clears it, and forgets it on DELETE', async () => {
    const name = 'too_many_connections/tcp:limited';
    const find = async (activated: boolean) => (await getJson<Page>(h(), `/api/v5/alarms?activated=${activated}`)).data.find((a) => a.name === name);
    const c = await client(b.node.port('tcp:limited'));
    await until(async () => (await find(true)) !== undefined, 12000, 'the alarm to be raised');
    const a = (await find(true))!;
    assert.equal(a.activated, true);
    assert.equal(a.deactivate_at, 'infinity');
    assert.equal(a.details.max_connections, 1);
    await end(c);
    await until(async () => (await find(false)) !== undefined, 12000, 'the alarm to clear');
    assert.equal((await api(h(), '/api/v5/alarms', { method: 'DELETE' })).status, 204);
    assert.equal(await find(false), undefined, 'deactivated alarms forgotten');
  });
});

describe('configs', () => {
  it('reads roots, changes the log level at run time, and refuses roots read at start', async () => {
    const all = await getJson<Record<string, any>>(h(), '/api/v5/configs');
    assert.ok(all.mqtt && all.listeners && all.log, 'every root');
    assert.equal(all.listeners.tcp.default.max_connections, 'infinity', 'no limit reads as EMQX writes it');
    assert.equal(all.listeners.tcp.limited.max_connections, 1);
    const log = await getJson<Record<string, any>>(h(), '/api/v5/configs/log');
    const put = await api(h(), '/api/v5/configs/log', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...log, level: 'warn' }) });
    assert.equal(put.status, 200);
    assert.equal(((await put.json()) as { level: string }).level, 'warn');
    assert.equal((await getJson<Record<string, any>>(h(), '/api/v5/configs/log')).level, 'warn');
    const format = await api(h(), '/api/v5/configs/log', { method: 'PUT', body: JSON.stringify({ format: 'pretty' }) });
    assert.equal(format.status, 400);
    assert.match(((await format.json()) as { message: string }).message, /log\.format cannot change while the node runs/);
    const mqtt = await api(h(), '/api/v5/configs/mqtt', { method: 'PUT', body: JSON.stringify({ max_qos_allowed: 1 }) });
    assert.equal(mqtt.status, 400);
    assert.match(((await mqtt.json()) as { message: string }).message, /read at start only.*writable here: log, authorization/);
    assert.equal((await api(h(), '/api/v5/configs/nope', { method: 'PUT', body: '{}' })).status, 404);
    const authz = await api(h(), '/api/v5/configs/authorization', { method: 'PUT', body: JSON.stringify({ no_match: 'deny' }) });
    assert.equal(authz.status, 200);
    assert.equal(((await authz.json()) as { no_match: string }).no_match, 'deny');
    assert.equal((await getJson<Record<string, any>>(h(), '/api/v5/authorization/settings')).no_match, 'deny', 'the same setting as /authorization/settings');
  });
});
