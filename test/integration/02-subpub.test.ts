/**
 * 02 — publish/subscribe semantics with MQTT.js, v3.1.1 and v5:
 * wildcards, QoS downgrade, overlapping subscriptions, $-topics, bad filters, unsubscribe,
 * per-topic ordering.
 *
 * v3 vs v5: overlapping subscriptions give ONE delivery at the highest QoS in both; v5 also
 * carries every matching Subscription Identifier. Bad filters: v5 SUBACK 0x8F, v3 0x80.
 * UNSUBACK: v5 per-filter 0x00 / 0x11, v3 carries no codes.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';

let b: TestBroker;
before(async () => { b = await startBroker(); });
after(async () => { await b.stop(); });

// Tests use distinct topics and client ids, so they run concurrently.
const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };

for (const protocolVersion of [4, 5] as const) {
  const v = `v${protocolVersion}`;

  test(`${v}: + and # wildcards match, others do not`, async () => {
    const sub = await client(b, { protocolVersion });
    const pub = await client(b, { protocolVersion });
    const got = collect(sub);
    await sub.subscribeAsync([`${v}/w/+/x`, `${v}/h/#`], { qos: 1 });
    for (const t of [`${v}/w/a/x`, `${v}/w/a/b/x`, `${v}/w/x`, `${v}/h`, `${v}/h/1/2`, `${v}/other`]) await pub.publishAsync(t, t, { qos: 1 });
    await until(() => got.length >= 3);
    await sleep(100);
    assert.deepEqual(got.map((m) => m.topic).sort(), [`${v}/h`, `${v}/h/1/2`, `${v}/w/a/x`].sort());
    await end(sub, pub);
  });

  test(`${v}: delivered QoS is min(publish QoS, subscription QoS)`, async () => {
    const sub = await client(b, { protocolVersion });
    const pub = await client(b, { protocolVersion });
    const got = collect(sub);
    await sub.subscribeAsync(`${v}/dg/q1`, { qos: 1 });
    await pub.publishAsync(`${v}/dg/q1`, 'a', { qos: 2 });
    await pub.publishAsync(`${v}/dg/q1`, 'b', { qos: 0 });
    await until(() => got.length === 2);
    assert.deepEqual(got.map((m) => m.packet.qos), [1, 0]);
    await end(sub, pub);
  });

  test(`${v}: overlapping subscriptions give one delivery at the highest QoS`, async () => {
    const sub = await client(b, { protocolVersion });
    const pub = await client(b, { protocolVersion });
    const got = collect(sub);
    await sub.subscribeAsync(`${v}/ov/#`, { qos: 0 });
    await sub.subscribeAsync(`${v}/ov/+`, { qos: 2 });
    await pub.publishAsync(`${v}/ov/a`, 'x', { qos: 2 });
    await until(() => got.length >= 1);
    await sleep(150);
    assert.equal(got.length, 1, 'exactly one copy');
    assert.equal(got[0].packet.qos, 2);
    await end(sub, pub);
  });

  test(`${v}: $-topics are not matched by # or +/…`, async () => {
    const sub = await client(b, { protocolVersion });
    const sys = await client(b, { protocolVersion });
    const pub = await client(b, { protocolVersion });
    const got = collect(sub);
    const gotSys = collect(sys);
    await sub.subscribeAsync(['#', `+/dollar${v}/t`], { qos: 0 });
    await sys.subscribeAsync(`$dollar${v}/#`, { qos: 0 });
    await pub.publishAsync(`$dollar${v}/dollar${v}/t`, 'no', { qos: 1 });
    await until(() => gotSys.length === 1);
    await sleep(100);
    assert.equal(got.filter((m) => m.topic.startsWith('$')).length, 0, 'wildcard subscriber got a $ topic');
    await end(sub, sys, pub);
  });

  test(`${v}: invalid filters get SUBACK ${protocolVersion === 5 ? '0x8F' : '0x80'}, valid ones in the same SUBSCRIBE are granted`, async () => {
    const c = await rawClient(b.port, protocolVersion);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 3, subscriptions: [
      { topic: `${v}/bad/#/x`, qos: 1 }, { topic: `${v}/ok`, qos: 1 }, { topic: `${v}/bad+`, qos: 1 }, { topic: '$share/g#/x', qos: 1 }, { topic: '$share/g', qos: 0 },
    ] });
    const suback = await c.next('suback');
    const want = protocolVersion === 5 ? 0x8f : 0x80;
    assert.equal(suback.messageId, 3);
    assert.deepEqual(suback.granted, [want, 1, want, want, want]);
    c.destroy();
  });

  test(`${v}: unsubscribe stops delivery`, async () => {
    const sub = await client(b, { protocolVersion });
    const pub = await client(b, { protocolVersion });
    const got = collect(sub);
    await sub.subscribeAsync(`${v}/un/t`, { qos: 1 });
    await pub.publishAsync(`${v}/un/t`, '1', { qos: 1 });
    await until(() => got.length === 1);
    await sub.unsubscribeAsync(`${v}/un/t`);
    await pub.publishAsync(`${v}/un/t`, '2', { qos: 1 });
    await sleep(150);
    assert.deepEqual(got.map((m) => m.payload), ['1']);
    await end(sub, pub);
  });

  test(`${v}: per-topic order is kept for 200 QoS 1 messages`, async () => {
    const sub = await client(b, { protocolVersion });
    const pub = await client(b, { protocolVersion });
    const got = collect(sub);
    await sub.subscribeAsync(`${v}/order`, { qos: 1 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => pub.publishAsync(`${v}/order`, String(i), { qos: 1 })));
    await until(() => got.length === 200, 5000, '200 messages');
    assert.deepEqual(got.map((m) => Number(m.payload)), Array.from({ length: 200 }, (_, i) => i));
    await end(sub, pub);
  });
}

test('v5: UNSUBACK reason codes 0x00 and 0x11; v3 UNSUBACK has none', async () => {
  const c = await rawClient(b.port, 5);
  await c.connect();
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'v5/unsub/a', qos: 0 }] });
  await c.next('suback');
  c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['v5/unsub/a', 'v5/unsub/never'] });
  const ua = await c.next('unsuback');
  assert.equal(ua.messageId, 2);
  assert.deepEqual(ua.granted, [0x00, 0x11]);
  c.destroy();
  const c3 = await rawClient(b.port, 4);
  await c3.connect();
  c3.send({ cmd: 'unsubscribe', messageId: 9, unsubscriptions: ['v4/unsub/never'] });
  assert.equal((await c3.next('unsuback')).messageId, 9);
  c3.destroy();
});

test('v5: overlapping subscriptions carry both subscription identifiers', async () => {
  const sub = await client(b, { protocolVersion: 5 });
  const pub = await client(b, { protocolVersion: 5 });
  const got = collect(sub);
  await sub.subscribeAsync('v5/sid/#', { qos: 1, properties: { subscriptionIdentifier: 7 } });
  await sub.subscribeAsync('v5/sid/+', { qos: 0, properties: { subscriptionIdentifier: 42 } });
  await pub.publishAsync('v5/sid/x', 'p', { qos: 1 });
  await until(() => got.length >= 1);
  await sleep(100);
  assert.equal(got.length, 1);
  assert.equal(got[0].packet.qos, 1);
  const ids = got[0].packet.properties?.subscriptionIdentifier;
  assert.deepEqual((Array.isArray(ids) ? ids : [ids]).sort((x, y) => Number(x) - Number(y)), [7, 42]);
  // only one filter matches → only its id
  await pub.publishAsync('v5/sid/x/y', 'q', { qos: 1 });
  await until(() => got.length === 2);
  assert.equal(got[1].packet.properties?.subscriptionIdentifier, 7);
  await end(sub, pub);
});

test('v5: No Local skips the publisher, not other subscribers', async () => {
  const a = await client(b, { protocolVersion: 5 });
  const other = await client(b, { protocolVersion: 5 });
  const gotA = collect(a);
  const gotO = collect(other);
  await a.subscribeAsync('v5/nl', { qos: 1, nl: true });
  await other.subscribeAsync('v5/nl', { qos: 1, nl: true });
  await a.publishAsync('v5/nl', 'from-a', { qos: 1 });
  await until(() => gotO.length === 1);
  await sleep(100);
  assert.equal(gotA.length, 0, 'publisher got its own message despite No Local');
  await end(a, other);
});

test('v3.1.1: a client gets its own publishes (no No Local in v3)', async () => {
  const a = await client(b, { protocolVersion: 4 });
  const got = collect(a);
  await a.subscribeAsync('v4/self', { qos: 1 });
  await a.publishAsync('v4/self', 'me', { qos: 1 });
  await until(() => got.length === 1);
  await end(a);
});

describe('02 publish/subscribe', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
