/**
 * Reports of scenarios run once per setup of Petrel (the `access` scenario: open, sha256,
 * bcrypt, JWT, ACL). Columns are the setups; each setup is divided by the reference setup
 * (`open`) per repetition — the two ran seconds apart on the same machine — and the ratios are
 * summarized as median [min–max]. Below the table, the plan's target lines: a verdict where a
 * minimum ratio is set (QoS 1 msg/s of sha256, JWT and the ACL at most 10 % below open), the
 * figures only where it is not (connect rates; bcrypt's is a per-connect cost).
 *
 * A setup that ran under another load than the reference (the rules scenario's sinks, paced) is
 * divided by a reference of its own (`referenceOf`: plain-paced), and its line may report the
 * difference without a verdict (`delta`): a rate line, not a target.
 *
 * In every repetition the setups run in the plan's order, reversed on even repetitions, and the
 * order turns by one every two repetitions: no setup always follows the same one, nor always holds
 * the same place (with three setups, ABC/CBA alone kept B in the middle every time, and the
 * middle run proved slower on this machine).
 */
import type { MetricDef, SetupPlan, SetupTarget } from './scenarios/common.js';
import { cell, fmt, type RunRecord, type ScenarioReport } from './report.js';
import { summarize, type Summary } from './lib/stats.js';

export function setupOrder<T>(setups: readonly T[], rep: number): T[] {
  const n = setups.length;
  const shift = n === 0 ? 0 : Math.floor((rep - 1) / 2) % n;
  const rotated = [...setups.slice(shift), ...setups.slice(0, shift)];
  return rep % 2 === 0 ? rotated.reverse() : rotated;
}

export interface SetupsInfo {
  names: string[];
  reference: string;
  referenceOf?: Record<string, string>;
  targets: SetupTarget[];
}

/** The setup `name` is compared with: its own reference (same load) or the plan's. */
export function referenceFor(info: Pick<SetupsInfo, 'reference' | 'referenceOf'>, name: string): string {
  return info.referenceOf?.[name] ?? info.reference;
}

/** Per repetition where both ran: setup ÷ reference of one metric. */
function pairedRatios(key: string, runs: RunRecord[], setup: string, reference: string): number[] {
  const out: number[] = [];
  for (const rep of new Set(runs.map((r) => r.rep))) {
    const a = runs.find((r) => r.rep === rep && r.setup === setup && r.ok)?.values?.[key];
    const b = runs.find((r) => r.rep === rep && r.setup === reference && r.ok)?.values?.[key];
    if (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b !== 0) out.push(a / b);
  }
  return out;
}

/** Per repetition where both ran: setup − reference of one metric. */
function pairedDeltas(key: string, runs: RunRecord[], setup: string, reference: string): number[] {
  const out: number[] = [];
  for (const rep of new Set(runs.map((r) => r.rep))) {
    const a = runs.find((r) => r.rep === rep && r.setup === setup && r.ok)?.values?.[key];
    const b = runs.find((r) => r.rep === rep && r.setup === reference && r.ok)?.values?.[key];
    if (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b)) out.push(a - b);
  }
  return out;
}

/** `summary[metric][setup]` and `ratios[metric][setup]` (setup ÷ reference) of a setups scenario. */
export function summarizeSetups(name: string, title: string, metrics: MetricDef[], runs: RunRecord[], plan: Pick<SetupPlan, 'reference' | 'referenceOf' | 'targets'> & { setups: { name: string }[] }): ScenarioReport {
  const names = plan.setups.map((s) => s.name);
  const others = names.filter((s) => referenceFor(plan, s) !== s);
  const summary: ScenarioReport['summary'] = {};
  const ratios: ScenarioReport['ratios'] = {};
  for (const m of metrics) {
    summary[m.key] = {};
    for (const s of names) summary[m.key][s] = summarize(runs.filter((r) => r.setup === s && r.ok).map((r) => r.values?.[m.key] ?? NaN));
    if (m.better === 'none') continue;
    ratios[m.key] = {};
    for (const s of others) ratios[m.key][s] = summarize(pairedRatios(m.key, runs, s, referenceFor(plan, s)));
  }
  const setups: SetupsInfo = { names, reference: plan.reference, targets: plan.targets };
  if (plan.referenceOf) setups.referenceOf = plan.referenceOf;
  return { name, title, metrics, runs, summary, ratios, setups };
}


/** Small ratios (bcrypt's connect rate) keep two significant digits instead of showing 0.00×; large ones lose their decimals. */
function ratioCell(s: Summary | null | undefined): string {
  if (!s) return '–';
  const r = (v: number) => (Math.abs(v) < 0.1 ? v.toPrecision(2) : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));
  return s.n > 1 && s.min !== s.max ? `${r(s.median)}× [${r(s.min)}–${r(s.max)}]` : `${r(s.median)}×`;
}

export function setupTableRows(sc: ScenarioReport): { header: string[]; rows: string[][] } {
  const info = sc.setups as SetupsInfo;
  const others = info.names.filter((n) => referenceFor(info, n) !== n);
  const header = ['scenario', 'metric', ...info.names.map((n) => `petrel ${n}`), ...others.map((n) => `${n}/${referenceFor(info, n)}`)];
  const rows = sc.metrics.map((m, i) => {
    const row = [i === 0 ? sc.name : '', m.label];
    for (const n of info.names) row.push(cell(sc.summary[m.key]?.[n], m.digits, sc.runs.filter((r) => r.setup === n && !r.ok).length));
    for (const n of others) row.push(m.better === 'none' ? '' : ratioCell(sc.ratios[m.key]?.[n]));
    return row;
  });
  return { header, rows };
}

/** The target lines: verdicts on the medians of the per-repetition ratios, or the figures. */
export function setupTargetLines(sc: ScenarioReport): string[] {
  const info = sc.setups as SetupsInfo;
  const out: string[] = [];
  const metric = (key: string) => sc.metrics.find((m) => m.key === key);
  for (const t of info.targets) {
    const m = metric(t.metric);
    if (!m) continue;
    for (const s of t.setups) {
      const ref = referenceFor(info, s);
      const r = sc.ratios[t.metric]?.[s];
      let line = `${m.label}: ${s}/${ref} ${ratioCell(r)}`;
      // "Cost" is a shortfall of a higher-is-better metric; on a CPU figure it would mislead.
      if (r && m.better === 'higher' && t.maxDelta === undefined) line += ` (${r.median >= 1 ? 'no cost' : `cost ${((1 - r.median) * 100).toFixed(1)} %`})`;
      const shown = (t.show ?? []).map((k) => {
        const km = metric(k);
        // A figure this setup does not have (Kafka's rows per INSERT) is left out.
        if (!km || !sc.summary[k]?.[s]) return '';
        const v = (x: string) => fmt(sc.summary[k]?.[x]?.median ?? NaN, km.digits);
        // A figure only the setup has (a sink's rate) is shown alone.
        return sc.summary[k]?.[ref] ? `${km.label} ${v(s)} vs ${v(ref)}` : `${km.label} ${v(s)}`;
      }).filter(Boolean);
      if (shown.length) line += `; ${shown.join(', ')}`;
      if (t.maxDelta !== undefined || t.delta) {
        const d = pairedDeltas(t.metric, sc.runs, s, ref);
        const dm = d.length ? [...d].sort((x, y) => x - y)[Math.floor(d.length / 2)]! : NaN;
        const lo = fmt(Math.min(...d), m.digits);
        const hi = fmt(Math.max(...d), m.digits);
        const range = d.length > 1 && lo !== hi ? ` [${lo}–${hi}]` : '';
        line += `; difference ${fmt(dm, m.digits)}${range} ${m.unit}`;
        if (t.maxDelta !== undefined) line += `; target ≤ ${t.maxDelta} ${m.unit}: ${Number.isNaN(dm) ? 'no data (runs failed)' : dm <= t.maxDelta ? 'met' : 'MISSED'}`;
        if (t.why) line += ` (${t.why})`;
      } else if (t.minRatio !== undefined) {
        const target = `target: cost ≤ ${Math.round((1 - t.minRatio) * 100)} %`;
        line += r ? `; ${target}: ${r.median >= t.minRatio ? 'met' : 'MISSED'}` : `; ${target}: no data (runs failed)`;
      } else if (t.why) {
        line += `: ${t.why}`;
      }
      out.push(`${sc.name}: ${line}`);
    }
  }
  return out;
}
