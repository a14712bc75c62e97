import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntMap } from '../../../broker/src/util/int-map.js';

/** A small deterministic PRNG so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

test('IntMap behaves like Map under random set/delete/get, including wrap-around packet ids', () => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    const r = rng(seed);
    const m = new IntMap<number>();
    const ref = new Map<number, number>();
    let next = 65500;
    for (let step = 0; step < 20_000; step++) {
      const op = r();
      if (op < 0.45) {
        // mostly sequential ids (as packet ids are given out), sometimes random ones (collisions)
        const key = r() < 0.8 ? next : 1 + Math.floor(r() * 65535);
        next = next === 65535 ? 1 : next + 1;
        m.set(key, step); ref.set(key, step);
      } else if (op < 0.85 && ref.size > 0) {
        const keys = [...ref.keys()];
        const key = r() < 0.7 ? keys[0]! : keys[Math.floor(r() * keys.length)]!;
        assert.equal(m.delete(key), ref.delete(key));
      } else {
        const key = 1 + Math.floor(r() * 65535);
        assert.equal(m.get(key), ref.get(key));
        assert.equal(m.has(key), ref.has(key));
        assert.equal(m.delete(key), ref.delete(key));
      }
      assert.equal(m.size, ref.size);
      if (step % 500 === 0) assert.deepEqual(m.entries(), [...ref.entries()], `seed ${seed} step ${step}`);
    }
    assert.deepEqual(m.entries(), [...ref.entries()]);
    for (const [k, v] of ref) assert.equal(m.get(k), v);
  }
});

test('IntMap keeps insertion order when a key is set again, and iterates a snapshot', () => {
  const m = new IntMap<string>();
  m.set(5, 'a').set(3, 'b').set(9, 'c');
  m.set(5, 'A');
  assert.deepEqual(m.entries(), [[5, 'A'], [3, 'b'], [9, 'c']]);
  const seen: number[] = [];
  for (const [k] of m) { seen.push(k); m.delete(k); }
  assert.deepEqual(seen, [5, 3, 9]);
  assert.equal(m.size, 0);
  assert.deepEqual(m.values(), []);
});

test('IntMap grows past its initial capacity and clear() empties it', () => {
  const m = new IntMap<number>(4);
  for (let i = 1; i <= 1000; i++) m.set(i * 7, i);
  assert.equal(m.size, 1000);
  for (let i = 1; i <= 1000; i++) assert.equal(m.get(i * 7), i);
  m.clear();
  assert.equal(m.size, 0);
  assert.equal(m.get(7), undefined);
  m.set(7, 1);
  assert.deepEqual(m.entries(), [[7, 1]]);
});

test('IntMap rejects keys it cannot hold', () => {
  const m = new IntMap<number>();
  for (const bad of [0, -1, 1.5, 2 ** 31, NaN]) assert.throws(() => m.set(bad, 1), RangeError);
});
