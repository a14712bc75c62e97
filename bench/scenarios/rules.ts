/**
 * The rule engine's cost per message: Petrel alone, one fresh broker per setup, the setups
 * interleaved in every repetition (as the access scenario), all under the same load: N
 * publishers flooding QoS 0 JSON `{"x":42,…}` to `t/<i>`, one `t/+` subscriber.
 *
 * `--rules-rate N` paces the publishers at N msg/s in total instead, the same for every setup
 * (a broker's CPU per message also depends on how many messages each read carries, which a flood
 * lets differ between setups). On a machine shared with other work the paced runs proved the
 * noisier (per-message CPU at 100,000 msg/s moved by ±1 µs between repetitions, the flood's by
 * ±0.3 µs), so the flood is the default.
 *
 *   plain        no rules (the reference);
 *   where-true   `SELECT payload.x as x FROM "t/#" WHERE payload.x > 10` + republish to
 *                `r/${x}` (nobody subscribes there: the republish is published and dropped);
 *   where-false  the same with `WHERE payload.x > 100`: evaluated, never passes;
 *   no-match     the where-true rule on `FROM "other/#"`: rules enabled, none for these topics.
 *
 * Every published message is delivered once, so broker CPU µs per delivered message is also
 * per message evaluated; the difference to `plain` is the engine's cost per message. Targets
 * (issue 12): a WHERE rule ≤ 1 µs per message evaluated; no matching rule costs nothing
 * measurable (the median difference judged against 0.1 µs; one repetition alone moves by ±0.3).
 *
 *   node dist/bench/run.js --only rules [--reps 5] [--duration 3] [--publishers 50] [--rules-rate N]
 */
import { runThroughput, THROUGHPUT_METRICS } from './throughput.js';
import type { RunOptions, Scenario, ScenarioResult, Setup, SetupPlan } from './common.js';

const SQL_WHERE = (where: string, from = 't/#') => `SELECT payload.x as x FROM "${from}" WHERE payload.x > ${where}`;
const REPUBLISH = [{ function: 'republish', args: { topic: 'r/${x}', qos: 0, payload: '${x}' } }];

function setup(name: string, rules: Record<string, unknown> | null): Setup {
  return {
    name,
    petrel: rules === null ? {} : { rule_engine: { rules } },
    credentials: (username) => ({ username, password: null }),
    probe: { username: 'probe', password: null },
    mustRefuse: [],
    mustDenySubscribe: [],
  };
}

/** `{"x":42,"pad":"aaa…"}` of about `size` bytes: the JSON every setup's publishers send. */
export function rulesPayload(size: number): string {
  const head = '{"x":42,"pad":"';
  return head + 'a'.repeat(Math.max(0, size - head.length - 2)) + '"}';
}

export const RULE_SETUPS = ['plain', 'where-true', 'where-false', 'no-match'] as const;

async function rulesSetups(_opts: RunOptions): Promise<SetupPlan> {
  const setups = [
    setup('plain', null),
    setup('where-true', { bench_true: { sql: SQL_WHERE('10'), actions: REPUBLISH } }),
    setup('where-false', { bench_false: { sql: SQL_WHERE('100'), actions: REPUBLISH } }),
    setup('no-match', { bench_other: { sql: SQL_WHERE('10', 'other/#'), actions: REPUBLISH } }),
  ];
  return {
    setups,
    reference: 'plain',
    targets: [
      { metric: 'cpuPerMsg', setups: ['where-false'], maxDelta: 1, why: 'a WHERE rule, evaluated' },
      { metric: 'cpuPerMsg', setups: ['where-true'], maxDelta: 3, why: 'evaluated, passes, republishes a message nobody takes' },
      { metric: 'cpuPerMsg', setups: ['no-match'], maxDelta: 0.1, why: 'rules enabled, none for these topics' },
    ],
    dispose: () => {},
  };
}

export const rules: Scenario = {
  name: 'rules',
  title: 'rule engine: paced fan-in QoS 0 of JSON with no rule, a WHERE rule true (+ republish) / false, and a rule on other topics',
  optIn: true,
  metrics: [...THROUGHPUT_METRICS, { key: 'lossPct', label: 'loss %', unit: '%', better: 'lower', digits: 2 }],
  setups: rulesSetups,
  run: (ctx): Promise<ScenarioResult> => {
    if (!ctx.setup) throw new Error('the rules scenario runs once per setup');
    return runThroughput(ctx, {
      qos: 0, subCount: 1, subTopic: () => 't/+', pubCount: ctx.opts.fanInPublishers,
      pubTopic: (i) => `t/${i}`, fanout: 1, paired: false, payloadText: rulesPayload(ctx.opts.payload),
      ...(ctx.opts.rulesRate > 0
        ? { mode: 'paced' as const, rate: ctx.opts.rulesRate / ctx.opts.fanInPublishers }
        : { mode: 'flood' as const, inflight: ctx.opts.inflightFanIn }),
    });
  },
};
