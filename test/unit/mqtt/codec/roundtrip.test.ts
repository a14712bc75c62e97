// Valid packets: our parser must give exactly mqtt-packet's output, and our encoders must produce
// bytes that mqtt-packet reads back as the same packet.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode, encodePublish } from '../../../../broker/src/mqtt/codec/index.js';
import { corpus, generate, ours, theirs, type Version } from './corpus.js';

for (const v of [3, 4, 5] as Version[]) {
  describe(`codec round trip, MQTT protocol level ${v}`, () => {
    for (const pkt of corpus(v)) {
      const label = `${(pkt as { cmd: string }).cmd} ${JSON.stringify(pkt).slice(0, 80)}`;
      it(`parses like mqtt-packet: ${label}`, () => {
        const bytes = generate(pkt, v);
        const expected = theirs(bytes, v);
        assert.equal(expected.errors.length, 0, `mqtt-packet rejected its own packet: ${expected.errors[0]?.message}`);
        const got = ours([bytes], v);
        assert.deepEqual(got.errors, []);
        assert.deepEqual(got.packets, expected.packets);
        assert.equal(got.packets.length, 1);
      });
      it(`encodes what mqtt-packet reads back: ${label}`, () => {
        const bytes = encode(pkt as never, v);
        const expected = theirs(generate(pkt, v), v);
        const back = theirs(bytes, v);
        assert.deepEqual(back.errors, []);
        assert.deepEqual(back.packets, expected.packets);
        assert.deepEqual(ours([bytes], v).packets, expected.packets);
      });
    }

    it('encodePublish is byte-identical to mqtt-packet generate()', () => {
      for (const pkt of corpus(v)) {
        if ((pkt as { cmd: string }).cmd !== 'publish') continue;
        assert.deepEqual(encodePublish(pkt as never, v), generate(pkt, v));
      }
    });

    it('acks with explicit reason code are byte-identical to mqtt-packet when it has properties or v3/4', () => {
      for (const pkt of corpus(v)) {
        const p = pkt as { cmd: string; properties?: object };
        if (!['puback', 'pubrec', 'pubrel', 'pubcomp'].includes(p.cmd)) continue;
        if (v === 5 && !p.properties) continue;
        assert.deepEqual(encode(pkt as never, v), generate(pkt, v));
      }
    });
  });
}

describe('codec protocol version learning', () => {
  it('a v5 CONNECT switches the parser to v5 for the packets that follow in the same chunk', () => {
    const connect = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'c', clean: true, keepalive: 1 }, 5);
    const pub = generate({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { contentType: 'a' } }, 5);
    const got = ours([Buffer.concat([connect, pub])], 4);
    assert.equal(got.errors.length, 0);
    assert.equal(got.parser.protocolVersion, 5);
    assert.deepEqual((got.packets[1] as { properties?: object }).properties, { contentType: 'a' });
  });

  it('bridge protocol level (0x84) sets bridgeMode and v4 subscriptions carry nl/rap/rh like mqtt-packet', () => {
    const connect = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'b', clean: true, keepalive: 1 }, 4);
    connect[8] = 0x84; // protocol level byte: fixed header(2) + name(6)
    const sub = generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 1 }] }, 4);
    const all = Buffer.concat([connect, sub]);
    const mine = ours([all], 4);
    assert.equal(mine.errors.length, 0);
    assert.equal(mine.parser.bridgeMode, true);
    // mqtt-packet learns bridge mode from the CONNECT the same way
    const ref = theirs(all, 4);
    assert.deepEqual(mine.packets, ref.packets);
  });
});

describe('codec topic cache', () => {
  it('repeated, same-length and non-ASCII topics all decode to their own string', () => {
    const topics = ['a/1', 'a/1', 'a/2', 'a/2', 'ü/1', 'a/1', '', 'x'.repeat(200), 'x'.repeat(200), 'x'.repeat(199) + 'y', 'a/1'];
    const bytes = Buffer.concat(topics.map((topic) => generate({ cmd: 'publish', topic, payload: Buffer.from(topic), qos: 0, retain: false, dup: false }, 5)));
    const got = ours([bytes], 5);
    assert.deepEqual(got.errors, []);
    assert.deepEqual(got.packets.map((p) => (p as { topic: string }).topic), topics);
  });
});
