/**
 * Turning raw runs into the published result: per scenario and metric the median and min–max
 * over repetitions for each broker, and the ratio Petrel / peer computed per repetition (so a
 * noisy repetition affects both sides alike), then summarized. Renders a plain-text table for
 * the terminal and a Markdown table for bench/results/latest.md.
 *
 * With a baseline Petrel (petrel-baseline, an earlier commit) the ratio petrel/petrel-baseline is
 * given for every metric, also those without a better direction (CPU %, achieved rate): between
 * two builds of the same broker any of them moving is worth seeing.
 *
 * With petrel-cluster (two Petrel nodes, publishers on one, subscribers on the other) the table
 * gains the column "petrel-cluster vs petrel": the ratio cluster / single node per repetition for
 * every metric, except latencies (unit ms), given as the difference cluster − single node. The
 * cluster's targets are checked against the medians of those: broker CPU per message at most 2×
 * a single node's in the throughput scenarios, p99 latency at most 1 ms more.
 *
 * A scenario run per setup of Petrel (access) has its own table, setups as columns, after the
 * brokers' table (./report-setups.ts).
 */
import type { MetricDef } from './scenarios/common.js';
import { summarize, type Summary } from './lib/stats.js';
import type { MachineInfo } from './lib/machine.js';
import { setupTableRows, setupTargetLines, type SetupsInfo } from './report-setups.js';

export interface RunRecord {
  rep: number;
  broker: string;
  /** The setup of Petrel this run measured (scenarios with setups). */
  setup?: string;
  ok: boolean;
  values?: Record<string, number>;
  notes?: string[];
  error?: string;
  seconds: number;
}

export interface ScenarioReport {
  name: string;
  title: string;
  metrics: MetricDef[];
  runs: RunRecord[];
  summary: Record<string, Record<string, Summary | null>>;
  ratios: Record<string, Record<string, Summary | null>>;
  /** petrel-cluster against petrel per metric: ratio, or difference for ms (see `clusterDelta`). */
  cluster?: Record<string, Summary | null>;
  /** petrel-cluster against petrel-relay (one node behind a bare TCP relay): what the link adds over an extra process hop. */
  overRelay?: Record<string, Summary | null>;
  /** Run per setup: `summary` and `ratios` are keyed by setup (ratio = setup ÷ reference). */
  setups?: SetupsInfo;
}

/** The earlier commit a before/after run compares against (run with --baseline DIR). */
export interface BaselineInfo {
  commit: string;
  dir: string;
  nodeFlags: string[];
  /** Whose broker/src/runtime.ts the Node options came from. */
  nodeFlagsFrom: 'baseline' | 'current';
}

export interface BenchReport {
  date: string;
  commit: string;
  baseline?: BaselineInfo;
  machine: MachineInfo;
  options: Record<string, unknown>;
  brokers: string[];
  scenarios: ScenarioReport[];
}

const SUBJECT = 'petrel';
const BASELINE = 'petrel-baseline';
const CLUSTER = 'petrel-cluster';
const CLUSTER_HEADER = `${CLUSTER} vs ${SUBJECT}`;
const RELAY = 'petrel-relay';
const RELAY_HEADER = `${CLUSTER} vs ${RELAY}`;

/** Latencies compare as a difference (the link adds this much), everything else as a ratio. */
export function clusterDelta(m: MetricDef, cluster: number, single: number): number {
  if (m.unit === 'ms') return cluster - single;
  return single !== 0 ? cluster / single : NaN;
}

/** Per repetition where both ran: clusterDelta of the metric against `base` (petrel, or petrel-relay). */
function pairedDeltas(m: MetricDef, runs: RunRecord[], reps: number[], base = SUBJECT): number[] {
  const out: number[] = [];
  for (const rep of reps) {
    const c = runs.find((r) => r.rep === rep && r.broker === CLUSTER && r.ok)?.values?.[m.key];
    const p = runs.find((r) => r.rep === rep && r.broker === base && r.ok)?.values?.[m.key];
    if (c !== undefined && p !== undefined && Number.isFinite(c) && Number.isFinite(p)) out.push(clusterDelta(m, c, p));
  }
  return out;
}

export function summarizeScenario(name: string, title: string, metrics: MetricDef[], runs: RunRecord[], brokers: string[]): ScenarioReport {
  const summary: ScenarioReport['summary'] = {};
  const ratios: ScenarioReport['ratios'] = {};
  const reps = [...new Set(runs.map((r) => r.rep))];
  for (const m of metrics) {
    summary[m.key] = {};
    for (const b of brokers) {
      summary[m.key][b] = summarize(runs.filter((r) => r.broker === b && r.ok).map((r) => r.values?.[m.key] ?? NaN));
    }
    if (!brokers.includes(SUBJECT)) continue;
    const peers = brokers.filter((b) => b !== SUBJECT && b !== CLUSTER && b !== RELAY && (m.better !== 'none' || b === BASELINE));
    if (peers.length === 0) continue;
    ratios[m.key] = {};
    for (const peer of peers) {
      const per: number[] = [];
      for (const rep of reps) {
        const a = runs.find((r) => r.rep === rep && r.broker === SUBJECT && r.ok)?.values?.[m.key];
        const b = runs.find((r) => r.rep === rep && r.broker === peer && r.ok)?.values?.[m.key];
        if (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b !== 0) per.push(a / b);
      }
      ratios[m.key][peer] = summarize(per);
    }
  }
  const out: ScenarioReport = { name, title, metrics, runs, summary, ratios };
  if (brokers.includes(SUBJECT) && brokers.includes(CLUSTER) && runs.some((r) => r.broker === CLUSTER)) {
    out.cluster = {};
    for (const m of metrics) out.cluster[m.key] = summarize(pairedDeltas(m, runs, reps));
  }
  if (brokers.includes(RELAY) && brokers.includes(CLUSTER) && runs.some((r) => r.broker === RELAY)) {
    out.overRelay = {};
    for (const m of metrics) out.overRelay[m.key] = summarize(pairedDeltas(m, runs, reps, RELAY));
  }
  return out;
}

/** The cluster's targets, one line each, from the medians of the per-repetition comparisons. */
export function clusterTargets(report: BenchReport): string[] {
  const out: string[] = [];
  for (const sc of report.scenarios) {
    if (!sc.cluster) continue;
    const cpu = sc.cluster.cpuPerMsg;
    const p99 = sc.cluster.p99;
    // The CPU target is the issue's, for the throughput scenarios (fan-in, fan-out, QoS 1). At the
    // latency scenario's fixed low rate every message wakes each process on its path, so its CPU per
    // message counts wake-ups more than work: shown, not judged.
    if (cpu && !p99) out.push(`${sc.name}: broker CPU µs/msg cross-node ${cpu.median.toFixed(2)}× single node (target ≤ 2×): ${cpu.median <= 2 ? 'met' : 'MISSED'}`);
    if (cpu && p99) out.push(`${sc.name}: broker CPU µs/msg cross-node ${cpu.median.toFixed(2)}× single node (at a fixed rate: wake-ups, no target)`);
    if (p99) out.push(`${sc.name}: p99 cross-node ${p99.median >= 0 ? '+' : ''}${p99.median.toFixed(3)} ms vs single node (target < 1 ms): ${p99.median < 1 ? 'met' : 'MISSED'}`);
    const hop = sc.overRelay?.p99;
    if (hop) out.push(`${sc.name}: p99 cross-node ${hop.median >= 0 ? '+' : ''}${hop.median.toFixed(3)} ms vs one node behind a bare TCP relay (what the link adds over an extra process hop)`);
  }
  return out;
}

/** A figure as the tables show it (thousands grouped, `digits` decimals below 1,000). */
export function fmt(v: number, digits: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(digits);
}

/** A table cell: median [min–max], and how many runs failed. */
export function cell(s: Summary | null | undefined, digits: number, failed: number): string {
  if (!s) return failed > 0 ? 'failed' : '–';
  const base = s.n > 1 && s.min !== s.max ? `${fmt(s.median, digits)} [${fmt(s.min, digits)}–${fmt(s.max, digits)}]` : fmt(s.median, digits);
  return failed > 0 ? `${base} (${failed} failed)` : base;
}

function clusterCell(m: MetricDef, s: Summary | null | undefined): string {
  if (!s) return '–';
  if (m.unit !== 'ms') return ratioCell(s);
  const d = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(3)}`;
  return s.n > 1 && s.min !== s.max ? `${d(s.median)} ms [${d(s.min)}–${d(s.max)}]` : `${d(s.median)} ms`;
}

function ratioCell(s: Summary | null | undefined): string {
  if (!s) return '–';
  return s.n > 1 && s.min !== s.max ? `${s.median.toFixed(2)}× [${s.min.toFixed(2)}–${s.max.toFixed(2)}]` : `${s.median.toFixed(2)}×`;
}

export function tableRows(report: BenchReport): { header: string[]; rows: string[][] } {
  const peers = report.brokers.includes(SUBJECT) ? report.brokers.filter((b) => b !== SUBJECT && b !== CLUSTER && b !== RELAY) : [];
  const withCluster = report.brokers.includes(SUBJECT) && report.brokers.includes(CLUSTER);
  const withRelay = report.brokers.includes(RELAY) && report.brokers.includes(CLUSTER);
  const header = ['scenario', 'metric', ...report.brokers, ...peers.map((p) => `${SUBJECT}/${p}`), ...(withCluster ? [CLUSTER_HEADER] : []), ...(withRelay ? [RELAY_HEADER] : [])];
  const rows: string[][] = [];
  for (const sc of report.scenarios) {
    if (sc.setups) continue;
    sc.metrics.forEach((m, i) => {
      const row = [i === 0 ? sc.name : '', m.label];
      for (const b of report.brokers) {
        const failed = sc.runs.filter((r) => r.broker === b && !r.ok).length;
        row.push(cell(sc.summary[m.key]?.[b], m.digits, failed));
      }
      for (const p of peers) row.push(m.better === 'none' && p !== BASELINE ? '' : ratioCell(sc.ratios[m.key]?.[p]));
      if (withCluster) row.push(clusterCell(m, sc.cluster?.[m.key]));
      if (withRelay) row.push(clusterCell(m, sc.overRelay?.[m.key]));
      rows.push(row);
    });
  }
  return { header, rows };
}

export function notesOf(report: BenchReport): string[] {
  const out: string[] = [];
  for (const sc of report.scenarios) {
    for (const r of sc.runs) {
      const who = r.setup ? `${r.broker}/${r.setup}` : r.broker;
      if (!r.ok) out.push(`${sc.name} ${who} rep ${r.rep}: FAILED: ${r.error}`);
      for (const n of r.notes ?? []) out.push(`${sc.name} ${who} rep ${r.rep}: ${n}`);
    }
  }
  return out;
}

/** One line naming both sides of a before/after run, or null without a baseline. */
export function baselineLine(report: BenchReport): string | null {
  const b = report.baseline;
  if (!b) return null;
  return `petrel = ${report.commit} (this checkout), petrel-baseline = ${b.commit} (${b.dir}; node options ${b.nodeFlags.join(' ') || 'none'} ` +
    `from ${b.nodeFlagsFrom === 'baseline' ? 'its own' : "this checkout's"} runtime.ts). Ratios petrel/petrel-baseline per repetition, for every metric.`;
}

function textTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** The setups scenarios' tables and target lines (text or Markdown). */
function setupSections(report: BenchReport, markdown: boolean): string[] {
  const out: string[] = [];
  for (const sc of report.scenarios) {
    if (!sc.setups) continue;
    const { header, rows } = setupTableRows(sc);
    out.push('');
    if (markdown) {
      const to = sc.setups.referenceOf ? 'the setup each column names' : `petrel ${sc.setups.reference}`;
      out.push(`${sc.title}; ratios per repetition to ${to}:`, '', `| ${header.join(' | ')} |`,
        `|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`));
    } else {
      out.push(...textTable(header, rows));
    }
    const targets = setupTargetLines(sc);
    if (targets.length) out.push('', `${markdown ? 'Targets' : `${sc.name} targets`} (medians of the per-repetition ratios):`, ...(markdown ? [''] : []),
      ...targets.map((t) => (markdown ? `- ${t}` : `  ${t}`)));
  }
  return out;
}

export function renderText(report: BenchReport): string {
  const { header, rows } = tableRows(report);
  const out = rows.length ? textTable(header, rows) : [];
  out.push(...setupSections(report, false));
  const base = baselineLine(report);
  if (base) out.unshift(base, '');
  const targets = clusterTargets(report);
  if (targets.length) out.push('', 'cluster targets:', ...targets.map((t) => `  ${t}`));
  const notes = notesOf(report);
  if (notes.length) out.push('', 'notes:', ...notes.map((n) => `  ${n}`));
  return out.join('\n');
}

export function renderMarkdown(report: BenchReport): string {
  const { header, rows } = tableRows(report);
  const m = report.machine;
  const o = report.options;
  const lines = [
    `${report.baseline ? 'Before/after benchmark' : 'Benchmark'} ${report.date.slice(0, 16).replace('T', ' ')} UTC, commit \`${report.commit}\`` +
      `${report.baseline ? ` against baseline \`${report.baseline.commit}\` (petrel-baseline)` : ''}: ${m.cores} cores (${m.cpuModel}), Node ${m.node}, ` +
      `Mosquitto ${m.versions.mosquitto ?? '?'}, Aedes ${m.versions.aedes ?? '?'}; ${o.reps} repetitions of ${Number(o.durationMs) / 1000} s ` +
      `(after ${Number(o.warmupMs) / 1000} s warm-up), ${o.workers} generator workers` +
      `${o.pin ? ` (pinned with taskset: generator on CPU ${String(o.pin).split('/')[0]}, every broker process on CPU ${String(o.pin).split('/')[1]})` : ''}. Cells: median [min–max]; ratios per repetition.` +
      (report.baseline
        ? ` petrel/petrel-baseline is given for every metric; the baseline ran from its own build with node options ` +
          `\`${report.baseline.nodeFlags.join(' ') || 'none'}\` (from ${report.baseline.nodeFlagsFrom === 'baseline' ? 'its' : "this checkout's"} runtime.ts).`
        : ''),
    ...(rows.length ? ['', `| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)] : []),
    ...setupSections(report, true),
  ];
  const targets = clusterTargets(report);
  if (targets.length) {
    lines.push('', `${CLUSTER}: two Petrel nodes and one etcd member; publishers on one node, subscribers on the other; ` +
      `broker CPU = both nodes (etcd apart). Cluster targets (medians of the per-repetition comparison):`, '', ...targets.map((t) => `- ${t}`));
  }
  const notes = notesOf(report);
  if (notes.length) lines.push('', 'Notes:', '', ...notes.map((n) => `- ${n}`));
  return lines.join('\n') + '\n';
}
