/**
 * SummarySet (broker/src/cluster/summary-set.ts): the bit-sliced index of many nodes' summaries
 * answers exactly as the RemoteSummaries one by one, through snapshots, deltas, resizes and removals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalSummary, RemoteSummary, TopicProbe, RouteSummaryError } from '../../../broker/src/cluster/route-summary.js';
import { SummarySet } from '../../../broker/src/cluster/summary-set.js';
import { seeded } from '../router/helpers.js';

function matchOneByOne(remotes: Map<string, RemoteSummary>, probe: TopicProbe): string[] {
  return [...remotes].filter(([, r]) => r.matches(probe)).map(([n]) => n).sort();
}

test('same answers as the single summaries, for 70 nodes (3 words per position) of mixed sizes', () => {
  const rnd = seeded(42);
  const set = new SummarySet();
  const locals = new Map<string, LocalSummary>();
  const remotes = new Map<string, RemoteSummary>();
  for (let j = 0; j < 70; j++) {
    // small summaries so that plenty of false positives show up and must agree too
    const l = new LocalSummary({ bitsPerEntry: 4, initialBits: j % 3 === 0 ? 4096 : 1024 });
    const n = 50 + Math.floor(rnd() * 300);
    for (let i = 0; i < n; i++) l.add(rnd() < 0.8 ? `d/${Math.floor(rnd() * 5000)}/c` : `d/${Math.floor(rnd() * 5000)}/#`);
    const snap = l.snapshot();
    locals.set(`n${j}`, l);
    remotes.set(`n${j}`, RemoteSummary.fromSnapshot(snap));
    set.setSnapshot(`n${j}`, snap);
  }
  assert.equal(set.size, 70);
  const probe = new TopicProbe();
  const check = (label: string): void => {
    let positives = 0;
    for (let t = 0; t < 2000; t++) {
      const topic = t % 2 ? `d/${t}/c` : `d/${t}/x/y`;
      probe.set(topic);
      const out: string[] = [];
      const count = set.match(probe, out);
      assert.equal(count, out.length);
      assert.deepEqual(out.sort(), matchOneByOne(remotes, probe), `${label}: ${topic}`);
      positives += out.length;
    }
    assert.ok(positives > 100, `${label}: the comparison saw positives (${positives})`);
  };
  check('snapshots');
  // deltas, and a resize (new epoch, new m: the node moves to another group)
  for (const [name, l] of locals) {
    for (let i = 0; i < 20; i++) {
      const r = l.add(`e/${name}/${i}`);
      if (r.kind === 'resized') {
        const snap = l.snapshot();
        set.setSnapshot(name, snap);
        remotes.set(name, RemoteSummary.fromSnapshot(snap));
      }
    }
    const d = l.takeDelta();
    if (d !== null) {
      assert.equal(set.applyDelta(name, d), true);
      assert.equal(remotes.get(name)!.applyDelta(d), true);
    }
  }
  check('deltas and resizes');
  for (let j = 0; j < 70; j += 2) {
    assert.equal(set.remove(`n${j}`), true);
    remotes.delete(`n${j}`);
  }
  assert.equal(set.remove('n0'), false);
  assert.equal(set.size, 35);
  check('after removals');
  // a freed slot is reused by a newcomer, whose column starts clean
  const l = new LocalSummary();
  l.add('fresh/topic');
  const snap = l.snapshot();
  set.setSnapshot('new', snap);
  remotes.set('new', RemoteSummary.fromSnapshot(snap));
  check('a newcomer in a freed slot');
  const out: string[] = [];
  set.match(probe.set('fresh/topic'), out);
  assert.ok(out.includes('new'));
});

test('deltas of an unknown node or another epoch are refused; malformed ones throw', () => {
  const set = new SummarySet();
  const l = new LocalSummary({ initialBits: 4096 });
  l.add('a/b');
  set.setSnapshot('n1', l.snapshot());
  assert.equal(set.epochOf('n1'), 1);
  assert.equal(set.epochOf('n2'), -1);
  l.add('a/c');
  const d = l.takeDelta()!;
  assert.equal(set.applyDelta('n2', d), false);
  const other = new LocalSummary({ epoch: 9 });
  other.add('z');
  other.snapshot();
  other.add('y');
  assert.equal(set.applyDelta('n1', other.takeDelta()!), false);
  assert.equal(set.applyDelta('n1', d), true);
  assert.throws(() => set.applyDelta('n1', Buffer.from([1, 2, 3, 4, 5])), RouteSummaryError);
  assert.throws(() => set.setSnapshot('n3', Buffer.alloc(8)), RouteSummaryError);
  assert.equal(set.size, 1);
});
