/**
 * Micro-benchmark: the cluster link's FWD frame, encoded into a LinkWriter-like chunk and decoded
 * by LinkDecoder from 64 KiB chunks. Not part of the test suite.
 * Run: node --import tsx bench/micro/link-codec.ts   (or node dist/bench/micro/link-codec.js)
 * Messages as the fan-in scenario makes them: 50 publishers, each on its own topic, 64-byte payload.
 */
import { AliasOut } from '../../broker/src/cluster/link-strings.js';
import { viewOf, encodeFwdInto, LinkDecoder, type FrameSink, type LinkFrame } from '../../broker/src/cluster/link-codec.js';
import type { Message } from '../../broker/src/types.js';
import { measure } from './measure.js';

class Sink implements FrameSink {
  chunk = Buffer.allocUnsafeSlow(64 * 1024);
  view = viewOf(this.chunk);
  used = 0;
  full: Buffer[] = [];
  constructor(readonly aliases: AliasOut | null) {}
  reserve(n: number): number {
    if (this.used + n > this.chunk.length) {
      this.full.push(this.chunk.subarray(0, this.used));
      this.chunk = Buffer.allocUnsafeSlow(64 * 1024);
      this.view = viewOf(this.chunk);
      this.used = 0;
    }
    return this.used;
  }
  commit(n: number): void { this.used += n; }
  push(frame: Buffer): void { this.full.push(frame); }
}

const PUBLISHERS = 50;
const BATCH = 2000;
// Strings made at run time, as the MQTT decoder makes them (not literals V8 interns).
const topics = Array.from({ length: PUBLISHERS }, (_, i) => Buffer.from(`bench/in/${i}`).toString());
const froms = Array.from({ length: PUBLISHERS }, (_, i) => Buffer.from(`bench-fanin-pub-${process.pid}-${i}`).toString());
const payload = Buffer.alloc(64, 7);
let nextId = 1;
const msgs: Message[] = Array.from({ length: BATCH }, (_, k) => {
  const i = Math.floor(k / 40) % PUBLISHERS; // runs of 40 from one publisher, as a read chunk holds
  return { id: nextId++, topic: topics[i]!, payload, qos: 0, retain: false, properties: null, from: froms[i]!, timestamp: Date.now(), expiresAt: 0 };
});

for (const aliased of [false, true]) {
const sink = new Sink(aliased ? new AliasOut() : null);
const encodeRate = measure(() => {
  for (const m of msgs) encodeFwdInto(sink, false, 0, true, m, []);
  sink.full.length = 0;
  return msgs.length;
});
console.log(`encode FWD (64 B payload${aliased ? ', aliases' : ''})${' '.repeat(aliased ? 7 : 16)}${(1e9 / encodeRate).toFixed(0).padStart(6)} ns/msg`);

const s2 = new Sink(aliased ? new AliasOut() : null);
for (const m of msgs) encodeFwdInto(s2, false, 0, true, m, []);
s2.full.push(s2.chunk.subarray(0, s2.used));
const stream = Buffer.concat(s2.full);
const chunks: Buffer[] = [];
for (let i = 0; i < stream.length; i += 64 * 1024) chunks.push(Buffer.from(stream.subarray(i, i + 64 * 1024)));
console.log(`frame bytes per message                  ${(stream.length / msgs.length).toFixed(1).padStart(6)}`);
const out: LinkFrame[] = [];
const decodeRate = measure(() => {
  const d = new LinkDecoder();
  for (const c of chunks) { out.length = 0; d.push(c, out); }
  return msgs.length;
});
console.log(`decode FWD (64 KiB chunks)               ${(1e9 / decodeRate).toFixed(0).padStart(6)} ns/msg`);
}
