/**
 * The MQTT-SN 1.2 codec: every message type round-trips (and its octets match the spec's
 * layout for a few hand-written ones), both Length forms, the flags, and a fuzz run in which
 * random, truncated and bit-flipped datagrams only ever come back as { ok: false, code }.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, MSG, SN_ERRORS, type SnMessage } from '../../../broker/src/gateway/mqttsn/codec.js';

const ALL: SnMessage[] = [
  { type: 'advertise', gwId: 7, duration: 900 },
  { type: 'searchgw', radius: 1 },
  { type: 'gwinfo', gwId: 7, gwAdd: Buffer.alloc(0) },
  { type: 'gwinfo', gwId: 9, gwAdd: Buffer.from([10, 0, 0, 1]) },
  { type: 'connect', will: true, cleanSession: true, protocolId: 1, duration: 60, clientId: 'sensor-1' },
  { type: 'connect', will: false, cleanSession: false, protocolId: 1, duration: 0, clientId: '' },
  { type: 'connack', returnCode: 0 },
  { type: 'willtopicreq' },
  { type: 'willtopic', qos: 1, retain: true, topic: 'will/t' },
  { type: 'willtopic', qos: 0, retain: false, topic: '' },
  { type: 'willmsgreq' },
  { type: 'willmsg', payload: Buffer.from('bye') },
  { type: 'register', topicId: 0, msgId: 3, topicName: 'a/b/c' },
  { type: 'regack', topicId: 12, msgId: 3, returnCode: 0 },
  { type: 'publish', dup: false, qos: 0, retain: false, topicIdType: 0, topicId: 1, msgId: 0, payload: Buffer.from('x') },
  { type: 'publish', dup: true, qos: 2, retain: true, topicIdType: 1, topicId: 65535, msgId: 65535, payload: Buffer.alloc(0) },
  { type: 'publish', dup: false, qos: -1, retain: false, topicIdType: 2, topicId: 0x6162, msgId: 0, payload: Buffer.from('qos-1') },
  { type: 'publish', dup: false, qos: 1, retain: false, topicIdType: 0, topicId: 5, msgId: 9, payload: Buffer.alloc(1000, 7) },
  { type: 'puback', topicId: 5, msgId: 9, returnCode: 2 },
  { type: 'pubrec', msgId: 1 }, { type: 'pubrel', msgId: 2 }, { type: 'pubcomp', msgId: 3 }, { type: 'unsuback', msgId: 4 },
  { type: 'subscribe', dup: false, qos: 1, topicIdType: 0, msgId: 10, topicName: 'a/+/#', topicId: 0 },
  { type: 'subscribe', dup: true, qos: 2, topicIdType: 1, msgId: 11, topicName: '', topicId: 42 },
  { type: 'subscribe', dup: false, qos: 0, topicIdType: 2, msgId: 12, topicName: 'ab', topicId: 0 },
  { type: 'unsubscribe', dup: false, qos: 0, topicIdType: 0, msgId: 13, topicName: 'x/y', topicId: 0 },
  { type: 'unsubscribe', dup: false, qos: 0, topicIdType: 1, msgId: 14, topicName: '', topicId: 3 },
  { type: 'suback', qos: 1, topicId: 17, msgId: 10, returnCode: 0 },
  { type: 'pingreq', clientId: '' },
  { type: 'pingreq', clientId: 'sleepy' },
  { type: 'pingresp' },
  { type: 'disconnect', duration: null },
  { type: 'disconnect', duration: 300 },
  { type: 'willtopicupd', qos: 2, retain: false, topic: 'new/will' },
  { type: 'willtopicupd', qos: 0, retain: false, topic: '' },
  { type: 'willmsgupd', payload: Buffer.from('new bye') },
  { type: 'willtopicresp', returnCode: 0 },
  { type: 'willmsgresp', returnCode: 0 },
  { type: 'encapsulated', radius: 2, nodeId: Buffer.from('node-7'), inner: { type: 'pingreq', clientId: '' } },
];

describe('MQTT-SN codec: round trips', () => {
  for (const m of ALL) {
    it(`${m.type} ${JSON.stringify(m).slice(0, 60)}`, () => {
      const buf = encode(m);
      const r = decode(buf);
      assert.ok(r.ok, !r.ok ? r.message : '');
      assert.deepEqual(r.msg, m);
    });
  }
  it('every type of the 1.2 specification is covered', () => {
    const types = new Set(ALL.map((m) => m.type));
    assert.equal(types.size, Object.keys(MSG).length);
  });
});

describe('MQTT-SN codec: octets as the spec lays them out', () => {
  it('CONNECT: Length, MsgType 0x04, Flags (Will 0x08, CleanSession 0x04), ProtocolId, Duration, ClientId', () => {
    assert.deepEqual([...encode({ type: 'connect', will: true, cleanSession: true, protocolId: 1, duration: 10, clientId: 'c' })], [7, 0x04, 0x0c, 0x01, 0, 10, 0x63]);
  });
  it('PUBLISH QoS −1 sets both QoS bits (0b11) and a short topic name is TopicIdType 0b10', () => {
    const b = encode({ type: 'publish', dup: false, qos: -1, retain: false, topicIdType: 2, topicId: 0x6162, msgId: 0, payload: Buffer.from('z') });
    assert.deepEqual([...b], [8, 0x0c, 0x62, 0x61, 0x62, 0, 0, 0x7a]);
  });
  it('a message longer than 255 octets uses the three-octet Length form (0x01, length counting all octets)', () => {
    const b = encode({ type: 'willmsg', payload: Buffer.alloc(300) });
    assert.equal(b[0], 0x01);
    assert.equal(b.readUInt16BE(1), 304);
    assert.equal(b[3], 0x09);
    assert.equal(b.length, 304);
  });
  it('a short message in the three-octet form is accepted too', () => {
    const r = decode(Buffer.from([0x01, 0x00, 0x04, 0x17]));
    assert.ok(r.ok);
    assert.equal(r.msg.type, 'pingresp');
  });
});

describe('MQTT-SN codec: malformed input', () => {
  const bad: Array<[string, number[], keyof typeof SN_ERRORS]> = [
    ['empty', [], 'SN_TOO_SHORT'],
    ['one octet', [2], 'SN_TOO_SHORT'],
    ['Length above datagram', [9, 0x16], 'SN_BAD_LENGTH'],
    ['Length below datagram', [2, 0x16, 0x41], 'SN_BAD_LENGTH'],
    ['three-octet form cut', [1, 0], 'SN_TOO_SHORT'],
    ['three-octet length < 4', [1, 0, 3, 0x16], 'SN_BAD_LENGTH'],
    ['reserved MsgType 0x03', [2, 0x03], 'SN_UNKNOWN_TYPE'],
    ['reserved MsgType 0x11', [2, 0x11], 'SN_UNKNOWN_TYPE'],
    ['PUBACK too short', [4, 0x0d, 0, 1], 'SN_BAD_BODY'],
    ['PUBLISH TopicIdType 0b11', [7, 0x0c, 0x03, 0, 1, 0, 0], 'SN_BAD_FLAGS'],
    ['SUBSCRIBE predefined id of 3 octets', [8, 0x12, 0x01, 0, 1, 0, 1, 2], 'SN_BAD_BODY'],
    ['REGISTER with invalid UTF-8 topic', [7, 0x0a, 0, 0, 0, 1, 0xff], 'SN_BAD_STRING'],
    ['DISCONNECT with one octet of duration', [3, 0x18, 1], 'SN_BAD_BODY'],
    ['nested Encapsulated', [3, 0xfe, 0, 3, 0xfe, 0, 2, 0x17], 'SN_UNKNOWN_TYPE'],
  ];
  for (const [name, bytes, code] of bad) {
    it(`${name} → ${code}`, () => {
      const r = decode(Buffer.from(bytes));
      assert.equal(r.ok, false);
      if (!r.ok) { assert.equal(r.code, code); assert.ok(r.message.length > 10); }
    });
  }
});

describe('MQTT-SN codec: fuzz', () => {
  // A small deterministic PRNG, so a failure reproduces.
  let seed = 0x5eed;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const check = (b: Buffer): void => {
    const r = decode(b);
    if (r.ok) assert.ok(typeof r.msg.type === 'string');
    else assert.ok(r.code in SN_ERRORS, `unknown code ${r.code}`);
  };
  it('20,000 random datagrams never throw', () => {
    for (let i = 0; i < 20000; i++) {
      const b = Buffer.alloc(rnd(40));
      for (let j = 0; j < b.length; j++) b[j] = rnd(256);
      if (b.length > 1 && rnd(2) === 0) b[0] = b.length; // plausible Length, so bodies get exercised
      check(b);
    }
  });
  it('every truncation and every single-bit flip of every valid message decodes or is refused with a code', () => {
    for (const m of ALL) {
      const good = encode(m);
      for (let n = 0; n < good.length; n++) check(good.subarray(0, n));
      for (let i = 0; i < good.length * 8; i++) { const b = Buffer.from(good); b[i >> 3] ^= 1 << (i & 7); check(b); }
    }
  });
});
