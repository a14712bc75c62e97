/**
 * 01 — CONNECT and basic publish/subscribe over TCP with MQTT.js, v3.1.1 and v5.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, type TestBroker } from '../support/broker.js';

let b: TestBroker;
before(async () => { b = await startBroker(); });
after(async () => { await b.stop(); });

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: publish and subscribe at QoS 0/1/2`, async () => {
    const sub = await client(b, { protocolVersion, clientId: `sub-${protocolVersion}` });
    const pub = await client(b, { protocolVersion, clientId: `pub-${protocolVersion}` });
    const got = collect(sub);
    await sub.subscribeAsync(`basic/${protocolVersion}/#`, { qos: 2 });
    for (const qos of [0, 1, 2] as const) await pub.publishAsync(`basic/${protocolVersion}/q${qos}`, `m${qos}`, { qos });
    await until(() => got.length === 3, 3000, '3 messages');
    assert.deepEqual(got.map((m) => [m.topic, m.payload, m.packet.qos]), [
      [`basic/${protocolVersion}/q0`, 'm0', 0], [`basic/${protocolVersion}/q1`, 'm1', 1], [`basic/${protocolVersion}/q2`, 'm2', 2],
    ]);
    await end(sub, pub);
  });
}

test('v3.1 (MQIsdp) client connects and receives', async () => {
  const sub = await client(b, { protocolVersion: 3, protocolId: 'MQIsdp', clientId: 'old-31' });
  const got = collect(sub);
  await sub.subscribeAsync('v31/t', { qos: 1 });
  const pub = await client(b, { protocolVersion: 4 });
  await pub.publishAsync('v31/t', 'hi', { qos: 1 });
  await until(() => got.length === 1);
  assert.equal(got[0].payload, 'hi');
  await end(sub, pub);
});
