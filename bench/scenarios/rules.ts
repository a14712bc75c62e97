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
 * And data integration (./rules-sinks.ts: why paced, what is read), at `--sink-rate` msg/s:
 *
 *   plain-paced  no rules, paced: the reference of the two below;
 *   pgsql-sink   `SELECT payload.x as x, clientid, timestamp FROM "t/#"` inserting into a real
 *                PostgreSQL table, batch_size 100;
 *   kafka-sink   the same rule producing to a real Kafka topic (left out when Kafka's jars
 *                cannot be had).
 *
 * Every published message is delivered once, so broker CPU µs per delivered message is also
 * per message evaluated; the difference to `plain` is the engine's cost per message. Targets
 * (issue 12): a WHERE rule ≤ 1 µs per message evaluated; no matching rule costs nothing
 * measurable (the median difference judged against 0.1 µs; one repetition alone moves by ±0.3).
 * The sink setups have no target: their lines give the sink's sustained rate, its backlog at the
 * window's end, what never got written, and the broker CPU per message they add to plain-paced.
 *
 *   node dist/bench/run.js --only rules [--reps 5] [--duration 3] [--publishers 50] [--rules-rate N]
 *                          [--sink-rate N] [--sink-batch-time 10ms]
 */
import { runThroughput, THROUGHPUT_METRICS, type Plan } from './throughput.js';
import { sumGroup, type MetricDef, type RunOptions, type Scenario, type ScenarioContext, type ScenarioResult, type Setup, type SetupPlan, type SetupTarget, type WorkerSnapshot } from './common.js';
import {
  drainAction, readAction, sinkConfig, sinkFigures, startSinkServices, waitConnected,
  type ActionSample, type KafkaEndpoint, type PgEndpoint, type SinkProbe,
} from './rules-sinks.js';

const SQL_WHERE = (where: string, from = 't/#') => `SELECT payload.x as x FROM "${from}" WHERE payload.x > ${where}`;
const REPUBLISH = [{ function: 'republish', args: { topic: 'r/${x}', qos: 0, payload: '${x}' } }];

/** A setup of this scenario: the load it runs under, and for a sink what to measure it by. */
export interface RuleSetup extends Setup {
  /** flood (or --rules-rate) as the rule setups; paced at --sink-rate as the sinks. */
  load: 'rules' | 'sink';
  sink?: SinkProbe;
}

function setup(name: string, petrel: Record<string, unknown>, load: RuleSetup['load'] = 'rules', sink?: SinkProbe): RuleSetup {
  return {
    name,
    load,
    ...(sink ? { sink } : {}),
    petrel,
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
export const SINK_SETUPS = ['plain-paced', 'pgsql-sink', 'kafka-sink'] as const;

const rulesOnly = (rules: Record<string, unknown>) => ({ rule_engine: { rules } });

/** Where the sinks' services listen and how to count what they hold; null = that sink left out. */
export interface SinkTargets {
  pg: { endpoint: PgEndpoint; probe: SinkProbe } | null;
  kafka: { endpoint: KafkaEndpoint; probe: SinkProbe } | null;
}

/** The plan without its services: the setups, references and lines (pure; unit-tested). */
export interface RulesPlan extends Omit<SetupPlan, 'dispose' | 'setups'> { setups: RuleSetup[] }

export function rulesPlan(opts: Pick<RunOptions, 'sinkRate' | 'sinkBatchTime'>, sinks: SinkTargets): RulesPlan {
  const setups: RuleSetup[] = [
    setup('plain', {}),
    setup('where-true', rulesOnly({ bench_true: { sql: SQL_WHERE('10'), actions: REPUBLISH } })),
    setup('where-false', rulesOnly({ bench_false: { sql: SQL_WHERE('100'), actions: REPUBLISH } })),
    setup('no-match', rulesOnly({ bench_other: { sql: SQL_WHERE('10', 'other/#'), actions: REPUBLISH } })),
  ];
  const targets: SetupTarget[] = [
    { metric: 'cpuPerMsg', setups: ['where-false'], maxDelta: 1, why: 'a WHERE rule, evaluated' },
    { metric: 'cpuPerMsg', setups: ['where-true'], maxDelta: 3, why: 'evaluated, passes, republishes a message nobody takes' },
    { metric: 'cpuPerMsg', setups: ['no-match'], maxDelta: 0.1, why: 'rules enabled, none for these topics' },
  ];
  const sinkSetups: RuleSetup[] = [];
  if (sinks.pg) sinkSetups.push(setup('pgsql-sink', sinkConfig('pgsql', sinks.pg.endpoint, opts.sinkBatchTime), 'sink', sinks.pg.probe));
  if (sinks.kafka) sinkSetups.push(setup('kafka-sink', sinkConfig('kafka_producer', sinks.kafka.endpoint, opts.sinkBatchTime), 'sink', sinks.kafka.probe));
  if (sinkSetups.length === 0) return { setups, reference: 'plain', targets };
  setups.push(setup('plain-paced', {}, 'sink'), ...sinkSetups);
  const referenceOf: Record<string, string> = { 'plain-paced': 'plain-paced' };
  for (const s of sinkSetups) referenceOf[s.name] = 'plain-paced';
  targets.push({
    metric: 'cpuPerMsg', setups: sinkSetups.map((s) => s.name), delta: true,
    show: ['pubMsgs', 'sinkRate', 'sinkBacklog', 'sinkDropped', 'sinkBatch'],
    why: `paced at ${opts.sinkRate.toLocaleString('en-US')} msg/s, batch_size 100, batch_time ${opts.sinkBatchTime}: a rate line, no target`,
  });
  return { setups, reference: 'plain', referenceOf, targets };
}

async function rulesSetups(opts: RunOptions): Promise<SetupPlan> {
  const services = await startSinkServices((s) => process.stderr.write(`${s}\n`));
  return { ...rulesPlan(opts, services), dispose: () => services.stop() };
}

export const RULES_METRICS: MetricDef[] = [
  ...THROUGHPUT_METRICS,
  { key: 'lossPct', label: 'loss %', unit: '%', better: 'lower', digits: 2 },
  // The rate each setup ran at: the flood's, or --rules-rate / --sink-rate.
  { key: 'pubMsgs', label: 'published msg/s', unit: 'msg/s', better: 'none', digits: 0 },
  { key: 'sinkRate', label: 'sink writes/s (action success)', unit: '/s', better: 'none', digits: 0 },
  { key: 'sinkBacklog', label: 'sink backlog at window end', unit: '', better: 'none', digits: 0 },
  { key: 'sinkDropped', label: 'sink dropped (never written)', unit: '', better: 'none', digits: 0 },
  { key: 'sinkBatch', label: 'sink rows per INSERT (pgsql)', unit: '', better: 'none', digits: 1 },
];

function load(ctx: ScenarioContext, s: RuleSetup): Pick<Plan, 'mode' | 'rate' | 'inflight'> {
  const { opts } = ctx;
  const rate = s.load === 'sink' ? opts.sinkRate : opts.rulesRate;
  return rate > 0
    ? { mode: 'paced', rate: rate / opts.fanInPublishers }
    : { mode: 'flood', inflight: opts.inflightFanIn };
}

async function runRules(ctx: ScenarioContext): Promise<ScenarioResult> {
  const s = ctx.setup as RuleSetup | undefined;
  if (!s) throw new Error('the rules scenario runs once per setup');
  const plan: Plan = {
    qos: 0, subCount: 1, subTopic: () => 't/+', pubCount: ctx.opts.fanInPublishers,
    pubTopic: (i) => `t/${i}`, fanout: 1, paired: false, payloadText: rulesPayload(ctx.opts.payload),
    ...load(ctx, s),
  };
  if (!s.sink) return runThroughput(ctx, plan);

  const sink = s.sink;
  const api = ctx.broker.apiPort;
  if (api === undefined) throw new Error('the sink setups need the broker\'s REST port (Petrel only)');
  await waitConnected(api, sink.action, 20_000);
  await sink.begin();
  const published = async () => sumGroup(await ctx.pool.all<WorkerSnapshot>('snapshot', () => ({}), 10_000), 'pub').sent;
  const samples: Partial<Record<'start' | 'end', ActionSample>> = {};
  // The publishers' count first: the backlog then never counts a message the action saw but the count missed.
  plan.atMark = async (which) => { samples[which] = await readAction(api, sink.action, await published()); };
  const res = await runThroughput(ctx, plan);
  const final = await drainAction(api, sink.action, await published(), 30_000);
  const got = await sink.end();
  const fig = sinkFigures(samples.start!, samples.end!, final, got.written, got.perRequest);
  return { values: { ...res.values, ...fig.values }, notes: [...res.notes, ...fig.notes] };
}

export const rules: Scenario = {
  name: 'rules',
  title: 'rule engine: fan-in QoS 0 of JSON with no rule, a WHERE rule true (+ republish) / false, a rule on other topics; paced, into PostgreSQL and Kafka',
  optIn: true,
  metrics: RULES_METRICS,
  setups: rulesSetups,
  run: runRules,
};
