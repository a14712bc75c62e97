/**
 * 07 — QoS 1/2 flows with a raw client that acknowledges only when told: redelivery of
 * unacknowledged messages on reconnect with DUP=1 and the same packet ids in order, QoS 2
 * exactly once across a reconnect in both directions, inflight windows (v5 Receive Maximum,
 * mqtt.max_inflight), and PUBREL for an unknown packet id.
 *
 * v3 vs v5: the redelivery and exactly-once rules are the same; Receive Maximum is v5 only
 * (v3 clients get the max_inflight window); v5 PUBCOMP for an unknown id carries 0x92.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient, type RawClient } from '../support/raw-client.js';
import { clientInfo } from '../support/api.js';

let b: TestBroker;
before(async () => { b = await startBroker({ mqtt: { max_inflight: 5 } }); });
after(async () => { await b.stop(); });

const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };

async function publishes(r: RawClient, n: number, ms = 3000): Promise<Array<Record<string, any>>> {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await r.next('publish', ms));
  return out;
}

for (const protocolVersion of [4, 5] as const) {
  const v = `v${protocolVersion}`;
  const persist = protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };

  test(`${v}: unacknowledged QoS 1 and 2 messages are resent on reconnect with DUP, same ids, in order`, async () => {
    const id = `redeliver-${v}`;
    const r = await rawClient(b.port, protocolVersion);
    await r.connect({ clientId: id, ...persist });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${v}/rd/+`, qos: 2 }] });
    await r.next('suback');
    const pub = await client(b, { protocolVersion });
    for (let i = 0; i < 4; i++) await pub.publishAsync(`${v}/rd/${i}`, `m${i}`, { qos: (i % 2 === 0 ? 1 : 2) });
    const first = await publishes(r, 4);
    assert.deepEqual(first.map((p) => [p.payload.toString(), p.qos, p.dup]), [['m0', 1, false], ['m1', 2, false], ['m2', 1, false], ['m3', 2, false]]);
    // ack nothing, except PUBREC the QoS 2 one m1 (so it is resent as PUBREL, not PUBLISH)
    r.send({ cmd: 'pubrec', messageId: first[1].messageId });
    await r.next('pubrel');
    r.destroy();
    await r.waitClosed();
    await sleep(50);
    const r2 = await rawClient(b.port, protocolVersion);
    const ack = await r2.connect({ clientId: id, ...persist });
    assert.equal(ack.sessionPresent, true);
    const rel = await r2.next('pubrel');
    assert.equal(rel.messageId, first[1].messageId, 'PUBREL resent for the PUBREC-ed message');
    const again = await publishes(r2, 3);
    assert.deepEqual(again.map((p) => [p.payload.toString(), p.dup, p.messageId]),
      [['m0', true, first[0].messageId], ['m2', true, first[2].messageId], ['m3', true, first[3].messageId]]);
    await sleep(100);
    assert.equal(r2.packets.filter((p) => p.cmd === 'publish').length, 0, 'no extra copies');
    r2.send({ cmd: 'pubcomp', messageId: rel.messageId });
    r2.send({ cmd: 'puback', messageId: again[0].messageId });
    r2.send({ cmd: 'puback', messageId: again[1].messageId });
    r2.send({ cmd: 'pubrec', messageId: again[2].messageId });
    await r2.next('pubrel');
    r2.send({ cmd: 'pubcomp', messageId: again[2].messageId });
    await until(async () => (await clientInfo(b, id))?.inflight_cnt === 0, 2000, 'inflight empty');
    r2.send({ cmd: 'disconnect' });
    await end(pub);
  });

  test(`${v}: QoS 2 from a client is published exactly once when resent after reconnect`, async () => {
    const id = `q2in-${v}`;
    const sub = await client(b, { protocolVersion });
    const got = collect(sub);
    await sub.subscribeAsync(`${v}/q2in`, { qos: 2 });
    const r = await rawClient(b.port, protocolVersion);
    await r.connect({ clientId: id, ...persist });
    r.send({ cmd: 'publish', topic: `${v}/q2in`, payload: Buffer.from('once'), qos: 2, messageId: 77 });
    assert.equal((await r.next('pubrec')).messageId, 77);
    r.destroy();
    await r.waitClosed();
    const r2 = await rawClient(b.port, protocolVersion);
    await r2.connect({ clientId: id, ...persist });
    // the client did not see PUBREC (as far as it knows): it resends PUBLISH with DUP
    r2.send({ cmd: 'publish', topic: `${v}/q2in`, payload: Buffer.from('once'), qos: 2, messageId: 77, dup: true });
    assert.equal((await r2.next('pubrec')).messageId, 77);
    r2.send({ cmd: 'pubrel', messageId: 77 });
    const comp = await r2.next('pubcomp');
    assert.equal(comp.messageId, 77);
    if (protocolVersion === 5) assert.equal(comp.reasonCode ?? 0, 0);
    // after PUBCOMP the id is free: a new message with id 77 is a new message
    r2.send({ cmd: 'publish', topic: `${v}/q2in`, payload: Buffer.from('twice'), qos: 2, messageId: 77 });
    await r2.next('pubrec');
    r2.send({ cmd: 'pubrel', messageId: 77 });
    await r2.next('pubcomp');
    await until(() => got.length >= 2, 2000, 'deliveries');
    await sleep(100);
    assert.deepEqual(got.map((m) => m.payload), ['once', 'twice']);
    r2.send({ cmd: 'disconnect' });
    await end(sub);
  });

  test(`${v}: PUBREL for an unknown packet id is answered with PUBCOMP${protocolVersion === 5 ? ' 0x92' : ''}`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    await r.connect();
    r.send({ cmd: 'pubrel', messageId: 4242 });
    const c = await r.next('pubcomp');
    assert.equal(c.messageId, 4242);
    if (protocolVersion === 5) assert.equal(c.reasonCode, 0x92);
    r.destroy();
  });

  test(`${v}: mqtt.max_inflight (5) bounds unacknowledged messages; acks release the rest in order`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    await r.connect({ clientId: `inflight-${v}` });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${v}/if`, qos: 1 }] });
    await r.next('suback');
    const pub = await client(b, { protocolVersion });
    for (let i = 0; i < 12; i++) await pub.publishAsync(`${v}/if`, String(i), { qos: 1 });
    const firstFive = await publishes(r, 5);
    await sleep(150);
    assert.equal(r.packets.filter((p) => p.cmd === 'publish').length, 0, 'more than max_inflight in flight');
    const seen = firstFive.map((p) => Number(p.payload.toString()));
    for (const p of firstFive) r.send({ cmd: 'puback', messageId: p.messageId });
    while (seen.length < 12) {
      const p = await r.next('publish');
      seen.push(Number(p.payload.toString()));
      r.send({ cmd: 'puback', messageId: p.messageId });
    }
    assert.deepEqual(seen, Array.from({ length: 12 }, (_, i) => i));
    r.destroy();
    await end(pub);
  });
}

test('v5: Receive Maximum 2 → never more than 2 unacknowledged PUBLISH in flight', async () => {
  const r = await rawClient(b.port, 5);
  await r.connect({ clientId: 'rm2', properties: { receiveMaximum: 2 } });
  r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'v5/rm', qos: 2 }] });
  await r.next('suback');
  const pub = await client(b, { protocolVersion: 5 });
  for (let i = 0; i < 8; i++) await pub.publishAsync('v5/rm', String(i), { qos: (i % 2 === 0 ? 1 : 2) });
  const seen: number[] = [];
  let inflight = 0;
  let maxInflight = 0;
  const deadline = Date.now() + 5000;
  while (seen.length < 8 && Date.now() < deadline) {
    const p = await r.next('publish');
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    seen.push(Number(p.payload.toString()));
    await sleep(30); // give the broker the chance to overrun the window
    assert.equal(r.packets.filter((x) => x.cmd === 'publish').length + inflight <= 2, true, 'window overrun');
    if (p.qos === 1) { r.send({ cmd: 'puback', messageId: p.messageId }); inflight--; }
    else {
      r.send({ cmd: 'pubrec', messageId: p.messageId });
      await r.next('pubrel');
      // QoS 2 stays in the window until PUBCOMP [MQTT-4.9.0-?]
      r.send({ cmd: 'pubcomp', messageId: p.messageId });
      inflight--;
    }
  }
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.ok(maxInflight <= 2);
  r.destroy();
  await end(pub);
});

test('v5: Receive Maximum counts QoS 2 until PUBCOMP (PUBREC alone does not open the window)', async () => {
  const r = await rawClient(b.port, 5);
  await r.connect({ clientId: 'rm1q2', properties: { receiveMaximum: 1 } });
  r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'v5/rmq2', qos: 2 }] });
  await r.next('suback');
  const pub = await client(b, { protocolVersion: 5 });
  await pub.publishAsync('v5/rmq2', 'a', { qos: 2 });
  await pub.publishAsync('v5/rmq2', 'b', { qos: 2 });
  const a = await r.next('publish');
  r.send({ cmd: 'pubrec', messageId: a.messageId });
  await r.next('pubrel');
  await sleep(150);
  assert.equal(r.packets.filter((x) => x.cmd === 'publish').length, 0, 'second message sent before PUBCOMP');
  r.send({ cmd: 'pubcomp', messageId: a.messageId });
  const bb = await r.next('publish');
  assert.equal(bb.payload.toString(), 'b');
  r.destroy();
  await end(pub);
});

test('v5: resuming with a smaller Receive Maximum: at most that many unacked resends, the rest follow acks in order with their ids', async () => {
  const id = 'rm-resume';
  const r = await rawClient(b.port, 5);
  await r.connect({ clientId: id, clean: false, properties: { sessionExpiryInterval: 60, receiveMaximum: 10 } });
  r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'v5/rmres', qos: 1 }] });
  await r.next('suback');
  const pub = await client(b, { protocolVersion: 5 });
  for (let i = 0; i < 5; i++) await pub.publishAsync('v5/rmres', String(i), { qos: 1 });
  const first = await publishes(r, 5); // max_inflight is 5 on this broker
  r.destroy();
  await r.waitClosed();
  await sleep(50);
  const r2 = await rawClient(b.port, 5);
  await r2.connect({ clientId: id, clean: false, properties: { sessionExpiryInterval: 60, receiveMaximum: 2 } });
  const seen = [];
  for (let i = 0; i < 5; i++) {
    const p = await r2.next('publish');
    await sleep(30);
    assert.ok(r2.packets.filter((x) => x.cmd === 'publish').length + 1 <= 2, 'more than Receive Maximum unacked after resume');
    seen.push([p.payload.toString(), p.messageId, p.dup]);
    r2.send({ cmd: 'puback', messageId: p.messageId });
  }
  assert.deepEqual(seen, first.map((p) => [p.payload.toString(), p.messageId, true]));
  r2.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  await end(pub);
});

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: takeover with a live old connection: the new one gets the unacked PUBLISH (DUP) and PUBREL with the same ids`, async () => {
    const id = `tk-inflight-${protocolVersion}`;
    const persist = protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };
    const old = await rawClient(b.port, protocolVersion);
    await old.connect({ clientId: id, ...persist });
    old.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `v${protocolVersion}/tkin`, qos: 2 }] });
    await old.next('suback');
    const pub = await client(b, { protocolVersion: 5 });
    await pub.publishAsync(`v${protocolVersion}/tkin`, 'a', { qos: 1 });
    await pub.publishAsync(`v${protocolVersion}/tkin`, 'b', { qos: 2 });
    const m1 = await old.next('publish');
    const m2 = await old.next('publish');
    old.send({ cmd: 'pubrec', messageId: m2.messageId });
    await old.next('pubrel');
    const neu = await rawClient(b.port, protocolVersion);
    assert.equal((await neu.connect({ clientId: id, ...persist })).sessionPresent, true);
    const again = await neu.next('publish');
    assert.deepEqual([again.payload.toString(), again.messageId, again.dup], ['a', m1.messageId, true]);
    assert.equal((await neu.next('pubrel')).messageId, m2.messageId);
    await old.waitClosed();
    neu.send({ cmd: 'puback', messageId: again.messageId });
    neu.send({ cmd: 'pubcomp', messageId: m2.messageId });
    await until(async () => (await clientInfo(b, id))?.inflight_cnt === 0, 2000, 'inflight empty');
    neu.send({ cmd: 'disconnect', ...(protocolVersion === 5 ? { reasonCode: 0, properties: { sessionExpiryInterval: 0 } } : {}) });
    await end(pub);
  });
}

test('fan-out / fan-in: 10 publishers × 30 QoS 2 messages reach each of 10 subscribers exactly once, per-publisher order kept', async () => {
  const subs: Array<{ c: import('mqtt').MqttClient; got: ReturnType<typeof collect> }> = [];
  for (let i = 0; i < 10; i++) {
    const c = await client(b, { protocolVersion: i % 2 === 0 ? 5 : 4 });
    await c.subscribeAsync('fan/+', { qos: 2 });
    subs.push({ c, got: collect(c) });
  }
  const pubs = [];
  for (let p = 0; p < 10; p++) pubs.push(await client(b, { protocolVersion: p % 2 === 0 ? 4 : 5 }));
  await Promise.all(pubs.map(async (c, p) => { for (let i = 0; i < 30; i++) await c.publishAsync(`fan/${p}`, `${p}:${i}`, { qos: 2 }); }));
  await until(() => subs.every((s) => s.got.length >= 300), 10000, '300 messages at every subscriber');
  await sleep(100);
  for (const s of subs) {
    assert.equal(s.got.length, 300);
    assert.equal(new Set(s.got.map((m) => m.payload)).size, 300, 'duplicate delivery');
    for (let p = 0; p < 10; p++) {
      const seq = s.got.filter((m) => m.topic === `fan/${p}`).map((m) => Number(m.payload.split(':')[1]));
      assert.deepEqual(seq, Array.from({ length: 30 }, (_, i) => i), `order of publisher ${p}`);
    }
  }
  await end(...subs.map((s) => s.c), ...pubs);
});

describe('07 QoS flows', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
