/**
 * Route summaries (broker/src/cluster/route-summary.ts): literal prefixes, no false negatives
 * against the reference matcher, the false-positive rate against theory, local removal, resize,
 * snapshot and delta round trips, and malformed input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LocalSummary, RemoteSummary, TopicProbe, RouteSummaryError, literalPrefix, summaryMatch, encodeDelta, decodeDelta,
} from '../../../broker/src/cluster/route-summary.js';
import { topicMatches, validTopicFilter, validTopicName } from '../../../broker/src/router/index.js';
import { seeded } from '../router/helpers.js';

test('literalPrefix: the levels before the first wildcard and what may follow them', () => {
  assert.deepEqual(literalPrefix('dev/7/cmd'), { prefix: 'dev/7/cmd', tail: 'exact' });
  assert.deepEqual(literalPrefix('dev/7/#'), { prefix: 'dev/7', tail: 'hash' });
  assert.deepEqual(literalPrefix('dev/7/+/temp'), { prefix: 'dev/7', tail: 'more' });
  assert.deepEqual(literalPrefix('dev/+/x/#'), { prefix: 'dev', tail: 'more' });
  assert.deepEqual(literalPrefix('/+'), { prefix: '', tail: 'more' });
  assert.deepEqual(literalPrefix('a//b'), { prefix: 'a//b', tail: 'exact' });
  assert.deepEqual(literalPrefix('$SYS/#'), { prefix: '$SYS', tail: 'hash' });
  assert.deepEqual(literalPrefix('$exclusive/a/+'), { prefix: 'a', tail: 'more' });
  for (const explicit of ['#', '+', '+/a', '+/+/#', '$share/g/a/b', '$queue/a/#', '$exclusive/#']) {
    assert.equal(literalPrefix(explicit), null, explicit);
  }
});

test('the tail keeps a/b/+ from matching a/b, and a/b from matching a/b/c', () => {
  const l = new LocalSummary();
  l.add('a/b/+');
  l.add('x/y');
  const r = RemoteSummary.fromSnapshot(l.snapshot());
  assert.equal(summaryMatch('a/b/c', r), true);
  assert.equal(summaryMatch('a/b/c/d', r), true, 'more does not count levels: a known false positive');
  assert.equal(summaryMatch('a/b', r), false);
  assert.equal(summaryMatch('x/y', r), true);
  assert.equal(summaryMatch('x/y/z', r), false);
  assert.equal(summaryMatch('x', r), false);
});

const LEVELS = ['a', 'b', '', '$SYS', 'c', 'dev', '7', 'ü', '𝄞'];

function randomTopic(rnd: () => number): string {
  const n = 1 + Math.floor(rnd() * 5);
  const ls: string[] = [];
  for (let i = 0; i < n; i++) ls.push(LEVELS[Math.floor(rnd() * LEVELS.length)]!);
  const t = ls.join('/');
  return t === '' ? 'a' : t;
}

function randomFilter(rnd: () => number): string {
  const n = 1 + Math.floor(rnd() * 5);
  const ls: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (i === n - 1 && r < 0.2) ls.push('#');
    else if (r < 0.35) ls.push('+');
    else ls.push(LEVELS[Math.floor(rnd() * LEVELS.length)]!);
  }
  const f = ls.join('/');
  return f === '' ? 'a' : f;
}

test('no false negatives: every topic a summarised filter matches tests positive (property, with removals and deltas)', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rnd = seeded(seed);
    // a tiny filter so that it resizes and runs full of collisions
    const l = new LocalSummary({ bitsPerEntry: 4, initialBits: 8 });
    const live = new Map<string, number>();
    let remote = RemoteSummary.fromSnapshot(l.snapshot());
    for (let step = 0; step < 400; step++) {
      const f = randomFilter(rnd);
      assert.ok(validTopicFilter(f, 10), f);
      if (rnd() < 0.3 && live.size > 0) {
        const victim = [...live.keys()][Math.floor(rnd() * live.size)]!;
        assert.equal(l.remove(victim), true);
        const c = live.get(victim)! - 1;
        if (c === 0) live.delete(victim); else live.set(victim, c);
      } else {
        const r = l.add(f);
        if (r.kind === 'explicit') { assert.equal(literalPrefix(f), null); continue; }
        live.set(f, (live.get(f) ?? 0) + 1);
        if (r.kind === 'resized') remote = RemoteSummary.fromSnapshot(l.snapshot());
      }
      if (rnd() < 0.2) {
        const d = l.takeDelta();
        if (d !== null) assert.equal(remote.applyDelta(d), true);
      }
      if (l.needsSnapshot(0.1)) remote = RemoteSummary.fromSnapshot(l.snapshot());
      // the other nodes see the last snapshot plus the deltas: flush before checking
      const d = l.takeDelta();
      if (d !== null) assert.equal(remote.applyDelta(d), true);
      if (step % 20 !== 19) continue;
      const probe = new TopicProbe();
      for (let t = 0; t < 40; t++) {
        const topic = randomTopic(rnd);
        assert.ok(validTopicName(topic, 10), topic);
        const want = [...live.keys()].some((f) => topicMatches(f, topic));
        if (want) assert.equal(remote.matches(probe.set(topic)), true, `seed ${seed} step ${step}: ${topic} matches ${[...live.keys()].filter((f) => topicMatches(f, topic))}`);
      }
    }
  }
});

test('no false negatives at scale, and the measured false-positive rate is near fill^k', () => {
  const l = new LocalSummary({ bitsPerEntry: 10 });
  const N = 50_000;
  for (let i = 0; i < N; i++) l.add(i % 5 === 0 ? `dev/${i}/#` : `dev/${i}/cmd`);
  const s = l.stats();
  assert.equal(s.n, N);
  assert.ok(s.m >= N * 10, `m ${s.m} ≥ n · bitsPerEntry`);
  const r = RemoteSummary.fromSnapshot(l.snapshot());
  const probe = new TopicProbe();
  for (let i = 0; i < N; i++) {
    assert.equal(r.matches(probe.set(i % 5 === 0 ? `dev/${i}/x/y` : `dev/${i}/cmd`)), true, `dev/${i}`);
  }
  // absent keys one at a time: the per-key rate is fill^k
  let fp = 0;
  const TRIES = 200_000;
  for (let i = 0; i < TRIES; i++) if (r.mayContain(`other/${i}`, 'exact')) fp++;
  const measured = fp / TRIES;
  assert.ok(measured <= s.fpRate * 1.5 + 5 / TRIES && measured >= s.fpRate * 0.5 - 5 / TRIES,
    `measured ${measured} against fill^k ${s.fpRate} (fill ${s.fill}, m ${s.m}, k ${s.k})`);
  // with bitsPerEntry 10 and k 7 theory says ≤ ~1 % per key
  assert.ok(s.fpRate < 0.01, `fpRate ${s.fpRate}`);
});

test('remove works locally: the bits go once the last filter of a key goes, stale ones go with the next snapshot', () => {
  const l = new LocalSummary();
  l.add('a/b/+');
  l.add('a/b/+/c'); // same key (a/b, more)
  assert.equal(l.stats().n, 1);
  assert.equal(l.stats().filters, 2);
  const r1 = RemoteSummary.fromSnapshot(l.snapshot());
  assert.equal(l.remove('a/b/+'), true);
  assert.equal(l.has('a/b/+/c'), true);
  assert.equal(l.stats().bitsSet, l.stats().k);
  assert.equal(l.remove('a/b/+/c'), true);
  assert.equal(l.remove('a/b/+/c'), false, 'already gone');
  assert.equal(l.remove('#'), false, 'explicit');
  const s = l.stats();
  assert.equal(s.n, 0);
  assert.equal(s.bitsSet, 0);
  assert.equal(s.stale, s.k, 'the positions the others still see');
  assert.equal(l.needsSnapshot(), true);
  assert.equal(summaryMatch('a/b/x', r1), true, 'until the next snapshot: a false positive, never a loss');
  const r2 = RemoteSummary.fromSnapshot(l.snapshot());
  assert.equal(summaryMatch('a/b/x', r2), false);
  assert.equal(l.stats().stale, 0);
  // re-adding a key whose positions are still published costs no delta
  const l2 = new LocalSummary();
  l2.add('q');
  l2.snapshot();
  l2.remove('q');
  const again = l2.add('q');
  assert.deepEqual(again, { kind: 'set', positions: [] });
  assert.equal(l2.stats().stale, 0);
  assert.equal(l2.takeDelta(), null);
});

test('resize doubles m, bumps the epoch, keeps every key, and voids deltas of the old epoch', () => {
  const l = new LocalSummary({ bitsPerEntry: 10, initialBits: 1024 });
  const old = RemoteSummary.fromSnapshot(l.snapshot());
  let resized = 0;
  for (let i = 0; i < 1000; i++) {
    const r = l.add(`s/${i}/#`);
    if (r.kind === 'resized') resized++;
  }
  const s = l.stats();
  assert.ok(resized >= 3, `resized ${resized} times`);
  assert.equal(s.epoch, 1 + resized);
  assert.ok(s.m >= 10_000 && s.m <= 16384, `m ${s.m}`);
  assert.equal(l.takeDelta(), null, 'no delta before the snapshot of the new epoch');
  assert.equal(l.needsSnapshot(), true);
  const r = RemoteSummary.fromSnapshot(l.snapshot());
  assert.equal(r.epoch, s.epoch);
  assert.equal(r.m, s.m);
  assert.equal(r.n, 1000);
  for (let i = 0; i < 1000; i++) assert.equal(summaryMatch(`s/${i}/x`, r), true, `s/${i}`);
  l.add('late/one');
  const d = l.takeDelta()!;
  assert.equal(old.applyDelta(d), false, 'a delta of another epoch is refused');
  assert.equal(r.applyDelta(d), true);
  assert.equal(summaryMatch('late/one', r), true);
});

test('snapshot and delta round trip', () => {
  const l = new LocalSummary({ initialBits: 4096 }); // room for 60 keys at 20 bits each: no resize
  for (let i = 0; i < 50; i++) l.add(`d/${i}`);
  const snap = l.snapshot();
  const r = RemoteSummary.fromSnapshot(snap);
  assert.equal(r.bitsSet(), l.stats().bitsSet);
  assert.equal(snap.length, l.stats().snapshotBytes);
  for (let i = 50; i < 60; i++) l.add(`d/${i}`);
  const d = l.takeDelta()!;
  const decoded = decodeDelta(d);
  assert.equal(decoded.epoch, 1);
  assert.ok(decoded.positions.length > 0 && decoded.positions.length <= 10 * l.k);
  assert.equal(r.applyDelta(d), true);
  assert.equal(r.bitsSet(), l.stats().bitsSet);
  assert.equal(l.takeDelta(), null, 'nothing new');
  // encodeDelta sorts and dedupes; the round trip gives the set back
  const e = encodeDelta(123456, [7, 3, 1 << 30, 3, 0]);
  assert.deepEqual([...decodeDelta(e).positions], [0, 3, 7, 1 << 30]);
  assert.equal(decodeDelta(e).epoch, 123456);
  // the snapshot equals the other nodes' view: snapshot + deltas = a fresh snapshot's bits
  assert.deepEqual(RemoteSummary.fromSnapshot(l.snapshot()).bitsSet(), r.bitsSet());
});

test('malformed snapshots and deltas are rejected with ROUTE_SUMMARY_MALFORMED', () => {
  const l = new LocalSummary();
  l.add('a');
  const snap = l.snapshot();
  const bad = (buf: Buffer, re: RegExp, f: (b: Buffer) => unknown): void => {
    assert.throws(() => f(buf), (e: unknown) => e instanceof RouteSummaryError && e.code === 'ROUTE_SUMMARY_MALFORMED' && re.test(e.message));
  };
  const fromSnap = (b: Buffer): unknown => RemoteSummary.fromSnapshot(b);
  bad(snap.subarray(0, 10), /shorter than its 16-byte header/, fromSnap);
  bad(snap.subarray(0, snap.length - 1), /needs 144 bytes, got 143/, fromSnap);
  bad(Buffer.concat([Buffer.from('XS'), snap.subarray(2)]), /does not start with "PS"/, fromSnap);
  const v2 = Buffer.from(snap); v2[2] = 2;
  bad(v2, /format 2/, fromSnap);
  const k0 = Buffer.from(snap); k0[3] = 0;
  bad(k0, /k 0/, fromSnap);
  const m3 = Buffer.from(snap); m3.writeUInt32LE(1000, 8);
  bad(m3, /not a power of two/, fromSnap);

  const r = RemoteSummary.fromSnapshot(snap);
  const apply = (b: Buffer): unknown => r.applyDelta(b);
  const d = encodeDelta(1, [5, 900]);
  bad(d.subarray(0, d.length - 1), /truncated/, apply);
  bad(Buffer.concat([d, Buffer.from([0])]), /1 bytes after the last delta position/, apply);
  bad(Buffer.from([0x50, 0x53, 1, 1, 0]), /does not start with "PD"/, apply);
  bad(Buffer.from([0x50, 0x44, 1, 1, 2, 5, 0]), /not strictly ascending/, apply);
  bad(Buffer.from([0x50, 0x44, 1, 1, 200, 1]), /claims 200 positions/, apply);
  bad(Buffer.from([0x50, 0x44, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0]), /longer than 5 bytes/, apply);
  bad(encodeDelta(1, [1024]), /position 1024 is not below m=1024/, apply);
  assert.equal(r.bitsSet(), l.stats().bitsSet, 'a rejected delta changed nothing');

  assert.throws(() => new LocalSummary({ k: 0 }), (e: unknown) => e instanceof RouteSummaryError && e.code === 'ROUTE_SUMMARY_OPTIONS');
  assert.throws(() => new LocalSummary({ bitsPerEntry: 0.5 }), /bitsPerEntry 0.5/);
});

test('one probe serves every node: TopicProbe is reusable and grows with the levels', () => {
  const nodes: RemoteSummary[] = [];
  for (let n = 0; n < 5; n++) {
    const l = new LocalSummary();
    l.add(`dev/${n}/cmd`);
    nodes.push(RemoteSummary.fromSnapshot(l.snapshot()));
  }
  const probe = new TopicProbe();
  for (let n = 0; n < 5; n++) {
    probe.set(`dev/${n}/cmd`);
    assert.deepEqual(nodes.map((r) => r.matches(probe)), nodes.map((_, i) => i === n));
  }
  probe.set(Array.from({ length: 40 }, (_, i) => `l${i}`).join('/'));
  assert.equal(probe.count, 80, '2 keys per level');
  assert.equal(nodes.some((r) => r.matches(probe)), false);
});
