/**
 * BoundedDispatch: a bounded hand-off from the publish path to a later event-loop turn. Order,
 * batches per turn, overflow counting, and handler failures (thrown or rejected) that are
 * reported while the queue goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedDispatch } from '../../../broker/src/util/bounded-dispatch.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Calls `fn` once per event-loop turn (check phase) until stopped. */
function everyTurn(fn: () => void): () => void {
  let on = true;
  const loop = (): void => { if (!on) return; fn(); setImmediate(loop); };
  setImmediate(loop);
  return () => { on = false; };
}

test('items are handled in order, on a later turn', async () => {
  const seen: number[] = [];
  const d = new BoundedDispatch<number>((n) => { seen.push(n); }, { maxQueue: 100 });
  for (let i = 0; i < 10; i++) assert.equal(d.push(i), true);
  assert.deepEqual(seen, []);
  await turn();
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(d.size, 0);
  assert.equal(d.handled, 10);
});

test('at most `batch` items per turn', async () => {
  const perTurn: number[] = [0];
  const stop = everyTurn(() => perTurn.push(0));
  const d = new BoundedDispatch<number>(() => { perTurn[perTurn.length - 1]++; }, { maxQueue: 100, batch: 3 });
  for (let i = 0; i < 10; i++) d.push(i);
  while (d.size > 0) await turn();
  stop();
  assert.equal(perTurn.reduce((a, b) => a + b, 0), 10);
  assert.ok(Math.max(...perTurn) <= 3, `per turn: ${perTurn.join(',')}`);
  assert.ok(perTurn.filter((n) => n > 0).length >= 4);
});

test('at most `batch` items per turn also when the handler pushes more work', async () => {
  const perTurn: number[] = [0];
  const stop = everyTurn(() => perTurn.push(0));
  let d: BoundedDispatch<number> | null = null;
  d = new BoundedDispatch<number>((n) => {
    perTurn[perTurn.length - 1]++;
    if (n < 40) d!.push(n + 10);
  }, { maxQueue: 1000, batch: 2 });
  for (let i = 0; i < 4; i++) d.push(i);
  while (d.size > 0) await turn();
  stop();
  assert.ok(Math.max(...perTurn) <= 2, `per turn: ${perTurn.join(',')}`);
});

test('past maxQueue new items are dropped and counted; room comes back once handled', async () => {
  const seen: number[] = [];
  const d = new BoundedDispatch<number>((n) => { seen.push(n); }, { maxQueue: 3 });
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => d.push(n)), [true, true, true, false, false]);
  assert.equal(d.dropped, 2);
  await turn();
  assert.equal(d.push(6), true);
  await turn();
  assert.deepEqual(seen, [1, 2, 3, 6]);
  assert.throws(() => new BoundedDispatch(() => {}, { maxQueue: 0 }), RangeError);
});

test('a throwing handler is reported and the next items go on', async () => {
  const errors: unknown[] = [];
  const seen: number[] = [];
  const d = new BoundedDispatch<number>((n) => { if (n === 2) throw new Error('two'); seen.push(n); }, { maxQueue: 10, onError: (e) => errors.push(e) });
  for (const n of [1, 2, 3]) d.push(n);
  await turn();
  assert.deepEqual(seen, [1, 3]);
  assert.equal((errors[0] as Error).message, 'two');
});

test('a rejected handler promise is reported', async () => {
  const errors: unknown[] = [];
  const d = new BoundedDispatch<number>(async (n) => { if (n === 1) throw new Error('async'); }, { maxQueue: 10, onError: (e) => errors.push(e) });
  d.push(1); d.push(2);
  await turn();
  await turn();
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).message, 'async');
  assert.equal(d.handled, 2);
});
