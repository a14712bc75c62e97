// Seeded fuzzing of the link decoder: random bytes, mutated and truncated valid streams, and valid
// streams in random chunks. The decoder may only return frames or throw a LinkProtocolError, and
// a valid stream decodes to the same frames however it is split.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  LINK_PROTO, LinkDecoder, LinkProtocolError, encodeFrame, encodeFwdInto, viewOf, type FrameSink, type FwdFrame, type LinkFrame,
} from '../../../broker/src/cluster/link-codec.js';
import { AliasOut } from '../../../broker/src/cluster/link-strings.js';
import { msg, rng } from './helpers.js';

const TIME_BUDGET_MS = 1500;

function randomFrame(rand: () => number): LinkFrame {
  const str = (n: number) => Array.from({ length: Math.floor(rand() * n) }, () => String.fromCharCode(32 + Math.floor(rand() * 0x2fff))).join('');
  const bytes = (n: number) => Buffer.from(Array.from({ length: Math.floor(rand() * n) }, () => Math.floor(rand() * 256)));
  switch (Math.floor(rand() * 7)) {
    case 0: return { type: 'hello', cluster: str(10), node: 'n' + str(10), incarnation: Math.floor(rand() * 2e12), proto: LINK_PROTO, aliases: rand() < 0.5 };
    case 1: {
      const qos = Math.floor(rand() * 3) as 0 | 1 | 2;
      const properties = rand() < 0.5 ? null : { contentType: str(5), correlationData: bytes(20), userProperties: { [str(4)]: str(6), l: [str(3), str(3)] } };
      return {
        type: 'fwd', seq: qos === 0 ? 0 : 1 + Math.floor(rand() * 0xfffffffe), plain: rand() < 0.5,
        msg: msg({ id: Math.floor(rand() * 2 ** 53), topic: str(30), from: str(10), qos, retain: rand() < 0.5, payload: bytes(300), properties, expiresAt: Math.floor(rand() * 1e12) }),
        groups: Array.from({ length: Math.floor(rand() * 3) }, () => [str(5), str(8)] as [string, string]),
      };
    }
    case 2: return { type: 'ack', seqs: Array.from({ length: Math.floor(rand() * 10) }, () => Math.floor(rand() * 0xffffffff)) };
    case 3: return { type: 'call', id: Math.floor(rand() * 0xffffffff), method: str(12), args: { a: str(8), b: [1, 2, bytes(8)] } };
    case 4: return rand() < 0.5 ? { type: 'reply', id: 3, ok: true, value: str(20) } : { type: 'reply', id: 4, ok: false, error: str(20) };
    case 5: return { type: 'ping' };
    default: return { type: 'pong' };
  }
}

/** Feeds bytes in random chunks; returns the frames and the error, if any. Anything else thrown fails. */
function feed(bytes: Buffer, rand: () => number, maxChunk: number): { frames: LinkFrame[]; error: LinkProtocolError | null } {
  const d = new LinkDecoder({ maxFrame: 1 << 20 });
  const frames: LinkFrame[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = 1 + Math.floor(rand() * maxChunk);
    try {
      frames.push(...d.push(bytes.subarray(i, i + n)));
    } catch (e) {
      assert.ok(e instanceof LinkProtocolError, `threw a non-protocol error: ${String(e)}`);
      return { frames, error: e };
    }
    i += n;
  }
  return { frames, error: null };
}

describe('link decoder fuzz (seeded)', () => {
  it('random bytes: frames or a LinkProtocolError, nothing else', () => {
    const rand = rng(7);
    const t0 = Date.now();
    let errors = 0;
    for (let iter = 0; iter < 5000 && Date.now() - t0 < TIME_BUDGET_MS / 3; iter++) {
      const b = Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
      if (rand() < 0.5 && b.length >= 5) { b.writeUInt32BE(b.length - 4, 0); b[4] = 1 + Math.floor(rand() * 7); } // plausible header
      if (feed(b, rand, 64).error) errors++;
    }
    assert.ok(errors > 0);
  });

  it('valid streams decode identically whatever the chunking', () => {
    const rand = rng(11);
    const t0 = Date.now();
    for (let iter = 0; iter < 400 && Date.now() - t0 < TIME_BUDGET_MS / 3; iter++) {
      const frames = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => randomFrame(rand));
      const stream = Buffer.concat(frames.map(encodeFrame));
      const whole = new LinkDecoder().push(stream);
      assert.deepEqual(whole, frames);
      const chunked = feed(stream, rand, 1 + Math.floor(rand() * 200));
      assert.equal(chunked.error, null);
      assert.deepEqual(chunked.frames, frames);
    }
  });

  it('mutated and truncated valid streams: a prefix of the frames, or a LinkProtocolError', () => {
    const rand = rng(13);
    const t0 = Date.now();
    for (let iter = 0; iter < 2000 && Date.now() - t0 < TIME_BUDGET_MS / 3; iter++) {
      const frames = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => randomFrame(rand));
      const stream = Buffer.from(Buffer.concat(frames.map(encodeFrame)));
      if (rand() < 0.5) {
        const cut = Math.floor(rand() * stream.length);
        const { frames: got, error } = feed(stream.subarray(0, cut), rand, 32);
        assert.equal(error, null, 'a clean truncation is just an incomplete frame');
        assert.deepEqual(got, frames.slice(0, got.length));
      } else {
        for (let k = 0; k < 1 + rand() * 4; k++) stream[Math.floor(rand() * stream.length)] = Math.floor(rand() * 256);
        feed(stream, rand, 32);
      }
    }
  });

  it('aliased FWD streams (one connection): same frames whatever the chunking; mutated, a prefix or an error', () => {
    const rand = rng(17);
    const t0 = Date.now();
    const topics = Array.from({ length: 12 }, (_, i) => `t/${i}/${'x'.repeat(i)}`);
    const froms = ['a', 'bb', 'ccc', 'dü'];
    for (let iter = 0; iter < 300 && Date.now() - t0 < TIME_BUDGET_MS / 3; iter++) {
      const sink: FrameSink & { used: number } = {
        chunk: Buffer.alloc(1 << 16), view: null as unknown as DataView, aliases: new AliasOut(), used: 0,
        reserve(n) { return this.used + n > this.chunk.length ? -1 : this.used; },
        commit(n) { this.used += n; },
        push() { throw new Error('unexpected large frame'); },
      };
      (sink as { view: DataView }).view = viewOf(sink.chunk);
      const frames: FwdFrame[] = [];
      for (let k = 0; k < 1 + Math.floor(rand() * 30); k++) {
        const m = msg({ id: k + 1, qos: 0, topic: topics[Math.floor(rand() * topics.length)]!, from: froms[Math.floor(rand() * froms.length)]!, payload: Buffer.from([k]) });
        encodeFwdInto(sink, false, 0, rand() < 0.5, m, []);
        frames.push({ type: 'fwd', seq: 0, plain: false, msg: m, groups: [] });
      }
      const stream = Buffer.from(sink.chunk.subarray(0, sink.used));
      const chunked = feed(stream, rand, 1 + Math.floor(rand() * 100));
      assert.equal(chunked.error, null);
      assert.deepEqual(chunked.frames.map((f) => (f as FwdFrame).msg), frames.map((f) => f.msg));
      for (let k = 0; k < 1 + rand() * 4; k++) stream[Math.floor(rand() * stream.length)] = Math.floor(rand() * 256);
      feed(stream, rand, 32);
    }
  });
});
