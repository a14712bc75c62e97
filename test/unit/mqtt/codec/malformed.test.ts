// Every protocol rule the codec enforces, one case each: the parser must report exactly one
// CodecError with the expected code and MQTT 5 reason code, emit no packet for the bad bytes, never
// throw, and stay silent afterwards.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CodecErrorCode } from '../../../../broker/src/mqtt/codec/index.js';
import { corpus, generate, ours, type Version } from './corpus.js';

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let c = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) c |= 0x80;
    out.push(c);
  } while (n > 0);
  return out;
}
const frame = (first: number, body: number[]): Buffer => Buffer.from([first, ...varint(body.length), ...body]);
const str = (s: string | number[]): number[] => {
  const b = typeof s === 'string' ? [...Buffer.from(s, 'utf8')] : s;
  return [b.length >> 8, b.length & 0xff, ...b];
};
const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const props = (...bytes: number[]): number[] => [...varint(bytes.length), ...bytes];

function connect(o: { name?: string; level?: number; flags?: number; props?: number[]; rest?: number[] } = {}): Buffer {
  const level = o.level ?? 4;
  return frame(0x10, [
    ...str(o.name ?? 'MQTT'), level, o.flags ?? 0x02, ...u16(30),
    ...(level === 5 ? (o.props ?? [0]) : []), ...(o.rest ?? str('cid')),
  ]);
}

const REASON: Record<CodecErrorCode, number> = {
  MALFORMED: 0x81, BAD_UTF8: 0x81, PROTOCOL_ERROR: 0x82, PACKET_TOO_LARGE: 0x95,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84, BAD_PROTOCOL_NAME: 0x84,
};

const ping = frame(0xc0, []);

function bad(bytes: Buffer, v: Version, code: CodecErrorCode, maxPacketSize?: number): void {
  const got = ours([Buffer.concat([bytes, ping])], v, maxPacketSize);
  assert.equal(got.errors.length, 1, `expected one ${code} error, got ${got.errors.map((e) => e.code).join(',') || 'none'}`);
  assert.equal(got.errors[0]!.code, code, got.errors[0]!.message);
  assert.equal(got.errors[0]!.reasonCode, REASON[code]);
  assert.equal(got.packets.length, 0, 'no packet may be emitted for (or after) bad bytes');
  got.parser.execute(ping);
  assert.equal(got.packets.length, 0);
  assert.equal(got.errors.length, 1);
}

function good(bytes: Buffer, v: Version): object {
  const got = ours([bytes], v);
  assert.deepEqual(got.errors.map((e) => e.message), []);
  assert.equal(got.packets.length, 1);
  return got.packets[0]!;
}

describe('codec: fixed header', () => {
  it('remaining length longer than 4 bytes', () => bad(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 4, 'MALFORMED'));
  it('maximum 4-byte remaining length is accepted as a length (then too large)', () => {
    bad(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), 4, 'PACKET_TOO_LARGE', 1 << 20);
  });
  it('PACKET_TOO_LARGE is reported from the header alone, before any body byte arrives', () => {
    const got = ours([Buffer.from([0x30, 0x80, 0x80, 0x40])], 4, 1000);
    assert.equal(got.errors[0]?.code, 'PACKET_TOO_LARGE');
  });
  it('maxPacketSize counts the whole packet: exactly max is accepted, max+1 is not', () => {
    const pkt = generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(100), qos: 0, retain: false, dup: false }, 4);
    assert.equal(ours([pkt], 4, pkt.length).errors.length, 0);
    bad(pkt, 4, 'PACKET_TOO_LARGE', pkt.length - 1);
  });
  it('maxPacketSize is settable at run time', () => {
    const got = ours([], 4, 10);
    got.parser.maxPacketSize = 1000;
    got.parser.execute(generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(100), qos: 0, retain: false, dup: false }, 4));
    assert.equal(got.packets.length, 1);
  });
  for (const [cmd, flags] of [
    ['connect', 1], ['connack', 8], ['puback', 2], ['pubrec', 1], ['pubrel', 0], ['pubrel', 3], ['pubcomp', 8],
    ['subscribe', 0], ['suback', 1], ['unsubscribe', 0], ['unsuback', 2], ['pingreq', 1], ['pingresp', 4], ['disconnect', 1],
  ] as const) {
    it(`reserved flag bits 0b${flags.toString(2).padStart(4, '0')} for ${cmd} [MQTT-2.2.2-2]`, () => {
      const valid = corpus(4).find((p) => (p as { cmd: string }).cmd === cmd)!;
      const bytes = generate(valid, 4);
      good(bytes, 4);
      bytes[0] = (bytes[0]! & 0xf0) | flags;
      bad(bytes, 4, 'MALFORMED');
    });
  }
  it('PUBLISH QoS 3', () => bad(frame(0x36, [...str('t'), ...u16(1)]), 4, 'MALFORMED'));
  it('PUBLISH QoS 0 with DUP', () => bad(frame(0x38, [...str('t')]), 4, 'MALFORMED'));
  it('packet type 0', () => bad(Buffer.from([0x00, 0x00]), 4, 'MALFORMED'));
  it('AUTH in v3.1.1', () => bad(Buffer.from([0xf0, 0x00]), 4, 'MALFORMED'));
  it('AUTH with no body in v5 means reason code 0', () => {
    assert.equal((good(Buffer.from([0xf0, 0x00]), 5) as { reasonCode: number }).reasonCode, 0);
  });
});

describe('codec: UTF-8 strings [MQTT-1.5.4-1/2]', () => {
  for (const [name, bytes] of [
    ['invalid byte 0xff', [0x61, 0xff]], ['U+0000', [0x61, 0x00, 0x62]], ['UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['overlong encoding', [0xc0, 0xaf]], ['truncated sequence', [0xe2, 0x82]],
  ] as const) {
    it(`PUBLISH topic: ${name}`, () => bad(frame(0x30, [...str([...bytes])]), 4, 'BAD_UTF8'));
  }
  it('CONNECT client id with U+0000', () => bad(connect({ rest: str([0x61, 0]) }), 4, 'BAD_UTF8'));
  it('SUBSCRIBE filter with invalid UTF-8', () => bad(frame(0x82, [...u16(1), ...str([0xff]), 0]), 4, 'BAD_UTF8'));
  it('v5 user property name with invalid UTF-8', () => {
    bad(frame(0x30, [...str('t'), ...props(0x26, ...str([0xc3]), ...str('v'))]), 5, 'BAD_UTF8');
  });
  it('multi-byte UTF-8 and U+FFFF are accepted', () => {
    assert.equal((good(frame(0x30, [...str('ü✓😀\uffff')]), 4) as { topic: string }).topic, 'ü✓😀\uffff');
  });
});

describe('codec: CONNECT', () => {
  it('protocol name other than MQTT / MQIsdp', () => bad(connect({ name: 'MQTX' }), 4, 'BAD_PROTOCOL_NAME'));
  it('protocol level 6', () => bad(connect({ level: 6 }), 4, 'UNSUPPORTED_PROTOCOL_VERSION'));
  it('protocol level 3 with name MQTT', () => bad(connect({ level: 3 }), 4, 'UNSUPPORTED_PROTOCOL_VERSION'));
  it('protocol level 4 with name MQIsdp', () => bad(connect({ name: 'MQIsdp', level: 4 }), 4, 'UNSUPPORTED_PROTOCOL_VERSION'));
  it('reserved flag bit 0 [MQTT-3.1.2-3]', () => bad(connect({ flags: 0x03 }), 4, 'MALFORMED'));
  it('will QoS without will flag [MQTT-3.1.2-13]', () => bad(connect({ flags: 0x0a }), 4, 'MALFORMED'));
  it('will retain without will flag [MQTT-3.1.2-15]', () => bad(connect({ flags: 0x22 }), 4, 'MALFORMED'));
  it('will QoS 3 [MQTT-3.1.2-14]', () => bad(connect({ flags: 0x1e, rest: [...str('c'), ...str('t'), ...str('p')] }), 4, 'MALFORMED'));
  it('will flag without will topic/payload', () => bad(connect({ flags: 0x06 }), 4, 'MALFORMED'));
  it('password without username is malformed in v3.1.1 [MQTT-3.1.2-22]', () => {
    bad(connect({ flags: 0x42, rest: [...str('c'), ...str('pw')] }), 4, 'MALFORMED');
  });
  it('password without username is allowed in v5', () => {
    const p = good(connect({ level: 5, flags: 0x42, rest: [...str('c'), ...str('pw')] }), 4) as { password: Buffer; username?: string };
    assert.equal(p.password.toString(), 'pw');
    assert.equal(p.username, undefined);
  });
  it('username flag without username bytes', () => bad(connect({ flags: 0x82 }), 4, 'MALFORMED'));
  it('trailing bytes after the last field', () => bad(connect({ rest: [...str('cid'), 0] }), 4, 'MALFORMED'));
  it('v5 duplicate property', () => bad(connect({ level: 5, props: props(0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2) }), 4, 'PROTOCOL_ERROR'));
  it('v5 unknown property identifier', () => bad(connect({ level: 5, props: props(0x7f, 0) }), 4, 'MALFORMED'));
  it('v5 property not valid for CONNECT (Topic Alias)', () => bad(connect({ level: 5, props: props(0x23, 0, 1) }), 4, 'MALFORMED'));
  it('v5 property length past end of packet', () => bad(connect({ level: 5, props: [10, 0x11] }), 4, 'MALFORMED'));
  it('v5 boolean property with value 2', () => bad(connect({ level: 5, props: props(0x17, 2) }), 4, 'PROTOCOL_ERROR'));
  it('v5 receive maximum 0', () => bad(connect({ level: 5, props: props(0x21, 0, 0) }), 4, 'PROTOCOL_ERROR'));
  it('v5 will property not valid in will (session expiry)', () => {
    bad(connect({ level: 5, flags: 0x06, rest: [...str('c'), ...props(0x11, 0, 0, 0, 1), ...str('t'), ...str('p')] }), 4, 'MALFORMED');
  });
  it('the parser learns the version as soon as it is read, so later errors are in v5 terms', () => {
    const got = ours([connect({ level: 5, props: props(0x7f) })], 4);
    assert.equal(got.errors[0]?.code, 'MALFORMED');
    assert.equal(got.parser.protocolVersion, 5);
  });
});

describe('codec: SUBSCRIBE / UNSUBSCRIBE', () => {
  it('SUBSCRIBE with no topic filter [MQTT-3.8.3-3]', () => bad(frame(0x82, [...u16(1)]), 4, 'PROTOCOL_ERROR'));
  it('v5 SUBSCRIBE with no topic filter', () => bad(frame(0x82, [...u16(1), 0]), 5, 'PROTOCOL_ERROR'));
  it('UNSUBSCRIBE with no topic filter [MQTT-3.10.3-2]', () => bad(frame(0xa2, [...u16(1)]), 4, 'PROTOCOL_ERROR'));
  it('v4 requested QoS 3', () => bad(frame(0x82, [...u16(1), ...str('a'), 3]), 4, 'MALFORMED'));
  it('v3 requested QoS 3', () => bad(frame(0x82, [...u16(1), ...str('a'), 3]), 3, 'MALFORMED'));
  it('v4 reserved option bits', () => bad(frame(0x82, [...u16(1), ...str('a'), 0x04]), 4, 'MALFORMED'));
  it('v5 reserved option bits 6-7', () => bad(frame(0x82, [...u16(1), 0, ...str('a'), 0x40]), 5, 'MALFORMED'));
  it('v5 retain handling 3', () => bad(frame(0x82, [...u16(1), 0, ...str('a'), 0x30]), 5, 'PROTOCOL_ERROR'));
  it('v5 QoS 3', () => bad(frame(0x82, [...u16(1), 0, ...str('a'), 0x03]), 5, 'PROTOCOL_ERROR'));
  it('topic filter without options byte', () => bad(frame(0x82, [...u16(1), ...str('a')]), 4, 'MALFORMED'));
  it('v5 subscription identifier twice', () => bad(frame(0x82, [...u16(1), ...props(0x0b, 1, 0x0b, 2), ...str('a'), 0]), 5, 'PROTOCOL_ERROR'));
  it('v5 subscription identifier 0', () => bad(frame(0x82, [...u16(1), ...props(0x0b, 0), ...str('a'), 0]), 5, 'PROTOCOL_ERROR'));
  it('v5 subscription identifier varint of 5 bytes', () => {
    bad(frame(0x82, [...u16(1), ...props(0x0b, 0xff, 0xff, 0xff, 0xff, 0x01), ...str('a'), 0]), 5, 'MALFORMED');
  });
});

describe('codec: packet identifiers and lengths', () => {
  it('PUBLISH QoS 1 with packet id 0', () => bad(frame(0x32, [...str('t'), ...u16(0)]), 4, 'PROTOCOL_ERROR'));
  it('SUBSCRIBE with packet id 0', () => bad(frame(0x82, [...u16(0), ...str('a'), 0]), 4, 'PROTOCOL_ERROR'));
  it('UNSUBSCRIBE with packet id 0', () => bad(frame(0xa2, [...u16(0), ...str('a')]), 4, 'PROTOCOL_ERROR'));
  it('PUBLISH topic length past the end of the packet', () => bad(frame(0x30, [0, 10, 0x61]), 4, 'MALFORMED'));
  it('PUBLISH QoS 1 too short for its packet id', () => bad(frame(0x32, [...str('t'), 1]), 4, 'MALFORMED'));
  it('v4 PUBACK with 3 bytes', () => bad(frame(0x40, [0, 1, 0]), 4, 'MALFORMED'));
  it('PUBACK with 1 byte', () => bad(frame(0x40, [0]), 5, 'MALFORMED'));
  it('v5 PUBACK with invalid reason code', () => bad(frame(0x40, [0, 1, 0x05]), 5, 'MALFORMED'));
  it('v5 PUBACK with trailing bytes after properties', () => bad(frame(0x40, [0, 1, 0, 0, 9]), 5, 'MALFORMED'));
  it('PINGREQ with a body', () => bad(frame(0xc0, [0]), 4, 'MALFORMED'));
  it('v4 DISCONNECT with a body', () => bad(frame(0xe0, [0]), 4, 'MALFORMED'));
  it('v5 DISCONNECT with invalid reason code', () => bad(frame(0xe0, [0x01]), 5, 'MALFORMED'));
  it('v5 PUBLISH property not valid for PUBLISH', () => bad(frame(0x30, [...str('t'), ...props(0x11, 0, 0, 0, 0)]), 5, 'MALFORMED'));
  it('v5 PUBLISH topic alias 0', () => bad(frame(0x30, [...str('t'), ...props(0x23, 0, 0)]), 5, 'PROTOCOL_ERROR'));
  it('v4 CONNACK with 3 bytes', () => bad(frame(0x20, [0, 0, 0]), 4, 'MALFORMED'));
  it('CONNACK flags bits 7-1', () => bad(frame(0x20, [2, 0]), 4, 'MALFORMED'));
  it('valid packets before the bad one are still emitted', () => {
    const okPkt = frame(0xc0, []);
    const got = ours([Buffer.concat([okPkt, okPkt, Buffer.from([0x00, 0x00]), okPkt])], 4);
    assert.equal(got.packets.length, 2);
    assert.equal(got.errors.length, 1);
  });
  it('destroy() stops emission mid-chunk', () => {
    const got = ours([], 4);
    let n = 0;
    const p = got.parser;
    const handler = { packet: () => { n++; p.destroy(); }, error: () => assert.fail('no error expected') };
    Object.assign(p, { handler });
    p.execute(Buffer.concat([ping, ping, ping]));
    assert.equal(n, 1);
    assert.equal(p.destroyed, true);
  });
  it('a throwing packet handler propagates and leaves the parser destroyed', () => {
    const got = ours([], 4);
    const p = got.parser;
    Object.assign(p, { handler: { packet: () => { throw new Error('boom'); }, error: () => assert.fail('no error expected') } });
    assert.throws(() => p.execute(Buffer.concat([ping, ping])), /boom/);
    assert.equal(p.destroyed, true);
    p.execute(ping); // ignored, no throw
  });
});
