/**
 * Micro benchmark of the router area (not a test): SubscriberIndex.match throughput with 10k and 100k
 * subscriptions, and RetainedIndex.match('#') over 10k / 100k retained topics.
 *
 *   node --import tsx bench/micro/router.ts            (about 15 s)
 *
 * Each case runs for a fixed wall-clock budget and prints operations per second of this process's
 * CPU time (user + system), which other work on a shared machine disturbs less than wall time does.
 * Figures go to docs/router.md. The naive line scans every subscription with topicMatches, for contrast.
 */
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { SubscriberIndex, RetainedIndex, topicMatches, parseFilter } from '../../broker/src/router/index.js';
import type { Message, Subscription } from '../../broker/src/types.js';

const BUDGET_MS = Number(process.env.BENCH_MS ?? 700);

function sub(clientId: string, filter: string): Subscription {
  const p = parseFilter(filter);
  return {
    clientId, filter, topicFilter: p.topicFilter, group: p.group, exclusive: p.exclusive,
    options: { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 },
  };
}

function rate(label: string, topics: readonly string[], run: (topic: string) => number): void {
  let ops = 0;
  let visits = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let now = t0;
  let i = 0;
  while (now - t0 < BUDGET_MS) {
    for (let k = 0; k < 1000; k++) {
      visits += run(topics[i]!);
      if (++i === topics.length) i = 0;
    }
    ops += 1000;
    now = performance.now();
  }
  const cpu = process.cpuUsage(c0);
  const perSec = ops / ((cpu.user + cpu.system) / 1e6);
  console.log(`${label.padEnd(64)} ${Math.round(perSec).toLocaleString('en').padStart(12)} matches/CPU-s  (${(visits / ops).toFixed(2)} visits/match)`);
}

function routerCase(n: number, wildcardShare: number, topicPool: number): void {
  const r = new SubscriberIndex({ strategy: 'round_robin' });
  for (let i = 0; i < n; i++) {
    const wild = wildcardShare > 0 && i % Math.round(1 / wildcardShare) === 0;
    const f = wild ? `site/${i % 500}/dev/${i}/+` : `site/${i % 500}/dev/${i}/temp`;
    r.add(sub(`c${i}`, f));
  }
  if (wildcardShare > 0) {
    r.add(sub('mon', 'site/+/dev/+/alarm'));
    r.add(sub('all', '$share/g/site/7/#'));
    r.add(sub('all2', '$share/g/site/7/#'));
  }
  const topics: string[] = [];
  for (let k = 0; k < topicPool; k++) {
    const j = (k * 7919) % n;
    topics.push(`site/${j % 500}/dev/${j}/temp`);
  }
  let visits = 0;
  const visit = (): void => { visits++; };
  const label = `SubscriberIndex ${n / 1000}k subs, ${Math.round(wildcardShare * 100)}% wildcard, ${topicPool.toLocaleString('en')} distinct topics`;
  rate(label, topics, (t) => { visits = 0; r.match(t, 'pub', visit); return visits; });
}

function naiveCase(n: number): void {
  const subs: Subscription[] = [];
  for (let i = 0; i < n; i++) subs.push(sub(`c${i}`, `site/${i % 500}/dev/${i}/temp`));
  const topics: string[] = [];
  for (let k = 0; k < 1000; k++) {
    const j = (k * 7919) % n;
    topics.push(`site/${j % 500}/dev/${j}/temp`);
  }
  rate(`naive scan with topicMatches, ${n / 1000}k subs`, topics, (t) => {
    let v = 0;
    for (const s of subs) if (topicMatches(s.topicFilter, t)) v++;
    return v;
  });
}

function retainedCase(n: number): void {
  const ri = new RetainedIndex();
  for (let i = 0; i < n; i++) {
    const m: Message = {
      id: i, topic: `site/${i % 100}/dev/${i}/state`, payload: Buffer.from('x'), qos: 1, retain: true,
      properties: null, from: 'p', timestamp: 0, expiresAt: 0,
    };
    ri.set(m);
  }
  for (const filter of ['#', 'site/42/dev/+/state', 'site/+/dev/77/state']) {
    const times: number[] = [];
    let got = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < BUDGET_MS && times.length < 2000) {
      const a = process.cpuUsage();
      got = 0;
      ri.match(filter, 1, () => { got++; });
      const d = process.cpuUsage(a);
      times.push((d.user + d.system) / 1000);
    }
    times.sort((x, y) => x - y);
    const med = times[Math.floor(times.length / 2)]!;
    console.log(`${`RetainedIndex ${n / 1000}k topics, match('${filter}')`.padEnd(64)} ${med.toFixed(3).padStart(9)} ms CPU median  (${got} messages, ${times.length} runs)`);
  }
}

/** Heap growth over 1M matches of cached topics (3 visits each, shared group included): ~0 means no per-match allocation. */
function allocCase(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const r = new SubscriberIndex({ strategy: 'round_robin' });
  for (let i = 0; i < 1000; i++) r.add(sub(`c${i}`, i % 2 ? `a/${i}/+` : `a/${i}/x`));
  r.add(sub('s1', '$share/g/a/#'));
  r.add(sub('s2', '$share/g/a/#'));
  r.add(sub('h', '#'));
  const topics = Array.from({ length: 100 }, (_, k) => `a/${k * 7}/x`);
  let v = 0;
  const visit = (): void => { v++; };
  for (let k = 0; k < 100_000; k++) r.match(topics[k % 100]!, 'p', visit);
  gc();
  const h0 = process.memoryUsage().heapUsed;
  v = 0;
  for (let k = 0; k < 1_000_000; k++) r.match(topics[k % 100]!, 'p', visit);
  const h1 = process.memoryUsage().heapUsed;
  console.log(`${'SubscriberIndex heap growth over 1M cached-topic matches'.padEnd(64)} ${(h1 - h0).toLocaleString('en').padStart(12)} bytes  (${v / 1e6} visits/match)`);
}

const CASES: Record<string, () => void> = {
  'alloc': allocCase,
  'exact-10k': () => routerCase(10_000, 0, 10_000),
  'exact-100k': () => routerCase(100_000, 0, 100_000),
  'mixed-10k': () => routerCase(10_000, 0.5, 2_000),
  'mixed-100k': () => routerCase(100_000, 0.5, 2_000),
  'mixed-100k-cold': () => routerCase(100_000, 0.5, 100_000),
  'naive-10k': () => naiveCase(10_000),
  'retained-10k': () => retainedCase(10_000),
  'retained-100k': () => retainedCase(100_000),
};

// Each case runs in its own process so one case's heap does not slow the next.
const only = process.argv[2];
if (only !== undefined) {
  const run = CASES[only];
  if (run === undefined) throw new Error(`unknown case ${only}; one of ${Object.keys(CASES).join(', ')}`);
  run();
} else {
  console.log(`node ${process.version}, ${BUDGET_MS} ms per case, load average ${os.loadavg()[0]!.toFixed(2)}`);
  for (const name of Object.keys(CASES)) {
    const r = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), name], { stdio: 'inherit', timeout: 120_000 });
    if (r.status !== 0) console.log(`${name}: failed (${r.status ?? r.signal})`);
  }
}
