/**
 * 08 — MQTT 5 features with MQTT.js v5 and a raw client: topic aliases both ways, the
 * client's Maximum Packet Size (too-large deliveries dropped and counted), message expiry of
 * queued messages (remaining interval sent), properties passed through unchanged
 * (user properties, response topic, correlation data, content type, payload format),
 * subscription identifiers, invalid PUBLISH topics.
 *
 * v3 vs v5: everything here is v5 only except the invalid-topic rule: a PUBLISH with a
 * wildcard in its topic closes a v3 connection, a v5 one gets DISCONNECT 0x90 first.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { metrics } from '../support/api.js';

let b: TestBroker;
before(async () => { b = await startBroker({ mqtt: { max_topic_alias: 10 } }); });
after(async () => { await b.stop(); });

const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };

test('client → server topic alias: set then used with an empty topic', async () => {
  const sub = await client(b, { protocolVersion: 5 });
  const got = collect(sub);
  await sub.subscribeAsync('v5/alias/in', { qos: 1 });
  const r = await rawClient(b.port, 5);
  const ack = await r.connect();
  assert.equal(ack.properties?.topicAliasMaximum, 10);
  r.send({ cmd: 'publish', topic: 'v5/alias/in', payload: Buffer.from('1'), qos: 1, messageId: 1, properties: { topicAlias: 3 } });
  await r.next('puback');
  r.send({ cmd: 'publish', topic: '', payload: Buffer.from('2'), qos: 1, messageId: 2, properties: { topicAlias: 3 } });
  await r.next('puback');
  await until(() => got.length === 2);
  assert.deepEqual(got.map((m) => [m.topic, m.payload]), [['v5/alias/in', '1'], ['v5/alias/in', '2']]);
  // subscribers never see the publisher's alias
  assert.equal(got[1].packet.properties?.topicAlias, undefined);
  r.destroy();
  await end(sub);
});

test('client → server topic alias above Topic Alias Maximum → DISCONNECT 0x94', async () => {
  const r = await rawClient(b.port, 5);
  await r.connect();
  r.send({ cmd: 'publish', topic: 'v5/alias/x', payload: Buffer.from('1'), qos: 0, properties: { topicAlias: 11 } });
  await r.waitClosed();
  assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x94);
});

test('client → server unknown topic alias with empty topic → DISCONNECT 0x82', async () => {
  const r = await rawClient(b.port, 5);
  await r.connect();
  r.send({ cmd: 'publish', topic: '', payload: Buffer.from('1'), qos: 0, properties: { topicAlias: 5 } });
  await r.waitClosed();
  const rc = r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode;
  assert.ok(rc === 0x82 || rc === 0x94, `reason 0x${rc?.toString(16)}`);
});

test('server → client topic alias when the client allows it; none when it does not', async () => {
  const r = await rawClient(b.port, 5);
  await r.connect({ properties: { topicAliasMaximum: 2 } });
  r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'v5/alias/out/+', qos: 0 }] });
  await r.next('suback');
  const plain = await rawClient(b.port, 5);
  await plain.connect();
  plain.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'v5/alias/out/+', qos: 0 }] });
  await plain.next('suback');
  const pub = await client(b, { protocolVersion: 5 });
  for (const t of ['a', 'a', 'b', 'c', 'a', 'c']) await pub.publishAsync(`v5/alias/out/${t}`, t, { qos: 0 });
  const got = [];
  for (let i = 0; i < 6; i++) got.push(await r.next('publish'));
  const aliasOf = new Map<number, string>();
  const resolved = got.map((p) => {
    const a = p.properties?.topicAlias as number | undefined;
    if (a !== undefined) {
      assert.ok(a >= 1 && a <= 2, `alias ${a} above the client's maximum 2`);
      if (p.topic !== '') aliasOf.set(a, p.topic); else assert.ok(aliasOf.has(a), `alias ${a} used before being set`);
    } else assert.notEqual(p.topic, '');
    return p.topic !== '' ? p.topic : aliasOf.get(a!);
  });
  assert.deepEqual(resolved, ['a', 'a', 'b', 'c', 'a', 'c'].map((t) => `v5/alias/out/${t}`));
  assert.ok(got.some((p) => p.topic === ''), 'server never used an alias');
  for (let i = 0; i < 6; i++) assert.equal((await plain.next('publish')).properties?.topicAlias, undefined);
  r.destroy(); plain.destroy();
  await end(pub);
});

test('MQTT.js with autoAssignTopicAlias publishing to an MQTT.js subscriber with topicAliasMaximum: topics resolved both ways', async () => {
  const sub = await client(b, { protocolVersion: 5, properties: { topicAliasMaximum: 5 } });
  const got = collect(sub);
  await sub.subscribeAsync('v5/autoalias/+', { qos: 1 });
  const pub = await client(b, { protocolVersion: 5, autoAssignTopicAlias: true });
  const sent: string[] = [];
  pub.on('packetsend', (p) => { if (p.cmd === 'publish') sent.push((p as { topic: string }).topic); });
  for (let i = 0; i < 6; i++) await pub.publishAsync(`v5/autoalias/${i % 2}`, String(i), { qos: 1 });
  await until(() => got.length === 6);
  assert.deepEqual(got.map((m) => [m.topic, m.payload]), Array.from({ length: 6 }, (_, i) => [`v5/autoalias/${i % 2}`, String(i)]));
  assert.ok(sent.some((t) => t === ''), 'MQTT.js never used an alias (broker announced none?)');
  await end(sub, pub);
});

test('client Maximum Packet Size: larger messages are not sent to it, counted as delivery.dropped.too_large', async () => {
  const before = (await metrics(b))['delivery.dropped.too_large'];
  const small = await client(b, { protocolVersion: 5, clientId: 'mps-small', properties: { maximumPacketSize: 200 } });
  const drops: string[] = [];
  const unhook = b.node.broker.hooks.add('message.dropped', (msg, cid, reason) => { if (cid === 'mps-small') drops.push(`${reason}:${msg.topic}`); });
  const got = collect(small);
  await small.subscribeAsync('v5/mps/#', { qos: 1 });
  const pub = await client(b, { protocolVersion: 5 });
  await pub.publishAsync('v5/mps/big', Buffer.alloc(500, 1), { qos: 1 });
  await pub.publishAsync('v5/mps/big0', Buffer.alloc(500, 1), { qos: 0 });
  await pub.publishAsync('v5/mps/small', 'ok', { qos: 1 });
  await until(() => got.length === 1);
  await sleep(100);
  assert.deepEqual(got.map((m) => m.topic), ['v5/mps/small']);
  unhook();
  assert.deepEqual(drops, ['too_large:v5/mps/big', 'too_large:v5/mps/big0']);
  assert.ok((await metrics(b))['delivery.dropped.too_large'] - before >= 2, 'delivery.dropped.too_large counted');
  assert.equal(small.connected, true, 'client disconnected instead of skipping the message');
  await end(small, pub);
});

test('client Maximum Packet Size is the whole packet: a 100-byte PUBLISH goes to a client accepting 100, not to one accepting 99', async () => {
  const rs = [];
  for (const max of [100, 99]) {
    const r = await rawClient(b.port, 5);
    await r.connect({ properties: { maximumPacketSize: max } });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'v5/mpsb', qos: 0 }] });
    await r.next('suback');
    rs.push(r);
  }
  const pub = await client(b, { protocolVersion: 5 });
  // fixed header 2 + topic "v5/mpsb" 9 + property length 1 = 12 bytes around the payload
  await pub.publishAsync('v5/mpsb', Buffer.alloc(100 - 12, 2), { qos: 0 });
  const p = await rs[0].next('publish');
  assert.equal(p.length + 2, 100);
  await sleep(100);
  assert.equal(rs[1].packets.filter((x) => x.cmd === 'publish').length, 0);
  for (const r of rs) r.destroy();
  await end(pub);
});

test('queued message expires while the client is offline; remaining interval sent for the rest', async () => {
  const id = 'mexp-q';
  const persist = { clean: false, properties: { sessionExpiryInterval: 60 } };
  const s = await client(b, { protocolVersion: 5, clientId: id, ...persist });
  await s.subscribeAsync('v5/mexp/t', { qos: 1 });
  await end(s);
  const pub = await client(b, { protocolVersion: 5 });
  await pub.publishAsync('v5/mexp/t', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await pub.publishAsync('v5/mexp/t', 'long', { qos: 1, properties: { messageExpiryInterval: 60 } });
  await pub.publishAsync('v5/mexp/t', 'forever', { qos: 1 });
  await sleep(2100);
  const r = await rawClient(b.port, 5);
  await r.connect({ clientId: id, ...persist });
  const m1 = await r.next('publish');
  const m2 = await r.next('publish');
  await sleep(100);
  assert.deepEqual([m1.payload.toString(), m2.payload.toString()], ['long', 'forever']);
  const rem = m1.properties?.messageExpiryInterval;
  assert.ok(rem >= 57 && rem <= 58, `remaining expiry ${rem}, want 57..58 after ~2.1 s`);
  assert.equal(m2.properties?.messageExpiryInterval, undefined);
  r.send({ cmd: 'puback', messageId: m1.messageId });
  r.send({ cmd: 'puback', messageId: m2.messageId });
  r.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  await end(pub);
});

test('properties pass through: user properties, response topic, correlation data, content type, payload format', async () => {
  const sub = await client(b, { protocolVersion: 5 });
  const got = collect(sub);
  await sub.subscribeAsync('v5/props', { qos: 1 });
  const pub = await client(b, { protocolVersion: 5 });
  await pub.publishAsync('v5/props', 'héllo', {
    qos: 1, properties: {
      userProperties: { a: '1', b: ['x', 'y'] }, responseTopic: 'v5/props/reply', correlationData: Buffer.from([1, 2, 3]),
      contentType: 'text/plain; charset=utf-8', payloadFormatIndicator: true,
    },
  });
  await until(() => got.length === 1);
  const p = got[0].packet.properties ?? {};
  assert.deepEqual({ ...p.userProperties }, { a: '1', b: ['x', 'y'] });
  assert.equal(p.responseTopic, 'v5/props/reply');
  assert.deepEqual([...(p.correlationData as Buffer)], [1, 2, 3]);
  assert.equal(p.contentType, 'text/plain; charset=utf-8');
  assert.equal(p.payloadFormatIndicator, true);
  await end(sub, pub);
});

test('subscription identifier on the subscription is sent on delivery; retained delivery too', async () => {
  const pub = await client(b, { protocolVersion: 5 });
  await pub.publishAsync('v5/subid/r', 'ret', { qos: 1, retain: true });
  const sub = await client(b, { protocolVersion: 5 });
  const got = collect(sub);
  await sub.subscribeAsync('v5/subid/+', { qos: 1, properties: { subscriptionIdentifier: 268435455 } });
  await until(() => got.length === 1);
  assert.equal(got[0].packet.properties?.subscriptionIdentifier, 268435455);
  await pub.publishAsync('v5/subid/live', 'l', { qos: 1 });
  await until(() => got.length === 2);
  assert.equal(got[1].packet.properties?.subscriptionIdentifier, 268435455);
  await pub.publishAsync('v5/subid/r', '', { qos: 1, retain: true });
  await end(pub, sub);
});

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: PUBLISH to a topic with a wildcard → ${protocolVersion === 5 ? 'DISCONNECT 0x90' : 'connection closed'}`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    await r.connect();
    r.send({ cmd: 'publish', topic: 'a/+/b', payload: Buffer.from('x'), qos: 1, messageId: 1 });
    await r.waitClosed();
    const d = r.packets.find((p) => p.cmd === 'disconnect');
    if (protocolVersion === 5) {
      assert.equal(d?.reasonCode, 0x90);
      assert.equal(typeof d?.properties?.reasonString, 'string', 'v5 DISCONNECT carries a reason string by default');
    } else assert.equal(d, undefined);
    assert.equal(r.packets.find((p) => p.cmd === 'puback'), undefined);
  });
}

test('v5: PUBLISH with no matching subscribers → PUBACK 0x10', async () => {
  const r = await rawClient(b.port, 5);
  await r.connect();
  r.send({ cmd: 'publish', topic: 'v5/nobody/here', payload: Buffer.from('x'), qos: 1, messageId: 5 });
  const a = await r.next('puback');
  assert.equal(a.reasonCode, 0x10);
  r.destroy();
});

test('v5: Request Problem Information 0 → no reason string on DISCONNECT', async () => {
  const r = await rawClient(b.port, 5);
  await r.connect({ properties: { requestProblemInformation: false } });
  r.send({ cmd: 'publish', topic: 'a/#', payload: Buffer.from('x'), qos: 0 });
  await r.waitClosed();
  const d = r.packets.find((p) => p.cmd === 'disconnect');
  assert.equal(d?.reasonCode, 0x90);
  assert.equal(d?.properties?.reasonString, undefined);
});

test('reason strings are left out when they would push DISCONNECT / CONNACK above the client Maximum Packet Size', async () => {
  const r = await rawClient(b.port, 5);
  await r.connect({ properties: { maximumPacketSize: 20 } });
  r.send({ cmd: 'publish', topic: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa/+', payload: Buffer.from('x'), qos: 0 });
  await r.waitClosed();
  const d = r.packets.find((p) => p.cmd === 'disconnect');
  assert.equal(d?.reasonCode, 0x90);
  assert.ok(d.length + 2 <= 20, `DISCONNECT of ${d.length + 2} bytes sent to a client accepting 20`);
  const r2 = await rawClient(b.port, 5);
  r2.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'c', properties: { maximumPacketSize: 16, authenticationMethod: 'NO-SUCH-METHOD-WITH-A-LONG-NAME' } });
  await r2.waitClosed();
  const a = r2.packets.find((p) => p.cmd === 'connack');
  assert.equal(a?.reasonCode, 0x8c);
  assert.ok(a.length + 2 <= 16, `CONNACK of ${a.length + 2} bytes sent to a client accepting 16`);
});

describe('08 MQTT 5 features', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
