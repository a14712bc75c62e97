/** The work queue: de-duplication, per-key serialisation, dirty re-runs, backoff, requeueAfter, drain. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from '../../../../operator/src/controller/work-queue.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('work queue: adds of a queued key collapse into one run', async () => {
  const runs: string[] = [];
  const q = new WorkQueue(async (k) => { runs.push(k); }, { workers: 1 });
  q.add('busy'); // occupies the only worker: the rest wait in the queue
  q.add('a'); q.add('a'); q.add('b'); q.add('a');
  await q.drain(2000);
  assert.deepEqual(runs, ['busy', 'a', 'b']);
  q.stop();
});

test('work queue: one key never runs twice at once; an add while running re-runs it once after', async () => {
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const q = new WorkQueue(async () => {
    active++; runs++;
    maxActive = Math.max(maxActive, active);
    await sleep(30);
    active--;
  }, { workers: 4 });
  q.add('k');
  await sleep(5);
  q.add('k'); q.add('k'); q.add('k');
  await q.drain(2000);
  assert.equal(maxActive, 1, 'per-key serialisation');
  assert.equal(runs, 2, 'dirty key runs exactly once more');
  q.stop();
});

test('work queue: different keys run in parallel up to the worker count', async () => {
  let active = 0;
  let maxActive = 0;
  const q = new WorkQueue(async () => { active++; maxActive = Math.max(maxActive, active); await sleep(30); active--; }, { workers: 3 });
  for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
  await q.drain(2000);
  assert.equal(maxActive, 3);
  q.stop();
});

test('work queue: failures retry with exponential backoff, success resets it', async () => {
  const times: number[] = [];
  const delays: number[] = [];
  let fail = 3;
  const q = new WorkQueue(async () => {
    times.push(Date.now());
    if (fail-- > 0) throw new Error('boom');
  }, { baseBackoffMs: 20, maxBackoffMs: 1000, onError: (_k, _e, _n, d) => delays.push(d) });
  q.add('x');
  const deadline = Date.now() + 3000;
  while (times.length < 4 && Date.now() < deadline) await sleep(10);
  assert.deepEqual(delays, [20, 40, 80]);
  assert.equal(times.length, 4);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= delays[i - 1] - 2, `gap ${i} respects backoff`);
  assert.equal(q.backoffFor(30), 1000, 'capped');
  q.stop();
});

test('work queue: requeueAfter schedules a later run; a direct add runs it at once', async () => {
  let runs = 0;
  const q = new WorkQueue(async () => { runs++; return runs === 1 ? { requeueAfterMs: 10_000 } : undefined; });
  q.add('r');
  await q.drain(1000);
  assert.equal(runs, 1);
  q.add('r');
  await q.drain(1000);
  assert.equal(runs, 2, 'add() cancels the long schedule and runs now');
  q.stop();
});

test('work queue: drain fails clearly when work does not settle', async () => {
  const q = new WorkQueue(async () => { await sleep(500); });
  q.add('slow');
  await assert.rejects(q.drain(50), /not idle after 50ms/);
  q.stop();
  await q.waitStopped(2000);
});
