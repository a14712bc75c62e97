/**
 * 05 — sessions: offline queueing for persistent sessions, Session Present, clean start,
 * session expiry, zero-length client ids, takeover, second CONNECT and packets before CONNECT.
 *
 * v3 vs v5: v3 persistence is clean_session=0 (kept for mqtt.session_expiry_interval); v5 is
 * Session Expiry Interval > 0 (clean start only discards). Empty client id: v3.1.1 clean → a
 * generated id, clean=0 → CONNACK 2; v5 → Assigned Client Identifier. Takeover: the old v5
 * connection gets DISCONNECT 0x8E, an old v3 connection is just closed.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { api, clientInfo, clientSubscriptions, subscriptions, topics, stats } from '../support/api.js';

let b: TestBroker;
before(async () => { b = await startBroker(); });
after(async () => { await b.stop(); });

const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };

for (const protocolVersion of [4, 5] as const) {
  const v = `v${protocolVersion}`;
  const persist = protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };

  test(`${v}: offline persistent session queues QoS 0/1/2 and delivers them in order on reconnect with Session Present`, async () => {
    const id = `off-${v}`;
    const s1 = await client(b, { protocolVersion, clientId: id, ...persist });
    await s1.subscribeAsync(`${v}/off/t`, { qos: 2 });
    await end(s1);
    const pub = await client(b, { protocolVersion });
    for (let i = 0; i < 6; i++) await pub.publishAsync(`${v}/off/t`, String(i), { qos: (i % 3) as 0 | 1 | 2 });
    await sleep(50);
    const off = await clientInfo(b, id);
    assert.equal(off?.connected, false, 'offline session listed as disconnected');
    assert.equal(off?.mqueue_len, 6);
    // A raw client records PUBLISH packets in arrival order (MQTT.js emits QoS 2 at PUBREL).
    const r = await rawClient(b.port, protocolVersion);
    const ack = await r.connect({ clientId: id, ...persist });
    assert.equal(ack.sessionPresent, true, 'Session Present on resume');
    const got: string[] = [];
    const qos: number[] = [];
    for (let i = 0; i < 6; i++) {
      const m = await r.next('publish');
      got.push(m.payload.toString()); qos.push(m.qos);
      if (m.qos === 1) r.send({ cmd: 'puback', messageId: m.messageId });
      if (m.qos === 2) { r.send({ cmd: 'pubrec', messageId: m.messageId }); await r.next('pubrel'); r.send({ cmd: 'pubcomp', messageId: m.messageId }); }
    }
    assert.deepEqual(got, ['0', '1', '2', '3', '4', '5']);
    assert.deepEqual(qos, [0, 1, 2, 0, 1, 2]);
    r.send({ cmd: 'disconnect' });
    await r.waitClosed();
    // resume with clean start: session discarded, Session Present 0, no subscription left
    const c3 = await client(b, { protocolVersion, clientId: id, clean: true });
    const got3 = collect(c3);
    await pub.publishAsync(`${v}/off/t`, 'after-clean', { qos: 1 });
    await sleep(150);
    assert.equal(got3.length, 0, 'subscription survived a clean start');
    await end(c3, pub);
  });

  test(`${v}: non-persistent session is gone at disconnect (Session Present 0, nothing queued)`, async () => {
    const id = `np-${v}`;
    const c = await client(b, { protocolVersion, clientId: id, clean: true });
    await c.subscribeAsync(`${v}/np/t`, { qos: 1 });
    await end(c);
    await sleep(50);
    await until(async () => (await clientInfo(b, id)) === undefined, 1000, 'clean session gone at disconnect');
    const r = await rawClient(b.port, protocolVersion);
    const ack = await r.connect({ clientId: id, clean: protocolVersion === 5 ? false : true });
    assert.equal(ack.sessionPresent, false);
    r.destroy();
  });

  test(`${v}: takeover closes the old connection${protocolVersion === 5 ? ' with DISCONNECT 0x8E' : ''}; the new one keeps the session`, async () => {
    const id = `take-${v}`;
    const old = await rawClient(b.port, protocolVersion);
    await old.connect({ clientId: id, ...persist });
    old.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${v}/take/t`, qos: 1 }] });
    await old.next('suback');
    const neu = await rawClient(b.port, protocolVersion);
    const ack = await neu.connect({ clientId: id, ...persist });
    assert.equal(ack.sessionPresent, true);
    await old.waitClosed(2000);
    if (protocolVersion === 5) assert.equal(old.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x8e);
    const pub = await client(b, { protocolVersion });
    await pub.publishAsync(`${v}/take/t`, 'to-new', { qos: 1 });
    const m = await neu.next('publish');
    assert.equal(m.payload.toString(), 'to-new');
    neu.send({ cmd: 'puback', messageId: m.messageId });
    neu.send({ cmd: 'disconnect', ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}) });
    await end(pub);
  });

  test(`${v}: second CONNECT closes the connection${protocolVersion === 5 ? ' (DISCONNECT 0x82)' : ''}`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    await r.connect();
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, keepalive: 60, clientId: 'again' });
    await r.waitClosed(2000);
    if (protocolVersion === 5) assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x82);
  });

  test(`${v}: a packet before CONNECT closes the connection without a reply`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x', qos: 0 }] });
    await r.waitClosed(2000);
    assert.deepEqual(r.packets.map((p) => p.cmd), []);
  });
}

test('v5: session expiry 1 s → session and its subscriptions are gone after it', async () => {
  const id = 'exp-1s';
  const c = await client(b, { protocolVersion: 5, clientId: id, clean: true, properties: { sessionExpiryInterval: 1 } });
  await c.subscribeAsync('v5/exp/t', { qos: 1 });
  await end(c);
  await sleep(300);
  const kept = await clientInfo(b, id);
  assert.equal(kept?.connected, false, 'session kept during its expiry interval');
  assert.equal(kept?.expiry_interval, 1);
  assert.deepEqual((await clientSubscriptions(b, id))?.map((s) => s.topic), ['v5/exp/t']);
  await until(async () => (await clientInfo(b, id)) === undefined, 3000, 'session expiry');
  assert.equal(await clientSubscriptions(b, id), undefined, 'subscriptions outlived the session');
  const r = await rawClient(b.port, 5);
  const ack = await r.connect({ clientId: id, clean: false, properties: { sessionExpiryInterval: 10 } });
  assert.equal(ack.sessionPresent, false);
  r.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
});

test('v5: reconnecting just after the session expiry interval finds no session (whatever the expiry sweep timing)', async () => {
  for (const id of ['exp-edge-1', 'exp-edge-2']) {
    const r = await rawClient(b.port, 5);
    await r.connect({ clientId: id, clean: true, properties: { sessionExpiryInterval: 1 } });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'v5/exp-edge', qos: 1 }] });
    await r.next('suback');
    r.send({ cmd: 'disconnect', reasonCode: 0 });
    await r.waitClosed();
    await sleep(1030);
    const r2 = await rawClient(b.port, 5);
    const ack = await r2.connect({ clientId: id, clean: false, properties: { sessionExpiryInterval: 0 } });
    assert.equal(ack.sessionPresent, false, 'expired session resumed');
    r2.destroy();
  }
});

test('v5: session expiry set to 0 at DISCONNECT ends the session at once', async () => {
  const id = 'exp-disc0';
  const r = await rawClient(b.port, 5);
  await r.connect({ clientId: id, clean: true, properties: { sessionExpiryInterval: 60 } });
  r.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  await r.waitClosed(2000);
  await until(async () => (await clientInfo(b, id)) === undefined, 1000, 'session gone');
});

test('v5: DISCONNECT setting expiry after CONNECT had 0 is a protocol error (0x82)', async () => {
  const r = await rawClient(b.port, 5);
  await r.connect({ clientId: 'exp-bad', clean: true, properties: { sessionExpiryInterval: 0 } });
  r.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 30 } });
  await r.waitClosed(2000);
  assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x82);
});

test('v3.1.1: zero-length client id with clean session → accepted', async () => {
  const r = await rawClient(b.port, 4);
  const ack = await r.connect({ clientId: '', clean: true });
  assert.equal(ack.returnCode, 0);
  r.destroy();
});

test('v3.1.1: zero-length client id with clean session 0 → CONNACK 2 (identifier rejected)', async () => {
  const r = await rawClient(b.port, 4);
  // mqtt-packet refuses to encode this CONNECT, so the bytes are written by hand
  r.sock.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x3c, 0x00, 0x00]));
  const ack = await r.next('connack');
  assert.equal(ack.returnCode, 2);
  await r.waitClosed(2000);
});

test('v5: zero-length client id → Assigned Client Identifier, usable to resume', async () => {
  const r = await rawClient(b.port, 5);
  const ack = await r.connect({ clientId: '', clean: true, properties: { sessionExpiryInterval: 30 } });
  assert.equal(ack.reasonCode, 0);
  const assigned = ack.properties?.assignedClientIdentifier as string;
  assert.ok(typeof assigned === 'string' && assigned.length > 0, 'assigned client identifier');
  r.send({ cmd: 'disconnect', reasonCode: 0 });
  await r.waitClosed(2000);
  const r2 = await rawClient(b.port, 5);
  const ack2 = await r2.connect({ clientId: assigned, clean: false, properties: { sessionExpiryInterval: 30 } });
  assert.equal(ack2.sessionPresent, true);
  r2.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
});

test('v5: client receives the session expiry it asked for unless it exceeds the cap (no property then)', async () => {
  const r = await rawClient(b.port, 5);
  const ack = await r.connect({ clientId: 'exp-cap', clean: true, properties: { sessionExpiryInterval: 10 } });
  assert.equal(ack.properties?.sessionExpiryInterval, undefined);
  // the defaults of mqtt.max_awaiting_rel, max_topic_alias and max_packet_size (1MB)
  assert.equal(ack.properties?.receiveMaximum, 100);
  assert.equal(ack.properties?.topicAliasMaximum, 65535);
  assert.equal(ack.properties?.maximumPacketSize, 1024 * 1024);
  r.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
});

test('v3.1 (MQIsdp): zero-length client id → CONNACK 2', async () => {
  const r = await rawClient(b.port, 3);
  // mqtt-packet refuses to encode this CONNECT: "MQIsdp" level 3, clean, keepalive 60, empty id
  r.sock.write(Buffer.from([0x10, 0x0e, 0x00, 0x06, 0x4d, 0x51, 0x49, 0x73, 0x64, 0x70, 0x03, 0x02, 0x00, 0x3c, 0x00, 0x00]));
  assert.equal((await r.next('connack')).returnCode, 2);
  await r.waitClosed();
});

describe('05 sessions', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });

// Runs after the concurrent block: every clean client above has gone, so nothing may be left over.
it('nothing leaks: 40 clean clients with subscriptions and wills come and go', async () => {
  const before = await stats(b);
  const cs: MqttClient[] = [];
  for (let i = 0; i < 40; i++) {
    const c = await client(b, { protocolVersion: i % 2 === 0 ? 5 : 4, clientId: `leak-${i}`, will: { topic: 'leak/will', payload: Buffer.from('w'), qos: 0, retain: false } });
    await c.subscribeAsync([`leak/${i}/#`, '$share/leak/x', 'leak/+'], { qos: 1 });
    cs.push(c);
  }
  const mine = <T extends { clientid: string }>(rows: T[]): T[] => rows.filter((r) => r.clientid.startsWith('leak-'));
  const leakFilters = (ts: string[]) => ts.filter((t) => t === 'x' || t.startsWith('leak/')).sort();
  const subs = mine(await subscriptions(b));
  assert.equal(subs.length, 120);
  assert.equal(subs.filter((s) => s.topic === '$share/leak/x').length, 40, 'members of $share/leak/x');
  assert.deepEqual(leakFilters(await topics(b)), ['leak/+', ...Array.from({ length: 40 }, (_, i) => `leak/${i}/#`), 'x'].sort());
  const grown = await stats(b);
  assert.equal(grown['subscriptions.count'] - before['subscriptions.count'], 120);
  await Promise.all(cs.map((c, i) => (i % 4 === 0 ? new Promise<void>((r) => { c.stream.destroy(); r(); }) : new Promise<void>((r) => c.end(false, {}, () => r())))));
  await until(async () => (await Promise.all(cs.map((_, i) => clientInfo(b, `leak-${i}`)))).every((x) => x === undefined), 3000, 'leak-* clients and sessions gone');
  for (let i = 0; i < 40; i++) assert.equal(await clientSubscriptions(b, `leak-${i}`), undefined, `leak-${i} subscriptions`);
  assert.deepEqual(mine(await subscriptions(b)), []);
  assert.deepEqual(leakFilters(await topics(b)), [], 'routes left behind');
  // Nothing routes to the shared group any more: the REST publish finds no subscriber.
  const r = await api(b, '/api/v5/publish', { method: 'POST', body: JSON.stringify({ topic: 'x', payload: 'p' }), headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 202, 'a $share/leak/x member is left');
  await r.body?.cancel();
  await until(async () => (await stats(b))['connections.count'] <= before['connections.count'], 2000, 'connections closed');
  assert.equal((await stats(b))['subscriptions.count'], before['subscriptions.count'], 'subscriptions left in the router');
});
