import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { COUNTER_NAMES, Metrics } from '../../broker/src/metrics.js';

test('metrics counters: every name starts at 0, and the object keeps fast properties past 2^31', () => {
  v8.setFlagsFromString('--allow-natives-syntax');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
  const m = new Metrics();
  assert.deepEqual(Object.keys(m.counters), [...COUNTER_NAMES]);
  for (const n of COUNTER_NAMES) assert.equal(m.counters[n], 0);
  assert.equal(hasFastProperties(m.counters), true, 'dictionary-mode counters allocate per increment once a value is a double');
  m.counters['bytes.sent'] = 2 ** 31 - 10;
  for (let i = 0; i < 100; i++) m.counters['bytes.sent'] += 64;
  m.inc('bytes.received', 2 ** 40);
  assert.equal(m.counters['bytes.sent'], 2 ** 31 - 10 + 6400);
  assert.equal(hasFastProperties(m.counters), true);
  assert.equal(m.snapshot()['bytes.received'], 2 ** 40);
});
