/**
 * Per-rule counters with EMQX's names (GET /api/v5/rules/{id}/metrics, Prometheus petrel_rule_*).
 * `failed` is the sum of `failed.exception` (the SQL raised: a function given the wrong types, a
 * payload that is not JSON) and `failed.no_result` (WHERE false, FOREACH empty), as in EMQX 5.
 */
export const RULE_COUNTERS = [
  'matched', 'passed', 'failed', 'failed.exception', 'failed.no_result',
  'actions.total', 'actions.success', 'actions.failed', 'actions.failed.out_of_service', 'actions.failed.unknown',
] as const;

export type RuleCounter = typeof RULE_COUNTERS[number];

export type RuleMetrics = Record<RuleCounter, number>;

export function newRuleMetrics(): RuleMetrics {
  const m = {} as RuleMetrics;
  for (const k of RULE_COUNTERS) m[k] = 0;
  return m;
}
