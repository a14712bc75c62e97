/**
 * Property test: for random (seeded, bounded) sets of filters and topics, SubscriberIndex.match and
 * RetainedIndex.match agree with the reference matcher topicMatches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubscriberIndex, RetainedIndex, topicMatches, validTopicFilter, validTopicName } from '../../../broker/src/router/index.js';
import { sub, msg, seeded } from './helpers.js';

const LEVELS = ['a', 'b', '', '$SYS', '$x', 'c'];

function randomTopic(rnd: () => number): string {
  const n = 1 + Math.floor(rnd() * 4);
  const ls: string[] = [];
  for (let i = 0; i < n; i++) ls.push(LEVELS[Math.floor(rnd() * LEVELS.length)]!);
  const t = ls.join('/');
  return t === '' ? 'a' : t;
}

function randomFilter(rnd: () => number): string {
  const n = 1 + Math.floor(rnd() * 4);
  const ls: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (i === n - 1 && r < 0.2) ls.push('#');
    else if (r < 0.45) ls.push('+');
    else ls.push(LEVELS[Math.floor(rnd() * LEVELS.length)]!);
  }
  const f = ls.join('/');
  return f === '' ? '+' : f;
}

test('SubscriberIndex.match agrees with topicMatches', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rnd = seeded(seed);
    const r = new SubscriberIndex({ random: rnd, levelCacheSize: 16 });
    const filters = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const f = randomFilter(rnd);
      assert.ok(validTopicFilter(f, 10), f);
      filters.add(f);
      r.add(sub(`c${i % 7}`, f));
    }
    // Remove a few to exercise pruning under load.
    for (const s of r.subscriptionsOf('c3')) r.remove('c3', s.filter);
    const subs = ['c0', 'c1', 'c2', 'c4', 'c5', 'c6'].flatMap((c) => r.subscriptionsOf(c));
    for (let k = 0; k < 200; k++) {
      const t = randomTopic(rnd);
      assert.ok(validTopicName(t, 10), t);
      const got: string[] = [];
      r.match(t, 'pub', (s) => got.push(`${s.clientId}|${s.filter}`));
      const want = subs.filter((s) => topicMatches(s.topicFilter, t)).map((s) => `${s.clientId}|${s.filter}`);
      assert.deepEqual(got.sort(), want.sort(), `seed ${seed} topic ${JSON.stringify(t)}`);
      // hasSysSubscriptions = false promises that no $SYS topic matches anything
      if (t.startsWith('$SYS') && !r.hasSysSubscriptions) assert.deepEqual(got, [], `seed ${seed}: ${t} matched without $SYS filters`);
    }
    assert.equal(r.hasSysSubscriptions, subs.some((s) => s.topicFilter === '$SYS' || s.topicFilter.startsWith('$SYS/')), `seed ${seed}`);
    for (const c of ['c0', 'c1', 'c2', 'c4', 'c5', 'c6']) r.removeClient(c);
    assert.equal(r.size, 0);
    assert.equal(r.hasSysSubscriptions, false);
    assert.equal(r.stats().trieNodes, 0, `seed ${seed}: trie pruned`);
  }
});

test('RetainedIndex.match agrees with topicMatches', () => {
  for (let seed = 100; seed < 120; seed++) {
    const rnd = seeded(seed);
    const ri = new RetainedIndex();
    const stored = new Set<string>();
    for (let i = 0; i < 80; i++) {
      const t = randomTopic(rnd);
      ri.set(msg(t, 'v'));
      stored.add(t);
    }
    for (let i = 0; i < 10; i++) {
      const t = randomTopic(rnd);
      ri.delete(t);
      stored.delete(t);
    }
    assert.equal(ri.size, stored.size);
    for (let k = 0; k < 150; k++) {
      const f = randomFilter(rnd);
      const got: string[] = [];
      ri.match(f, 0, (m) => got.push(m.topic));
      const want = [...stored].filter((t) => topicMatches(f, t));
      assert.deepEqual(got.sort(), want.sort(), `seed ${seed} filter ${JSON.stringify(f)}`);
    }
    for (const t of stored) ri.delete(t);
    assert.equal(ri.nodeCount, 0);
  }
});
