/** Alarms from samples: raised once, cleared into the history, forgotten on clear; CPU with hysteresis. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Alarms, type AlarmSample } from '../../../broker/src/alarms.js';

const calm: AlarmSample = { sysmem: 0.3, load: 0.1, listeners: [{ id: 'tcp:default', current: 1, max: Infinity, rejected: 0 }], resources: [] };
const names = (a: Alarms, activated?: boolean) => a.list(activated).map((x) => x.name).sort();

test('a calm sample raises nothing', () => {
  const a = new Alarms('n1');
  a.check(calm, 1000);
  assert.deepEqual(a.list(), []);
});

test('memory, connections and a down connector raise alarms that clear into the history', () => {
  const a = new Alarms('n1');
  a.check({
    sysmem: 0.75, load: 0.1,
    listeners: [{ id: 'tcp:limited', current: 9, max: 10, rejected: 0 }],
    resources: [{ kind: 'connector', id: 'http:c1', enable: true, status: 'disconnected', reason: 'ECONNREFUSED' }, { kind: 'action', id: 'http:a1', enable: false, status: 'disconnected', reason: null }],
  }, 1000);
  assert.deepEqual(names(a, true), ['connector_down/http:c1', 'high_system_memory_usage', 'too_many_connections/tcp:limited']);
  const mem = a.list(true, 3000).find((x) => x.name === 'high_system_memory_usage')!;
  assert.equal(mem.duration, 2000);
  assert.equal(mem.deactivate_at, 'infinity');
  assert.equal(mem.details.usage, '75%');
  // The listener and connector are gone, memory is back: every alarm clears.
  a.check({ ...calm, listeners: [] }, 5000);
  assert.deepEqual(names(a, true), []);
  assert.deepEqual(names(a, false), ['connector_down/http:c1', 'high_system_memory_usage', 'too_many_connections/tcp:limited']);
  assert.equal(a.list(false)[0]!.duration, 4000);
  a.clearDeactivated();
  assert.deepEqual(a.list(), []);
});

test('a refusal for max_connections since the last sample raises too_many_connections', () => {
  const a = new Alarms('n1');
  const l = (rejected: number): AlarmSample => ({ ...calm, listeners: [{ id: 'tcp:x', current: 1, max: 100, rejected }] });
  a.check(l(4), 1000); // the first sample only sets the baseline
  assert.deepEqual(names(a, true), []);
  a.check(l(5), 2000);
  assert.deepEqual(names(a, true), ['too_many_connections/tcp:x']);
  assert.equal(a.list(true)[0]!.details.refused, 1);
  a.check(l(5), 3000);
  assert.deepEqual(names(a, true), []);
});

test('high_cpu_usage clears only under the low watermark', () => {
  const a = new Alarms('n1');
  a.check({ ...calm, load: 0.9 }, 1000);
  assert.deepEqual(names(a, true), ['high_cpu_usage']);
  a.check({ ...calm, load: 0.7 }, 2000);
  assert.deepEqual(names(a, true), ['high_cpu_usage'], 'between the watermarks it stays');
  a.check({ ...calm, load: 0.5 }, 3000);
  assert.deepEqual(names(a, true), []);
});
