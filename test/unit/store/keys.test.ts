/**
 * Store keys (store/keys.ts): the on-disk key formats. A client's delivery keys sort in
 * sequence order, a client's prefix never reaches a longer client id that shares it, and
 * delayed keys sort by due time then message id — in the store's own key order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareKeys, memoryStore } from '../../../broker/src/store/index.js';
import { T, clientPrefix, delayedDue, delayedKey, deliveryKey, deliverySeq, qos2InKey, splitClientKey } from '../../../broker/src/store/keys.js';

test('deliveryKey sorts in sequence order (the order a restart rebuilds the queue in)', () => {
  const seqs = [1, 2, 9, 10, 35, 36, 37, 1295, 1296, 99_999, 2 ** 40, Number.MAX_SAFE_INTEGER];
  const keys = seqs.map((s) => deliveryKey('c', s));
  const shuffled = [...keys].reverse().sort(compareKeys);
  assert.deepEqual(shuffled, keys);
  for (const s of seqs) assert.equal(deliverySeq(splitClientKey(deliveryKey('c', s)).suffix), s);
});

test('a store scan returns a client\'s deliveries in sequence order', () => {
  const store = memoryStore();
  for (const s of [100, 3, 40, 7]) store.put(T.sessmsg, deliveryKey('c', s), s);
  assert.deepEqual([...store.scan(T.sessmsg, clientPrefix('c'))].map(([, v]) => v), [3, 7, 40, 100]);
});

test('clientPrefix isolates clients whose ids share a prefix (a vs ab)', () => {
  const store = memoryStore();
  for (const id of ['a', 'ab', 'a b', 'a/']) {
    store.put(T.sessmsg, deliveryKey(id, 1), id);
    store.put(T.qos2in, qos2InKey(id, 7), 1);
  }
  assert.deepEqual([...store.scan(T.sessmsg, clientPrefix('a'))].map(([, v]) => v), ['a']);
  store.delPrefix(T.sessmsg, clientPrefix('a'));
  store.delPrefix(T.qos2in, clientPrefix('a'));
  assert.deepEqual([...store.scan(T.sessmsg)].map(([, v]) => v).sort(), ['a b', 'a/', 'ab']);
  assert.deepEqual([...store.scan(T.qos2in)].map(([k]) => splitClientKey(k).clientId).sort(), ['a b', 'a/', 'ab']);
});

test('splitClientKey returns the client id and suffix of per-client keys', () => {
  assert.deepEqual(splitClientKey(qos2InKey('dev/1', 65535)), { clientId: 'dev/1', suffix: '65535' });
  assert.equal(splitClientKey(deliveryKey('x', 36)).clientId, 'x');
});

test('delayedKey orders by due time, then message id; delayedDue reads the due time back', () => {
  const entries: Array<[number, number]> = [[2_000, 5], [1_000, 9], [1_000, 10], [10_000, 1], [1_000, 2], [1_700_000_000_000, 3]];
  const keys = entries.map(([due, id]) => delayedKey(due, id)).sort(compareKeys);
  const back = keys.map((k) => [delayedDue(k), Number(k.slice(k.indexOf(':') + 1))]);
  assert.deepEqual(back, [[1_000, 2], [1_000, 9], [1_000, 10], [2_000, 5], [10_000, 1], [1_700_000_000_000, 3]]);
});
