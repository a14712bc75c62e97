/**
 * 04 — will messages and keep alive: the will is published when the connection drops, on
 * keep-alive expiry and on DISCONNECT 0x04, not on a normal DISCONNECT; v5 Will Delay
 * Interval holds it back and a reconnect within the delay cancels it; will properties travel.
 *
 * v3 vs v5: v3 has no reason codes on DISCONNECT (every DISCONNECT discards the will) and no
 * will delay; keep alive ×1.5 applies to both (v5 also sends DISCONNECT 0x8D first).
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { retainedMessage } from '../support/api.js';

let b: TestBroker;
let watcher: MqttClient;
let wills: ReturnType<typeof collect>;
before(async () => {
  b = await startBroker();
  watcher = await client(b, { protocolVersion: 5, clientId: 'will-watcher' });
  wills = collect(watcher);
  await watcher.subscribeAsync('will/#', { qos: 1 });
});
after(async () => { await end(watcher); await b.stop(); });

// Tests use distinct topics and client ids, so they run concurrently (the file is timer-bound).
const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };
const willsOn = (t: string) => wills.filter((m) => m.topic === t);

for (const protocolVersion of [4, 5] as const) {
  const v = `v${protocolVersion}`;

  test(`${v}: will published when the socket drops`, async () => {
    const c = await client(b, { protocolVersion, will: { topic: `will/${v}/drop`, payload: Buffer.from('gone'), qos: 1, retain: false } });
    c.stream.destroy();
    await until(() => willsOn(`will/${v}/drop`).length === 1, 3000, 'will');
    assert.equal(willsOn(`will/${v}/drop`)[0].payload, 'gone');
    await end(c);
  });

  test(`${v}: no will after a normal DISCONNECT`, async () => {
    const c = await client(b, { protocolVersion, will: { topic: `will/${v}/normal`, payload: Buffer.from('x'), qos: 1, retain: false } });
    await new Promise<void>((r) => c.end(false, {}, () => r()));
    await sleep(300);
    assert.equal(willsOn(`will/${v}/normal`).length, 0);
  });

  test(`${v}: keep alive 1 s without PINGREQ → closed within 1.5–2.5 s and will published`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    const t0 = Date.now();
    const ack = await r.connect({ keepalive: 1, clientId: `ka-${v}`, will: { topic: `will/${v}/ka`, payload: Buffer.from('ka'), qos: 0, retain: false } });
    assert.equal(ack.returnCode ?? ack.reasonCode, 0);
    await r.waitClosed(4000);
    const dt = r.closedAt - t0;
    assert.ok(dt >= 1400 && dt <= 3200, `closed after ${dt} ms`);
    if (protocolVersion === 5) {
      const d = r.packets.find((p) => p.cmd === 'disconnect');
      assert.equal(d?.reasonCode, 0x8d, 'v5 gets DISCONNECT 0x8D keep alive timeout');
    }
    await until(() => willsOn(`will/${v}/ka`).length === 1, 2000, 'keepalive will');
  });

  test(`${v}: PINGREQ keeps a keep-alive-1 connection open`, async () => {
    const r = await rawClient(b.port, protocolVersion);
    await r.connect({ keepalive: 1 });
    for (let i = 0; i < 4; i++) { await sleep(600); r.send({ cmd: 'pingreq' }); await r.next('pingresp'); }
    assert.equal(r.closed, false);
    r.destroy();
  });
}

test('v5: DISCONNECT 0x04 (with will) publishes the will, with its properties', async () => {
  const c = await client(b, {
    protocolVersion: 5, will: {
      topic: 'will/v5/04', payload: Buffer.from('w'), qos: 1, retain: false,
      properties: { contentType: 'text/plain', userProperties: { k: 'v' }, responseTopic: 'will/resp', correlationData: Buffer.from('c1') },
    },
  });
  await new Promise<void>((r) => c.end(false, { reasonCode: 0x04 }, () => r()));
  await until(() => willsOn('will/v5/04').length === 1, 2000, 'will after 0x04');
  const p = willsOn('will/v5/04')[0].packet.properties ?? {};
  assert.equal(p.contentType, 'text/plain');
  assert.deepEqual({ ...p.userProperties }, { k: 'v' });
  assert.equal(p.responseTopic, 'will/resp');
  assert.equal(Buffer.from(p.correlationData as Buffer).toString(), 'c1');
});

test('v5: will delay interval holds the will back ~1 s', async () => {
  const c = await client(b, {
    protocolVersion: 5, clientId: 'wd-1', clean: true, properties: { sessionExpiryInterval: 30 },
    will: { topic: 'will/v5/delay', payload: Buffer.from('late'), qos: 1, retain: false, properties: { willDelayInterval: 1 } },
  });
  const t0 = Date.now();
  c.stream.destroy();
  await sleep(500);
  assert.equal(willsOn('will/v5/delay').length, 0, 'will sent before its delay');
  await until(() => willsOn('will/v5/delay').length === 1, 2500, 'delayed will');
  assert.ok(Date.now() - t0 >= 900);
  await end(c);
});

test('v5: reconnecting within the will delay cancels the will', async () => {
  const opts = {
    protocolVersion: 5 as const, clientId: 'wd-2', clean: false, properties: { sessionExpiryInterval: 30 },
    will: { topic: 'will/v5/cancel', payload: Buffer.from('no'), qos: 1 as const, retain: false, properties: { willDelayInterval: 1 } },
  };
  const c = await client(b, opts);
  c.stream.destroy();
  await sleep(300);
  const c2 = await client(b, { ...opts, will: undefined });
  await sleep(1300);
  assert.equal(willsOn('will/v5/cancel').length, 0, 'will sent despite reconnect in time');
  await end(c, c2);
});

test('v5: will delay longer than session expiry → will sent when the session ends', async () => {
  const c = await client(b, {
    protocolVersion: 5, clientId: 'wd-3', properties: { sessionExpiryInterval: 1 },
    will: { topic: 'will/v5/sessend', payload: Buffer.from('end'), qos: 1, retain: false, properties: { willDelayInterval: 60 } },
  });
  c.stream.destroy();
  await sleep(300);
  assert.equal(willsOn('will/v5/sessend').length, 0);
  await until(() => willsOn('will/v5/sessend').length === 1, 3000, 'will at session end');
  await end(c);
});

test('v5: retained will is stored as retained', async () => {
  const c = await client(b, { protocolVersion: 5, will: { topic: 'will/v5/retained', payload: Buffer.from('r'), qos: 1, retain: true } });
  c.stream.destroy();
  await until(async () => (await retainedMessage(b, 'will/v5/retained')) !== undefined, 2000, 'retained will');
  const m = await retainedMessage(b, 'will/v5/retained');
  assert.equal(Buffer.from(m!.payload, 'base64').toString(), 'r');
  assert.equal(m!.qos, 1);
  await end(c);
});

describe('04 will and keep alive', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
