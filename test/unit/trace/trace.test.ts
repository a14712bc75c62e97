/**
 * Log trace, white-box: the topic trace's filter matcher agrees with the router's reference
 * matcher; definitions are parsed as EMQX parses them; lines are formatted as documented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterMatches } from '../../../broker/src/router/topic.js';
import { parseTrace, parseEpochSecond, traceStatus, type TraceDef } from '../../../broker/src/trace/definition.js';
import { formatLine, formatPayload, packetFields } from '../../../broker/src/trace/format.js';
import { topicMatches } from '../../../broker/src/router/index.js';
import type { Packet } from '../../../broker/src/mqtt/codec/index.js';

test('filterMatches agrees with topicMatches on every pair', () => {
  const filters = ['#', '+', 'a', 'a/b', 'a/+', 'a/#', '+/b', '+/+', 'a/+/c', 'a/b/#', '/', '/+', '+/', 'a//b', 'a/+/+', '$SYS/#', '$SYS/+', '+/#', 'sensors/+/temp'];
  const topics = ['a', 'a/b', 'a/b/c', 'a/c', 'b', 'b/b', '/', '/a', 'a/', 'a//b', '$SYS/x', '$SYS', 'sensors/1/temp', 'sensors/1/temp/x', 'ab', 'a/bc', 'a/b/'];
  for (const f of filters) {
    for (const t of topics) assert.equal(filterMatches(f.split('/'), t), topicMatches(f, t), `${f} vs ${t}`);
  }
});

test('parseTrace: defaults, times in both forms, EMQX\'s messages', () => {
  const now = 1_800_000_000;
  const ok = parseTrace({ name: 'T-1_x', type: 'topic', topic: 'a/+' }, 128, now);
  assert.ok(ok.ok);
  assert.deepEqual(ok.def, { name: 'T-1_x', type: 'topic', filter: 'a/+', start_at: now, end_at: now + 600, enable: true, payload_encode: 'text', payload_limit: 1024, formatter: 'text' });
  assert.equal(parseEpochSecond('2027-01-15T08:00:00+01:00'), Date.UTC(2027, 0, 15, 7) / 1000);
  assert.equal(parseEpochSecond('1800000000'), 1_800_000_000);
  assert.equal(parseEpochSecond('tomorrow'), null);
  assert.equal(parseEpochSecond(-1), null);
  assert.equal(parseEpochSecond(9e15), null, 'beyond year 9999');
  assert.equal(parseEpochSecond('10000-01-01T00:00:00Z'), null);
  const err = (b: Record<string, unknown>): string => { const r = parseTrace(b, 128, now); assert.ok(!r.ok); return r.error; };
  assert.equal(err({ name: 'x', type: 'clientid', clientid: 'c', end_at: now }), 'End time has already passed');
  assert.equal(err({ name: 'x', type: 'clientid', clientid: 'c', start_at: now + 100, end_at: now + 50 }), 'Start time is ahead of end time');
  assert.match(err({ name: '_x', type: 'clientid', clientid: 'c' }), /^Name should be/);
  assert.match(err({ name: 'x', type: 'ip_address', ip_address: 'localhost' }), /^ip address/);
  assert.match(err({ name: 'x', type: 'topic', topic: 'a/#/b' }), /^topic/);
  assert.match(err({ name: 'x', type: 'ruleid', ruleid: 'r' }), /^type=/);
});

test('traceStatus follows the clock and the enable flag', () => {
  const d: TraceDef = { name: 'x', type: 'clientid', filter: 'c', start_at: 100, end_at: 200, enable: true, payload_encode: 'text', payload_limit: 10, formatter: 'text' };
  assert.equal(traceStatus(d, 99), 'waiting');
  assert.equal(traceStatus(d, 100), 'running');
  assert.equal(traceStatus(d, 200), 'stopped');
  assert.equal(traceStatus({ ...d, enable: false }, 150), 'stopped');
});

test('payloads and lines are formatted as documented', () => {
  assert.equal(formatPayload(Buffer.from('hello world'), { encode: 'text', limit: 5 }), 'hello...(11 bytes)');
  assert.equal(formatPayload(Buffer.from('ab'), { encode: 'hex', limit: 10 }), '6162');
  assert.equal(formatPayload(Buffer.from('ab'), { encode: 'hidden', limit: 10 }), '******');
  const pub = { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, retain: true, dup: false, messageId: 7 } as unknown as Packet;
  const f = packetFields(pub, { encode: 'text', limit: 1024 });
  const at = new Date(Date.UTC(2026, 11, 4, 14, 0, 0, 123));
  const e = { tag: 'MQTT' as const, clientid: 'c1', peername: '127.0.0.1:5000', msg: 'mqtt_packet_received', fields: { packet: f } };
  assert.equal(formatLine(e, 'text', at), '2026-12-04T14:00:00.123Z [MQTT] c1@127.0.0.1:5000 msg: mqtt_packet_received, packet: PUBLISH(Q1, R1, D0, Topic=a/b, PacketId=7, Payload=hi)\n');
  assert.deepEqual(JSON.parse(formatLine(e, 'json', at)), {
    time: '2026-12-04T14:00:00.123Z', level: 'debug', tag: 'MQTT', clientid: 'c1', peername: '127.0.0.1:5000', msg: 'mqtt_packet_received',
    packet: { type: 'PUBLISH', Q: 1, R: 1, D: 0, Topic: 'a/b', PacketId: 7, Payload: 'hi' },
  });
  const connect = { cmd: 'connect', clientId: 'c1', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, username: 'u', password: Buffer.from('pw') } as unknown as Packet;
  const line = formatLine({ ...e, fields: { packet: packetFields(connect, { encode: 'text', limit: 10 }) } }, 'text', at);
  assert.match(line, /CONNECT\(ClientId=c1, ProtoName=MQTT, ProtoVsn=4, CleanStart=true, KeepAlive=30, Username=u, Password=\*{6}\)/);
  assert.ok(!line.includes('pw)'));
});
