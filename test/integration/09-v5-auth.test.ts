/**
 * 09 — authentication and authorization through the broker's hooks, seen from the
 * wire: CONNACK codes for refused credentials, MQTT 5 enhanced authentication (CONNECT →
 * AUTH 0x18 ↔ AUTH 0x18 → CONNACK with method/data), re-authentication (AUTH 0x19 → AUTH 0x00,
 * or DISCONNECT 0x87 when refused), packets sent while an async authenticator runs, and
 * publish/subscribe authorization results, and wills authorized as the client that left them.
 *
 * v3 vs v5: refused credentials are CONNACK 4 / 5 in v3 and 0x86 / 0x87 in v5; enhanced auth
 * is v5 only; a refused PUBLISH is PUBACK 0x87 in v5 and a plain PUBACK (dropped) in v3; a
 * refused SUBSCRIBE is 0x87 in v5 and 0x80 in v3.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { clientInfo } from '../support/api.js';

let b: TestBroker;
let plain: TestBroker;
before(async () => {
  [b, plain] = await Promise.all([startBroker(), startBroker()]);
  const h = b.node.broker.hooks;
  h.add('client.authenticate', async (req) => {
    const user = req.client.username;
    if (req.method === 'TEST') {
      const data = req.data?.toString() ?? '';
      if (req.phase === 'connect') { req.state.step = 1; return data === 'hello' ? { result: 'continue', data: Buffer.from('challenge') } : { result: 'deny', reason: 'NOT_AUTHORIZED' }; }
      if (req.phase === 'continue') return req.state.step === 1 && data === 'response' ? { result: 'allow', data: Buffer.from('final') } : { result: 'deny' };
      if (req.phase === 'reauth') return data === 'again' ? { result: 'allow', data: Buffer.from('ok-again') } : { result: 'deny', reason: 'NOT_AUTHORIZED' };
    }
    if (user === 'slow') { await sleep(150); return { result: 'allow' }; }
    if (user === 'baduser') return { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' };
    if (user === 'banned') return { result: 'deny', reason: 'NOT_AUTHORIZED' };
    if (user === 'secret') return req.password?.toString() === 'pw' ? { result: 'allow' } : { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' };
    return undefined; // anonymous allowed
  });
  h.add('client.authorize', (req) => (req.topic.startsWith('forbidden/') ? 'deny' : undefined));
  // Only alice may publish to wills/…: decided on the client's own info, as for a will.
  h.add('client.authorize', (req) => (req.action === 'publish' && req.topic.startsWith('wills/') ? (req.client.username === 'alice' ? 'allow' : 'deny') : undefined));
});
after(async () => { await Promise.all([b.stop(), plain.stop()]); });

const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };

for (const protocolVersion of [4, 5] as const) {
  const rcOf = (a: Record<string, any>) => (protocolVersion === 5 ? a.reasonCode : a.returnCode);

  test(`v${protocolVersion}: refused credentials → CONNACK ${protocolVersion === 5 ? '0x86 / 0x87' : '4 / 5'}; right password accepted`, async () => {
    const r1 = await rawClient(b.port, protocolVersion);
    assert.equal(rcOf(await r1.connect({ username: 'baduser', password: Buffer.from('x') })), protocolVersion === 5 ? 0x86 : 4);
    await r1.waitClosed();
    const r2 = await rawClient(b.port, protocolVersion);
    assert.equal(rcOf(await r2.connect({ username: 'banned' })), protocolVersion === 5 ? 0x87 : 5);
    await r2.waitClosed();
    const r3 = await rawClient(b.port, protocolVersion);
    assert.equal(rcOf(await r3.connect({ username: 'secret', password: Buffer.from('pw') })), 0);
    r3.destroy();
  });

  test(`v${protocolVersion}: packets sent right after CONNECT wait for a slow authenticator and are then handled`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, keepalive: 60, clientId: `slow-${protocolVersion}`, username: 'slow' });
    r.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: `v${protocolVersion}/slow`, qos: 1 }] });
    r.send({ cmd: 'publish', topic: `v${protocolVersion}/slow`, payload: Buffer.from('self'), qos: 1, messageId: 6 });
    assert.equal(rcOf(await r.next('connack')), 0);
    assert.equal(r.packets[0]?.cmd, 'suback', 'SUBACK must follow CONNACK');
    await r.next('suback');
    await r.next('puback');
    assert.equal((await r.next('publish')).payload.toString(), 'self');
    r.destroy();
  });

  test(`v${protocolVersion}: refused PUBLISH → ${protocolVersion === 5 ? 'PUBACK 0x87' : 'PUBACK, message dropped'}; refused SUBSCRIBE → ${protocolVersion === 5 ? '0x87' : '0x80'}`, async () => {
    const watcher = await client(b, { protocolVersion: 5 });
    const seen = collect(watcher);
    await watcher.subscribeAsync('#', { qos: 0 });
    const r = await rawClient(b.port, protocolVersion);
    await r.connect();
    r.send({ cmd: 'publish', topic: `forbidden/p${protocolVersion}`, payload: Buffer.from('x'), qos: 1, messageId: 1 });
    const a = await r.next('puback');
    if (protocolVersion === 5) assert.equal(a.reasonCode, 0x87);
    r.send({ cmd: 'publish', topic: `forbidden/q2-${protocolVersion}`, payload: Buffer.from('x'), qos: 2, messageId: 2 });
    const rec = await r.next('pubrec');
    if (protocolVersion === 5) assert.equal(rec.reasonCode, 0x87);
    r.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'forbidden/s', qos: 1 }, { topic: `ok/s${protocolVersion}`, qos: 1 }] });
    assert.deepEqual((await r.next('suback')).granted, [protocolVersion === 5 ? 0x87 : 0x80, 1]);
    await sleep(100);
    assert.equal(seen.filter((m) => m.topic.startsWith('forbidden/')).length, 0, 'refused message was published');
    r.destroy();
    await end(watcher);
  });
}

test('v5 enhanced authentication: CONNECT → AUTH 0x18 challenge → AUTH 0x18 response → CONNACK with method and data', async () => {
  const r = await rawClient(b.port, 5);
  r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'eauth', properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('hello') } });
  const ch = await r.next('auth');
  assert.equal(ch.reasonCode, 0x18);
  assert.equal(ch.properties?.authenticationMethod, 'TEST');
  assert.equal(ch.properties?.authenticationData?.toString(), 'challenge');
  r.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('response') } });
  const ack = await r.next('connack');
  assert.equal(ack.reasonCode, 0);
  assert.equal(ack.properties?.authenticationMethod, 'TEST');
  assert.equal(ack.properties?.authenticationData?.toString(), 'final');
  // re-authentication
  r.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('again') } });
  const re = await r.next('auth');
  assert.equal(re.reasonCode, 0x00);
  assert.equal(re.properties?.authenticationData?.toString(), 'ok-again');
  // refused re-authentication ends the connection with 0x87
  r.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('wrong') } });
  await r.waitClosed();
  assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x87);
});

test('v5 enhanced authentication: wrong response → CONNACK 0x87; AUTH with another method → 0x82', async () => {
  const r = await rawClient(b.port, 5);
  r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'eauth-bad', properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('hello') } });
  await r.next('auth');
  r.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('nope') } });
  const ack = await r.next('connack');
  assert.ok(ack.reasonCode >= 0x80, `reason 0x${ack.reasonCode.toString(16)}`);
  await r.waitClosed();
  const r2 = await rawClient(b.port, 5);
  r2.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'eauth-m', properties: { authenticationMethod: 'TEST', authenticationData: Buffer.from('hello') } });
  await r2.next('auth');
  r2.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'OTHER', authenticationData: Buffer.from('response') } });
  await r2.waitClosed();
  const last = r2.packets.find((p) => p.cmd === 'connack' || p.cmd === 'disconnect');
  assert.equal(last?.reasonCode, 0x82);
});

test('v5: an authentication method nobody handles → CONNACK 0x8C', async () => {
  for (const tb of [b, plain]) {
    const r = await rawClient(tb.port, 5);
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'eauth-x', properties: { authenticationMethod: 'SCRAM-NOPE' } });
    assert.equal((await r.next('connack')).reasonCode, 0x8c);
    await r.waitClosed();
  }
});

test('v5: AUTH on a connection that did not use enhanced authentication → DISCONNECT 0x82', async () => {
  const r = await rawClient(plain.port, 5);
  await r.connect();
  r.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'TEST' } });
  await r.waitClosed();
  assert.equal(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode, 0x82);
});

test('will to a forbidden topic is not published', async () => {
  const w = await client(b, { protocolVersion: 5 });
  const got = collect(w);
  await w.subscribeAsync('#', { qos: 0 });
  const c = await client(b, { protocolVersion: 5, will: { topic: 'forbidden/will', payload: Buffer.from('x'), qos: 0, retain: false } });
  c.stream.destroy();
  await sleep(200);
  assert.equal(got.filter((m) => m.topic === 'forbidden/will').length, 0);
  await end(w, c);
});

// The will is published on the client's behalf, so it is authorized as that client: with its
// client id and username, exactly like a PUBLISH it would send itself.
for (const [clientId, username, allowed] of [['w1', 'alice', true], ['w2', 'bob', false]] as const) {
  test(`will authorized with the client's own info: ${username}'s will on wills/${clientId} is ${allowed ? 'published' : 'not published'}`, async () => {
    const w = await client(b, { protocolVersion: 5 });
    const got = collect(w);
    await w.subscribeAsync('wills/#', { qos: 1 });
    const c = await client(b, {
      protocolVersion: 5, clientId, username,
      will: { topic: `wills/${clientId}`, payload: Buffer.from(`${username} is gone`), qos: 1, retain: false },
    });
    c.stream.destroy(); // abnormal close: the will is due at once
    const mine = () => got.filter((m) => m.topic === `wills/${clientId}`);
    if (allowed) {
      await until(() => mine().length === 1, 2000, `${username}'s will`);
      assert.deepEqual([mine()[0].payload, mine()[0].packet.qos], [`${username} is gone`, 1]);
    } else {
      // The will is published when the connection ends; once the node has no trace of the
      // client, a permitted will would already be on its way.
      await until(async () => (await clientInfo(b, clientId)) === undefined, 2000, `${clientId} gone`);
      await sleep(300);
      assert.deepEqual(mine(), [], `${username}'s will published`);
    }
    await sleep(100);
    assert.equal(mine().length, allowed ? 1 : 0, 'one will, once');
    await end(w, c);
  });
}

describe('09 auth hooks on the wire', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
