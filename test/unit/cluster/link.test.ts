// ClusterLink over real sockets on 127.0.0.1: forwarding at each QoS, acks, resends after a lost
// connection (delivered exactly once), calls, refusals (wrong cluster, garbage) and back-pressure.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { FRAME, LinkDecoder, encodeAck, encodeFwd, encodeHello, type FwdFrame, type LinkFrame } from '../../../broker/src/cluster/link-codec.js';
import { ACK_BATCH } from '../../../broker/src/cluster/link-writer.js';
import { ClusterLink } from '../../../broker/src/cluster/link.js';
import { Node, msg, pair, quiet, recordingLog, waitFor } from './helpers.js';

const started: Node[] = [];
async function up(...nodes: Node[]): Promise<void> {
  started.push(...nodes);
}
after(async () => {
  for (const n of started) await n.link.stop();
});

/** A hand-driven peer named 'b': answers HELLO, then hands every frame to onFrame (with its socket). */
async function rawPeer(onFrame: (f: LinkFrame, s: Socket) => void): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    const d = new LinkDecoder();
    s.on('error', () => {});
    s.on('data', (chunk) => {
      for (const f of d.push(chunk)) {
        if (f.type === 'hello') s.write(encodeHello('c1', 'b', 1));
        else onFrame(f, s);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, sockets };
}
function closeRaw(r: { server: Server; sockets: Socket[] }): void {
  for (const s of r.sockets) s.destroy();
  r.server.close();
}

describe('cluster link: forwarding', () => {
  it('QoS 0, 1 and 2 arrive with every field; ACKs clear pending', async () => {
    const [a, b] = await pair();
    await up(a, b);
    const props = { contentType: 'text/plain', correlationData: Buffer.from([1, 2, 3]), userProperties: { k: 'v', list: ['1', '2'] }, messageExpiryInterval: 30 };
    const sent = [
      msg({ id: 10, qos: 0, topic: 't/0' }),
      msg({ id: 11, qos: 1, topic: 't/1', properties: props, retain: true, expiresAt: Date.now() + 30_000 }),
      msg({ id: 12, qos: 2, topic: 't/2', payload: Buffer.alloc(0) }),
      msg({ id: 13, qos: 1, topic: 't/big', payload: Buffer.alloc(1024 * 1024, 0xab) }),
    ];
    a.link.forward('b', sent[0]!, true, []);
    a.link.forward('b', sent[1]!, false, [['g1', 't/+']]);
    a.link.forward('b', sent[2]!, true, [['g1', 't/+'], ['$queue', 't/#']]);
    a.link.forward('b', sent[3]!, true, []);
    await waitFor(() => b.delivered.length === 4, '4 deliveries');
    assert.deepEqual(b.delivered.map((d) => d.msg), sent);
    assert.deepEqual(b.delivered.map((d) => [d.from, d.plain, d.groups]), [
      ['a', true, []], ['a', false, [['g1', 't/+']]], ['a', true, [['g1', 't/+'], ['$queue', 't/#']]], ['a', true, []],
    ]);
    await waitFor(() => a.link.stats()['b']!.pending === 0, 'acks');
    const s = a.link.stats()['b']!;
    assert.equal(s.state, 'up');
    assert.equal(s.forwarded, 4);
    assert.equal(s.acked, 3);
    assert.equal(b.link.stats()['a']!.received, 4);
  });

  it('QoS 1 and 2 wait while the peer is down and are sent once it comes up; QoS 0 is dropped', async () => {
    const a = new Node('a');
    const b = new Node('b');
    await up(a, b);
    await a.link.start();
    await b.link.start();
    const port = b.link.port;
    await b.link.stop();
    a.link.setPeer('b', `127.0.0.1:${port}`);
    for (let i = 1; i <= 5; i++) a.link.forward('b', msg({ id: i, qos: i % 2 === 0 ? 2 : 1 }), true, []);
    a.link.forward('b', msg({ id: 6, qos: 0 }), true, []);
    assert.equal(a.link.stats()['b']!.pending, 5);
    assert.equal(a.link.stats()['b']!.dropped, 1);
    const b2 = new Node('b', { bind: `127.0.0.1:${port}` });
    await up(b2);
    await b2.link.start();
    await waitFor(() => b2.delivered.length === 5 && a.link.stats()['b']!.pending === 0, 'resent after b came up');
    assert.deepEqual(b2.delivered.map((d) => d.msg.id), [1, 2, 3, 4, 5]);
  });

  it('a connection lost before the ACKs went out: resent, delivered exactly once', async () => {
    const [a, b] = await pair();
    await up(a, b);
    const N = 400;
    let cut = false;
    b.onDeliver = () => {
      // Kill every connection right after the 150th delivery, before this turn's ACK batch is written.
      if (!cut && b.delivered.length === 150) { cut = true; b.link.disconnect(); }
    };
    for (let i = 1; i <= N; i++) a.link.forward('b', msg({ id: 1000 + i, qos: 1 }), true, []);
    await waitFor(() => a.link.stats()['b']!.pending === 0 && a.link.peerState('b') === 'up', 'all acked after reconnect');
    const ids = b.delivered.map((d) => d.msg.id);
    assert.equal(ids.length, N, 'each message delivered once');
    assert.equal(new Set(ids).size, N);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'in order');
    const sb = b.link.stats()['a']!;
    assert.ok(sb.duplicates >= 1, `resends of delivered messages were suppressed (duplicates=${sb.duplicates})`);
    assert.equal(a.link.stats()['b']!.reconnects, 1);
    assert.deepEqual(a.states, [['b', true], ['b', false], ['b', true]]);
  });

  it('an unacked message is resent on a live link after resendAfterMs', async () => {
    const seen: number[] = [];
    const raw = await rawPeer((f, s) => {
      if (f.type !== 'fwd') return;
      seen.push(f.seq);
      if (seen.filter((x) => x === f.seq).length === 2) s.write(encodeAck([f.seq])); // ack only the resend
    });
    const a = new Node('a', { resendAfterMs: 100 });
    await up(a);
    await a.link.start();
    a.link.setPeer('b', `127.0.0.1:${raw.port}`);
    await waitFor(() => a.link.peerState('b') === 'up', 'up');
    a.link.forward('b', msg({ id: 1, qos: 1 }), true, []);
    await waitFor(() => a.link.stats()['b']!.acked === 1, 'acked after one resend');
    assert.deepEqual(seen, [1, 1]);
    closeRaw(raw);
  });

  it('removePeer drops the pending messages (counted) and rejects calls in flight', async () => {
    const [a, b] = await pair();
    await up(a, b);
    const slow = assert.rejects(a.link.call('b', 'slow', null, 10_000), /went down/);
    await b.link.stop();
    await waitFor(() => a.link.peerState('b') === 'down', 'down');
    await slow;
    for (let i = 1; i <= 3; i++) a.link.forward('b', msg({ id: i, qos: 1 }), true, []);
    assert.equal(a.link.stats()['b']!.pending, 3);
    a.link.removePeer('b');
    const s = a.link.stats()['b']!;
    assert.equal(s.pending, 0);
    assert.equal(s.dropped, 3);
    assert.equal(s.state, 'down');
    a.link.forward('b', msg({ id: 4 }), true, []);
    assert.equal(a.link.unknownPeerDrops, 1);
  });

  it('maxPending bounds the unacked QoS 1/2 messages; the excess is dropped and counted', async () => {
    const a = new Node('a', { maxPending: 3 });
    await up(a);
    await a.link.start();
    a.link.setPeer('b', '127.0.0.1:1'); // nobody there
    for (let i = 1; i <= 5; i++) a.link.forward('b', msg({ id: i, qos: 1 }), true, []);
    assert.equal(a.link.stats()['b']!.pending, 3);
    assert.equal(a.link.stats()['b']!.dropped, 2);
  });

  it('setPeer with a changed address reconnects to the new one', async () => {
    const [a, b] = await pair();
    const c = new Node('b');
    await up(a, b, c);
    await c.link.start();
    a.link.setPeer('b', b.addr); // idempotent
    a.link.setPeer('b', c.addr);
    await waitFor(() => a.link.peerState('b') === 'up' && a.link.stats()['b']!.reconnects === 1, 'reconnected');
    a.link.forward('b', msg({ id: 1 }), true, []);
    await waitFor(() => c.delivered.length === 1, 'delivered to the new address');
    assert.equal(b.delivered.length, 0);
  });
});

/** FWD frames' flags bytes in a raw stream (frame = u32 length | u8 type | u32 seq | u8 flags …). */
function fwdFlags(stream: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at + 5 <= stream.length;) {
    const len = stream.readUInt32BE(at);
    if (stream[at + 4] === FRAME.FWD) out.push(stream[at + 9]!);
    at += 4 + len;
  }
  return out;
}

describe('cluster link: string aliases follow the peer\'s HELLO', () => {
  for (const [answer, aliased] of [['with aliases: true', true], ['without the key (a node that predates aliases)', false]] as const) {
    it(`a peer whose HELLO answer is ${answer} gets the repeated topic ${aliased ? 'as an alias' : 'in full'}`, async () => {
      const bytes: Buffer[] = [];
      const server = createServer((sock) => {
        sock.on('error', () => {});
        let greeted = false;
        sock.on('data', (chunk) => {
          if (!greeted) {
            greeted = true;
            const hello = Buffer.from(JSON.stringify({ cluster: 'c1', node: 'b', incarnation: 1, proto: 1, ...(aliased ? { aliases: true } : {}) }));
            const head = Buffer.alloc(5);
            head.writeUInt32BE(1 + hello.length, 0);
            head[4] = FRAME.HELLO;
            sock.write(Buffer.concat([head, hello]));
            chunk = chunk.subarray(4 + chunk.readUInt32BE(0)); // the dialler's own HELLO
          }
          bytes.push(chunk);
        });
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const a = new Node('a');
      await a.link.start();
      await up(a);
      a.link.setPeer('b', `127.0.0.1:${(server.address() as { port: number }).port}`);
      await waitFor(() => a.link.peerState('b') === 'up', 'link up');
      a.link.forward('b', msg({ id: 1, qos: 0, topic: 'same/topic', from: 'dev-1' }), true, []);
      a.link.forward('b', msg({ id: 2, qos: 0, topic: 'same/topic', from: 'dev-1' }), true, []);
      await waitFor(() => fwdFlags(Buffer.concat(bytes)).length === 2, 'two FWD frames');
      const stream = Buffer.concat(bytes);
      const aliasBits = fwdFlags(stream).map((f) => f & 6);
      assert.deepEqual(aliasBits, aliased ? [6, 6] : [0, 0]);
      const frames = new LinkDecoder().push(stream) as FwdFrame[];
      assert.deepEqual(frames.map((f) => [f.msg.topic, f.msg.from]), [['same/topic', 'dev-1'], ['same/topic', 'dev-1']]);
      server.close();
      for (const c of [a.link]) c.removePeer('b');
    });
  }
});

describe('cluster link: ACK batching follows the dialler\'s HELLO', () => {
  /** Dials b as a hand-driven node 'a' with `hello` extras, sends `n` QoS 1 FWD frames, collects b's ACK frames with arrival times. */
  async function acksFor(extra: Record<string, unknown>, n: number): Promise<{ at: number[]; seqs: number[][]; sentAt: number }> {
    const b = new Node('b');
    await b.link.start();
    await up(b);
    const s = connect(b.link.port, '127.0.0.1');
    await once(s, 'connect');
    const hello = Buffer.from(JSON.stringify({ cluster: 'c1', node: 'a', incarnation: 1, proto: 1, aliases: false, ...extra }));
    const head = Buffer.alloc(5);
    head.writeUInt32BE(1 + hello.length, 0);
    head[4] = FRAME.HELLO;
    const out = { at: [] as number[], seqs: [] as number[][], sentAt: 0 };
    const d = new LinkDecoder();
    let greeted = false;
    s.on('data', (chunk) => {
      for (const f of d.push(chunk)) {
        if (f.type === 'hello') greeted = true;
        if (f.type === 'ack') { out.at.push(performance.now()); out.seqs.push(f.seqs); }
      }
    });
    s.write(Buffer.concat([head, hello]));
    await waitFor(() => greeted, 'HELLO answer');
    out.sentAt = performance.now();
    s.write(Buffer.concat(Array.from({ length: n }, (_, i) => encodeFwd(i + 1, true, msg({ id: 100 + i, qos: 1, topic: 't' }), []))));
    await waitFor(() => out.seqs.flat().length >= n, `${n} seqs acknowledged`, 5000);
    s.destroy();
    return out;
  }

  it('no ackDelayMs (an older node): the ACK comes within a few ms', async () => {
    const r = await acksFor({}, 3);
    assert.deepEqual(r.seqs.flat(), [1, 2, 3]);
    assert.ok(r.at[0]! - r.sentAt < 150, `ACK after ${(r.at[0]! - r.sentAt).toFixed(1)} ms`);
  });

  it('ackDelayMs 400: the ACKs wait for it and go out as one frame', async () => {
    const r = await acksFor({ ackDelayMs: 400 }, 5);
    assert.deepEqual(r.seqs, [[1, 2, 3, 4, 5]]);
    assert.ok(r.at[0]! - r.sentAt >= 350, `ACK after ${(r.at[0]! - r.sentAt).toFixed(1)} ms`);
  });

  it(`ackDelayMs 1000 with ${ACK_BATCH} messages: a full batch goes out at once`, async () => {
    const r = await acksFor({ ackDelayMs: 1000 }, ACK_BATCH);
    assert.equal(r.seqs.flat().length, ACK_BATCH);
    assert.ok(r.at.at(-1)! - r.sentAt < 800, `last ACK after ${(r.at.at(-1)! - r.sentAt).toFixed(1)} ms`);
  });

  it('an ackDelayMs out of range is a protocol error for that connection only', async () => {
    const log = recordingLog();
    const b = new Node('b', { log });
    await b.link.start();
    await up(b);
    const s = connect(b.link.port, '127.0.0.1');
    s.on('error', () => {});
    await once(s, 'connect');
    const hello = Buffer.from(JSON.stringify({ cluster: 'c1', node: 'a', incarnation: 1, proto: 1, ackDelayMs: 5000 }));
    const head = Buffer.alloc(5);
    head.writeUInt32BE(1 + hello.length, 0);
    head[4] = FRAME.HELLO;
    s.write(Buffer.concat([head, hello]));
    await once(s, 'close');
    await waitFor(() => log.warnings.some((w) => /ackDelayMs/.test(w)), 'a warning naming ackDelayMs');
  });
});

describe('cluster link: calls', () => {
  it('round trip, async handler, remote throw, timeout, unknown and down peers', async () => {
    const [a, b] = await pair();
    await up(a, b);
    assert.deepEqual(await a.link.call('b', 'echo', { x: [1, 'two'], bin: Buffer.from('hi') }), { x: [1, 'two'], bin: Buffer.from('hi') });
    assert.equal(await a.link.call('b', 'add', [2, 3]), 5);
    await assert.rejects(a.link.call('b', 'boom', null), /cluster call boom to b failed: kaboom/);
    await assert.rejects(a.link.call('b', 'nope', null), /failed: unknown method nope/);
    await assert.rejects(a.link.call('b', 'slow', null, 50), /no reply within 50 ms/);
    await assert.rejects(a.link.call('zz', 'echo', null), /zz: not a peer/);
    a.link.setPeer('d', '127.0.0.1:1');
    await assert.rejects(a.link.call('d', 'echo', null), /link is down/);
  });

  it('PING measures an RTT', async () => {
    const [a, b] = await pair({ pingIntervalMs: 20 });
    await up(a, b);
    await waitFor(() => a.link.stats()['b']!.rttMs > 0, 'rtt measured');
  });
});

describe('cluster link: refusals', () => {
  it('a node of another cluster is refused and logged; the link stays down', async () => {
    const log = recordingLog();
    const b = new Node('b', { log });
    const x = new Node('x', { cluster: 'other' });
    await up(b, x);
    await b.link.start();
    await x.link.start();
    x.link.setPeer('b', b.addr);
    await waitFor(() => b.link.unattributedProtocolErrors >= 1, 'refusal counted');
    assert.equal(x.link.peerState('b'), 'down');
    assert.ok(log.warnings.some((w) => w.includes('of cluster \\"other\\", this is \\"c1\\"')), log.warnings.join('\n'));
  });

  it('garbage bytes close that connection only; the link keeps serving', async () => {
    const [a, b] = await pair();
    await up(a, b);
    const raw = connect(b.link.port, '127.0.0.1');
    raw.on('error', () => {});
    await once(raw, 'connect');
    raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await once(raw, 'close');
    assert.equal(b.link.unattributedProtocolErrors, 1);
    // A valid HELLO followed by a malformed frame: counted against that node.
    const raw2 = connect(b.link.port, '127.0.0.1');
    raw2.on('error', () => {});
    await once(raw2, 'connect');
    raw2.write(Buffer.concat([encodeHello('c1', 'mallory', 1), Buffer.from([0, 0, 0, 2, 2, 0])]));
    await once(raw2, 'close');
    assert.equal(b.link.stats()['mallory']!.protocolErrors, 1);
    a.link.forward('b', msg({ id: 77 }), true, []);
    await waitFor(() => b.delivered.length === 1, 'still delivering');
    assert.equal(a.link.peerState('b'), 'up');
  });

  it('a frame over maxFrame is refused before its body arrives', async () => {
    const b = new Node('b', { maxFrame: 1024 });
    await up(b);
    await b.link.start();
    const raw = connect(b.link.port, '127.0.0.1');
    raw.on('error', () => {});
    await once(raw, 'connect');
    raw.write(Buffer.from([0, 0x10, 0, 0]));
    await once(raw, 'close');
    assert.equal(b.link.unattributedProtocolErrors, 1);
  });
});

describe('cluster link: back-pressure', () => {
  it('a peer that stops reading: QoS 0 beyond maxBufferBytes is dropped, memory stays bounded', async () => {
    const raw = await rawPeer(() => {});
    const a = new Node('a', { maxBufferBytes: 256 * 1024, pingIntervalMs: 60_000 });
    await up(a);
    await a.link.start();
    a.link.setPeer('b', `127.0.0.1:${raw.port}`);
    await waitFor(() => a.link.peerState('b') === 'up', 'up');
    for (const s of raw.sockets) s.pause(); // stops reading: the kernel buffers fill, then the socket's
    const payload = Buffer.alloc(4096, 1);
    let maxQueued = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 500; i++) a.link.forward('b', msg({ id: round * 500 + i, qos: 0, payload }), true, []);
      maxQueued = Math.max(maxQueued, a.link.stats()['b']!.queuedBytes);
      await new Promise((r) => setImmediate(r));
    }
    const s = a.link.stats()['b']!;
    assert.ok(s.dropped > 0, 'drops counted');
    assert.ok(maxQueued <= 256 * 1024 + 5000, `queued bytes bounded (max ${maxQueued})`);
    assert.equal(s.forwarded + s.dropped, 20_000);
    closeRaw(raw);
  });
});

describe('cluster link: options', () => {
  it('refuses a bad bind address and bad backoff', async () => {
    const l = new ClusterLink({ self: 'a', cluster: 'c1', incarnation: 1, bind: 'nonsense', tls: null, maxPending: 1, log: quiet }, { deliver() {}, call() {} });
    await assert.rejects(l.start(), /bad address/);
    assert.throws(() => new ClusterLink({ self: 'a', cluster: 'c1', incarnation: 1, bind: '127.0.0.1:0', tls: null, maxPending: 1, backoff: { minMs: 0, maxMs: 1 }, log: quiet }, { deliver() {}, call() {} }), /backoff/);
  });
});
