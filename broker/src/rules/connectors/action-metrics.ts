/**
 * Per-action counters with EMQX 5's names (GET /api/v5/actions/{id}/metrics, Prometheus
 * petrel_action_*), and the two gauges (`queuing`, `inflight`) read live from the worker.
 *
 * `matched` counts items offered to the action; each then ends in exactly one of `success`,
 * `failed`, or a `dropped.*` (`dropped` is their sum), once it has left the buffer. `retried`
 * counts sends tried again after a retryable error; `retried.success` / `retried.failed` their
 * outcomes. `late_reply` stays 0: a reply that comes after its request_ttl is still counted a
 * success here (Petrel does not abandon a request that is under way).
 */
export const ACTION_COUNTERS = [
  'matched', 'success', 'failed', 'retried', 'retried.success', 'retried.failed', 'late_reply', 'received',
  'dropped', 'dropped.expired', 'dropped.queue_full', 'dropped.resource_not_found', 'dropped.resource_stopped', 'dropped.other',
] as const;

export type ActionCounter = typeof ACTION_COUNTERS[number];
export type ActionMetrics = Record<ActionCounter, number>;

export function newActionMetrics(): ActionMetrics {
  const m = {} as ActionMetrics;
  for (const k of ACTION_COUNTERS) m[k] = 0;
  return m;
}

export type DropReason = 'expired' | 'queue_full' | 'resource_not_found' | 'resource_stopped' | 'other';

export function countDrop(m: ActionMetrics, reason: DropReason, n = 1): void {
  m.dropped += n;
  m[`dropped.${reason}`] += n;
}
