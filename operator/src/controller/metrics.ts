/**
 * The operator's Prometheus metrics (prom-client), on their own registry so tests can run several
 * controllers in one process. Names follow the controller-runtime family where one exists
 * (`…_reconcile_total`, `…_reconcile_time_seconds`, `…_workqueue_depth`) under `petrel_operator_`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: 'petrel_operator_reconcile_total', help: 'Reconciles by result (success, error, requeue, invalid, paused).',
    labelNames: ['result'] as const, registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: 'petrel_operator_reconcile_time_seconds', help: 'Time per reconcile.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'petrel_operator_workqueue_depth', help: 'Keys waiting in the work queue.', registers: [this.registry] });
  readonly applies = new Counter({
    name: 'petrel_operator_applies_total', help: 'Server-side applies of owned objects, by kind and reason (created, changed).',
    labelNames: ['kind', 'reason'] as const, registers: [this.registry],
  });
  readonly deletes = new Counter({
    name: 'petrel_operator_deletes_total', help: 'Owned objects deleted because the spec no longer wants them, by kind.',
    labelNames: ['kind'] as const, registers: [this.registry],
  });
  readonly etcdMemberChanges = new Counter({
    name: 'petrel_operator_etcd_member_changes_total', help: 'etcd members added or removed while scaling a core.',
    labelNames: ['op'] as const, registers: [this.registry],
  });
  readonly isLeader = new Gauge({ name: 'petrel_operator_leader', help: '1 while this process holds the leader Lease.', registers: [this.registry] });
  readonly clusters = new Gauge({
    name: 'petrel_operator_mqttclusters', help: 'MqttClusters seen, by Ready condition status.',
    labelNames: ['ready'] as const, registers: [this.registry],
  });

  constructor(defaultMetrics = false) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'petrel_operator_' });
  }
}
