/**
 * 18 — config keys whose effect shows on the wire: `mqtt.retry_interval` (MQTT 3.x only: an
 * unacknowledged QoS 1 message is resent with DUP on the live connection; v5 clients are not resent
 * to until they reconnect [MQTT-4.4.0-1]), `mqtt.ignore_loop_deliver`, `mqtt.max_will_delay` and
 * `mqtt.response_information`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';

let b: TestBroker;
before(async () => {
  b = await startBroker({ mqtt: { retry_interval: '1s', ignore_loop_deliver: true, max_will_delay: '1s', response_information: 'resp/' } });
});
after(async () => { await b.stop(); });

test('retry_interval: v3.1.1 gets a DUP resend of an unacked QoS 1 message; v5 does not', async () => {
  const v4 = await rawClient(b.port, 4);
  await v4.connect({ clientId: 'retry-v4', clean: true });
  v4.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'retry/t', qos: 1 }] });
  await v4.next('suback');
  const v5 = await rawClient(b.port, 5);
  await v5.connect({ clientId: 'retry-v5', clean: true });
  v5.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'retry/t', qos: 1 }] });
  await v5.next('suback');
  const pub = await client(b);
  await pub.publishAsync('retry/t', 'again', { qos: 1 });
  const first = await v4.next('publish');
  assert.equal(first.dup, false);
  const again = await v4.next('publish', 4000, v4.packets.indexOf(first) + 1);
  assert.equal(again.dup, true);
  assert.equal(again.messageId, first.messageId);
  assert.equal(again.payload.toString(), 'again');
  assert.equal(v5.packets.filter((p) => p.cmd === 'publish').length, 1, 'v5: one PUBLISH only');
  v4.destroy(); v5.destroy();
  await end(pub);
});

test('ignore_loop_deliver: a client never receives its own publishes', async () => {
  const c = await client(b, { clientId: 'loop-self' });
  const other = await client(b, { clientId: 'loop-other' });
  const mine = collect(c);
  const theirs = collect(other);
  await c.subscribeAsync('loop/t', { qos: 1 });
  await other.subscribeAsync('loop/t', { qos: 1 });
  await c.publishAsync('loop/t', 'from-self', { qos: 1 });
  await until(() => theirs.length === 1);
  await sleep(100);
  assert.equal(mine.length, 0);
  await end(c, other);
});

test('max_will_delay caps a v5 Will Delay Interval', async () => {
  const watcher = await client(b, { protocolVersion: 5 });
  const got = collect(watcher);
  await watcher.subscribeAsync('wd/t', { qos: 1 });
  const w = await rawClient(b.port, 5);
  await w.connect({ clientId: 'wd-1', clean: true, properties: { sessionExpiryInterval: 60 }, will: { topic: 'wd/t', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 3600 } } });
  w.destroy();
  const t0 = Date.now();
  await until(() => got.length === 1, 4000, 'will after the capped 1 s delay');
  assert.ok(Date.now() - t0 >= 800, 'not before the delay');
  await end(watcher);
});

test('response_information is returned only to clients that ask for it', async () => {
  const ask = await rawClient(b.port, 5);
  const ack = await ask.connect({ clientId: 'ri-1', clean: true, properties: { requestResponseInformation: true } });
  assert.equal(ack.properties?.responseInformation, 'resp/');
  const noAsk = await rawClient(b.port, 5);
  const ack2 = await noAsk.connect({ clientId: 'ri-2', clean: true });
  assert.equal(ack2.properties?.responseInformation, undefined);
  ask.destroy(); noAsk.destroy();
});
