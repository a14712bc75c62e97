/**
 * 19 — back-pressure: a client that does not read what the broker sends it is not read from
 * either. Once more than `listeners.tcp.<name>.tcp_options.high_watermark` is buffered towards
 * it, its channel stops reading its socket (its own publishes wait in the kernel), QoS 0
 * deliveries to it are dropped (`delivery.dropped.busy`), and everyone else is served; when it
 * reads again the output drains and its packets are processed, in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { startBroker, client, collect, until, sleep, end } from '../support/broker.js';
import { metrics } from '../support/api.js';

const gen = (p: object): Buffer => mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: 4 });

/** A raw v3.1.1 client that subscribes, then can stop reading its socket. */
async function slowSubscriber(port: number, filter: string): Promise<Socket> {
  const s = netConnect(port, '127.0.0.1');
  await new Promise<void>((ok, bad) => { s.once('connect', ok); s.once('error', bad); });
  let seen = Buffer.alloc(0);
  const got = new Promise<void>((ok) => {
    const onData = (b: Buffer): void => {
      seen = Buffer.concat([seen, b]);
      // CONNACK (0x20) then SUBACK (0x90) arrive before any PUBLISH
      if (seen.includes(0x90)) { s.off('data', onData); ok(); }
    };
    s.on('data', onData);
  });
  s.write(gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'bp-slow', keepalive: 0 }));
  s.write(gen({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] }));
  await got;
  return s;
}

test('a client that stops reading is not read from until its output drains; others are served', async () => {
  const b = await startBroker({ listeners: { tcp: { default: { tcp_options: { high_watermark: '64KB' } } } } });
  try {
    const slow = await slowSubscriber(b.port, 'bp/#');
    slow.pause(); // the slow client stops reading: the broker's output to it backs up
    const watcher = await client(b, { clientId: 'bp-watcher' });
    await watcher.subscribeAsync('probe/#', { qos: 0 });
    const probes = collect(watcher);
    const pub = await client(b, { clientId: 'bp-pub' });
    const chunk = Buffer.alloc(64 * 1024, 1);
    // Enough to fill the loopback socket buffers on both sides and then the broker's 64 KB mark.
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 100; i++) pub.publish('bp/x', chunk, { qos: 0 });
      await sleep(20);
      if ((await metrics(b))['delivery.dropped.busy'] > 0) break;
    }
    await until(async () => (await metrics(b))['delivery.dropped.busy'] > 0, 10_000, 'QoS 0 to the slow client dropped as busy');

    // The slow client publishes: the broker must not read it while its output is full.
    slow.write(gen({ cmd: 'publish', topic: 'probe/1', payload: Buffer.from('late'), qos: 0, retain: false, dup: false }));
    await sleep(700);
    assert.equal(probes.length, 0, 'a packet from a client whose output is full was read');

    // Everyone else is still served meanwhile.
    await pub.publishAsync('probe/other', 'fast', { qos: 1 });
    await until(() => probes.some((p) => p.topic === 'probe/other'), 3000, 'others served while one client is stalled');

    // The slow client reads again: output drains, reading resumes, its publish goes through.
    slow.on('data', () => {});
    slow.resume();
    await until(() => probes.some((p) => p.topic === 'probe/1' && p.payload === 'late'), 10_000, 'the held publish after draining');
    slow.destroy();
    await end(watcher, pub);
  } finally {
    await b.stop();
  }
});
