/** Gauges (stats), counters (metrics) and both in Prometheus text format. */
import type { AdminApi } from '../admin.js';
import { json, text, type Route } from '../route.js';

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
  return lines.join('\n') + '\n';
}

export const statsMetricsRoutes: Route[] = [
  { method: 'GET', path: '/api/v5/stats', summary: 'Gauges: connections, sessions, subscriptions, topics, retained, delayed', handler: (_r, admin) => json(200, admin.stats()) },
  { method: 'GET', path: '/api/v5/metrics', summary: 'Counters (EMQX names) and the node name', handler: (_r, admin) => json(200, { node: admin.nodeName, ...admin.metrics() }) },
  { method: 'GET', path: '/metrics', access: 'open', summary: 'Prometheus text format (open, for scrapers)', handler: (_r, admin) => text(200, prometheusText(admin), PROMETHEUS) },
  { method: 'GET', path: '/api/v5/prometheus/stats', summary: 'Prometheus text format (EMQX path)', handler: (_r, admin) => text(200, prometheusText(admin), PROMETHEUS) },
];
