/**
 * 03 — retained messages with MQTT.js: store, replace, delete with an empty payload, RETAIN=1
 * on retained messages sent because of a subscription and RETAIN=0 on live ones, message
 * expiry of retained messages.
 *
 * v3 vs v5: both store/replace/delete alike; v5 adds Retain Handling 0/1/2 and Retain As
 * Published, and sends the remaining Message Expiry Interval.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { retainedMessage } from '../support/api.js';
import { rawClient } from '../support/raw-client.js';
import mqttPacket from 'mqtt-packet';

let b: TestBroker;
before(async () => { b = await startBroker(); });
after(async () => { await b.stop(); });

// Tests use distinct topics and client ids, so they run concurrently.
const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };

for (const protocolVersion of [4, 5] as const) {
  const v = `v${protocolVersion}`;

  test(`${v}: retained message stored, replaced, delivered with RETAIN=1; deleted by empty payload`, async () => {
    const pub = await client(b, { protocolVersion });
    await pub.publishAsync(`${v}/ret/a`, 'first', { qos: 1, retain: true });
    await pub.publishAsync(`${v}/ret/a`, 'second', { qos: 1, retain: true });
    const s1 = await client(b, { protocolVersion });
    const got1 = collect(s1);
    await s1.subscribeAsync(`${v}/ret/#`, { qos: 1 });
    await until(() => got1.length === 1);
    await sleep(100);
    assert.equal(got1.length, 1);
    assert.equal(got1[0].payload, 'second');
    assert.equal(got1[0].packet.retain, true, 'retained message delivered on subscribe has RETAIN=1');
    // live publish of a retained message to an existing subscriber: RETAIN=0 [MQTT-3.3.1-9/12]
    await pub.publishAsync(`${v}/ret/a`, 'third', { qos: 1, retain: true });
    await until(() => got1.length === 2);
    assert.equal(got1[1].packet.retain, false);
    // delete
    await pub.publishAsync(`${v}/ret/a`, '', { qos: 1, retain: true });
    await until(() => got1.length === 3);
    const s2 = await client(b, { protocolVersion });
    const got2 = collect(s2);
    await s2.subscribeAsync(`${v}/ret/#`, { qos: 1 });
    await sleep(200);
    assert.equal(got2.length, 0, 'deleted retained message still delivered');
    assert.equal(await retainedMessage(b, `${v}/ret/a`), undefined, 'retainer still holds the deleted message');
    await end(pub, s1, s2);
  });

  test(`${v}: retained message QoS is downgraded to the subscription's, and wildcard subscribe gets all retained`, async () => {
    const pub = await client(b, { protocolVersion });
    await pub.publishAsync(`${v}/rq/1`, 'one', { qos: 2, retain: true });
    await pub.publishAsync(`${v}/rq/2`, 'two', { qos: 1, retain: true });
    const s = await client(b, { protocolVersion });
    const got = collect(s);
    await s.subscribeAsync(`${v}/rq/+`, { qos: 0 });
    await until(() => got.length === 2);
    assert.deepEqual(got.map((m) => [m.payload, m.packet.qos]).sort(), [['one', 0], ['two', 0]]);
    await end(pub, s);
  });
}

test('v5: Retain Handling 0 sends on every subscribe, 1 only on a new subscription, 2 never', async () => {
  const pub = await client(b, { protocolVersion: 5 });
  await pub.publishAsync('v5/rh/t', 'kept', { qos: 1, retain: true });
  const s = await client(b, { protocolVersion: 5 });
  const got = collect(s);
  await s.subscribeAsync('v5/rh/t', { qos: 1, rh: 0 });
  await until(() => got.length === 1);
  await s.subscribeAsync('v5/rh/t', { qos: 1, rh: 0 });
  await until(() => got.length === 2); // rh 0: again on re-subscribe
  await s.subscribeAsync('v5/rh/+', { qos: 1, rh: 1 });
  await until(() => got.length === 3); // rh 1: new subscription → sent
  await s.subscribeAsync('v5/rh/+', { qos: 1, rh: 1 });
  await sleep(150);
  assert.equal(got.length, 3, 'rh 1 on an existing subscription must not resend');
  await s.subscribeAsync('v5/rh/#', { qos: 1, rh: 2 });
  await sleep(150);
  assert.equal(got.length, 3, 'rh 2 must never send retained messages');
  await end(pub, s);
});

test('v5: Retain As Published keeps RETAIN=1 on live delivery; without it RETAIN=0', async () => {
  const pub = await client(b, { protocolVersion: 5 });
  const rap = await client(b, { protocolVersion: 5 });
  const norap = await client(b, { protocolVersion: 5 });
  const gotR = collect(rap);
  const gotN = collect(norap);
  await rap.subscribeAsync('v5/rap/t', { qos: 1, rap: true });
  await norap.subscribeAsync('v5/rap/t', { qos: 1, rap: false });
  await pub.publishAsync('v5/rap/t', 'x', { qos: 1, retain: true });
  await until(() => gotR.length === 1 && gotN.length === 1);
  assert.equal(gotR[0].packet.retain, true);
  assert.equal(gotN[0].packet.retain, false);
  await pub.publishAsync('v5/rap/t', '', { qos: 1, retain: true });
  await end(pub, rap, norap);
});

test('v5: retained message with expiry: remaining interval sent, gone after expiry', async () => {
  const pub = await client(b, { protocolVersion: 5 });
  await pub.publishAsync('v5/rexp/t', 'short', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
  await pub.publishAsync('v5/rexp/long', 'long', { qos: 1, retain: true, properties: { messageExpiryInterval: 100 } });
  await sleep(50);
  const s1 = await client(b, { protocolVersion: 5 });
  const got1 = collect(s1);
  await s1.subscribeAsync('v5/rexp/long', { qos: 1 });
  await until(() => got1.length === 1);
  const rem = got1[0].packet.properties?.messageExpiryInterval;
  assert.ok(rem !== undefined && rem <= 100 && rem >= 99, `remaining expiry ${rem}`);
  await sleep(1100);
  const s2 = await client(b, { protocolVersion: 5 });
  const got2 = collect(s2);
  await s2.subscribeAsync('v5/rexp/t', { qos: 1 });
  await sleep(150);
  assert.equal(got2.length, 0, 'expired retained message delivered');
  await end(pub, s1, s2);
});

test('a burst of 3,000 retained messages arrives whole and once, while another pair keeps talking', async () => {
  const pub = await client(b, { protocolVersion: 5 });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => pub.publishAsync(`burst/${i}`, String(i), { qos: 1, retain: true })));
  const s1 = await client(b, { protocolVersion: 5 });
  const got = collect(s1);
  const talker = await client(b, { protocolVersion: 5 });
  const echoes = collect(talker);
  await talker.subscribeAsync('talk/1', { qos: 0 });
  await s1.subscribeAsync('burst/#', { qos: 0 });
  // Sent while the burst is under way: answered, and the burst is not cut by it.
  await pub.publishAsync('talk/1', 'ping', { qos: 1 });
  await until(() => got.length >= 3000 && echoes.length === 1, 10_000);
  await sleep(200);
  assert.equal(got.length, 3000);
  assert.equal(new Set(got.map((m) => m.payload)).size, 3000, 'each retained message once');
  assert.ok(got.every((m) => m.packet.retain === true));
  await end(pub, s1, talker);
});

test('UNSUBSCRIBE in the same read as a SUBSCRIBE with 3,000 retained messages stops the burst after UNSUBACK', async () => {
  const pub = await client(b, { protocolVersion: 5 });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => pub.publishAsync(`cut/${i}`, String(i), { qos: 1, retain: true })));
  const raw = await rawClient(b.port, 5);
  await raw.connect({ protocolVersion: 5 });
  // One write, so the broker reads both packets at once.
  raw.sock.write(Buffer.concat([
    mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cut/#', qos: 0 }] } as never, { protocolVersion: 5 }),
    mqttPacket.generate({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['cut/#'] } as never, { protocolVersion: 5 }),
  ]));
  await raw.next('unsuback');
  const atUnsuback = raw.packets.filter((p) => p.cmd === 'publish').length;
  await sleep(300);
  const after = raw.packets.filter((p) => p.cmd === 'publish').length;
  assert.ok(atUnsuback < 3000, `all ${atUnsuback} retained messages went out before the UNSUBACK`);
  assert.equal(after, atUnsuback, 'retained messages kept coming after the UNSUBACK');
  raw.destroy();
  await end(pub);
});

describe('03 retained messages', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
