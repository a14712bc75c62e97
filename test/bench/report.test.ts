import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeScenario, renderMarkdown, renderText, clusterTargets, type BenchReport, type RunRecord } from '../../bench/report.js';
import { repetitionOrder } from '../../bench/brokers/launch.js';
import { gauge, samples, clusterNodeConfig } from '../../bench/brokers/cluster.js';
import { percentileSorted, median } from '../../bench/lib/stats.js';

test('ratios are taken per repetition, then summarized; failed runs are named', () => {
  const metrics = [{ key: 'msgs', label: 'msg/s', unit: 'msg/s', better: 'higher' as const, digits: 0 }];
  const runs = [
    { rep: 1, broker: 'mosquitto', ok: true, values: { msgs: 100 }, seconds: 1 },
    { rep: 1, broker: 'petrel', ok: true, values: { msgs: 200 }, seconds: 1 },
    { rep: 2, broker: 'mosquitto', ok: true, values: { msgs: 50 }, seconds: 1 },
    { rep: 2, broker: 'petrel', ok: true, values: { msgs: 150 }, seconds: 1 },
    { rep: 3, broker: 'mosquitto', ok: true, values: { msgs: 80 }, seconds: 1 },
    { rep: 3, broker: 'petrel', ok: false, error: 'broker exited', seconds: 1 },
  ];
  const sc = summarizeScenario('fanin', 'fan-in', metrics, runs, ['mosquitto', 'petrel']);
  assert.deepEqual(sc.summary.msgs.mosquitto, { median: 80, min: 50, max: 100, n: 3 });
  assert.deepEqual(sc.summary.msgs.petrel, { median: 175, min: 150, max: 200, n: 2 });
  assert.deepEqual(sc.ratios.msgs.mosquitto, { median: 2.5, min: 2, max: 3, n: 2 });
  const report: BenchReport = {
    date: '2026-01-01T00:00:00.000Z', commit: 'abc', brokers: ['mosquitto', 'petrel'], scenarios: [sc],
    options: { reps: 3, durationMs: 5000, warmupMs: 1000, workers: 2 },
    machine: { cores: 2, cpuModel: 'x', memoryGiB: 1, platform: 'linux', node: 'v20', versions: { mosquitto: '2.0.11' } },
  };
  const md = renderMarkdown(report);
  assert.match(md, /\| fanin \| msg\/s \| 80 \[50–100\] \| 175 \[150–200\] \(1 failed\) \| 2\.50× \[2\.00–3\.00\] \|/);
  assert.match(md, /petrel rep 3: FAILED: broker exited/);
});

test('percentiles and median', () => {
  const s = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.equal(percentileSorted(s, 50), 500);
  assert.equal(percentileSorted(s, 99), 990);
  assert.equal(percentileSorted(s, 99.9), 999);
  assert.equal(median([3, 1, 2, 10]), 2.5);
});

test('with a baseline: petrel/petrel-baseline for every metric, peers only where a direction is defined', () => {
  const metrics = [
    { key: 'msgs', label: 'msg/s', unit: 'msg/s', better: 'higher' as const, digits: 0 },
    { key: 'cpu', label: 'broker CPU %', unit: '%', better: 'none' as const, digits: 0 },
  ];
  const runs = [1, 2].flatMap((rep) => [
    { rep, broker: 'aedes', ok: true, values: { msgs: 50, cpu: 100 }, seconds: 1 },
    { rep, broker: 'petrel', ok: true, values: { msgs: 100 * rep, cpu: 90 }, seconds: 1 },
    { rep, broker: 'petrel-baseline', ok: true, values: { msgs: 100, cpu: 60 }, seconds: 1 },
  ]);
  const brokers = ['aedes', 'petrel', 'petrel-baseline'];
  const sc = summarizeScenario('fanin', 'fan-in', metrics, runs, brokers);
  assert.deepEqual(sc.ratios.msgs['petrel-baseline'], { median: 1.5, min: 1, max: 2, n: 2 });
  assert.deepEqual(sc.ratios.cpu['petrel-baseline'], { median: 1.5, min: 1.5, max: 1.5, n: 2 });
  assert.equal(sc.ratios.cpu.aedes, undefined);
  const report: BenchReport = {
    date: '2026-01-01T00:00:00.000Z', commit: 'new', brokers, scenarios: [sc],
    baseline: { commit: 'old', dir: '/tmp/old', nodeFlags: ['--max-semi-space-size=4'], nodeFlagsFrom: 'baseline' },
    options: { reps: 2, durationMs: 5000, warmupMs: 1000, workers: 2 },
    machine: { cores: 2, cpuModel: 'x', memoryGiB: 1, platform: 'linux', node: 'v20', versions: {} },
  };
  const md = renderMarkdown(report);
  assert.match(md, /commit `new` against baseline `old` \(petrel-baseline\)/);
  assert.match(md, /\| petrel\/aedes \| petrel\/petrel-baseline \|/);
  assert.match(md, /\| fanin \| msg\/s \| 50 \| 150 \[100–200\] \| 100 \| 3\.00× \[2\.00–4\.00\] \| 1\.50× \[1\.00–2\.00\] \|/);
  assert.match(md, /\|  \| broker CPU % \| 100 \| 90 \| 60 \|  \| 1\.50× \|/);
  assert.match(renderText(report), /^petrel = new \(this checkout\), petrel-baseline = old/);
});

test('Petrel and the baseline swap places on even repetitions', () => {
  const all = ['aedes', 'mosquitto', 'petrel', 'petrel-baseline'] as const;
  assert.deepEqual(repetitionOrder([...all], 1), ['aedes', 'mosquitto', 'petrel', 'petrel-baseline']);
  assert.deepEqual(repetitionOrder([...all], 2), ['aedes', 'mosquitto', 'petrel-baseline', 'petrel']);
  assert.deepEqual(repetitionOrder(['aedes', 'mosquitto', 'petrel'], 2), ['aedes', 'mosquitto', 'petrel']);
});

test('petrel-cluster: its own column (ratio per repetition, difference for ms), no petrel/petrel-cluster ratio, targets checked', () => {
  const metrics = [
    { key: 'cpuPerMsg', label: 'broker CPU µs/msg', unit: 'µs', better: 'lower' as const, digits: 2 },
    { key: 'p99', label: 'p99 ms', unit: 'ms', better: 'lower' as const, digits: 3 },
    { key: 'etcdCpu', label: 'etcd CPU % (cluster)', unit: '%', better: 'none' as const, digits: 1 },
  ];
  const runs = [1, 2, 3].flatMap((rep): RunRecord[] => [
    { rep, broker: 'mosquitto', ok: true, values: { cpuPerMsg: 4, p99: 1 }, seconds: 1 },
    { rep, broker: 'petrel', ok: true, values: { cpuPerMsg: 2, p99: 1 }, seconds: 1 },
    { rep, broker: 'petrel-cluster', ok: true, values: { cpuPerMsg: 2 + rep, p99: 1 + rep / 4, etcdCpu: 1 }, seconds: 1 },
  ]);
  const brokers = ['mosquitto', 'petrel', 'petrel-cluster'];
  const sc = summarizeScenario('latency', 'latency', metrics, runs, brokers);
  assert.deepEqual(sc.cluster?.cpuPerMsg, { median: 2, min: 1.5, max: 2.5, n: 3 });
  assert.deepEqual(sc.cluster?.p99, { median: 0.5, min: 0.25, max: 0.75, n: 3 });
  assert.equal(sc.cluster?.etcdCpu, null);
  assert.equal(sc.ratios.cpuPerMsg['petrel-cluster'], undefined);
  const report: BenchReport = {
    date: '2026-01-01T00:00:00.000Z', commit: 'c', brokers, scenarios: [sc],
    options: { reps: 3, durationMs: 5000, warmupMs: 1000, workers: 2 },
    machine: { cores: 2, cpuModel: 'x', memoryGiB: 1, platform: 'linux', node: 'v20', versions: {} },
  };
  const md = renderMarkdown(report);
  assert.match(md, /\| petrel\/mosquitto \| petrel-cluster vs petrel \|/);
  assert.match(md, /\| latency \| broker CPU µs\/msg \| 4\.00 \| 2\.00 \| 4\.00 \[3\.00–5\.00\] \| 0\.50× \| 2\.00× \[1\.50–2\.50\] \|/);
  assert.match(md, /\|  \| p99 ms \| 1\.000 \| 1\.000 \| 1\.500 \[1\.250–1\.750\] \| 1\.00× \| \+0\.500 ms \[\+0\.250–\+0\.750\] \|/);
  assert.deepEqual(clusterTargets(report), [
    'latency: broker CPU µs/msg cross-node 2.00× single node (at a fixed rate: wake-ups, no target)',
    'latency: p99 cross-node +0.500 ms vs single node (target < 1 ms): met',
  ]);
  // a scenario the cluster does not run has no comparison
  const other = summarizeScenario('connections', 'c', metrics, runs.filter((r) => r.broker !== 'petrel-cluster'), brokers);
  assert.equal(other.cluster, undefined);
});

test('Petrel and petrel-cluster swap places on even repetitions (a baseline takes precedence)', () => {
  assert.deepEqual(repetitionOrder(['petrel', 'petrel-cluster'], 1), ['petrel', 'petrel-cluster']);
  assert.deepEqual(repetitionOrder(['petrel', 'petrel-cluster'], 2), ['petrel-cluster', 'petrel']);
  assert.deepEqual(repetitionOrder(['petrel', 'petrel-cluster', 'petrel-baseline'], 2), ['petrel-baseline', 'petrel-cluster', 'petrel']);
});

test('petrel-cluster: node config and the Prometheus gauges it waits on', () => {
  const text = '# TYPE petrel_cluster_nodes_count gauge\npetrel_cluster_nodes_count{node="n1@127.0.0.1"} 2\n' +
    'petrel_cluster_routes_remote{node="n1@127.0.0.1"} 20\npetrel_delivery_dropped_queue_full{node="n1@127.0.0.1"} 7\n';
  assert.equal(gauge(text, 'cluster_nodes_count'), 2);
  assert.equal(gauge(text, 'cluster_routes_remote'), 20);
  assert.ok(Number.isNaN(gauge(text, 'cluster_routes')));
  assert.deepEqual(samples(text), { cluster_nodes_count: 2, cluster_routes_remote: 20, delivery_dropped_queue_full: 7 });
  const conf = clusterNodeConfig('n2', { mqtt: 1883, api: 18083 }, 'http://127.0.0.1:2379', '/tmp/x', { log: { level: 'warn' } });
  for (const line of ['name: n2@127.0.0.1', 'backend: etcd', '- http://127.0.0.1:2379', 'bind: 127.0.0.1:1883', 'bind: 127.0.0.1:18083', 'level: warn']) {
    assert.ok(conf.includes(line), `${line} in\n${conf}`);
  }
});
