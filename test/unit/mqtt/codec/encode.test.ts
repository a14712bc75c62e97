// Fast encoders: PUBLISH fan-out stamping (setPacketId / setDup) and acknowledgement encoding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeAck, encodeProperties, encodePublish, setDup, setPacketId } from '../../../../broker/src/mqtt/codec/index.js';
import { generate, ours, theirs, type Version } from './corpus.js';

describe('codec encoders', () => {
  for (const v of [3, 4, 5] as Version[]) {
    it(`v${v}: setPacketId stamps a new id into a copy, everything else unchanged`, () => {
      const base = {
        topic: 'fan/out', payload: Buffer.alloc(300, 3), qos: 1 as const, retain: true, dup: false, messageId: 1,
        properties: v === 5 ? { userProperties: { a: 'b' }, messageExpiryInterval: 9 } : null,
      };
      const encoded = encodePublish(base, v);
      const stamped = setPacketId(encoded, 0xbeef);
      assert.notEqual(stamped, encoded);
      assert.deepEqual(stamped, encodePublish({ ...base, messageId: 0xbeef }, v));
      assert.deepEqual(encoded, encodePublish(base, v), 'original untouched');
      const dup = setDup(stamped, true);
      assert.deepEqual(dup, encodePublish({ ...base, messageId: 0xbeef, dup: true }, v));
      assert.deepEqual(setDup(dup, false), stamped);
      const parsed = ours([dup], v).packets[0] as { messageId: number; dup: boolean };
      assert.equal(parsed.messageId, 0xbeef);
      assert.equal(parsed.dup, true);
    });
  }

  it('setPacketId works with a multi-byte remaining length and a UTF-8 topic', () => {
    const base = { topic: 'ü/✓', payload: Buffer.alloc(200_000), qos: 2 as const, retain: false, dup: false, messageId: 5 };
    assert.deepEqual(setPacketId(encodePublish(base, 4), 6), encodePublish({ ...base, messageId: 6 }, 4));
  });

  it('setPacketId / setDup refuse QoS 0 PUBLISH and other packets', () => {
    const q0 = encodePublish({ topic: 't', payload: Buffer.alloc(1), qos: 0, retain: false, dup: false }, 4);
    assert.throws(() => setPacketId(q0, 1), TypeError);
    assert.throws(() => setDup(q0, true), TypeError);
    assert.throws(() => setPacketId(encodeAck('puback', 1, 4), 1), TypeError);
  });

  it('encodePublish: string payload, messageId required for QoS>0', () => {
    const b = encodePublish({ topic: 't', payload: 'héllo', qos: 0, retain: false, dup: false }, 4);
    assert.equal((theirs(b, 4).packets[0] as { payload: Buffer }).payload.toString(), 'héllo');
    assert.throws(() => encodePublish({ topic: 't', payload: '', qos: 1, retain: false, dup: false }, 4), TypeError);
  });

  it('encodeAck: compact forms, parsed back identically by mqtt-packet and by us', () => {
    for (const cmd of ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const) {
      const v4 = encodeAck(cmd, 258, 4);
      assert.deepEqual(v4, generate({ cmd, messageId: 258 }, 4));
      assert.equal(encodeAck(cmd, 258, 5).length, 4, 'v5 success without properties omits reason code');
      const rc = cmd === 'puback' || cmd === 'pubrec' ? 0x87 : 0x92;
      const withRc = encodeAck(cmd, 7, 5, rc);
      assert.equal(withRc.length, 5, 'v5 reason code without properties omits property length');
      const withProps = encodeAck(cmd, 7, 5, rc, { reasonString: 'no' });
      for (const b of [withRc, withProps]) {
        const ref = theirs(b, 5);
        assert.deepEqual(ref.errors, []);
        assert.deepEqual(ours([b], 5).packets, ref.packets);
        assert.equal((ref.packets[0] as { reasonCode: number }).reasonCode, rc);
      }
    }
  });

  it('encodeProperties rejects unknown names and wrong types', () => {
    assert.throws(() => encodeProperties({ nope: 1 }), TypeError);
    assert.throws(() => encodeProperties({ topicAlias: 70_000 }), TypeError);
    assert.throws(() => encodeProperties({ payloadFormatIndicator: 1 }), TypeError);
    assert.deepEqual(encodeProperties({}), Buffer.from([0]));
  });
});

describe('codec encoders: topic byte cache', () => {
  it('alternating, non-ASCII, empty and Buffer topics encode byte-identically to mqtt-packet', () => {
    for (const topic of ['a/1', 'a/1', 'a/2', 'ü/✓', '', 'a/1', Buffer.from('b/ü'), 'b/ü', 'x'.repeat(70_000)]) {
      const pkt = { cmd: 'publish' as const, topic, payload: Buffer.from('p'), qos: 0 as const, retain: false, dup: false };
      if (typeof topic === 'string' && topic.length > 0xffff) {
        assert.throws(() => encodePublish(pkt, 4), RangeError);
        continue;
      }
      assert.deepEqual(encodePublish(pkt, 4), generate(pkt, 4), String(topic));
    }
  });
});
