/**
 * 12 — configured limits and the reason codes they produce: mqtt.max_packet_size (0x95),
 * max_clientid_len (CONNACK 0x85 / 2), max_topic_levels (0x90 on PUBLISH, 0x8F on SUBSCRIBE),
 * max_subscriptions (0x97), max_mqueue_len with drop_oldest (counted), mqueue_store_qos0,
 * max_awaiting_rel (0x93), await_rel_timeout, max_qos_allowed, per-listener max_connections.
 *
 * v3 vs v5: v5 gets DISCONNECT/CONNACK/SUBACK reason codes; v3 gets CONNACK return codes,
 * SUBACK 0x80, and otherwise a closed connection.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import mqttPacket from 'mqtt-packet';
import { rawClient } from '../support/raw-client.js';
import { metrics } from '../support/api.js';

let b: TestBroker;
before(async () => {
  b = await startBroker({
    listeners: { tcp: { limited: { bind: '127.0.0.1:0', max_connections: 2 } } },
    mqtt: {
      max_packet_size: '1KB', max_clientid_len: 23, max_topic_levels: 4, max_subscriptions: 3,
      max_mqueue_len: 3, mqueue_store_qos0: false, max_awaiting_rel: 2, await_rel_timeout: '1s',
    },
  });
});
after(async () => { await b.stop(); });

const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };
const counters = () => metrics(b);

for (const protocolVersion of [4, 5] as const) {
  const v = `v${protocolVersion}`;

  test(`${v}: packet above max_packet_size → ${protocolVersion === 5 ? 'DISCONNECT 0x95' : 'closed'}; CONNACK announces the maximum`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    const ack = await r.connect();
    if (protocolVersion === 5) assert.equal(ack.properties?.maximumPacketSize, 1024);
    r.send({ cmd: 'publish', topic: `${v}/big`, payload: Buffer.alloc(2000, 7), qos: 0 });
    await r.waitClosed();
    const d = r.packets.find((p) => p.cmd === 'disconnect');
    if (protocolVersion === 5) assert.equal(d?.reasonCode, 0x95); else assert.equal(d, undefined);
  });

  test(`${v}: client id longer than max_clientid_len → CONNACK ${protocolVersion === 5 ? '0x85' : '2'}`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    const ack = await r.connect({ clientId: 'x'.repeat(24) });
    assert.equal(protocolVersion === 5 ? ack.reasonCode : ack.returnCode, protocolVersion === 5 ? 0x85 : 2);
    await r.waitClosed();
    const ok = await rawClient(b.port, protocolVersion);
    assert.equal((await ok.connect({ clientId: 'y'.repeat(23) }))[protocolVersion === 5 ? 'reasonCode' : 'returnCode'], 0);
    ok.destroy();
  });

  test(`${v}: max_topic_levels: deeper filter refused in SUBACK, deeper topic closes${protocolVersion === 5 ? ' with 0x90' : ''}`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    await r.connect();
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/b/c/d', qos: 0 }, { topic: 'a/b/c/d/e', qos: 0 }] });
    assert.deepEqual((await r.next('suback')).granted, [0, protocolVersion === 5 ? 0x8f : 0x80]);
    r.send({ cmd: 'publish', topic: 'a/b/c/d/e', payload: Buffer.from('x'), qos: 1, messageId: 2 });
    await r.waitClosed();
    if (protocolVersion === 5) assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x90);
  });

  test(`${v}: max_subscriptions 3: the fourth filter gets ${protocolVersion === 5 ? '0x97' : '0x80'}; re-subscribing an existing one still works`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    await r.connect();
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: ['s/1', 's/2', 's/3', 's/4'].map((topic) => ({ topic, qos: 1 })) });
    assert.deepEqual((await r.next('suback')).granted, [1, 1, 1, protocolVersion === 5 ? 0x97 : 0x80]);
    r.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 's/2', qos: 0 }] });
    assert.deepEqual((await r.next('suback')).granted, [0]);
    r.destroy();
  });

  test(`${v}: max_mqueue_len 3 drop_oldest: offline queue keeps the newest 3, drops counted; QoS 0 not queued (mqueue_store_qos0=false)`, async () => {
    const id = `mq-${v}`;
    const persist = protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };
    const s = await client(b, { protocolVersion, clientId: id, ...persist });
    await s.subscribeAsync(`${v}/mq`, { qos: 1 });
    await end(s);
    const before = (await counters())['delivery.dropped.queue_full'];
    const drops: string[] = [];
    const unhook = b.node.broker.hooks.add('message.dropped', (msg, cid, reason) => { if (cid === id) drops.push(`${reason}:${msg.payload}`); });
    const pub = await client(b, { protocolVersion });
    for (let i = 0; i < 6; i++) await pub.publishAsync(`${v}/mq`, String(i), { qos: 1 });
    await pub.publishAsync(`${v}/mq`, 'q0', { qos: 0 });
    await sleep(50);
    unhook();
    assert.deepEqual(drops, ['queue_full:0', 'queue_full:1', 'queue_full:2', 'offline:q0']);
    assert.ok((await counters())['delivery.dropped.queue_full'] - before >= 3, 'delivery.dropped.queue_full counted');
    const r = await rawClient(b.port, protocolVersion);
    await r.connect({ clientId: id, ...persist });
    const got = [];
    for (let i = 0; i < 3; i++) { const p = await r.next('publish'); got.push(p.payload.toString()); r.send({ cmd: 'puback', messageId: p.messageId }); }
    await sleep(100);
    assert.deepEqual(got, ['3', '4', '5']);
    assert.equal(r.packets.filter((p) => p.cmd === 'publish').length, 0, 'QoS 0 message was queued');
    r.send({ cmd: 'disconnect', ...(protocolVersion === 5 ? { reasonCode: 0, properties: { sessionExpiryInterval: 0 } } : {}) });
    await end(pub);
  });
}

test('v5: max_packet_size is the whole packet: 1024 bytes accepted, 1025 refused with 0x95', async () => {
  for (const total of [1024, 1025]) {
    const r = await rawClient(b.port, 5);
    await r.connect();
    // PUBLISH QoS 0 to "t": fixed header 3 bytes (remaining length ≥ 128), topic 3, property length 1
    const pkt = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(total - 7, 1), qos: 0, retain: false, dup: false } as never, { protocolVersion: 5 });
    assert.equal(pkt.length, total);
    r.sock.write(pkt);
    r.send({ cmd: 'pingreq' });
    if (total === 1024) { await r.next('pingresp'); assert.equal(r.closed, false); r.destroy(); } else {
      await r.waitClosed();
      assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x95);
    }
  }
});

test('v5: max_awaiting_rel 2: a third QoS 2 PUBLISH without PUBREL → DISCONNECT 0x93; CONNACK Receive Maximum 2', async () => {
  const r = await rawClient(b.port, 5);
  const ack = await r.connect();
  assert.equal(ack.properties?.receiveMaximum, 2);
  for (const id of [1, 2]) {
    r.send({ cmd: 'publish', topic: 'v5/ar', payload: Buffer.from('x'), qos: 2, messageId: id });
    await r.next('pubrec');
  }
  r.send({ cmd: 'publish', topic: 'v5/ar', payload: Buffer.from('x'), qos: 2, messageId: 3 });
  await r.waitClosed();
  assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x93);
});

test('v3.1.1: max_awaiting_rel 2: a third QoS 2 PUBLISH without PUBREL closes the connection', async () => {
  const r = await rawClient(b.port, 4);
  await r.connect();
  for (const id of [1, 2]) {
    r.send({ cmd: 'publish', topic: 'v4/ar', payload: Buffer.from('x'), qos: 2, messageId: id });
    await r.next('pubrec');
  }
  r.send({ cmd: 'publish', topic: 'v4/ar', payload: Buffer.from('x'), qos: 2, messageId: 3 });
  await r.waitClosed();
});

test('await_rel_timeout 1 s: a QoS 2 id without PUBREL is forgotten and counted', async () => {
  const before = (await counters())['messages.dropped.await_pubrel_timeout'];
  const r = await rawClient(b.port, 5);
  await r.connect();
  r.send({ cmd: 'publish', topic: 'v5/art', payload: Buffer.from('x'), qos: 2, messageId: 9 });
  await r.next('pubrec');
  await until(async () => (await counters())['messages.dropped.await_pubrel_timeout'] > before, 3500, 'await_rel timeout');
  r.send({ cmd: 'pubrel', messageId: 9 });
  assert.equal((await r.next('pubcomp')).reasonCode, 0x92);
  r.destroy();
});

test('listener max_connections 2: the third connection on that listener is closed; other listeners unaffected', async () => {
  const port = b.node.port('tcp:limited');
  const a = await client(port, { protocolVersion: 5 });
  const c = await client(port, { protocolVersion: 5 });
  const r = await rawClient(port, 5);
  r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'third' });
  await r.waitClosed(2000);
  assert.equal(r.packets.length, 0);
  const ok = await client(b, { protocolVersion: 5 });
  await until(async () => (await counters())['listener.rejected.max_connections'] >= 1, 2500, 'listener.rejected.max_connections counted');
  await end(a);
  await sleep(50);
  const again = await client(port, { protocolVersion: 5 });
  await end(c, ok, again);
});

describe('12 limits', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
