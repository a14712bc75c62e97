/** CoAP messages (coap-packet underneath): what the gateway reads from them, and what it refuses, fuzzed. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'coap-packet';
import { blockBuf, blockOf, decode, encode, unknownCritical, uriPath, uriQuery, uintBuf, uintOf, type CoapMessage } from '../../../broker/src/gateway/coap/message.js';
import { Blockwise, sliceBody } from '../../../broker/src/gateway/coap/blockwise.js';

const req = (options: Array<{ name: string | number; value: Buffer }>, payload = Buffer.alloc(0)): CoapMessage =>
  ({ type: 'con', code: '0.02', messageId: 1, token: Buffer.from([1]), options, payload });

describe('CoAP message', () => {
  it('round-trips through encode and decode', () => {
    const m: CoapMessage = { type: 'non', code: '2.05', messageId: 0xbeef, token: Buffer.from('tok'), options: [{ name: 'Observe', value: uintBuf(7) }], payload: Buffer.from('x') };
    const d = decode(encode(m));
    assert.ok(d.ok);
    assert.equal(d.msg.type, 'non');
    assert.equal(d.msg.code, '2.05');
    assert.equal(d.msg.messageId, 0xbeef);
    assert.equal(uintOf(d.msg.options[0]!.value), 7);
  });

  it('reads Uri-Path and Uri-Query with EMQX\'s short names expanded (c, t, u, p, q, r)', () => {
    const m = req([{ name: 'Uri-Path', value: Buffer.from('ps') }, { name: 'Uri-Path', value: Buffer.from('a b') },
      ...['c=dev', 't=123', 'u=al', 'p=pw', 'q=1', 'r=true', 'clientid=ignored', 'flag'].map((q) => ({ name: 'Uri-Query', value: Buffer.from(q) }))]);
    assert.deepEqual(uriPath(m), ['ps', 'a b']);
    assert.deepEqual([...uriQuery(m)], [['clientid', 'dev'], ['token', '123'], ['username', 'al'], ['password', 'pw'], ['qos', '1'], ['retain', 'true'], ['flag', '']]);
  });

  it('Block options: number, more flag and size; SZX 7 is refused', () => {
    for (const b of [{ num: 0, more: true, size: 16 }, { num: 5, more: false, size: 1024 }, { num: 4095, more: true, size: 256 }]) {
      assert.deepEqual(blockOf(req([{ name: 'Block1', value: blockBuf(b) }]), 'Block1'), b);
    }
    assert.equal(blockOf(req([{ name: 'Block2', value: Buffer.from([0x0f]) }]), 'Block2'), 'bad');
    assert.equal(blockOf(req([]), 'Block2'), null);
  });

  it('unknown critical options are found (odd numbers, named ones the gateway does not implement); elective ones pass', () => {
    assert.equal(unknownCritical(req([{ name: 9, value: Buffer.alloc(0) }])), 9);
    assert.equal(unknownCritical(req([{ name: 'OSCORE', value: Buffer.alloc(0) }])), 'OSCORE');
    assert.equal(unknownCritical(req([{ name: 292, value: Buffer.from([1]) }, { name: 'Uri-Path', value: Buffer.from('ps') }])), null);
  });

  it('refuses what RFC 7252 calls a format error; only a version-1 CON is marked for Reset', () => {
    const cases: Array<[Buffer, boolean]> = [
      [Buffer.from([0x40]), false],
      [Buffer.from([0x80, 0x01, 0, 1]), false], // version 2
      [Buffer.from([0x49, 0x01, 0, 1]), true], // token length 9
      [Buffer.from([0x40, 0x01, 0, 2, 0xff]), true], // payload marker, no payload
      [Buffer.from([0x50, 0x01, 0, 3, 0xf0]), false], // NON, option delta 15
    ];
    for (const [buf, con] of cases) {
      const d = decode(buf);
      assert.equal(d.ok, false, buf.toString('hex'));
      if (!d.ok) assert.equal(d.con, con, buf.toString('hex'));
    }
  });

  it('fuzz: decode never throws on random or mutated datagrams', () => {
    const valid = generate({ code: 'GET', messageId: 1, token: Buffer.from([1, 2]), options: [{ name: 'Uri-Path', value: Buffer.from('ps') }, { name: 'Observe', value: Buffer.alloc(0) }], payload: Buffer.from('abc') });
    let seed = 12345;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    for (let i = 0; i < 20000; i++) {
      const b = i % 2 === 0 ? Buffer.from(valid) : Buffer.alloc(rnd(64));
      for (let k = 0; k < 1 + rnd(4); k++) if (b.length > 0) b[rnd(b.length)] = rnd(256);
      const cut = i % 3 === 0 ? b.subarray(0, rnd(b.length + 1)) : b;
      const d = decode(cut);
      if (d.ok) { uriPath(d.msg); uriQuery(d.msg); blockOf(d.msg, 'Block1'); blockOf(d.msg, 'Block2'); unknownCritical(d.msg); }
    }
  });
});

describe('block-wise transfer', () => {
  it('Block1 assembles in order, answers a repeated block again, refuses gaps (4.08) and bodies above max_body_size (4.13)', () => {
    const bw = new Blockwise(100, 1000);
    assert.equal(bw.block1('k', { num: 0, more: true, size: 32 }, Buffer.alloc(32, 'a'), 0).kind, 'continue');
    assert.equal(bw.block1('k', { num: 0, more: true, size: 32 }, Buffer.alloc(32, 'a'), 0).kind, 'continue'); // restart
    assert.equal(bw.block1('k', { num: 1, more: true, size: 32 }, Buffer.alloc(32, 'b'), 0).kind, 'continue');
    assert.equal(bw.block1('k', { num: 1, more: true, size: 32 }, Buffer.alloc(32, 'b'), 0).kind, 'continue'); // repeat
    const done = bw.block1('k', { num: 2, more: false, size: 32 }, Buffer.from('c'), 0);
    assert.ok(done.kind === 'complete');
    assert.equal(done.body.toString(), 'a'.repeat(32) + 'b'.repeat(32) + 'c');
    assert.deepEqual(bw.block1('g', { num: 3, more: true, size: 32 }, Buffer.alloc(32), 0), { kind: 'error', code: '4.08', message: 'block 3 out of order' });
    for (let n = 0; n < 3; n++) bw.block1('big', { num: n, more: true, size: 32 }, Buffer.alloc(32), 0);
    const over = bw.block1('big', { num: 3, more: true, size: 32 }, Buffer.alloc(32), 0);
    assert.equal(over.kind === 'error' && over.code, '4.13');
  });

  it('Block2 slices a kept body; past the end is null; kept bodies expire after exchange_lifetime', () => {
    assert.deepEqual(sliceBody(Buffer.from('abcdefghij'), 1, 4), { payload: Buffer.from('efgh'), block: { num: 1, more: true, size: 4 } });
    assert.deepEqual(sliceBody(Buffer.from('abcdefghij'), 2, 4)?.block, { num: 2, more: false, size: 4 });
    assert.equal(sliceBody(Buffer.from('abcdefghij'), 3, 4), null);
    const bw = new Blockwise(100, 1000);
    bw.keep('t', Buffer.from('hello world'), 0);
    assert.equal(bw.slice('t', 1, 16), null);
    assert.equal(bw.slice('t', 0, 16)?.payload.toString(), 'hello world');
    bw.expire(2000);
    assert.equal(bw.slice('t', 0, 16), null);
  });
});
