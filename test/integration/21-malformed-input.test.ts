/**
 * 21 — hostile and broken input. Random bytes, truncated packets, a remaining length above
 * max_packet_size, 10,000 subscriptions from one client, and slowloris connections that
 * never finish CONNECT. Each bad connection is closed (v5: after DISCONNECT with the reason
 * code) and the broker keeps serving a well-behaved client throughout.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { startBroker, client, collect, until, end, rawSocket, sleep, type TestBroker } from '../support/broker.js';
import mqttPacket from 'mqtt-packet';
import { clientInfo, stats } from '../support/api.js';

/** Packet bytes from mqtt-packet (a codec independent of the broker's own). */
const encode = (p: never, protocolVersion: 4 | 5): Buffer => mqttPacket.generate(p, { protocolVersion });

let b: TestBroker;
before(async () => { b = await startBroker({ mqtt: { idle_timeout: '1s', max_packet_size: '64KB' } }); });
after(async () => { await b.stop(); });

/** Resolves with everything the server sent once it closes the socket (fails after ms). */
function closed(s: Socket, ms = 4000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d) => chunks.push(d));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('socket not closed by the broker')), ms);
    s.once('close', () => { clearTimeout(t); resolve(Buffer.concat(chunks)); });
    s.on('error', () => {});
  });
}

async function stillServing(): Promise<void> {
  const c = await client(b, { protocolVersion: 5 });
  const got = collect(c);
  await c.subscribeAsync('alive/t', { qos: 1 });
  await c.publishAsync('alive/t', 'yes', { qos: 1 });
  await until(() => got.length === 1, 3000, 'a message on a healthy connection');
  await end(c);
}

const CONNECT_V5 = encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'bad-v5', keepalive: 30 } as never, 5);

test('random bytes before CONNECT: closed, broker keeps serving', async () => {
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed & 0xff; };
  for (let i = 0; i < 30; i++) {
    const s = await rawSocket(b.port);
    const done = closed(s);
    s.write(Buffer.from(Array.from({ length: 1 + (i * 37) % 300 }, rnd)));
    await done;
  }
  await stillServing();
});

test('random bytes after a valid v5 CONNECT: DISCONNECT with an error reason, then closed', async () => {
  let seed = 99;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed & 0xff; };
  let disconnects = 0;
  for (let i = 0; i < 30; i++) {
    const s = await rawSocket(b.port);
    const done = closed(s);
    s.write(CONNECT_V5);
    await sleep(5);
    // 0xF0 = AUTH with bad flags, or whatever the generator makes: anything malformed.
    const junk = Buffer.from([0x00, ...Array.from({ length: 20 }, rnd)]);
    s.write(junk);
    const out = await done;
    assert.equal(out[0], 0x20, 'CONNACK first');
    if (out.includes(0xe0)) disconnects++;
  }
  assert.ok(disconnects > 0, 'at least some connections got a v5 DISCONNECT before the close');
  await stillServing();
});

test('truncated packet then silence: closed by the CONNECT timeout', async () => {
  const s = await rawSocket(b.port);
  const done = closed(s, 4000);
  s.write(CONNECT_V5.subarray(0, 7));
  await done;
  await stillServing();
});

test('remaining length above max_packet_size: v5 DISCONNECT 0x95 before the body arrives', async () => {
  const s = await rawSocket(b.port);
  const done = closed(s);
  s.write(CONNECT_V5);
  await sleep(20);
  // PUBLISH QoS 0 announcing 10 MB; only the header is sent.
  s.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x05]));
  const out = await done;
  const i = out.indexOf(0xe0);
  assert.ok(i > 0, 'DISCONNECT sent');
  assert.equal(out[i + 2], 0x95, 'reason code 0x95 packet too large');
  await stillServing();
});

test('a v3.1.1 client violating the protocol is closed without DISCONNECT', async () => {
  const s = await rawSocket(b.port);
  const done = closed(s);
  s.write(encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'bad-v4', keepalive: 30 } as never, 4));
  await sleep(20);
  s.write(encode({ cmd: 'publish', topic: 'a/+/b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false } as never, 4));
  const out = await done;
  assert.deepEqual([...out.subarray(0, 4)], [0x20, 0x02, 0x00, 0x00], 'only the CONNACK');
  await stillServing();
});

test('10,000 subscriptions from one client', async () => {
  const c = await client(b, { protocolVersion: 5, clientId: 'many-subs' });
  const filters = Array.from({ length: 10000 }, (_, i) => `many/${i}/+`);
  for (let i = 0; i < filters.length; i += 1000) {
    const granted = await c.subscribeAsync(filters.slice(i, i + 1000), { qos: 1 });
    assert.equal(granted.length, 1000);
    assert.ok(granted.every((g) => g.qos === 1));
  }
  const s = await stats(b);
  assert.equal(s['subscriptions.count'], 10000);
  assert.equal((await clientInfo(b, 'many-subs'))?.subscriptions_cnt, 10000);
  const got = collect(c);
  await c.publishAsync('many/9999/x', 'last', { qos: 1 });
  await until(() => got.length === 1);
  await end(c);
  await until(async () => (await stats(b))['subscriptions.count'] === 0, 3000, 'subscriptions removed with the session');
  assert.equal(await clientInfo(b, 'many-subs'), undefined);
  assert.equal((await stats(b))['topics.count'], 0);
  await stillServing();
});

test('slowloris: 200 connections that never finish CONNECT are closed after idle_timeout', async () => {
  const socks: Socket[] = [];
  for (let i = 0; i < 200; i++) socks.push(await rawSocket(b.port));
  const all = socks.map((s) => closed(s, 5000));
  for (const s of socks) s.write(Buffer.from([0x10])); // a CONNECT header byte and nothing more
  await stillServing();
  await Promise.all(all);
  await until(async () => (await stats(b))['connections.count'] === 0, 3000, 'all connections gone');
});

test('v5 PUBLISH with a wildcard Response Topic: DISCONNECT 0x82', async () => {
  const s = await rawSocket(b.port);
  const done = closed(s);
  s.write(CONNECT_V5);
  await sleep(20);
  s.write(encode({ cmd: 'publish', topic: 'req/x', payload: Buffer.from('q'), qos: 0, retain: false, dup: false, properties: { responseTopic: 'resp/#' } } as never, 5));
  const out = await done;
  const i = out.indexOf(0xe0);
  assert.ok(i > 0, 'DISCONNECT sent');
  assert.equal(out[i + 2], 0x82);
});

test('v5: Payload Format Indicator 1 with invalid UTF-8 → PUBACK 0x99, not published; UNSUBACK 0x8F for a bad filter', async () => {
  const s = await rawSocket(b.port);
  const chunks: Buffer[] = [];
  s.on('data', (d) => chunks.push(d));
  s.write(CONNECT_V5);
  await sleep(20);
  s.write(encode({ cmd: 'publish', topic: 'pfi/t', payload: Buffer.from([0xff, 0xfe]), qos: 1, messageId: 7, retain: false, dup: false, properties: { payloadFormatIndicator: true } } as never, 5));
  s.write(encode({ cmd: 'unsubscribe', messageId: 8, unsubscriptions: ['a/#/b', 'never/subscribed'] } as never, 5));
  // CONNACK (16 bytes with our properties), PUBACK with reason (5), UNSUBACK with two codes (7)
  await until(() => Buffer.concat(chunks).length >= 16 + 5 + 7, 3000, 'PUBACK and UNSUBACK');
  const out = Buffer.concat(chunks);
  const puback = out.indexOf(0x40, 16);
  assert.deepEqual([...out.subarray(puback, puback + 5)], [0x40, 0x03, 0x00, 0x07, 0x99]);
  const unsuback = out.indexOf(0xb0, 16);
  assert.deepEqual([...out.subarray(unsuback + 5, unsuback + 7)], [0x8f, 0x11]);
  s.destroy();
  await stillServing();
});
