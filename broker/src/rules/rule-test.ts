/**
 * POST /api/v5/rule_test: EMQX's "test SQL" — run a statement over a sample context, publish
 * nothing, touch no metric. The context is EMQX's: `event_type` (`message_publish` by default, or
 * the name of an `$events/…` source such as `client_connected`) and the columns to use; missing
 * columns get EMQX's sample values. The context must be one the FROM selects (its topic matches a
 * filter, or its event is listed), else "SQL Not Match", as EMQX answers.
 */
import { RuleSqlError, isEventName, EVENT_TOPICS } from './sql/index.js';
import { compileSql } from './rule-config.js';
import { jsonSafe } from './actions.js';

export type RuleTestResult =
  | { ok: true; output: unknown }
  | { ok: false; status: 400 | 412; code: 'BAD_REQUEST' | 'SQL_NOT_MATCH'; message: string };

export function testRule(sql: string, context: Record<string, unknown>, node: string): RuleTestResult {
  let rule;
  try { rule = compileSql(sql); } catch (err) {
    return { ok: false, status: 400, code: 'BAD_REQUEST', message: err instanceof RuleSqlError ? err.message : (err as Error).message };
  }
  const { event_type: et, ...given } = context;
  const eventType = et === undefined ? 'message_publish' : String(et);
  const now = Date.now();
  let cols: Record<string, unknown>;
  if (eventType === 'message_publish') {
    cols = {
      event: 'message.publish', id: '0'.repeat(32), clientid: 'c_emqx', username: 'u_emqx', topic: 't/a', qos: 1,
      payload: '{"msg": "hello"}', peerhost: '127.0.0.1', peername: '127.0.0.1:12345', flags: { retain: false, dup: false },
      pub_props: {}, publish_received_at: now, timestamp: now, node, ...given,
    };
    if (typeof cols.topic !== 'string' || !rule.matches(cols.topic)) return notMatch(`topic '${String(cols.topic)}' matches no filter of FROM`);
  } else {
    if (!isEventName(eventType)) return { ok: false, status: 400, code: 'BAD_REQUEST', message: `context.event_type: '${eventType}' is not message_publish or an event (${Object.keys(EVENT_TOPICS).join(', ')})` };
    if (!rule.events.includes(eventType)) return notMatch(`FROM does not select $events/${eventType}`);
    cols = { event: EVENT_TOPICS[eventType], clientid: 'c_emqx', username: 'u_emqx', peerhost: '127.0.0.1', timestamp: now, node, ...given };
  }
  const out = rule.run(cols);
  if (out.status === 'failed') return { ok: false, status: 400, code: 'BAD_REQUEST', message: `rule failed in ${out.error.clause ?? 'evaluation'}: ${out.error.message}` };
  if (out.status === 'no_result') return notMatch('the rule selected nothing (WHERE false or FOREACH empty)');
  return { ok: true, output: jsonSafe(rule.kind === 'foreach' ? out.outputs : out.outputs[0]) };
}

function notMatch(why: string): RuleTestResult {
  return { ok: false, status: 412, code: 'SQL_NOT_MATCH', message: `SQL Not Match: ${why}` };
}
