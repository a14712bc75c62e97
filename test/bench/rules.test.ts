/**
 * The `rules` bench scenario's pieces: its JSON payload (what the rules read), its setups (the
 * rules each broker gets, accepted by the broker's own config check) and its target lines (the
 * per-repetition CPU difference to the plain broker, judged against a bound).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rules, rulesPayload, RULE_SETUPS } from '../../bench/scenarios/rules.js';
import { summarizeSetups, setupTargetLines } from '../../bench/report-setups.js';
import type { RunRecord } from '../../bench/report.js';
import type { RunOptions } from '../../bench/scenarios/common.js';
import { loadConfig } from '../../broker/src/config/index.js';

test('the payload is JSON with x = 42, of the requested size', () => {
  for (const size of [64, 256]) {
    const p = rulesPayload(size);
    assert.equal(Buffer.byteLength(p), size);
    assert.equal((JSON.parse(p) as { x: number }).x, 42);
  }
});

test('setups: plain has no rule; the others are rules the broker accepts', async () => {
  const plan = await rules.setups!({} as RunOptions);
  assert.deepEqual(plan.setups.map((s) => s.name), [...RULE_SETUPS]);
  assert.deepEqual(plan.setups[0]!.petrel, {});
  for (const s of plan.setups.slice(1)) {
    const cfg = loadConfig({ overrides: s.petrel });
    assert.equal(cfg.rule_engine.rules!.length, 1, s.name);
  }
  assert.equal(plan.reference, 'plain');
});

test('target lines give the median per-repetition difference and judge it', async () => {
  const plan = await rules.setups!({} as RunOptions);
  const run = (rep: number, setup: string, cpuPerMsg: number): RunRecord => ({ rep, broker: 'petrel', setup, ok: true, values: { cpuPerMsg, msgs: 1 }, seconds: 1 });
  const runs = [
    run(1, 'plain', 1.0), run(1, 'where-false', 1.8), run(1, 'where-true', 3.0), run(1, 'no-match', 1.02),
    run(2, 'plain', 1.2), run(2, 'where-false', 2.5), run(2, 'where-true', 3.5), run(2, 'no-match', 1.2),
    run(3, 'plain', 1.1), run(3, 'where-false', 1.9), run(3, 'where-true', 3.4), run(3, 'no-match', 1.1),
  ];
  const lines = setupTargetLines(summarizeSetups('rules', 't', rules.metrics, runs, plan));
  const falseLine = lines.find((l) => l.includes('where-false/plain'))!;
  assert.match(falseLine, /difference 0\.80 \[0\.80–1\.30\] µs; target ≤ 1 µs: met/);
  assert.match(lines.find((l) => l.includes('no-match/plain'))!, /difference 0\.00 .*target ≤ 0\.1 µs: met/);
  assert.doesNotMatch(falseLine, /no cost|cost \d/, 'no higher-is-better remark on a CPU difference');
  runs[0] = run(1, 'plain', 0.1);
  runs[4] = run(2, 'plain', 0.1);
  assert.match(setupTargetLines(summarizeSetups('rules', 't', rules.metrics, runs, plan)).find((l) => l.includes('where-false/plain'))!, /MISSED/);
});
