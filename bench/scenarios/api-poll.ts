/**
 * What the REST API costs the broker while dashboards are open: Petrel alone, the QoS 1 pairs
 * load (as `qos1`), one fresh broker per setup, the setups interleaved in every repetition:
 *
 *   quiet          nobody calls the API (the reference);
 *   dashboard      one open dashboard on its busiest page: every 5 s what it asks for — stats and
 *                  metrics aggregated over the nodes (the overview's charts), the nodes, and the
 *                  subscriptions and topics lists (`limit=1000`, the subscriptions page) — the
 *                  requests of one round in parallel, as the browser sends them;
 *   dashboards-20  twenty such dashboards, their rounds spread over the 5 s (4 rounds a second).
 *
 * Before the load, every setup's broker (quiet too) answers WARM_ROUNDS rounds of the dashboard's
 * requests, so that the setups differ only in the polling during the run. The requests come from
 * the coordinator process (not the generator's workers), so their cost
 * on the load side does not slow the publishers. Besides the QoS 1 figures, each run reports
 * how many API requests it answered per second in the measured window and their median and
 * worst time. Target (issue 14): one dashboard costs no measurable throughput (its msg/s at
 * least 0.95× quiet's, the machine's repetition-to-repetition noise); twenty are reported.
 *
 *   node dist/bench/run.js --only api-poll [--reps 5] [--duration 5] [--pairs 20] [--window 10]
 */
import { runThroughput, RELIABLE_METRICS, type Plan } from './throughput.js';
import type { MetricDef, Scenario, ScenarioContext, ScenarioResult, Setup, SetupPlan } from './common.js';

/** One round of the dashboard's polling (dashboard/src/history.ts and the subscriptions page). */
export const DASHBOARD_ROUND = [
  '/api/v5/stats?aggregate=true',
  '/api/v5/metrics?aggregate=true',
  '/api/v5/nodes',
  '/api/v5/subscriptions?limit=1000',
  '/api/v5/topics?limit=1000',
] as const;
/** The dashboard's polling period (SAMPLE_MS and the pages' useApi periods). */
export const ROUND_MS = 5000;
/** Rounds every setup's broker answers before the load (see DashboardPoller.warm). */
export const WARM_ROUNDS = Number(process.env.PETREL_BENCH_API_WARM ?? 20);

export interface PollSetup extends Setup {
  dashboards: number;
}

function setup(name: string, dashboards: number): PollSetup {
  return {
    name,
    dashboards,
    petrel: {},
    credentials: (username) => ({ username, password: null }),
    probe: { username: 'probe', password: null },
    mustRefuse: [],
    mustDenySubscribe: [],
  };
}

export const POLL_SETUPS = ['quiet', 'dashboard', 'dashboards-20'] as const;

export function pollPlan(): Omit<SetupPlan, 'dispose'> {
  return {
    setups: [setup('quiet', 0), setup('dashboard', 1), setup('dashboards-20', 20)],
    reference: 'quiet',
    targets: [
      { metric: 'msgs', setups: ['dashboard'], minRatio: 0.95, why: 'one open dashboard: no measurable throughput loss', show: ['apiReqs', 'apiP50', 'apiMax'] },
      { metric: 'msgs', setups: ['dashboards-20'], delta: true, why: 'twenty dashboards: reported, no target', show: ['apiReqs', 'apiP50', 'apiMax'] },
    ],
  };
}

/** Polls like `n` dashboards until stopped; times every answered request. */
export class DashboardPoller {
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private times: number[] = [];
  private counting = false;
  failures = 0;
  lastError = '';

  constructor(private readonly apiPort: number, private readonly n: number) {}

  /**
   * WARM_ROUNDS rounds before the load starts, not counted, whatever the setup (quiet too): every
   * broker has served the dashboard's requests before, as a node whose dashboard was opened once has,
   * so the setups differ only in the polling during the run. (Warmed with one round for one
   * dashboard, twenty for twenty and none for quiet, the one-dashboard broker ran 16 % slower in
   * every run and twenty dashboards 3 %: docs/bench.md.)
   */
  async warm(): Promise<void> {
    for (let i = 0; i < WARM_ROUNDS; i++) await this.round();
  }

  start(): void {
    for (let d = 0; d < this.n; d++) {
      const round = (): void => { void this.round(); };
      // Dashboard d starts d/n of a period in, then polls every period.
      this.timers.push(setTimeout(() => {
        round();
        if (!this.stopped) this.timers.push(setInterval(round, ROUND_MS));
      }, (ROUND_MS * d) / this.n));
    }
  }

  /** From now on, answered requests count towards `window()`. */
  mark(): void {
    this.times = [];
    this.counting = true;
  }

  /** The requests answered since mark(): their number and times in ms, sorted. */
  window(): number[] {
    this.counting = false;
    return [...this.times].sort((a, b) => a - b);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) { clearTimeout(t); clearInterval(t); }
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    await Promise.all(DASHBOARD_ROUND.map(async (path) => {
      const t0 = performance.now();
      try {
        const res = await fetch(`http://127.0.0.1:${this.apiPort}${path}`, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
        if (this.counting) this.times.push(performance.now() - t0);
      } catch (e) {
        this.failures++;
        this.lastError = (e as Error).message;
      }
    }));
  }
}

export const API_POLL_METRICS: MetricDef[] = [
  ...RELIABLE_METRICS,
  { key: 'apiReqs', label: 'API requests/s answered', unit: '/s', better: 'none', digits: 1 },
  { key: 'apiP50', label: 'API request p50 ms', unit: 'ms', better: 'none', digits: 2 },
  { key: 'apiMax', label: 'API request max ms', unit: 'ms', better: 'none', digits: 2 },
];

async function runPoll(ctx: ScenarioContext): Promise<ScenarioResult> {
  const s = ctx.setup as PollSetup | undefined;
  if (!s) throw new Error('the api-poll scenario runs once per setup');
  const api = ctx.broker.apiPort;
  if (api === undefined) throw new Error('api-poll needs the broker\'s REST port (Petrel only)');
  const poller = new DashboardPoller(api, s.dashboards);
  let windowMs = 0;
  let times: number[] = [];
  const plan: Plan = {
    qos: 1, subCount: ctx.opts.pairs, subTopic: (i) => `bench/pair/${i}`, pubCount: ctx.opts.pairs,
    pubTopic: (i) => `bench/pair/${i}`, fanout: 1, mode: 'window', paired: true,
    atMark: async (which) => {
      if (which === 'start') { poller.mark(); windowMs = performance.now(); } else { times = poller.window(); windowMs = performance.now() - windowMs; }
    },
  };
  await poller.warm();
  poller.start();
  try {
    const res = await runThroughput(ctx, plan);
    const notes = [...res.notes];
    if (poller.failures > 0) notes.push(`${poller.failures} API requests failed (last: ${poller.lastError})`);
    const q = (p: number): number => (times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))]! : 0);
    return {
      values: { ...res.values, apiReqs: windowMs > 0 ? (times.length * 1000) / windowMs : 0, apiP50: q(0.5), apiMax: times.length ? times[times.length - 1]! : 0 },
      notes,
    };
  } finally {
    poller.stop();
  }
}

export const apiPoll: Scenario = {
  name: 'api-poll',
  title: 'the REST API under QoS 1 pairs: no dashboard, one, twenty polling it',
  optIn: true,
  metrics: API_POLL_METRICS,
  setups: async () => ({ ...pollPlan(), dispose: async () => undefined }),
  run: runPoll,
};
