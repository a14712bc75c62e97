/** OCPP-J frames (wire and MQTT shapes), the 1.6 schema checks, and gateway.ocpp parsing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeWire, encodeWire, fromMqtt, toMqtt, type OcppFrame } from '../../../broker/src/gateway/ocpp/frame.js';
import { checkPayload, knownAction } from '../../../broker/src/gateway/ocpp/schemas.js';
import { parseOcpp } from '../../../broker/src/gateway/ocpp/config.js';

const err = (v: unknown): string => { const r = parseOcpp(v); assert.equal(r.ok, false); return r.ok ? '' : r.error; };

describe('OCPP-J frames', () => {
  const frames: OcppFrame[] = [
    { type: 2, id: 'a1', action: 'Heartbeat', payload: {} },
    { type: 3, id: 'a1', payload: { currentTime: '2026-01-01T00:00:00Z' } },
    { type: 4, id: 'a1', code: 'NotSupported', description: 'no', details: { x: 1 } },
  ];
  it('round-trips every message type on the wire', () => {
    for (const f of frames) assert.deepEqual(decodeWire(encodeWire(f)), { ok: true, frame: f });
  });
  it('MQTT payloads use EMQX field names (no ErrorDetails) and come back', () => {
    assert.deepEqual(JSON.parse(toMqtt(frames[0]!)), { MessageTypeId: 2, UniqueId: 'a1', Action: 'Heartbeat', Payload: {} });
    assert.deepEqual(JSON.parse(toMqtt(frames[2]!)), { MessageTypeId: 4, UniqueId: 'a1', ErrorCode: 'NotSupported', ErrorDescription: 'no' });
    for (const f of frames.slice(0, 2)) assert.deepEqual(fromMqtt(Buffer.from(toMqtt(f))), { ok: true, frame: f });
  });
  it('refuses malformed messages, keeping the UniqueId when it is readable', () => {
    const bad = (t: string) => { const d = decodeWire(t); assert.equal(d.ok, false); return d.ok ? null : d; };
    assert.equal(bad('nope')!.id, null);
    assert.equal(bad('{"a":1}')!.id, null);
    assert.equal(bad('[2]')!.id, null);
    assert.equal(bad('[2, 7, "Heartbeat", {}]')!.id, null);
    assert.equal(bad(`[2, "${'x'.repeat(37)}", "Heartbeat", {}]`)!.id, null);
    assert.deepEqual({ ...bad('[2, "i", "Heartbeat"]'), reason: '' }, { ok: false, id: 'i', messageType: 2, code: 'FormationViolation', reason: '' });
    assert.equal(bad('[2, "i", "Heartbeat", []]')!.code, 'FormationViolation');
    assert.equal(bad('[9, "i", "X", {}]')!.code, 'ProtocolError');
    assert.equal(bad('[4, "i", "E", "d"]')!.code, 'FormationViolation');
  });
  it('never throws on random input', () => {
    for (let i = 0; i < 2000; i++) {
      const b = randomBytes(1 + (i % 64));
      decodeWire(b.toString('latin1'));
      fromMqtt(b);
      decodeWire(`[${i % 5}, "id", ${b.toString('hex').slice(0, 4) === '0000' ? 'null' : '"A"'}, {"k": ${i}}]`);
    }
  });
  it('fromMqtt names what is wrong', () => {
    const e = (v: unknown) => { const r = fromMqtt(Buffer.from(JSON.stringify(v))); return r.ok ? '' : r.error; };
    assert.match(e([2, 'a', 'B', {}]), /expected a JSON object/);
    assert.match(e({ MessageTypeId: 2, UniqueId: 'a', Payload: {} }), /needs Action/);
    assert.match(e({ MessageTypeId: 5, UniqueId: 'a' }), /MessageTypeId must be/);
    assert.match(e({ MessageTypeId: 3, Payload: {} }), /UniqueId/);
  });
});

describe('OCPP 1.6 schemas', () => {
  it('accepts valid payloads of both directions', () => {
    assert.ok(knownAction('BootNotification') && knownAction('SignCertificate') && !knownAction('Coffee'));
    assert.deepEqual(checkPayload('BootNotification', 'req', { chargePointVendor: 'A', chargePointModel: 'B' }), { ok: true });
    assert.deepEqual(checkPayload('BootNotification', 'conf', { status: 'Accepted', currentTime: '2026-01-01T10:00:00.000Z', interval: 60 }), { ok: true });
  });
  it('maps faults to OCPP 1.6 error codes', () => {
    const code = (a: string, k: 'req' | 'conf', p: unknown) => { const r = checkPayload(a, k, p); return r.ok ? 'ok' : r.code; };
    assert.equal(code('BootNotification', 'req', { chargePointVendor: 1, chargePointModel: 'B' }), 'TypeConstraintViolation');
    assert.equal(code('BootNotification', 'req', { chargePointModel: 'B' }), 'OccurenceConstraintViolation');
    assert.equal(code('BootNotification', 'req', { chargePointVendor: 'x'.repeat(21), chargePointModel: 'B' }), 'PropertyConstraintViolation');
    assert.equal(code('BootNotification', 'conf', { status: 'Accepted', currentTime: 'yesterday', interval: 60 }), 'PropertyConstraintViolation');
    assert.equal(code('Heartbeat', 'req', { extra: 1 }), 'FormationViolation');
    assert.equal(code('Nope', 'req', {}), 'NotImplemented');
    const r = checkPayload('BootNotification', 'req', { chargePointModel: 'B' });
    assert.ok(!r.ok && /chargePointVendor/.test(r.reason), JSON.stringify(r));
  });
});

describe('gateway.ocpp config', () => {
  it('absent = not loaded; {} = EMQX defaults', () => {
    assert.deepEqual(parseOcpp(undefined), { ok: true, value: null });
    const r = parseOcpp({});
    assert.ok(r.ok && r.value !== null);
    const v = r.value!;
    assert.equal(v.mountpoint, 'ocpp/');
    assert.equal(v.defaultHeartbeatIntervalS, 60);
    assert.equal(v.heartbeatCheckingTimesBackoff, 1);
    assert.deepEqual(v.upstream, { topic: 'cp/${cid}', topicOverrideMapping: {}, replyTopic: 'cp/${cid}/Reply', errorTopic: 'cp/${cid}/Reply' });
    assert.deepEqual(v.dnstream, { topic: 'cs/${cid}', maxMqueueLen: 100 });
    assert.equal(v.messageFormatChecking, 'disable');
    assert.equal(v.jsonSchemaIdPrefix, 'urn:OCPP:1.6:2019:12:');
    assert.deepEqual(v.listeners.map((l) => [l.type, l.name, l.bind, l.path, l.maxConnections, l.failIfNoSubprotocol]), [['ws', 'default', '33033', '/ocpp', 1024, true]]);
  });
  it('takes an EMQX block unchanged (supported_subprotocols as EMQX\'s comma string with 1.6 only)', () => {
    const r = parseOcpp({
      mountpoint: 'ocpp/', default_heartbeat_interval: '60s', heartbeat_checking_times_backoff: 1,
      upstream: { topic: 'cp/${cid}', reply_topic: 'cp/${cid}/Reply', error_topic: 'cp/${cid}/Reply', topic_override_mapping: { BootNotification: 'boot/${cid}' } },
      dnstream: { topic: 'cs/${cid}', max_mqueue_len: 10 }, message_format_checking: 'all', json_schema_id_prefix: 'urn:OCPP:1.6:2019:12:',
      listeners: { ws: { default: { bind: '33033', websocket: { path: '/ocpp', supported_subprotocols: 'ocpp1.6' } } } },
    });
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.equal(r.value!.upstream.topicOverrideMapping.BootNotification, 'boot/${cid}');
  });
  it('errors name the key path', () => {
    assert.match(err({ upstrem: {} }), /gateway\.ocpp\.upstrem: unknown key/);
    assert.match(err({ upstream: { topic: 'cp/+' } }), /gateway\.ocpp\.upstream\.topic: a topic name without wildcards/);
    assert.match(err({ upstream: { topic: 'cp/${who}' } }), /unknown placeholder \$\{who\}/);
    assert.match(err({ dnstream: { topic: 'cs/${action}' } }), /gateway\.ocpp\.dnstream\.topic: unknown placeholder/);
    assert.match(err({ message_format_checking: 'some' }), /message_format_checking: one of all/);
    assert.match(err({ default_heartbeat_interval: 'soon' }), /default_heartbeat_interval/);
    assert.match(err({ listeners: { tcp: {} } }), /gateway\.ocpp\.listeners\.tcp: unknown key/);
    assert.match(err({ listeners: { ws: { default: { websocket: { supported_subprotocols: 'ocpp1.6, ocpp2.0' } } } } }), /only ocpp1\.6 is supported, not ocpp2\.0/);
    assert.match(err({ listeners: { wss: { default: { bind: '1' } } } }), /listeners\.wss\.default\.ssl_options: certfile and keyfile are required/);
    assert.match(err({ listeners: { wss: { default: { ssl_options: { verify: 'maybe' } } } } }), /listeners\.wss\.default\.ssl_options\.verify/);
    assert.match(err({ listeners: { ws: { a: { bind: '5000' }, b: { bind: '5000' } } } }), /listeners\.ws\.b\.bind: 5000 is also bound by ws\.a/);
    assert.match(err({ json_schema_dir: '/etc/schemas' }), /json_schema_dir: the OCPP 1\.6 schemas are built in/);
  });
});
