import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt-packet';
import { FrameSplitter, type FrameSink } from '../../bench/lib/frame-splitter.js';
import { publishTemplate, publishPayloadStart, PAYLOAD_SEQ } from '../../bench/lib/packets.js';

class Collect implements FrameSink {
  frames: { header: number; body: Buffer }[] = [];
  onFrame(header: number, buf: Buffer, start: number, end: number): void {
    this.frames.push({ header, body: Buffer.from(buf.subarray(start, end)) });
  }
}

function sampleStream(): { bytes: Buffer; expected: { header: number; bodyLength: number }[] } {
  const packets = [
    mqtt.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }),
    mqtt.generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(10, 1), qos: 0, retain: false, dup: false }),
    // 200-byte body: a two-byte remaining length.
    mqtt.generate({ cmd: 'publish', topic: 'x', payload: Buffer.alloc(200, 2), qos: 1, messageId: 513, retain: true, dup: false }),
    mqtt.generate({ cmd: 'puback', messageId: 7 }),
    // 20,000-byte body: a three-byte remaining length.
    mqtt.generate({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(20_000, 3), qos: 2, messageId: 9, retain: false, dup: false }),
    mqtt.generate({ cmd: 'pingresp' }),
  ];
  const expected = packets.map((p) => {
    let i = 1;
    while (p[i] & 0x80) i++;
    return { header: p[0], bodyLength: p.length - i - 1 };
  });
  return { bytes: Buffer.concat(packets), expected };
}

test('frame splitter finds every frame when the stream is cut at any byte', () => {
  const { bytes, expected } = sampleStream();
  for (let cut = 1; cut < bytes.length; cut += cut < 300 ? 1 : 997) {
    const sink = new Collect();
    const s = new FrameSplitter(sink);
    s.push(bytes.subarray(0, cut));
    s.push(bytes.subarray(cut));
    assert.deepEqual(sink.frames.map((f) => ({ header: f.header, bodyLength: f.body.length })), expected, `cut at ${cut}`);
  }
});

test('frame splitter handles one byte at a time and rejects a malformed length', () => {
  const { bytes, expected } = sampleStream();
  const sink = new Collect();
  const s = new FrameSplitter(sink);
  for (let i = 0; i < bytes.length; i++) s.push(bytes.subarray(i, i + 1));
  assert.equal(sink.frames.length, expected.length);
  assert.throws(() => new FrameSplitter(new Collect()).push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), /malformed/);
});

test('publish template offsets point at the packet id and payload', () => {
  const t = publishTemplate('bench/pair/3', 1, 64);
  t.frame.writeUInt32LE(42, t.payloadOffset + PAYLOAD_SEQ);
  t.frame[t.pidOffset] = 0x12;
  t.frame[t.pidOffset + 1] = 0x34;
  const parser = mqtt.parser();
  let got: mqtt.IPublishPacket | null = null;
  parser.on('packet', (p) => { got = p as mqtt.IPublishPacket; });
  parser.parse(t.frame);
  assert.ok(got);
  const pkt = got as mqtt.IPublishPacket;
  assert.equal(pkt.topic, 'bench/pair/3');
  assert.equal(pkt.messageId, 0x1234);
  assert.equal((pkt.payload as Buffer).length, 64);
  assert.equal((pkt.payload as Buffer).readUInt32LE(PAYLOAD_SEQ), 42);
  // The receive side finds the same payload offset from the frame body.
  let i = 1;
  while (t.frame[i] & 0x80) i++;
  assert.equal(publishPayloadStart(t.frame, i + 1, 1), t.payloadOffset);
});
