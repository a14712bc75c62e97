/** gateway.mqttsn parsing (EMQX names, defaults, errors naming the key) and the topic id registry. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMqttsn } from '../../../broker/src/gateway/config.js';
import { PredefinedTopics, TopicRegistry } from '../../../broker/src/gateway/mqttsn/topics.js';

const err = (v: unknown): string => { const r = parseMqttsn(v); assert.equal(r.ok, false); return r.ok ? '' : r.error; };

describe('gateway.mqttsn config', () => {
  it('absent = not loaded; {} = enabled with EMQX defaults (port 1884, gateway_id 1, qos3 on, 30s idle)', () => {
    assert.deepEqual(parseMqttsn(undefined), { ok: true, value: null });
    const r = parseMqttsn({});
    assert.ok(r.ok && r.value !== null);
    const v = r.value!;
    assert.equal(v.enable, true);
    assert.equal(v.gatewayId, 1);
    assert.equal(v.enableQos3, true);
    assert.equal(v.broadcast, false);
    assert.equal(v.idleTimeoutMs, 30_000);
    assert.deepEqual(v.listeners.map((l) => [l.name, l.bind, l.maxConnections, l.maxConnRate]), [['default', '1884', 1024, 1000]]);
  });
  it('errors name the key path', () => {
    assert.match(err({ gateway_idd: 1 }), /gateway\.mqttsn\.gateway_idd: unknown key/);
    assert.match(err({ gateway_id: 300 }), /gateway\.mqttsn\.gateway_id: expected an integer 0\.\.255/);
    assert.match(err({ predefined: [{ id: 1, topic: 'a' }, { id: 1, topic: 'b' }] }), /predefined\[1\]\.id: 1 is defined twice/);
    assert.match(err({ predefined: [{ id: 2000, topic: 'a' }] }), /predefined\[0\]\.id: expected an integer 1\.\.1024/);
    assert.match(err({ predefined: [{ id: 1, topic: 'a/#' }] }), /predefined\[0\]\.topic: .*without wildcards/);
    assert.match(err({ listeners: { dtls: {} } }), /listeners\.dtls: DTLS listeners are not supported/);
    assert.match(err({ listeners: { udp: { default: { bind: 'nope:x' } } } }), /listeners\.udp\.default\.bind/);
    assert.match(err({ idle_timeout: 'soon' }), /gateway\.mqttsn\.idle_timeout/);
    assert.match(err({ clientinfo_override: { pass: 'x' } }), /clientinfo_override\.pass: unknown key/);
    assert.match(err({ listeners: { udp: { default: { udp_options: { recbuf: 'lots' } } } } }), /udp\.default\.udp_options\.recbuf/);
    assert.match(err({ listeners: { udp: { default: { udp_options: { rcvbuf: '1MB' } } } } }), /udp_options\.rcvbuf: unknown key/);
  });
  it('udp_options: EMQX keys; recbuf/sndbuf as sizes, reuseaddr off unless set, active_n and buffer accepted', () => {
    const r = parseMqttsn({ listeners: { udp: { default: { udp_options: { recbuf: '1MB', sndbuf: '64KB', buffer: '1MB', active_n: 100, reuseaddr: true } } } } });
    assert.ok(r.ok && r.value !== null);
    assert.deepEqual(r.value!.listeners[0]!.udp, { recbuf: 1024 * 1024, sndbuf: 64 * 1024, reuseaddr: true });
    const d = parseMqttsn({});
    assert.ok(d.ok && d.value !== null);
    assert.deepEqual(d.value!.listeners[0]!.udp, { reuseaddr: false });
  });
});

describe('MQTT-SN topic ids', () => {
  const pre = new PredefinedTopics([{ id: 5, topic: 'pre/five' }]);
  it('registers names once, above the predefined range, and resolves each TopicIdType', () => {
    const r = new TopicRegistry(pre);
    const a = r.register('a/b');
    assert.ok(a > 1024);
    assert.equal(r.register('a/b'), a);
    assert.equal(r.resolve(0, a), 'a/b');
    assert.equal(r.resolve(1, 5), 'pre/five');
    assert.equal(r.resolve(2, Buffer.from('xy').readUInt16BE(0)), 'xy');
    assert.equal(r.resolve(0, 9999), undefined);
  });
  it('outgoing: predefined first, then short names, then registered ids, else REGISTER', () => {
    const r = new TopicRegistry(pre);
    assert.deepEqual(r.outgoing('pre/five'), { type: 1, id: 5 });
    assert.deepEqual(r.outgoing('ok'), { type: 2, id: Buffer.from('ok').readUInt16BE(0) });
    assert.deepEqual(r.outgoing('c/d'), { type: 'register', name: 'c/d' });
    const id = r.register('c/d');
    assert.deepEqual(r.outgoing('c/d'), { type: 0, id });
  });
  it('a full registry refuses new names', () => {
    const r = new TopicRegistry(pre, 2);
    r.register('a'); r.register('b');
    assert.equal(r.register('c'), -1);
  });
});
