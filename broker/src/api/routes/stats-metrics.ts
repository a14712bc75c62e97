/** Gauges (stats), counters (metrics) and both in Prometheus text format. */
import { json, text, type JsonSchema, type Route } from '../route.js';
import { emqxPrometheusText, prometheusText, PROMETHEUS_MODES, type PrometheusMode } from '../prometheus.js';

const PROMETHEUS = 'text/plain; version=0.0.4';

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
    method: 'GET', path: '/api/v5/stats', summary: 'Gauges: connections, sessions, subscriptions, topics, retained, delayed', query: AGGREGATE_QUERY,
    handler: async ({ query }, admin) => {
      if (query.aggregate === true) return json(200, await admin.cluster.statsAggregate());
      if (query.aggregate === false) return json(200, await admin.cluster.statsPerNode());
      return json(200, admin.stats());
    },
  },
  {
    method: 'GET', path: '/api/v5/metrics', summary: 'Counters (EMQX names) and the node name', query: AGGREGATE_QUERY,
    handler: async ({ query }, admin) => {
      if (query.aggregate === true) return json(200, await admin.cluster.metricsAggregate());
      if (query.aggregate === false) return json(200, await admin.cluster.metricsPerNode());
      return json(200, { node: admin.nodeName, ...admin.metrics() });
    },
  },
  { method: 'GET', path: '/metrics', access: 'open', summary: 'Prometheus text format (open, for scrapers)', handler: (_r, admin) => text(200, prometheusText(admin), PROMETHEUS) },
  {
    // Open, as EMQX's is by default (prometheus.enable_basic_auth = false): scrapers carry no key.
    method: 'GET', path: '/api/v5/prometheus/stats', access: 'open', summary: 'Prometheus text format with EMQX\'s names (emqx_…) and modes',
    query: { type: 'object', properties: { mode: { enum: [...PROMETHEUS_MODES], default: 'node', description: 'node: this node; all_nodes_aggregated: stats and metrics summed over the cluster; all_nodes_unaggregated: each node\'s, labelled.' } } },
    handler: async ({ query }, admin) => text(200, await emqxPrometheusText(admin, query.mode as PrometheusMode), PROMETHEUS),
  },
];
