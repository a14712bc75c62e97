/**
 * Prometheus text format from the node's own counters: nothing is counted here, every value is
 * read from what /api/v5/stats, /metrics, the rules, actions, authenticators, authorization
 * sources, listeners and gateways already keep.
 *
 * Names are EMQX's: a stat or metric `a.b.c` becomes `<prefix>_a_b_c`, so with the prefix
 * `emqx` (GET /api/v5/prometheus/stats) the series are EMQX's own (`emqx_connections_count`,
 * `emqx_messages_received`, `emqx_rule_matched{id}`, `emqx_action_success{id}`,
 * `emqx_authn_total{id}`, `emqx_authz_allow{type}`) and an EMQX Grafana dashboard reads them;
 * `/metrics` serves the same with the prefix `petrel`. Per listener and per gateway Petrel adds
 * series EMQX does not have (`emqx_listener_*{id}`, `emqx_gateway_*{name}`).
 *
 * EMQX's `mode`: `node` (default) is this node (a multi-process node's workers summed); `all_nodes_aggregated` sums the stats and metrics
 * of every node (without a node label), `all_nodes_unaggregated` gives every node's with its
 * node label. The per-rule, action, authn/authz, listener, gateway and VM series are this
 * node's in every mode, with its node label.
 */
import { cpus, totalmem } from 'node:os';
import type { AdminApi } from './admin.js';
import { nodeOfMember } from '../workers/config.js';

export const PROMETHEUS_MODES = ['node', 'all_nodes_aggregated', 'all_nodes_unaggregated'] as const;
export type PrometheusMode = (typeof PROMETHEUS_MODES)[number];

type Type = 'gauge' | 'counter';
type Labels = Record<string, string>;

/** Families in first-seen order, each with its samples: one `# TYPE` line per family. */
class Exposition {
  private readonly families = new Map<string, { type: Type; lines: string[] }>();
  private readonly prefix: string;
  constructor(prefix: string) { this.prefix = prefix; }

  add(key: string, type: Type, labels: Labels, value: number): void {
    const name = `${this.prefix}_${key.replace(/[^A-Za-z0-9_]/g, '_')}`;
    let f = this.families.get(name);
    if (f === undefined) { f = { type, lines: [] }; this.families.set(name, f); }
    const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '')}"`).join(',');
    f.lines.push(`${name}${l === '' ? '' : `{${l}}`} ${Number.isFinite(value) ? value : 0}`);
  }

  addAll(values: Record<string, unknown>, type: Type, labels: Labels): void {
    let dropped = 0;
    for (const [k, v] of Object.entries(values)) {
      if (typeof v !== 'number') continue;
      this.add(k, type, labels, v);
      if (k.startsWith('messages.dropped.')) dropped += v;
    }
    // EMQX's messages.dropped is the sum of its reasons; the broker counts the reasons only.
    if (type === 'counter' && !('messages.dropped' in values)) this.add('messages.dropped', type, labels, dropped);
  }

  text(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) out.push(`# TYPE ${name} ${f.type}`, ...f.lines);
    return out.join('\n') + '\n';
  }
}

/** This node's series (`/metrics`, and mode `node`): synchronous, no cluster call. */
/** This node's gauges: in a worker of a multi-process node (node.workers), summed over its workers. */
export async function nodeStats(admin: AdminApi): Promise<Record<string, number>> {
  return admin.cluster.statsNode !== undefined ? admin.cluster.statsNode() : admin.stats();
}

/** This node's counters, as nodeStats. */
export async function nodeMetrics(admin: AdminApi): Promise<Record<string, number>> {
  return admin.cluster.metricsNode !== undefined ? admin.cluster.metricsNode() : admin.metrics();
}

export async function prometheusText(admin: AdminApi, prefix = 'petrel'): Promise<string> {
  const x = new Exposition(prefix);
  const node = { node: nodeOfMember(admin.nodeName) };
  x.addAll(await nodeStats(admin), 'gauge', node);
  x.addAll(await nodeMetrics(admin), 'counter', node);
  perNodeDetail(x, admin);
  return x.text();
}

/** GET /api/v5/prometheus/stats: the `emqx_` names, in EMQX's modes, with the cluster's node counts. */
export async function emqxPrometheusText(admin: AdminApi, mode: PrometheusMode): Promise<string> {
  const x = new Exposition('emqx');
  if (mode === 'node') {
    x.addAll(await nodeStats(admin), 'gauge', { node: nodeOfMember(admin.nodeName) });
    x.addAll(await nodeMetrics(admin), 'counter', { node: nodeOfMember(admin.nodeName) });
  } else if (mode === 'all_nodes_aggregated') {
    x.addAll(await admin.cluster.statsAggregate(), 'gauge', {});
    x.addAll(await admin.cluster.metricsAggregate(), 'counter', {});
  } else {
    for (const row of await admin.cluster.statsPerNode()) x.addAll(row, 'gauge', { node: String(row['node']) });
    for (const row of await admin.cluster.metricsPerNode()) x.addAll(row, 'counter', { node: String(row['node']) });
  }
  const members = await admin.cluster.nodes();
  const running = members.filter((m) => m.node_status !== 'unreachable').length;
  x.add('cluster_nodes_running', 'gauge', { node: admin.nodeName }, running);
  x.add('cluster_nodes_stopped', 'gauge', { node: admin.nodeName }, members.length - running);
  perNodeDetail(x, admin);
  return x.text();
}

function perNodeDetail(x: Exposition, admin: AdminApi): void {
  const node = admin.nodeName;
  // Per authenticator, as EMQX's emqx_authn_{total,success,failed,nomatch}{id}.
  for (const a of admin.authn?.counters() ?? []) {
    for (const k of ['total', 'success', 'failed', 'nomatch'] as const) x.add(`authn_${k}`, 'counter', { node, id: a.id }, a[k]);
  }
  // Per authorization source, as EMQX's emqx_authz_{allow,deny,nomatch,failed}{type}.
  const authz = admin.authorization;
  for (const s of authz?.listSources() ?? []) {
    const type = String(s['type']);
    const m = authz!.status(type).metrics;
    for (const k of ['allow', 'deny', 'nomatch', 'failed'] as const) x.add(`authz_${k}`, 'counter', { node, type }, m[k] ?? 0);
  }
  // Per rule, as EMQX's emqx_rule_{matched,passed,…}{id}.
  for (const r of admin.rules?.list() ?? []) {
    const m = admin.rules!.metrics(r.id) ?? {};
    for (const k of RULE_COUNTERS) x.add(`rule_${k}`, 'counter', { node, id: r.id }, m[k] ?? 0);
  }
  // Per action, as EMQX's emqx_action_{matched,success,failed,dropped,…}{id}.
  for (const a of admin.integration?.list('actions') ?? []) {
    const m = admin.integration!.actionMetrics(a.id) ?? {};
    for (const k of ACTION_COUNTERS) x.add(`action_${k}`, k === 'queuing' || k === 'inflight' ? 'gauge' : 'counter', { node, id: a.id }, m[k] ?? 0);
  }
  // Petrel's: per listener and per gateway.
  for (const l of admin.listListeners()) {
    const id = String(l['id']);
    x.add('listener_running', 'gauge', { node, id }, l['running'] === true ? 1 : 0);
    x.add('listener_current_connections', 'gauge', { node, id }, num(l['currentConnections']));
    x.add('listener_accepted', 'counter', { node, id }, num(l['accepted']));
    x.add('listener_rejected', 'counter', { node, id }, num(l['rejected']));
  }
  for (const g of admin.gateways?.list() ?? []) {
    if (g['status'] === 'unloaded') continue;
    const name = String(g['name']);
    x.add('gateway_running', 'gauge', { node, name }, g['status'] === 'running' ? 1 : 0);
    x.add('gateway_current_connections', 'gauge', { node, name }, num(g['current_connections']));
  }
  vm(x, admin);
}

export const RULE_COUNTERS = ['matched', 'passed', 'failed', 'failed.exception', 'failed.no_result', 'actions.total', 'actions.success', 'actions.failed'] as const;
export const ACTION_COUNTERS = ['matched', 'success', 'failed', 'retried', 'dropped', 'dropped.expired', 'dropped.queue_full', 'dropped.resource_stopped', 'queuing', 'inflight'] as const;

/** CPU times at the previous scrape: emqx_vm_cpu_use is the host's busy share since then. */
let lastCpu = cpuTimes();

function cpuTimes(): { busy: number; total: number } {
  let busy = 0, total = 0;
  for (const c of cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

function vm(x: Exposition, admin: AdminApi): void {
  const node = { node: admin.nodeName };
  const now = cpuTimes();
  const dt = now.total - lastCpu.total;
  const use = dt > 0 ? Math.round(((now.busy - lastCpu.busy) / dt) * 10000) / 100 : 0;
  lastCpu = now;
  x.add('vm_cpu_use', 'gauge', node, use);
  x.add('vm_cpu_idle', 'gauge', node, Math.round((100 - use) * 100) / 100);
  x.add('vm_used_memory', 'gauge', node, process.memoryUsage.rss());
  x.add('vm_total_memory', 'gauge', node, totalmem());
  x.add('vm_uptime_ms', 'gauge', node, admin.uptimeSec() * 1000);
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
