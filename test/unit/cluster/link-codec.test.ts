// The cluster link's frame codec: every frame type round-trips, message fields survive exactly,
// and each kind of malformed input is refused with a LinkProtocolError and its code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FRAME, LINK_PROTO, LinkDecoder, LinkProtocolError, encodeFrame, encodeFwd, encodeFwdInto, fromWire, toWire, viewOf,
  type FrameSink, type FwdFrame, type LinkFrame,
} from '../../../broker/src/cluster/link-codec.js';
import { ALIAS_COUNT, AliasOut } from '../../../broker/src/cluster/link-strings.js';
import { msg } from './helpers.js';

const decodeAll = (buf: Buffer, maxFrame?: number): LinkFrame[] => new LinkDecoder({ maxFrame }).push(buf);
const one = (f: LinkFrame): LinkFrame => {
  const out = decodeAll(encodeFrame(f));
  assert.equal(out.length, 1);
  return out[0]!;
};

function frame(type: number, body: Buffer | number[]): Buffer {
  const b = Buffer.from(body as Buffer);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + b.length, 0);
  head[4] = type;
  return Buffer.concat([head, b]);
}

function refuses(buf: Buffer, code: string, re?: RegExp, maxFrame?: number): void {
  assert.throws(() => decodeAll(buf, maxFrame), (e: unknown) => {
    assert.ok(e instanceof LinkProtocolError, `not a LinkProtocolError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

describe('link codec: round trips', () => {
  it('HELLO, ACK, CALL, REPLY, PING, PONG', () => {
    const frames: LinkFrame[] = [
      { type: 'hello', cluster: 'prod', node: 'n1', incarnation: 1_700_000_000_000, proto: LINK_PROTO, aliases: true },
      { type: 'hello', cluster: 'prod', node: 'n1', incarnation: 1, proto: LINK_PROTO, aliases: false },
      { type: 'hello', cluster: 'prod', node: 'n1', incarnation: 1, proto: LINK_PROTO, aliases: true, ackDelayMs: 10 },
      { type: 'ack', seqs: [] },
      { type: 'ack', seqs: [1, 2, 0xffffffff] },
      { type: 'call', id: 7, method: 'clients.get', args: { id: 'x', bin: Buffer.from([0, 255]) } },
      { type: 'reply', id: 7, ok: true, value: [1, 'two', null] },
      { type: 'reply', id: 8, ok: false, error: 'no such client' },
      { type: 'ping' },
      { type: 'pong' },
    ];
    for (const f of frames) assert.deepEqual(one(f), f);
  });

  it('FWD keeps every message field, Buffers in properties and user properties', () => {
    const m = msg({
      id: 2 ** 53 - 1, topic: 'sensors/ü/€', payload: Buffer.from([0, 1, 2, 255]), qos: 2, retain: true, from: 'dev-ß',
      timestamp: 1_700_000_000_999, expiresAt: 1_700_000_060_000,
      properties: {
        payloadFormatIndicator: true, messageExpiryInterval: 60, contentType: 'application/json', responseTopic: 'r/1',
        correlationData: Buffer.from('corr\x00id'),
        userProperties: { a: '1', multi: ['x', 'y'], $b64: 'not-a-buffer', $$x: 'dollars' },
      },
    });
    const f = one({ type: 'fwd', seq: 42, plain: true, msg: m, groups: [['g1', 'a/+'], ['$queue', '#']] });
    assert.deepEqual(f, { type: 'fwd', seq: 42, plain: true, msg: m, groups: [['g1', 'a/+'], ['$queue', '#']] });
    if (f.type !== 'fwd') throw new Error('unreachable');
    assert.ok(Buffer.isBuffer(f.msg.properties!.correlationData));
    assert.equal(f.msg.properties!.userProperties!['$b64'], 'not-a-buffer');
  });

  it('FWD with an empty payload, null properties, no groups, QoS 0 seq 0', () => {
    const m = msg({ payload: Buffer.alloc(0), qos: 0, properties: null, from: '' });
    assert.deepEqual(one({ type: 'fwd', seq: 0, plain: false, msg: m, groups: [] }), { type: 'fwd', seq: 0, plain: false, msg: m, groups: [] });
  });

  it('FWD with a 1 MiB payload', () => {
    const payload = Buffer.alloc(1024 * 1024, 7);
    const f = one({ type: 'fwd', seq: 1, plain: true, msg: msg({ payload }), groups: [] });
    assert.ok(f.type === 'fwd' && f.msg.payload.equals(payload));
  });

  it('toWire/fromWire: Buffers, nested, $-keys escaped', () => {
    const v = { $b64: 'x', nested: [{ b: Buffer.from('hi') }, 'str', 3], $$: 1 };
    assert.deepEqual(fromWire(JSON.parse(JSON.stringify(toWire(v)))), v);
  });
});

describe('link codec: refusals', () => {
  it('a frame longer than maxFrame, before its body arrives', () => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(1025, 0);
    refuses(head, 'FRAME_TOO_LARGE', /1025 bytes exceeds the maximum of 1024/, 1024);
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    refuses(huge, 'FRAME_TOO_LARGE'); // default 64 MiB
  });

  it('an empty frame and an unknown type', () => {
    refuses(Buffer.alloc(4), 'EMPTY_FRAME');
    refuses(frame(0, []), 'UNKNOWN_TYPE', /type 0/);
    refuses(frame(99, [1, 2]), 'UNKNOWN_TYPE', /type 99/);
  });

  it('truncated and overlong bodies', () => {
    const good = encodeFwd(1, false, msg(), [['g', 'f']]);
    const body = good.subarray(5);
    for (const cut of [0, 3, 4, 5, 13, 20, body.length - 1]) refuses(frame(FRAME.FWD, body.subarray(0, cut)), 'TRUNCATED');
    refuses(frame(FRAME.FWD, Buffer.concat([body, Buffer.from([0])])), 'OVERLONG');
    refuses(frame(FRAME.ACK, [0, 0, 0, 2, 0, 0, 0, 1]), 'TRUNCATED');
    refuses(frame(FRAME.ACK, [0, 0, 0, 1, 0, 0, 0, 1, 9]), 'OVERLONG');
    refuses(frame(FRAME.PING, [1]), 'OVERLONG');
    refuses(frame(FRAME.CALL, [0, 0]), 'TRUNCATED');
  });

  it('invalid field values', () => {
    const body = () => Buffer.from(encodeFwd(1, false, msg(), []).subarray(5));
    const qos = body(); qos[13] = 3;
    refuses(frame(FRAME.FWD, qos), 'BAD_FIELD', /qos 3/);
    const retain = body(); retain[14] = 2;
    refuses(frame(FRAME.FWD, retain), 'BAD_FIELD', /retain/);
    const flags = body(); flags[4] = 0x80;
    refuses(frame(FRAME.FWD, flags), 'BAD_FIELD', /flag/);
    const id = body(); id.writeDoubleBE(1.5, 5);
    refuses(frame(FRAME.FWD, id), 'BAD_FIELD', /message id/);
    const noSeq = body(); noSeq.writeUInt32BE(0, 0);
    refuses(frame(FRAME.FWD, noSeq), 'BAD_FIELD', /without a seq/);
  });

  it('bad JSON and JSON of the wrong shape', () => {
    refuses(frame(FRAME.HELLO, Buffer.from('{nope')), 'BAD_FIELD', /invalid JSON/);
    refuses(frame(FRAME.HELLO, Buffer.from('[1]')), 'BAD_FIELD');
    refuses(frame(FRAME.HELLO, Buffer.from(`{"cluster":"c","node":"n","incarnation":1,"proto":${LINK_PROTO + 1}}`)), 'BAD_PROTO');
    // A HELLO from a node that predates aliases has no such key: it decodes, aliases off.
    assert.equal((decodeAll(frame(FRAME.HELLO, Buffer.from('{"cluster":"c","node":"n","incarnation":1,"proto":1}')))[0] as { aliases: boolean }).aliases, false);
    for (const d of ['-1', '1.5', '1001', '"10"']) {
      refuses(frame(FRAME.HELLO, Buffer.from(`{"cluster":"c","node":"n","incarnation":1,"proto":1,"ackDelayMs":${d}}`)), 'BAD_FIELD', /ackDelayMs/);
    }
    refuses(frame(FRAME.CALL, Buffer.concat([Buffer.alloc(4), Buffer.from('{"args":1}')])), 'BAD_FIELD');
    refuses(frame(FRAME.REPLY, Buffer.concat([Buffer.alloc(4), Buffer.from('{"ok":false}')])), 'BAD_FIELD');
    refuses(frame(FRAME.CALL, Buffer.concat([Buffer.alloc(4), Buffer.from('{"method":"m","args":{"$b64":3}}')])), 'BAD_FIELD', /\$b64/);
    refuses(frame(FRAME.CALL, Buffer.concat([Buffer.alloc(4), Buffer.from('{"method":"m","args":{"$x":1}}')])), 'BAD_FIELD', /unescaped/);
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    refuses(frame(FRAME.CALL, Buffer.concat([Buffer.alloc(4), Buffer.from(`{"method":"m","args":${deep}}`)])), 'BAD_FIELD');
  });

  it('properties of the wrong shape', () => {
    const withProps = (json: string): Buffer => {
      const m = msg({ properties: { contentType: 'x' } });
      const b = Buffer.from(encodeFwd(1, false, m, []).subarray(5));
      const at = b.indexOf('{"contentType":"x"}');
      const p = Buffer.from(json);
      const out = Buffer.concat([b.subarray(0, at - 4), Buffer.alloc(4), p, b.subarray(at + 19)]);
      out.writeUInt32BE(p.length, at - 4);
      return frame(FRAME.FWD, out);
    };
    assert.equal(decodeAll(withProps('{"contentType":"y"}')).length, 1);
    refuses(withProps('[]'), 'BAD_FIELD', /not an object/);
    refuses(withProps('{"correlationData":"str"}'), 'BAD_FIELD', /correlationData/);
    refuses(withProps('{"userProperties":{"a":1}}'), 'BAD_FIELD', /user property/);
  });

  it('a dead decoder keeps refusing', () => {
    const d = new LinkDecoder();
    assert.throws(() => d.push(Buffer.alloc(4)), LinkProtocolError);
    assert.throws(() => d.push(encodeFrame({ type: 'ping' })), LinkProtocolError);
  });

  it('encoding refuses a topic over 65535 bytes', () => {
    assert.throws(() => encodeFwd(1, false, msg({ topic: 'x'.repeat(70_000) }), []), (e: unknown) => e instanceof LinkProtocolError && e.code === 'ENCODE');
  });
});

/** A sink like the link's writer: frames go into growing output, strings aliased as on one connection. */
class Sink implements FrameSink {
  chunk = Buffer.alloc(1 << 20);
  view = viewOf(this.chunk);
  used = 0;
  readonly aliases = new AliasOut();
  reserve(n: number): number { return this.used + n > this.chunk.length ? -1 : this.used; }
  commit(n: number): void { this.used += n; }
  push(): void { throw new Error('frame too large for the test sink'); }
  take(): Buffer { const b = Buffer.from(this.chunk.subarray(0, this.used)); this.used = 0; return b; }
}

describe('link codec: topic and client id aliases', () => {
  it('the first frame defines, later frames name the alias; messages decode the same', () => {
    const sink = new Sink();
    const msgs = [msg({ topic: 't/1', from: 'c1', qos: 0 }), msg({ topic: 't/1', from: 'c1', id: 2, qos: 0 }), msg({ topic: 't/ü', from: 'c1', id: 3, qos: 0 })];
    const sizes: number[] = [];
    for (const m of msgs) { const before = sink.used; encodeFwdInto(sink, false, 0, true, m, []); sizes.push(sink.used - before); }
    assert.ok(sizes[1]! < sizes[0]!, `an aliased frame is shorter (${sizes.join(', ')})`);
    const frames = new LinkDecoder().push(sink.take()) as FwdFrame[];
    assert.deepEqual(frames.map((f) => f.msg), msgs);
  });

  it('kept (QoS 1/2) frames carry their strings in full and decode on a fresh connection', () => {
    const sink = new Sink();
    encodeFwdInto(sink, false, 0, true, msg({ topic: 'k/1', from: 'c', qos: 0 }), []);
    const kept = encodeFwdInto(sink, true, 5, true, msg({ topic: 'k/1', from: 'c', qos: 1 }), [])!;
    const [f] = new LinkDecoder().push(Buffer.from(kept)) as FwdFrame[];
    assert.equal(f!.msg.topic, 'k/1');
    assert.equal(f!.msg.from, 'c');
  });

  it('more strings than alias numbers: the oldest are redefined, every message still right', () => {
    const sink = new Sink();
    const d = new LinkDecoder();
    const n = ALIAS_COUNT + 500;
    let got = 0;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < n; i++) {
        encodeFwdInto(sink, false, 0, true, msg({ topic: `t/${i}`, from: 'c', qos: 0 }), []);
        if (sink.used > 900_000) for (const f of d.push(sink.take()) as FwdFrame[]) assert.equal(f.msg.topic, `t/${got++ % n}`);
      }
    }
    for (const f of d.push(sink.take()) as FwdFrame[]) assert.equal(f.msg.topic, `t/${got++ % n}`);
    assert.equal(got, 2 * n);
  });

  it('a reset table (new connection) defines again; an alias never defined is refused', () => {
    const sink = new Sink();
    encodeFwdInto(sink, false, 0, true, msg({ topic: 'a', from: 'c', qos: 0 }), []);
    sink.take();
    encodeFwdInto(sink, false, 0, true, msg({ topic: 'a', from: 'c', qos: 0 }), []);
    refuses(sink.take(), 'BAD_FIELD', /alias 0 was never defined/);
    sink.aliases.reset();
    encodeFwdInto(sink, false, 0, true, msg({ topic: 'a', from: 'c', qos: 0 }), []);
    assert.equal((new LinkDecoder().push(sink.take())[0] as FwdFrame).msg.topic, 'a');
  });

  it('a string too long for its field takes no alias number', () => {
    const sink = new Sink();
    assert.throws(() => encodeFwdInto(sink, false, 0, true, msg({ topic: 'y'.repeat(70_000), from: 'c', qos: 0 }), []), LinkProtocolError);
    encodeFwdInto(sink, false, 0, true, msg({ topic: 'ok', from: 'c', qos: 0 }), []);
    assert.equal((new LinkDecoder().push(sink.take())[0] as FwdFrame).msg.topic, 'ok');
  });
});
