/**
 * 13 — feature switches and timers of the `mqtt` config seen from the wire:
 * max_qos_allowed, retain_available, wildcard_subscription, shared_subscription,
 * server_keepalive, idle_timeout (CONNECT timeout), unsupported protocol versions,
 * re-subscribing with new options.
 *
 * v3 vs v5: v5 clients learn the switches from CONNACK properties (Maximum QoS, Retain
 * Available, Wildcard/Shared Subscription Available, Server Keep Alive) and get reason codes
 * (0x9B, 0x9A, 0xA2, 0x9E); v3 clients get SUBACK 0x80 or a closed connection.
 * server_keepalive is v5 only: a v3 client keeps the keep alive it asked for.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { clientSubscriptions, retainedMessage } from '../support/api.js';

let off: TestBroker;
let timers: TestBroker;
let ska: TestBroker;
before(async () => {
  [off, timers, ska] = await Promise.all([
    startBroker({ mqtt: { max_qos_allowed: 1, retain_available: false, wildcard_subscription: false, shared_subscription: false } }),
    startBroker({ mqtt: { server_keepalive: 1, idle_timeout: '1s', max_mqueue_len: 2, mqueue_drop_policy: 'drop_new', max_inflight: 1 } }),
    startBroker({ mqtt: { server_keepalive: 5 } }),
  ]);
});
after(async () => { await Promise.all([off.stop(), timers.stop(), ska.stop()]); });

const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };

test('v5: CONNACK announces Maximum QoS 1, Retain Available 0, Wildcard and Shared Subscription Available 0', async () => {
  const r = await rawClient(off.port, 5);
  const a = await r.connect();
  assert.equal(a.properties?.maximumQoS, 1);
  assert.equal(a.properties?.retainAvailable, false);
  assert.equal(a.properties?.wildcardSubscriptionAvailable, false);
  assert.equal(a.properties?.sharedSubscriptionAvailable, false);
  r.destroy();
});

for (const protocolVersion of [4, 5] as const) {
  const fail = protocolVersion === 5 ? (c: number) => c : () => 0x80;
  test(`v${protocolVersion}: switched-off features in SUBSCRIBE: QoS 2 granted as 1, wildcard ${protocolVersion === 5 ? '0xA2' : '0x80'}, shared ${protocolVersion === 5 ? '0x9E' : '0x80'}`, async () => {
    const r = await rawClient(off.port, protocolVersion);
    await r.connect();
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sw/q2', qos: 2 }, { topic: 'sw/+', qos: 0 }, { topic: '$share/g/sw/x', qos: 0 }] });
    assert.deepEqual((await r.next('suback')).granted, [1, fail(0xa2), fail(0x9e)]);
    r.destroy();
  });

  test(`v${protocolVersion}: QoS 2 PUBLISH above max_qos_allowed → ${protocolVersion === 5 ? 'DISCONNECT 0x9B' : 'closed'}`, async () => {
    const r = await rawClient(off.port, protocolVersion);
    await r.connect();
    r.send({ cmd: 'publish', topic: 'sw/q', payload: Buffer.from('x'), qos: 2, messageId: 1 });
    await r.waitClosed();
    if (protocolVersion === 5) assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x9b);
    assert.equal(r.packets.find((p) => p.cmd === 'pubrec'), undefined);
  });

  test(`v${protocolVersion}: retained PUBLISH with retain_available=false → ${protocolVersion === 5 ? 'DISCONNECT 0x9A' : 'closed'}, nothing stored`, async () => {
    const r = await rawClient(off.port, protocolVersion);
    await r.connect();
    r.send({ cmd: 'publish', topic: 'sw/ret', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: true });
    await r.waitClosed();
    if (protocolVersion === 5) assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x9a);
    assert.equal(await retainedMessage(off, 'sw/ret'), undefined);
  });

  test(`v${protocolVersion}: will with QoS above max_qos_allowed${protocolVersion === 5 ? ' → CONNACK 0x9B; retained will → 0x9A' : ' → closed without a successful CONNACK'}`, async () => {
    const r = await rawClient(off.port, protocolVersion);
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, keepalive: 60, clientId: `sw-will-${protocolVersion}`, will: { topic: 'sw/will', payload: Buffer.from('x'), qos: 2, retain: false } });
    await r.waitClosed();
    const ack = r.packets.find((p) => p.cmd === 'connack');
    if (protocolVersion === 5) assert.equal(ack?.reasonCode, 0x9b);
    else assert.ok(ack === undefined || ack.returnCode !== 0);
    if (protocolVersion === 5) {
      const r2 = await rawClient(off.port, 5);
      assert.equal((await r2.connect({ will: { topic: 'sw/will', payload: Buffer.from('x'), qos: 0, retain: true } })).reasonCode, 0x9a);
      await r2.waitClosed();
    }
  });
}

test('v5: server_keepalive 1 is announced in CONNACK and enforced (client asked for 60)', async () => {
  const r = await rawClient(timers.port, 5);
  const t0 = Date.now();
  const a = await r.connect({ keepalive: 60 });
  assert.equal(a.properties?.serverKeepAlive, 1);
  await r.waitClosed(4000);
  const dt = r.closedAt - t0;
  assert.ok(dt >= 1400 && dt <= 3200, `closed after ${dt} ms`);
  assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x8d);
});

// Server Keep Alive is an MQTT 5 CONNACK property [MQTT-3.2.2-21]; a 3.1.1 client cannot be told
// about it, so its own keep alive (60 s here) must stay in force. Both clients stay idle: the raw
// client sends nothing it is not told to (no PINGREQ).
test('v3.1.1: server_keepalive 5 does not apply: a client with keep alive 60 idle for 10 s stays connected', async () => {
  const r = await rawClient(ska.port, 4);
  const a = await r.connect({ clientId: 'ska-v4', keepalive: 60 });
  assert.equal(a.returnCode, 0);
  const idle = Date.now();
  await sleep(10_000);
  assert.equal(r.closed, false, `dropped ${r.closedAt - idle} ms into a 10 s idle period: server_keepalive applied to a v3.1.1 client`);
  const from = r.packets.length;
  r.send({ cmd: 'pingreq' });
  await r.next('pingresp', 2000, from);
  r.send({ cmd: 'disconnect' });
  await r.waitClosed();
});

test('v5: server_keepalive 5 is announced in CONNACK and an idle client (keep alive 60) is dropped after ~7.5 s', async () => {
  const r = await rawClient(ska.port, 5);
  const t0 = Date.now();
  const a = await r.connect({ clientId: 'ska-v5', keepalive: 60 });
  assert.equal(a.reasonCode, 0);
  assert.equal(a.properties?.serverKeepAlive, 5);
  await r.waitClosed(12_000);
  const dt = r.closedAt - t0;
  assert.ok(dt >= 7000 && dt <= 9500, `closed after ${dt} ms, want 7.5 s (5 s × 1.5)`);
  assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x8d);
});

test('idle_timeout 1 s: a connection that never sends CONNECT is closed', async () => {
  const r = await rawClient(timers.port, 4);
  const t0 = Date.now();
  await r.waitClosed(3500);
  const dt = r.closedAt - t0;
  assert.ok(dt >= 900 && dt <= 2600, `closed after ${dt} ms`);
  assert.deepEqual(r.packets, []);
});

test('mqueue_drop_policy drop_new: a full queue refuses the newest; an online client with a full window queues too', async () => {
  const id = 'dropnew';
  const persist = { clean: false, properties: { sessionExpiryInterval: 60 } };
  const s = await client(timers, { protocolVersion: 5, clientId: id, ...persist });
  await s.subscribeAsync('v5/dropnew', { qos: 1 });
  await end(s);
  const pub = await client(timers, { protocolVersion: 5 });
  for (let i = 0; i < 4; i++) await pub.publishAsync('v5/dropnew', String(i), { qos: 1 });
  const r = await rawClient(timers.port, 5);
  await r.connect({ clientId: id, ...persist });
  const got = [];
  for (let i = 0; i < 2; i++) { const p = await r.next('publish'); got.push(p.payload.toString()); r.send({ cmd: 'puback', messageId: p.messageId }); }
  await sleep(100);
  assert.deepEqual(got, ['0', '1']);
  assert.equal(r.packets.filter((p) => p.cmd === 'publish').length, 0);
  // online, window of 1 (max_inflight) and queue of 2: of 5 quick messages 1 in flight + 2 queued, 2 dropped
  for (let i = 0; i < 5; i++) await pub.publishAsync('v5/dropnew', `o${i}`, { qos: 1 });
  const online = [];
  for (let i = 0; i < 3; i++) { const p = await r.next('publish'); online.push(p.payload.toString()); r.send({ cmd: 'puback', messageId: p.messageId }); }
  await sleep(100);
  assert.deepEqual(online, ['o0', 'o1', 'o2']);
  assert.equal(r.packets.filter((p) => p.cmd === 'publish').length, 0);
  r.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  await end(pub);
});

test('unsupported protocol version: level 6 → CONNACK 0x84 (v5 format) or 1 (v3 format), then closed', async () => {
  const r = await rawClient(timers.port, 4);
  // CONNECT "MQTT" level 6, clean, keepalive 60, client id "x"
  r.sock.write(Buffer.from([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x78]));
  await r.waitClosed();
  const ack = r.packets.find((p) => p.cmd === 'connack');
  assert.ok(ack, 'no CONNACK before close');
  assert.ok(ack.returnCode === 1 || ack.reasonCode === 0x84, JSON.stringify(ack));
});

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: re-subscribing the same filter replaces its options (one delivery, new QoS)`, async () => {
    const c = await client(timers, { protocolVersion, keepalive: 1 });
    const pub = await client(timers, { protocolVersion, keepalive: 1 });
    const got = collect(c);
    await c.subscribeAsync(`v${protocolVersion}/resub`, { qos: 2 });
    await c.subscribeAsync(`v${protocolVersion}/resub`, { qos: 0 });
    await pub.publishAsync(`v${protocolVersion}/resub`, 'x', { qos: 2 });
    await until(() => got.length >= 1);
    await sleep(100);
    assert.equal(got.length, 1);
    assert.equal(got[0].packet.qos, 0);
    const subs = await clientSubscriptions(timers, c.options.clientId!);
    assert.deepEqual(subs?.map((s) => [s.topic, s.qos]), [[`v${protocolVersion}/resub`, 0]]);
    await end(c, pub);
  });
}

describe('13 feature switches and timers', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
