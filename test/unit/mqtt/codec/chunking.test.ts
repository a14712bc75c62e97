// The parser is resumable: however the byte stream is cut into chunks, the same packets come out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { corpus, generate, ours, rng, theirs, type Version } from './corpus.js';

function stream(v: Version): { bytes: Buffer; expected: object[] } {
  const bufs = corpus(v).filter((p) => (p as { cmd: string }).cmd !== 'connect').map((p) => generate(p, v));
  const bytes = Buffer.concat(bufs);
  return { bytes, expected: theirs(bytes, v).packets };
}

describe('codec chunking', () => {
  for (const v of [3, 4, 5] as Version[]) {
    it(`v${v}: many packets in one chunk`, () => {
      const { bytes, expected } = stream(v);
      const got = ours([bytes], v);
      assert.deepEqual(got.errors, []);
      assert.ok(expected.length > 10);
      assert.deepEqual(got.packets, expected);
    });

    it(`v${v}: one byte at a time`, () => {
      const { bytes, expected } = stream(v);
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
      const got = ours(chunks, v);
      assert.deepEqual(got.errors, []);
      assert.deepEqual(got.packets, expected);
    });

    it(`v${v}: random chunkings (seeded)`, () => {
      const { bytes, expected } = stream(v);
      const rand = rng(1000 + v);
      for (let round = 0; round < 40; round++) {
        const chunks: Buffer[] = [];
        let i = 0;
        const maxChunk = 1 + Math.floor(rand() * 300);
        while (i < bytes.length) {
          const n = 1 + Math.floor(rand() * maxChunk);
          chunks.push(Buffer.from(bytes.subarray(i, i + n)));
          i += n;
        }
        const got = ours(chunks, v);
        assert.deepEqual(got.errors, [], `round ${round}`);
        assert.deepEqual(got.packets, expected, `round ${round}`);
      }
    });
  }

  it('a payload split across chunks is not aliased to the caller\'s later chunks', () => {
    const pkt = generate({ cmd: 'publish', topic: 't', payload: Buffer.from('abcdef'), qos: 0, retain: false, dup: false }, 4);
    const a = Buffer.from(pkt.subarray(0, 6));
    const b = Buffer.from(pkt.subarray(6));
    const got = ours([a, b], 4);
    a.fill(0);
    b.fill(0);
    assert.equal((got.packets[0] as { payload: Buffer }).payload.toString(), 'abcdef');
  });

  it('remaining length split across chunks (multi-byte varint)', () => {
    const pkt = generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(20_000, 1), qos: 0, retain: false, dup: false }, 4);
    const got = ours([pkt.subarray(0, 2), pkt.subarray(2, 3), pkt.subarray(3)], 4);
    assert.deepEqual(got.errors, []);
    assert.equal((got.packets[0] as { payload: Buffer }).payload.length, 20_000);
  });
});
