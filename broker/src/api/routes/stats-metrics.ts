/** Gauges (stats), counters (metrics) and both in Prometheus text format. */
import type { AdminApi } from '../admin.js';
import { json, text, TEXT_SCHEMA, type JsonSchema, type Route } from '../route.js';
import { emqxPrometheusText, nodeMetrics, nodeStats, prometheusText, PROMETHEUS_MODES, type PrometheusMode } from '../prometheus.js';
import { nodeOfMember } from '../../workers/config.js';

/** This node's or the summed counters (an object of numbers), or one `{node, …}` row per node (aggregate=false). */
const COUNTERS: JsonSchema = {
  anyOf: [
    { type: 'object', additionalProperties: { type: ['number', 'string'] } },
    { type: 'array', items: { type: 'object', required: ['node'], properties: { node: { type: 'string' } } } },
  ],
};

const PROMETHEUS = 'text/plain; version=0.0.4';

/**
 * EMQX's `aggregate`: true = one object summed over the nodes, false = one `{node, …}` row per
 * node. Without it the answer is this node's alone, as before the cluster (EMQX answers the
 * per-node list then).
 */
const AGGREGATE_QUERY: JsonSchema = {
  type: 'object',
  properties: { aggregate: { type: 'boolean', description: 'true: summed over the cluster; false: one row per node (each worker of a multi-process node on its own); absent: this node (a multi-process node\'s workers summed).' } },
};

export const statsMetricsRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/stats', summary: 'Gauges: connections, sessions, subscriptions, topics, retained, delayed', query: AGGREGATE_QUERY, responses: { 200: COUNTERS },
    handler: async ({ query }, admin) => {
      if (query.aggregate === true) return json(200, await admin.cluster.statsAggregate());
      if (query.aggregate === false) return json(200, await admin.cluster.statsPerNode());
      return json(200, await nodeStats(admin));
    },
  },
  {
    method: 'GET', path: '/api/v5/metrics', summary: 'Counters (EMQX names) and the node name', query: AGGREGATE_QUERY, responses: { 200: COUNTERS },
    handler: async ({ query }, admin) => {
      if (query.aggregate === true) return json(200, await admin.cluster.metricsAggregate());
      if (query.aggregate === false) return json(200, await admin.cluster.metricsPerNode());
      return json(200, { node: nodeOfMember(admin.nodeName), ...await nodeMetrics(admin) });
    },
  },
  { method: 'GET', path: '/metrics', access: 'open', summary: 'Prometheus text format (open, for scrapers)', responses: { 200: TEXT_SCHEMA }, handler: async (_r, admin) => text(200, await prometheusText(admin), PROMETHEUS) },
  {
    // Open, as EMQX's is by default (prometheus.enable_basic_auth = false): scrapers carry no key.
    method: 'GET', path: '/api/v5/prometheus/stats', access: 'open', summary: 'Prometheus text format with EMQX\'s names (emqx_…) and modes', responses: { 200: TEXT_SCHEMA },
    query: { type: 'object', properties: { mode: { enum: [...PROMETHEUS_MODES], default: 'node', description: 'node: this node; all_nodes_aggregated: stats and metrics summed over the cluster; all_nodes_unaggregated: each node\'s, labelled.' } } },
    handler: async ({ query }, admin) => text(200, await emqxPrometheusText(admin, query.mode as PrometheusMode), PROMETHEUS),
  },
];
