// Seeded fuzzing: random bytes and mutated valid packets, fed in random chunks. The parser must
// never throw out of execute(); it may only emit packets and then at most one CodecError, and no
// packet after the error. Iterations are bounded in count and time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodecError, MqttParser, type Packet } from '../../../../broker/src/mqtt/codec/index.js';
import { corpus, generate, ours, rng, theirs, type Version } from './corpus.js';

const TIME_BUDGET_MS = 1500;

function feed(bytes: Buffer, v: Version, rand: () => number): { packets: Packet[]; errors: CodecError[] } {
  const packets: Packet[] = [];
  const errors: CodecError[] = [];
  const parser = new MqttParser({
    packet: (p) => {
      assert.equal(errors.length, 0, 'packet emitted after an error');
      packets.push(p);
    },
    error: (e) => {
      assert.ok(e instanceof CodecError);
      assert.equal(typeof e.reasonCode, 'number');
      errors.push(e);
    },
  }, { maxPacketSize: 1 + Math.floor(rand() * 100_000) });
  parser.protocolVersion = v;
  let i = 0;
  while (i < bytes.length) {
    const n = 1 + Math.floor(rand() * 64);
    parser.execute(bytes.subarray(i, i + n)); // a throw here fails the test
    i += n;
  }
  assert.ok(errors.length <= 1, 'at most one error');
  return { packets, errors };
}

describe('codec fuzz (seeded)', () => {
  it('random bytes never make execute() throw', () => {
    const rand = rng(42);
    const t0 = Date.now();
    let errors = 0;
    for (let iter = 0; iter < 3000 && Date.now() - t0 < TIME_BUDGET_MS / 3; iter++) {
      const len = Math.floor(rand() * 200);
      const b = Buffer.allocUnsafe(len);
      for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256);
      errors += feed(b, ([3, 4, 5] as const)[iter % 3]!, rand).errors.length;
    }
    assert.ok(errors > 0, 'random bytes should mostly be rejected');
  });

  it('mutated valid packet streams never make execute() throw', () => {
    const rand = rng(7);
    const streams = ([3, 4, 5] as const).map((v) => ({
      v,
      pkts: corpus(v).filter((p) => (p as { cmd: string }).cmd !== 'publish' || (p as { topic: string }).topic !== 'big').map((p) => generate(p, v)),
    }));
    const t0 = Date.now();
    let emitted = 0;
    let rejected = 0;
    for (let iter = 0; iter < 5000 && Date.now() - t0 < TIME_BUDGET_MS / 2; iter++) {
      const { v, pkts } = streams[iter % 3]!;
      const chosen: Buffer[] = [];
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) chosen.push(pkts[Math.floor(rand() * pkts.length)]!);
      const b = Buffer.from(Buffer.concat(chosen));
      const mutations = 1 + Math.floor(rand() * 3);
      for (let m = 0; m < mutations; m++) {
        const at = Math.floor(rand() * b.length);
        const kind = rand();
        if (kind < 0.5) b[at] = Math.floor(rand() * 256);
        else if (kind < 0.8) b[at] = b[at]! ^ (1 << Math.floor(rand() * 8));
        else b[at] = [0, 0x7f, 0x80, 0xff][Math.floor(rand() * 4)]!;
      }
      const cut = rand() < 0.2 ? b.subarray(0, Math.floor(rand() * b.length)) : b;
      const r = feed(cut, v, rand);
      emitted += r.packets.length;
      rejected += r.errors.length;
    }
    assert.ok(emitted > 0 && rejected > 0, `emitted ${emitted}, rejected ${rejected}`);
  });

  it('differential: every mutated packet we accept, mqtt-packet decodes to the same object', () => {
    const rand = rng(99);
    const perVersion = ([3, 4, 5] as const).map((v) => ({
      v,
      pkts: corpus(v).filter((p) => (p as { cmd: string }).cmd !== 'connect' && (p as { topic?: string }).topic !== 'big').map((p) => generate(p, v)),
    }));
    const t0 = Date.now();
    let compared = 0;
    for (let iter = 0; iter < 6000 && Date.now() - t0 < TIME_BUDGET_MS / 2; iter++) {
      const { v, pkts } = perVersion[iter % 3]!;
      const b = Buffer.from(pkts[Math.floor(rand() * pkts.length)]!);
      b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      const mine = ours([b], v);
      if (mine.packets.length === 0) continue;
      // Known, intended difference: an MQTT 5 AUTH with no body means reason code 0 (§3.15.2.1);
      // mqtt-packet rejects it.
      if (b[0] === 0xf0 && b[1] === 0) continue;
      compared++;
      assert.deepEqual(mine.packets[0], theirs(b, v).packets[0], `bytes ${b.toString('hex')}`);
    }
    assert.ok(compared > 100, `only ${compared} comparisons`);
  });
});
