import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubscriberIndex, SHARED_STRATEGIES, type SharedStrategy } from '../../../broker/src/router/index.js';
import { sub, seeded } from './helpers.js';

const MEMBERS = ['m0', 'm1', 'm2', 'm3'];

function router(strategy: SharedStrategy, seed = 42): SubscriberIndex {
  const r = new SubscriberIndex({ strategy, random: seeded(seed) });
  for (const m of MEMBERS) r.add(sub(m, '$share/g/s/+'));
  return r;
}

function pick(r: SubscriberIndex, topic: string, publisher: string, eligible?: (c: string) => boolean): string | null {
  let got: string | null = null;
  let n = 0;
  r.match(topic, publisher, (s) => { got = s.clientId; n++; }, eligible);
  assert.ok(n <= 1, 'one member per group');
  return got;
}

function counts(r: SubscriberIndex, rounds: number, topicOf: (i: number) => string, pubOf: (i: number) => string): Map<string, number> {
  const c = new Map<string, number>();
  for (let i = 0; i < rounds; i++) {
    const m = pick(r, topicOf(i), pubOf(i))!;
    c.set(m, (c.get(m) ?? 0) + 1);
  }
  return c;
}

test('round_robin and round_robin_per_group rotate evenly', () => {
  for (const s of ['round_robin', 'round_robin_per_group'] as const) {
    const r = router(s);
    const seq = Array.from({ length: 8 }, () => pick(r, 's/x', 'p'));
    assert.deepEqual(seq, ['m0', 'm1', 'm2', 'm3', 'm0', 'm1', 'm2', 'm3'], s);
    const c = counts(r, 400, () => 's/x', () => 'p');
    for (const m of MEMBERS) assert.equal(c.get(m), 100, `${s} ${m}`);
  }
});

test('round_robin skips ineligible members and keeps rotating', () => {
  const r = router('round_robin');
  const down = (c: string) => c !== 'm1';
  const seq = Array.from({ length: 6 }, () => pick(r, 's/x', 'p', down));
  assert.deepEqual(seq, ['m0', 'm2', 'm3', 'm0', 'm2', 'm3']);
});

test('random and local spread over all members (seeded)', () => {
  for (const s of ['random', 'local'] as const) {
    const c = counts(router(s, 7), 4000, () => 's/x', () => 'p');
    for (const m of MEMBERS) {
      const n = c.get(m) ?? 0;
      assert.ok(n > 850 && n < 1150, `${s} ${m} got ${n} of 4000`);
    }
  }
});

test('sticky keeps its member while eligible, then moves and stays', () => {
  const r = router('sticky', 3);
  const first = pick(r, 's/a', 'p')!;
  for (let i = 0; i < 50; i++) assert.equal(pick(r, `s/${i}`, `p${i}`), first);
  const second = pick(r, 's/a', 'p', (c) => c !== first)!;
  assert.notEqual(second, first);
  for (let i = 0; i < 50; i++) assert.equal(pick(r, 's/a', 'p'), second, 'stays on the new member even when the old one is back');
  r.remove(second, '$share/g/s/+');
  const third = pick(r, 's/a', 'p')!;
  assert.notEqual(third, second);
  assert.equal(pick(r, 's/a', 'p'), third);
});

test('hash_clientid: one publisher always reaches the same member; many publishers spread', () => {
  const r = router('hash_clientid');
  for (let p = 0; p < 20; p++) {
    const first = pick(r, 's/a', `pub${p}`);
    for (let i = 0; i < 10; i++) assert.equal(pick(r, `s/${i}`, `pub${p}`), first);
  }
  const c = counts(r, 4000, (i) => `s/${i % 7}`, (i) => `pub-${i}`);
  for (const m of MEMBERS) assert.ok((c.get(m) ?? 0) > 700, `hash_clientid ${m} got ${c.get(m)}`);
});

test('hash_topic: one topic always reaches the same member; many topics spread', () => {
  const r = router('hash_topic');
  for (let t = 0; t < 20; t++) {
    const first = pick(r, `s/t${t}`, 'p0');
    for (let i = 0; i < 10; i++) assert.equal(pick(r, `s/t${t}`, `p${i}`), first);
  }
  const c = counts(r, 4000, (i) => `s/topic-${i}`, () => 'p');
  for (const m of MEMBERS) assert.ok((c.get(m) ?? 0) > 700, `hash_topic ${m} got ${c.get(m)}`);
});

test('hash strategies fall over to the next eligible member deterministically', () => {
  const r = router('hash_clientid');
  const home = pick(r, 's/a', 'pubX')!;
  const away = pick(r, 's/a', 'pubX', (c) => c !== home)!;
  assert.notEqual(away, home);
  assert.equal(pick(r, 's/a', 'pubX', (c) => c !== home), away);
  assert.equal(pick(r, 's/a', 'pubX'), home);
});

test('every strategy: members leaving and joining keep picks inside the group', () => {
  for (const s of SHARED_STRATEGIES) {
    const r = router(s);
    r.remove('m0', '$share/g/s/+');
    r.remove('m3', '$share/g/s/+');
    for (let i = 0; i < 40; i++) assert.ok(['m1', 'm2'].includes(pick(r, `s/${i}`, `p${i}`)!), s);
    r.add(sub('m9', '$share/g/s/+'));
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(pick(r, `s/${i}`, `p${i}`)!);
    if (s !== 'sticky') assert.deepEqual([...seen].sort(), ['m1', 'm2', 'm9'], s);
    r.removeClient('m1'); r.removeClient('m2'); r.removeClient('m9');
    assert.equal(pick(r, 's/x', 'p'), null, s);
    assert.equal(r.stats().groups, 0, s);
  }
});

test('No Local on a shared member never sends the publisher its own message', () => {
  const r = new SubscriberIndex({ strategy: 'round_robin' });
  r.add(sub('a', '$share/g/t', { noLocal: true }));
  r.add(sub('b', '$share/g/t'));
  for (let i = 0; i < 10; i++) assert.equal(pick(r, 't', 'a'), 'b');
});
