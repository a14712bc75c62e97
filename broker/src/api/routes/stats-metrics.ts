/** Gauges (stats), counters (metrics) and both in Prometheus text format. */
import type { AdminApi } from '../admin.js';
import { json, text, TEXT_SCHEMA, type JsonSchema, type Route } from '../route.js';

/** This node's or the summed counters (an object of numbers), or one `{node, …}` row per node (aggregate=false). */
const COUNTERS: JsonSchema = {
  anyOf: [
    { type: 'object', additionalProperties: { type: ['number', 'string'] } },
    { type: 'array', items: { type: 'object', required: ['node'], properties: { node: { type: 'string' } } } },
  ],
};

const PROMETHEUS = 'text/plain; version=0.0.4';

/** Prometheus text format, EMQX-style names (`emqx_…` becomes `petrel_…`): stats are gauges, metrics counters. */
export function prometheusText(admin: AdminApi): string {
  const lines: string[] = [];
  const node = admin.nodeName.replace(/["\\\n]/g, '');
  const emit = (values: Record<string, number>, type: string): void => {
    for (const [k, v] of Object.entries(values)) {
      const name = 'petrel_' + k.replace(/[^A-Za-z0-9_]/g, '_');
      lines.push(`# TYPE ${name} ${type}`, `${name}{node="${node}"} ${v}`);
    }
  };
  emit(admin.stats(), 'gauge');
  emit(admin.metrics(), 'counter');
  // Per authenticator, as EMQX's emqx_authn_{total,success,failed,nomatch}{id}.
  const authn = admin.authn?.counters() ?? [];
  for (const k of ['total', 'success', 'failed', 'nomatch'] as const) {
    if (authn.length === 0) break;
    lines.push(`# TYPE petrel_authn_${k} counter`);
    for (const a of authn) lines.push(`petrel_authn_${k}{node="${node}",id="${a.id}"} ${a[k]}`);
  }
  // Per authorization source, as EMQX's emqx_authz_{allow,deny,nomatch,failed}{type}.
  const authz = admin.authorization;
  const sources = authz === undefined ? [] : authz.listSources().map((x) => String(x['type']));
  for (const k of ['allow', 'deny', 'nomatch', 'failed'] as const) {
    if (sources.length === 0) break;
    lines.push(`# TYPE petrel_authz_${k} counter`);
    for (const t of sources) lines.push(`petrel_authz_${k}{node="${node}",type="${t}"} ${authz!.status(t).metrics[k] ?? 0}`);
  }
  // Per rule, as EMQX's emqx_rule_{matched,passed,…}{id}.
  const rules = admin.rules?.list() ?? [];
  for (const k of ['matched', 'passed', 'failed', 'failed.exception', 'failed.no_result', 'actions.total', 'actions.success', 'actions.failed']) {
    if (rules.length === 0) break;
    const name = 'petrel_rule_' + k.replace(/\./g, '_');
    lines.push(`# TYPE ${name} counter`);
    for (const r of rules) lines.push(`${name}{node="${node}",id="${r.id.replace(/["\\\n]/g, '')}"} ${admin.rules!.metrics(r.id)?.[k] ?? 0}`);
  }
  // Per action, as EMQX's emqx_action_{matched,success,failed,dropped,…}{id}.
  const actions = admin.integration?.list('actions') ?? [];
  for (const k of ['matched', 'success', 'failed', 'retried', 'dropped', 'dropped.expired', 'dropped.queue_full', 'dropped.resource_stopped', 'queuing', 'inflight']) {
    if (actions.length === 0) break;
    const name = 'petrel_action_' + k.replace(/\./g, '_');
    lines.push(`# TYPE ${name} ${k === 'queuing' || k === 'inflight' ? 'gauge' : 'counter'}`);
    for (const a of actions) lines.push(`${name}{node="${node}",id="${a.id.replace(/["\\\n]/g, '')}"} ${admin.integration!.actionMetrics(a.id)?.[k] ?? 0}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * EMQX's `aggregate`: true = one object summed over the nodes, false = one `{node, …}` row per
 * node. Without it the answer is this node's alone, as before the cluster (EMQX answers the
 * per-node list then).
 */
const AGGREGATE_QUERY: JsonSchema = {
  type: 'object',
  properties: { aggregate: { type: 'boolean', description: 'true: summed over the cluster; false: one row per node; absent: this node.' } },
};

export const statsMetricsRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/stats', summary: 'Gauges: connections, sessions, subscriptions, topics, retained, delayed', query: AGGREGATE_QUERY, responses: { 200: COUNTERS },
    handler: async ({ query }, admin) => {
      if (query.aggregate === true) return json(200, await admin.cluster.statsAggregate());
      if (query.aggregate === false) return json(200, await admin.cluster.statsPerNode());
      return json(200, admin.stats());
    },
  },
  {
    method: 'GET', path: '/api/v5/metrics', summary: 'Counters (EMQX names) and the node name', query: AGGREGATE_QUERY, responses: { 200: COUNTERS },
    handler: async ({ query }, admin) => {
      if (query.aggregate === true) return json(200, await admin.cluster.metricsAggregate());
      if (query.aggregate === false) return json(200, await admin.cluster.metricsPerNode());
      return json(200, { node: admin.nodeName, ...admin.metrics() });
    },
  },
  { method: 'GET', path: '/metrics', access: 'open', summary: 'Prometheus text format (open, for scrapers)', responses: { 200: TEXT_SCHEMA }, handler: (_r, admin) => text(200, prometheusText(admin), PROMETHEUS) },
  { method: 'GET', path: '/api/v5/prometheus/stats', summary: 'Prometheus text format (EMQX path)', responses: { 200: TEXT_SCHEMA }, handler: (_r, admin) => text(200, prometheusText(admin), PROMETHEUS) },
];
