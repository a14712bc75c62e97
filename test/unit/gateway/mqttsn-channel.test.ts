/**
 * The MQTT-SN channel without a socket: a recording peer in place of the UDP endpoint, a real
 * broker and client manager (test/unit/broker/helpers.ts). Datagrams in, datagrams out — the
 * protocol's state machine checked message by message, including timers driven by tick(now).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeBroker, type TestBroker } from '../broker/helpers.js';
import { GatewayContext } from '../../../broker/src/gateway/context.js';
import { GatewayMetrics } from '../../../broker/src/gateway/metrics.js';
import { parseMqttsn } from '../../../broker/src/gateway/config.js';
import { SnChannel, type SnPeer, type SnShared } from '../../../broker/src/gateway/mqttsn/channel.js';
import { PredefinedTopics, TopicRegistry } from '../../../broker/src/gateway/mqttsn/topics.js';
import { decode, encode, type SnMessage } from '../../../broker/src/gateway/mqttsn/codec.js';
import { silentLogger } from '../../../broker/src/log.js';

class Peer implements SnPeer {
  readonly remoteAddress = '10.0.0.9';
  readonly remotePort = 4000;
  readonly listener = 'mqttsn:udp:default';
  readonly out: SnMessage[] = [];
  closed = false;
  send(buf: Buffer): boolean { const r = decode(buf); assert.ok(r.ok); this.out.push(r.msg); return true; }
  close(): void { this.closed = true; }
  take(): SnMessage[] { return this.out.splice(0); }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(tb: TestBroker = makeBroker()) {
  const parsed = parseMqttsn({ predefined: [{ id: 1, topic: 'pre/one' }] });
  assert.ok(parsed.ok && parsed.value !== null);
  const cfg = parsed.value!;
  const metrics = new GatewayMetrics();
  const ctx = new GatewayContext({
    name: 'mqttsn', protoName: 'MQTT-SN', protoVer: 1, broker: tb.broker, clients: tb.clients, cfg, metrics, log: silentLogger(),
    limits: { maxTopicLevels: 128, maxQosAllowed: 2, maxClientIdLen: 23, sessionExpirySec: 7200, maxBuffered: 100, retryIntervalMs: 0 },
  });
  const pre = new PredefinedTopics(cfg.predefined);
  const shared: SnShared = { ctx, gatewayId: 3, enableQos3: true, topics: () => new TopicRegistry(pre), adopt: () => null };
  const peer = new Peer();
  const ch = new SnChannel(peer, shared, cfg.listeners[0], Date.now());
  const inn = (m: SnMessage): void => ch.datagram(encode(m));
  return { tb, ch, peer, inn, metrics };
}

test('CONNECT without will → CONNACK; PINGREQ → PINGRESP; DISCONNECT → DISCONNECT and the session ends', async () => {
  const { tb, ch, peer, inn } = setup();
  inn({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 10, clientId: 'dev1' });
  await turn();
  assert.deepEqual(peer.take(), [{ type: 'connack', returnCode: 0 }]);
  assert.equal(ch.state, 'connected');
  assert.equal(tb.clients.get('dev1'), ch);
  inn({ type: 'pingreq', clientId: '' });
  assert.deepEqual(peer.take(), [{ type: 'pingresp' }]);
  inn({ type: 'disconnect', duration: null });
  assert.deepEqual(peer.take(), [{ type: 'disconnect', duration: null }]);
  assert.equal(ch.state, 'closed');
  assert.equal(peer.closed, true);
  assert.equal(tb.clients.get('dev1'), undefined);
  assert.equal(tb.broker.sessions.get('dev1'), undefined);
});

test('the will exchange comes before CONNACK; keep alive expiry (1.5 × duration) publishes the will', async () => {
  const { tb, ch, peer, inn } = setup();
  const watcher = tb.connect('watch');
  tb.subscribe(watcher.session, 'will/#');
  inn({ type: 'connect', will: true, cleanSession: true, protocolId: 1, duration: 2, clientId: 'dev2' });
  assert.deepEqual(peer.take(), [{ type: 'willtopicreq' }]);
  inn({ type: 'willtopic', qos: 0, retain: false, topic: 'will/dev2' });
  assert.deepEqual(peer.take(), [{ type: 'willmsgreq' }]);
  inn({ type: 'willmsg', payload: Buffer.from('bye') });
  await turn();
  assert.deepEqual(peer.take(), [{ type: 'connack', returnCode: 0 }]);
  ch.tick(Date.now() + 2000);
  assert.equal(ch.state, 'connected', 'within 1.5 × 2 s');
  ch.tick(Date.now() + 3100);
  assert.equal(ch.state, 'closed');
  assert.deepEqual(watcher.conn.payloads(), ['bye']);
});

test('a peer that sends nothing valid is closed after idle_timeout; malformed datagrams are only counted', () => {
  const { ch, peer, metrics } = setup();
  ch.datagram(Buffer.from([0x07, 0x0c]));
  ch.datagram(Buffer.from([0x02, 0x77]));
  assert.equal(metrics.malformed, 2);
  assert.equal(peer.out.length, 0);
  assert.equal(ch.state, 'new');
  ch.tick(Date.now() + 31_000);
  assert.equal(ch.state, 'closed');
  assert.equal(peer.closed, true);
});

test('a message that needs a connection, before CONNECT, is answered with DISCONNECT', () => {
  const { ch, peer, inn } = setup();
  inn({ type: 'register', topicId: 0, msgId: 1, topicName: 'a/b' });
  assert.deepEqual(peer.take(), [{ type: 'disconnect', duration: null }]);
  assert.equal(ch.state, 'closed');
});

test('asleep: deliveries are held and flushed on PINGREQ before PINGRESP; QoS 2 PUBREL too', async () => {
  const { tb, ch, peer, inn } = setup();
  inn({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 10, clientId: 'dev3' });
  await turn();
  inn({ type: 'subscribe', dup: false, qos: 2, topicIdType: 1, msgId: 1, topicName: '', topicId: 1 });
  assert.deepEqual(peer.take().map((m) => m.type), ['connack', 'suback']);
  inn({ type: 'disconnect', duration: 60 });
  assert.deepEqual(peer.take(), [{ type: 'disconnect', duration: null }]);
  assert.equal(ch.state, 'asleep');
  tb.broker.publish(tb.broker.newMessage('pre/one', Buffer.from('z'), 2, false, null, ''));
  assert.equal(peer.out.length, 0);
  ch.tick(Date.now() + 20_000);
  assert.equal(ch.state, 'asleep', 'keep alive is the sleep duration while asleep');
  inn({ type: 'pingreq', clientId: 'dev3' });
  const out = peer.take();
  assert.deepEqual(out.map((m) => m.type), ['publish', 'pingresp']);
  const p = out[0] as Extract<SnMessage, { type: 'publish' }>;
  assert.deepEqual([p.topicIdType, p.topicId, p.qos], [1, 1, 2]);
  inn({ type: 'pubrec', msgId: p.msgId });
  assert.deepEqual(peer.take(), [], 'asleep again: the PUBREL waits');
  inn({ type: 'pingreq', clientId: 'dev3' });
  assert.deepEqual(peer.take(), [{ type: 'pubrel', msgId: p.msgId }, { type: 'pingresp' }]);
  inn({ type: 'pubcomp', msgId: p.msgId });
  assert.equal(tb.broker.sessions.get('dev3')!.inflightCount, 0);
});

test('QoS 2 from the client: PUBREC, a resend before PUBREL is not published twice, PUBCOMP', async () => {
  const { tb, peer, inn } = setup();
  const watcher = tb.connect('w');
  tb.subscribe(watcher.session, 'pre/one');
  inn({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 10, clientId: 'dev4' });
  await turn();
  peer.take();
  const pub: SnMessage = { type: 'publish', dup: false, qos: 2, retain: false, topicIdType: 1, topicId: 1, msgId: 9, payload: Buffer.from('once') };
  inn(pub);
  inn({ ...pub, dup: true });
  assert.deepEqual(peer.take(), [{ type: 'pubrec', msgId: 9 }, { type: 'pubrec', msgId: 9 }]);
  inn({ type: 'pubrel', msgId: 9 });
  assert.deepEqual(peer.take(), [{ type: 'pubcomp', msgId: 9 }]);
  assert.deepEqual(watcher.conn.payloads(), ['once']);
});
