/**
 * Micro-benchmark: Petrel's MQTT codec vs mqtt-packet 9. Not part of the test suite.
 * Run: node --import tsx bench/micro/codec.ts
 *
 * Parsing: a byte stream of packets cut into 64 KiB chunks (what a busy socket delivers) is fed
 * repeatedly to each parser; we report decoded packets per second. Encoding: packets per second.
 * Each figure is the best of BENCH_ROUNDS (3) runs over BENCH_SECONDS (1 s) in total.
 */
import mp from 'mqtt-packet';
import { encodeAck, encodePublish, MqttParser, setPacketId } from '../../broker/src/mqtt/codec/index.js';
import { measure } from './measure.js';

const CHUNK = 64 * 1024;
function chunks(pkt: Buffer, count: number): Buffer[] {
  const all = Buffer.concat(new Array<Buffer>(count).fill(pkt));
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += CHUNK) out.push(Buffer.from(all.subarray(i, i + CHUNK)));
  return out;
}


function rate(label: string, fn: () => number): number {
  const r = measure(fn);
  console.log(`${label.padEnd(46)} ${(r / 1e6).toFixed(2).padStart(7)} M/s`);
  return r;
}

function parseBench(name: string, pkt: Buffer, version: 4 | 5): void {
  const count = 20_000;
  const data = chunks(pkt, count);
  let got = 0;
  const ours = new MqttParser({ packet: () => { got++; }, error: (e) => { throw e; } }, { maxPacketSize: 1 << 20 });
  ours.protocolVersion = version;
  const theirs = mp.parser({ protocolVersion: version });
  theirs.on('packet', () => { got++; });
  theirs.on('error', (e: Error) => { throw e; });
  const a = rate(`parse ${name}: mqtt-packet`, () => {
    got = 0;
    for (const c of data) theirs.parse(c);
    if (got !== count) throw new Error(`mqtt-packet parsed ${got}`);
    return got;
  });
  const b = rate(`parse ${name}: petrel codec`, () => {
    got = 0;
    for (const c of data) ours.execute(c);
    if (got !== count) throw new Error(`petrel parsed ${got}`);
    return got;
  });
  console.log(`  → ${(b / a).toFixed(1)}x`);
}

const pub = { cmd: 'publish' as const, topic: 'sensors/device-000123/temperature', payload: Buffer.alloc(64, 0x61), qos: 0 as const, retain: false, dup: false };
parseBench('QoS0 PUBLISH 64 B payload (v4)', mp.generate(pub), 4);
parseBench('QoS0 PUBLISH 64 B payload (v5)', mp.generate(pub, { protocolVersion: 5 }), 5);
parseBench('PUBACK (v4)', mp.generate({ cmd: 'puback', messageId: 42 }), 4);
parseBench('PUBACK (v5)', mp.generate({ cmd: 'puback', messageId: 42, reasonCode: 0 }, { protocolVersion: 5 }), 5);

const N = 10_000;
const e1 = rate('encode QoS0 PUBLISH: mqtt-packet generate', () => { for (let i = 0; i < N; i++) mp.generate(pub); return N; });
const e2 = rate('encode QoS0 PUBLISH: encodePublish', () => { for (let i = 0; i < N; i++) encodePublish(pub, 4); return N; });
console.log(`  → ${(e2 / e1).toFixed(1)}x`);
const q1 = encodePublish({ ...pub, qos: 1, messageId: 1 }, 4);
rate('fan-out QoS1 PUBLISH: setPacketId', () => { for (let i = 0; i < N; i++) setPacketId(q1, (i & 0xfffe) + 1); return N; });
const a1 = rate('encode PUBACK: mqtt-packet generate', () => { for (let i = 0; i < N; i++) mp.generate({ cmd: 'puback', messageId: i + 1 }); return N; });
const a2 = rate('encode PUBACK: encodeAck', () => { for (let i = 0; i < N; i++) encodeAck('puback', i + 1, 4); return N; });
console.log(`  → ${(a2 / a1).toFixed(1)}x`);
