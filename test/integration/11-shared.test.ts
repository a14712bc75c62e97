/**
 * 11 — shared and special subscriptions: `$share/{group}/filter` load balancing (each message
 * to one member of each group), `$queue/filter`, strategies round_robin / sticky /
 * hash_clientid (mqtt.shared_subscription_strategy), re-dispatch of unacknowledged QoS 1
 * messages when a member disconnects, `$exclusive/filter` (second subscriber refused), and
 * `$delayed/{seconds}/topic`.
 *
 * v3 vs v5: shared subscriptions work for both (EMQX-style for v3); a refused $exclusive is
 * SUBACK 0x97 in v5 and 0x80 in v3. No Local on a shared subscription is a v5 protocol error.
 */
import { describe, it, after, before, test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { clientInfo } from '../support/api.js';

let rr: TestBroker, sticky: TestBroker, hash: TestBroker, htopic: TestBroker;
before(async () => {
  [rr, sticky, hash, htopic] = await Promise.all([
    startBroker({ mqtt: { shared_subscription_strategy: 'round_robin' } }),
    startBroker({ mqtt: { shared_subscription_strategy: 'sticky' } }),
    startBroker({ mqtt: { shared_subscription_strategy: 'hash_clientid' } }),
    startBroker({ mqtt: { shared_subscription_strategy: 'hash_topic' } }),
  ]);
});
after(async () => { await Promise.all([rr.stop(), sticky.stop(), hash.stop(), htopic.stop()]); });

const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };

async function members(b: TestBroker, filter: string, n: number, protocolVersion: 4 | 5 = 5) {
  const cs = [];
  for (let i = 0; i < n; i++) {
    const c = await client(b, { protocolVersion, clientId: `${filter.replace(/[^a-z0-9]/gi, '')}-m${i}` });
    await c.subscribeAsync(filter, { qos: 1 });
    cs.push({ c, got: collect(c) });
  }
  return cs;
}

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: $share/g round_robin: each message to exactly one member, evenly; a second group gets its own copy; plain subscriber gets all`, async () => {
    const t = `v${protocolVersion}/sh/rr`;
    const g1 = await members(rr, `$share/g1/${t}`, 3, protocolVersion);
    const g2 = await members(rr, `$share/g2/${t}`, 2, protocolVersion);
    const plain = await client(rr, { protocolVersion });
    const gotPlain = collect(plain);
    await plain.subscribeAsync(t, { qos: 1 });
    const pub = await client(rr, { protocolVersion });
    for (let i = 0; i < 30; i++) await pub.publishAsync(t, String(i), { qos: 1 });
    const total = (g: typeof g1) => g.reduce((n, m) => n + m.got.length, 0);
    await until(() => total(g1) === 30 && total(g2) === 30 && gotPlain.length === 30, 3000, 'all copies');
    await sleep(100);
    assert.equal(total(g1), 30);
    assert.equal(total(g2), 30);
    assert.deepEqual(g1.map((m) => m.got.length), [10, 10, 10], 'round_robin over 3 members');
    assert.deepEqual(g2.map((m) => m.got.length), [15, 15]);
    const all = g1.flatMap((m) => m.got.map((x) => Number(x.payload))).sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: 30 }, (_, i) => i), 'each message once in the group');
    await end(...g1.map((m) => m.c), ...g2.map((m) => m.c), plain, pub);
  });
}

test('$queue/t is one shared group', async () => {
  const q = await members(rr, '$queue/v5/queue/t', 2);
  const pub = await client(rr, { protocolVersion: 5 });
  for (let i = 0; i < 10; i++) await pub.publishAsync('v5/queue/t', String(i), { qos: 1 });
  await until(() => q[0].got.length + q[1].got.length === 10);
  await sleep(100);
  assert.equal(q[0].got.length + q[1].got.length, 10);
  assert.ok(q[0].got.length > 0 && q[1].got.length > 0, 'both members used');
  await end(...q.map((m) => m.c), pub);
});

test('sticky: every message goes to the same member while it stays; then to another', async () => {
  const g = await members(sticky, '$share/s/v5/sticky', 3);
  const pub = await client(sticky, { protocolVersion: 5 });
  for (let i = 0; i < 12; i++) await pub.publishAsync('v5/sticky', String(i), { qos: 1 });
  await until(() => g.reduce((n, m) => n + m.got.length, 0) === 12);
  const counts = g.map((m) => m.got.length);
  assert.equal(counts.filter((n) => n === 12).length, 1, `sticky spread ${counts}`);
  const chosen = counts.indexOf(12);
  await end(g[chosen].c);
  await sleep(50);
  for (let i = 0; i < 6; i++) await pub.publishAsync('v5/sticky', `after${i}`, { qos: 1 });
  const rest = g.filter((_, i) => i !== chosen);
  await until(() => rest.reduce((n, m) => n + m.got.length, 0) === 6);
  assert.equal(rest.filter((m) => m.got.length === 6).length, 1, 'sticky to one new member');
  await end(...rest.map((m) => m.c), pub);
});

test('hash_clientid: one publisher always lands on the same member; publishers spread', async () => {
  const g = await members(hash, '$share/h/v5/hash', 3);
  const pubs = [];
  for (let p = 0; p < 8; p++) pubs.push(await client(hash, { protocolVersion: 5, clientId: `hash-pub-${p}` }));
  for (let i = 0; i < 4; i++) for (const [p, c] of pubs.entries()) await c.publishAsync('v5/hash', `${p}:${i}`, { qos: 1 });
  await until(() => g.reduce((n, m) => n + m.got.length, 0) === 32);
  const byPub = new Map<string, Set<number>>();
  g.forEach((m, idx) => { for (const x of m.got) { const p = x.payload.split(':')[0]; (byPub.get(p) ?? byPub.set(p, new Set()).get(p)!).add(idx); } });
  for (const [p, set] of byPub) assert.equal(set.size, 1, `publisher ${p} spread over members ${[...set]}`);
  assert.ok(new Set([...byPub.values()].map((s) => [...s][0])).size >= 2, '8 publishers all hashed to one member');
  await end(...g.map((m) => m.c), ...pubs);
});

test('hash_topic: one topic always lands on the same member; topics spread', async () => {
  const g = await members(htopic, '$share/ht/v5/ht/+', 3);
  const pub = await client(htopic, { protocolVersion: 5 });
  for (let i = 0; i < 3; i++) for (let t = 0; t < 8; t++) await pub.publishAsync(`v5/ht/${t}`, `${t}:${i}`, { qos: 1 });
  await until(() => g.reduce((n, m) => n + m.got.length, 0) === 24);
  const byTopic = new Map<string, Set<number>>();
  g.forEach((m, idx) => { for (const x of m.got) (byTopic.get(x.topic) ?? byTopic.set(x.topic, new Set()).get(x.topic)!).add(idx); });
  for (const [t, set] of byTopic) assert.equal(set.size, 1, `topic ${t} spread over members ${[...set]}`);
  assert.ok(new Set([...byTopic.values()].map((s) => [...s][0])).size >= 2, '8 topics all hashed to one member');
  await end(...g.map((m) => m.c), pub);
});

test('unacknowledged QoS 1 messages of a leaving member are re-dispatched to another member', async () => {
  const r = await rawClient(rr.port, 5);
  await r.connect({ clientId: 'redis-raw' });
  r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/rd/v5/redis', qos: 1 }] });
  await r.next('suback');
  const other = await client(rr, { protocolVersion: 5, clientId: 'redis-other' });
  const got = collect(other);
  await other.subscribeAsync('$share/rd/v5/redis', { qos: 1 });
  const pub = await client(rr, { protocolVersion: 5 });
  for (let i = 0; i < 6; i++) await pub.publishAsync('v5/redis', String(i), { qos: 1 });
  const held: string[] = [];
  for (let i = 0; i < 3; i++) held.push((await r.next('publish')).payload.toString()); // never acked
  await until(() => got.length === 3);
  r.destroy();
  await until(() => got.length === 6, 3000, 're-dispatched messages');
  assert.deepEqual(got.map((m) => Number(m.payload)).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(held.map(Number).sort(), got.slice(3).map((m) => Number(m.payload)).sort());
  await end(other, pub);
});

test('a lone persistent shared member that drops keeps its unacknowledged QoS 1 messages (no other member to take them)', async () => {
  const persist = { clean: false, properties: { sessionExpiryInterval: 60 } };
  const r = await rawClient(rr.port, 5);
  await r.connect({ clientId: 'lone-member', ...persist });
  r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/lone/v5/lone', qos: 1 }] });
  await r.next('suback');
  const pub = await client(rr, { protocolVersion: 5 });
  for (let i = 0; i < 3; i++) await pub.publishAsync('v5/lone', String(i), { qos: 1 });
  for (let i = 0; i < 3; i++) await r.next('publish'); // never acked
  r.destroy();
  await r.waitClosed();
  await sleep(50);
  const r2 = await rawClient(rr.port, 5);
  await r2.connect({ clientId: 'lone-member', ...persist });
  const got = [];
  for (let i = 0; i < 3; i++) { const p = await r2.next('publish'); got.push(p.payload.toString()); r2.send({ cmd: 'puback', messageId: p.messageId }); }
  assert.deepEqual(got, ['0', '1', '2']);
  r2.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  await end(pub);
});

// A group whose members are all offline persistent sessions queues the message in one of them.
test('a shared group whose only members are offline persistent sessions queues the message for one of them', async () => {
  const m = await client(rr, { protocolVersion: 5, clientId: 'offline-sh', clean: false, properties: { sessionExpiryInterval: 60 } });
  await m.subscribeAsync('$share/off/v5/offsh', { qos: 1 });
  await end(m);
  const pub = await client(rr, { protocolVersion: 5 });
  await pub.publishAsync('v5/offsh', 'x', { qos: 1 });
  await sleep(50);
  const queued = (await clientInfo(rr, 'offline-sh'))?.mqueue_len;
  const again = await client(rr, { protocolVersion: 5, clientId: 'offline-sh', clean: false, properties: { sessionExpiryInterval: 0 } });
  const got = collect(again);
  await until(() => got.length === 1, 2000, 'queued message delivered on resume');
  assert.deepEqual(got.map((m) => [m.topic, m.payload]), [['v5/offsh', 'x']]);
  await end(pub, again);
  assert.equal(queued, 1);
});

test('shared subscriptions get no retained messages on subscribe', async () => {
  const pub = await client(rr, { protocolVersion: 5 });
  await pub.publishAsync('v5/shret', 'kept', { qos: 1, retain: true });
  const m = await members(rr, '$share/r/v5/shret', 1);
  await sleep(150);
  assert.equal(m[0].got.length, 0);
  await pub.publishAsync('v5/shret', '', { qos: 1, retain: true });
  await end(m[0].c, pub);
});

test('v5: No Local on a shared subscription → DISCONNECT 0x82', async () => {
  const r = await rawClient(rr.port, 5);
  await r.connect();
  r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/nl/x', qos: 0, nl: true }] });
  await r.waitClosed();
  assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x82);
});

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: $exclusive/t: second subscriber refused (${protocolVersion === 5 ? '0x97' : '0x80'}); free again after the owner unsubscribes`, async () => {
    const t = `$exclusive/v${protocolVersion}/excl`;
    const a = await rawClient(rr.port, protocolVersion);
    await a.connect();
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: t, qos: 1 }] });
    assert.deepEqual((await a.next('suback')).granted, [1]);
    const c = await rawClient(rr.port, protocolVersion);
    await c.connect();
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: t, qos: 1 }] });
    assert.deepEqual((await c.next('suback')).granted, [protocolVersion === 5 ? 0x97 : 0x80]);
    const pub = await client(rr, { protocolVersion });
    await pub.publishAsync(`v${protocolVersion}/excl`, 'to-owner', { qos: 0 });
    assert.equal((await a.next('publish')).payload.toString(), 'to-owner');
    a.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: [t] });
    await a.next('unsuback');
    c.send({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: t, qos: 1 }] });
    assert.deepEqual((await c.next('suback')).granted, [1]);
    a.destroy(); c.destroy();
    await end(pub);
  });
}

test('$exclusive/t is released when the owner disconnects', async () => {
  const a = await client(rr, { protocolVersion: 5 });
  await a.subscribeAsync('$exclusive/v5/excl2', { qos: 0 });
  await end(a);
  await sleep(50);
  const c = await rawClient(rr.port, 5);
  await c.connect();
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$exclusive/v5/excl2', qos: 0 }] });
  assert.deepEqual((await c.next('suback')).granted, [0]);
  c.destroy();
});

test('$delayed/2/t arrives ~2 s later on t, not before; bad delayed topic refused', async () => {
  const sub = await client(rr, { protocolVersion: 5 });
  const got = collect(sub);
  await sub.subscribeAsync('v5/delayed/t', { qos: 1 });
  const pub = await client(rr, { protocolVersion: 5 });
  const t0 = Date.now();
  await pub.publishAsync('$delayed/2/v5/delayed/t', 'later', { qos: 1 });
  await sleep(1500);
  assert.equal(got.length, 0, 'delayed message arrived early');
  await until(() => got.length === 1, 2000, 'delayed message');
  const dt = Date.now() - t0;
  assert.ok(dt >= 1900 && dt <= 3500, `arrived after ${dt} ms`);
  assert.equal(got[0].topic, 'v5/delayed/t');
  const r = await rawClient(rr.port, 5);
  await r.connect();
  r.send({ cmd: 'publish', topic: '$delayed/abc/x', payload: Buffer.from('x'), qos: 1, messageId: 1 });
  await r.waitClosed();
  assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x90);
  await end(sub, pub);
});

describe('11 shared, exclusive and delayed', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
