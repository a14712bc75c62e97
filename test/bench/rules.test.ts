/**
 * The `rules` bench scenario's pieces: its JSON payload (what the rules read), its setups (the
 * rules each broker gets, accepted by the broker's own config check), its target lines (the
 * per-repetition CPU difference to the plain broker, judged against a bound), and the sink
 * setups' figures (rate over the window, buffer, drops) and rate lines against plain-paced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rules, rulesPayload, rulesPlan, RULE_SETUPS, SINK_SETUPS, type SinkTargets } from '../../bench/scenarios/rules.js';
import { sinkFigures, PG_INSERT, SINK_SQL, type ActionSample } from '../../bench/scenarios/rules-sinks.js';
import { summarizeSetups, setupTargetLines, setupTableRows } from '../../bench/report-setups.js';
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

const probe = (action: string) => ({ action, begin: async () => {}, end: async () => ({ written: 0, perRequest: null }) });
const BOTH: SinkTargets = {
  pg: { endpoint: { server: '127.0.0.1:5999', database: 'petrel', username: 'petrel', password: 'pw' }, probe: probe('pgsql:bench') },
  kafka: { endpoint: { bootstrap: '127.0.0.1:9999' }, probe: probe('kafka_producer:bench') },
};
const NONE: SinkTargets = { pg: null, kafka: null };
const OPTS = { sinkRate: 20_000, sinkBatchTime: '0ms' } as RunOptions;

test('setups: plain has no rule; the others are rules the broker accepts', async () => {
  const plan = rulesPlan(OPTS, NONE);
  assert.deepEqual(plan.setups.map((s) => s.name), [...RULE_SETUPS]);
  assert.deepEqual(plan.setups[0]!.petrel, {});
  for (const s of plan.setups.slice(1)) {
    const cfg = loadConfig({ overrides: s.petrel });
    assert.equal(cfg.rule_engine.rules!.length, 1, s.name);
  }
  assert.equal(plan.reference, 'plain');
});

test('target lines give the median per-repetition difference and judge it', async () => {
  const plan = rulesPlan(OPTS, NONE);
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

test('sink setups: plain-paced and the two sinks, paced, compared with plain-paced; configs the broker accepts', () => {
  const plan = rulesPlan(OPTS, BOTH);
  assert.deepEqual(plan.setups.map((s) => s.name), [...RULE_SETUPS, ...SINK_SETUPS]);
  assert.deepEqual(plan.setups.filter((s) => s.load === 'sink').map((s) => s.name), [...SINK_SETUPS]);
  assert.deepEqual(plan.referenceOf, { 'plain-paced': 'plain-paced', 'pgsql-sink': 'plain-paced', 'kafka-sink': 'plain-paced' });
  const pgSetup = plan.setups.find((s) => s.name === 'pgsql-sink')!;
  assert.equal(pgSetup.sink?.action, 'pgsql:bench');
  const cfg = loadConfig({ overrides: pgSetup.petrel });
  assert.equal(cfg.rule_engine.rules![0]!.sql, SINK_SQL);
  assert.deepEqual(cfg.rule_engine.rules![0]!.actions, [{ function: 'sink', id: 'pgsql:bench' }]);
  assert.equal(cfg.actions!.length, 1);
  assert.equal(cfg.connectors!.length, 1);
  assert.match(JSON.stringify(pgSetup.petrel), /"resource_opts":\{"batch_size":100,"batch_time":"0ms"\}/);
  const batched = rulesPlan({ ...OPTS, sinkBatchTime: '10ms' }, BOTH);
  assert.match(JSON.stringify(batched.setups.find((s) => s.name === 'kafka-sink')!.petrel), /"batch_time":"10ms"/);
  assert.match(batched.targets.at(-1)!.why!, /batch_time 10ms/);
  assert.ok(PG_INSERT.includes('${x}') && PG_INSERT.includes('${timestamp}'));
  const k = loadConfig({ overrides: plan.setups.find((s) => s.name === 'kafka-sink')!.petrel });
  assert.deepEqual(k.rule_engine.rules![0]!.actions, [{ function: 'sink', id: 'kafka_producer:bench' }]);
  // Kafka's jars unavailable: only its setup is left out.
  assert.deepEqual(rulesPlan(OPTS, { ...BOTH, kafka: null }).setups.map((s) => s.name), [...RULE_SETUPS, 'plain-paced', 'pgsql-sink']);
  // No sink at all: no paced reference either, and no referenceOf.
  assert.equal(rulesPlan(OPTS, NONE).referenceOf, undefined);
});

const sample = (at: number, o: Partial<ActionSample>): ActionSample => ({ at, published: 0, matched: 0, success: 0, failed: 0, dropped: 0, queuing: 0, inflight: 0, ...o });

test('sink figures: success per second over the window, backlog at its end, drops and what the target holds', () => {
  const start = sample(1000, { published: 20_050, matched: 20_000, success: 19_900, queuing: 100 });
  // 600 published and not settled: 400 still in the engine's queue, 200 in the action's buffer.
  const end = sample(6000, { published: 120_000, matched: 119_600, success: 119_400, queuing: 200 });
  const final = sample(9000, { published: 140_000, matched: 140_000, success: 140_000 });
  const ok = sinkFigures(start, end, final, 140_000);
  assert.equal(ok.values.sinkRate, 19_900);
  assert.equal(ok.values.sinkBacklog, 600);
  assert.equal(ok.values.sinkDropped, 0);
  assert.deepEqual(ok.notes, []);
  assert.equal(ok.values.sinkBatch, undefined, 'no batch figure where the target shows none');
  assert.equal(sinkFigures(start, end, final, 140_000, 12.5).values.sinkBatch, 12.5);
  const bad = sinkFigures(start, end, sample(9000, { published: 150_000, matched: 140_000, success: 130_000, failed: 3, dropped: 9000, queuing: 997 }), 129_990);
  assert.equal(bad.values.sinkDropped, 19_000, 'the action\'s drops and the messages it never saw');
  assert.equal(bad.notes.length, 5, bad.notes.join(' | '));
  assert.match(bad.notes.join(' | '), /failed 3 of 140000.*dropped 9000 of 140000.*10000 of 150000 published messages never reached the action.*997 sink writes still pending.*129990 new rows\/records but the action counted 130000/);
  assert.ok(Number.isNaN(sinkFigures(start, start, final, null).values.sinkRate), 'no window, no rate');
});

test('sink lines: CPU difference to plain-paced without a verdict, with the sink rate, buffer and drops', () => {
  const plan = rulesPlan(OPTS, BOTH);
  const run = (rep: number, setup: string, values: Record<string, number>): RunRecord => ({ rep, broker: 'petrel', setup, ok: true, values: { msgs: 1, ...values }, seconds: 1 });
  const runs: RunRecord[] = [];
  for (const rep of [1, 2, 3]) {
    runs.push(run(rep, 'plain', { cpuPerMsg: 1.5, pubMsgs: 400_000 }));
    for (const s of ['where-true', 'where-false', 'no-match']) runs.push(run(rep, s, { cpuPerMsg: 2, pubMsgs: 400_000 }));
    runs.push(run(rep, 'plain-paced', { cpuPerMsg: 4 + rep, pubMsgs: 20_000 }));
    runs.push(run(rep, 'pgsql-sink', { cpuPerMsg: 10 + rep, pubMsgs: 20_000, sinkRate: 19_990 + rep, sinkBacklog: rep, sinkDropped: 0, sinkBatch: 3 }));
    runs.push(run(rep, 'kafka-sink', { cpuPerMsg: 7 + 2 * rep, pubMsgs: 20_000, sinkRate: 20_000, sinkBacklog: 0, sinkDropped: 0 }));
  }
  const sc = summarizeSetups('rules', 't', rules.metrics, runs, plan);
  const lines = setupTargetLines(sc);
  const pgLine = lines.find((l) => l.includes('pgsql-sink/plain-paced'))!;
  assert.ok(pgLine, lines.join('\n'));
  assert.match(pgLine, /published msg\/s 20,000 vs 20,000/);
  assert.match(pgLine, /sink writes\/s \(action success\) 19,992(?! vs)/);
  assert.match(pgLine, /sink backlog at window end 2, sink dropped \(never written\) 0, sink rows per INSERT \(pgsql\) 3\.0;/);
  assert.doesNotMatch(lines.find((l) => l.includes('kafka-sink/plain-paced'))!, /rows per INSERT/, 'no batch figure for Kafka');
  assert.match(pgLine, /difference 6\.00 µs \(paced at 20,000 msg\/s, batch_size 100, batch_time 0ms: a rate line, no target\)/);
  assert.doesNotMatch(pgLine, /met|MISSED|cost/);
  assert.match(lines.find((l) => l.includes('kafka-sink/plain-paced'))!, /difference 5\.00 \[4\.00–6\.00\] µs/);
  // The rule setups are still judged against the flood's plain broker.
  assert.match(lines.find((l) => l.includes('where-false/'))!, /where-false\/plain .*difference 0\.50 µs; target ≤ 1 µs: met/);
  const { header } = setupTableRows(sc);
  assert.ok(header.includes('pgsql-sink/plain-paced') && header.includes('where-true/plain'), header.join(','));
  assert.ok(!header.includes('plain-paced/plain') && !header.includes('plain-paced/plain-paced'), 'the paced reference has no ratio column');
});
