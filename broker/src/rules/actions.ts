/**
 * The built-in actions, ready to run: `republish` (its templates parsed once) and `console`.
 *
 * A republished message goes through broker.publish as the broker itself (from ''), so it is
 * routed, retained and seen by rules like any other. It carries the id of the rule that made it
 * (EMQX's `republish_by` header, kept here in a WeakMap beside the message): when that same rule
 * fires on it again, its republish is refused and logged instead of looping forever, as EMQX does.
 * Other rules still see it, so chains of different rules work.
 */
import type { Logger } from '../log.js';
import type { Message, PublishProperties, QoS } from '../types.js';
import type { ActionSpec, RepublishArgs } from './rule-config.js';
import { Template, toText } from './template.js';

export interface ActionDeps {
  /** Publishes as the broker, the message tagged with the rule that made it; throws on an invalid topic. */
  publish(topic: string, payload: Buffer, qos: QoS, retain: boolean, props: PublishProperties | null, ruleId: string): void;
  log: Logger;
}

/** What the rule engine knows about the message a rule is running on. */
export interface ActionEnv {
  ruleId: string;
  /** The rule that republished the triggering message, if any. */
  republishedBy: string | undefined;
}

/** Returns 'deferred' when the outcome is reported later (a data-integration action's buffer). */
export type Action = (output: Record<string, unknown>, env: ActionEnv) => void | 'deferred';

/** Message → id of the rule whose republish made it. */
export const republishedBy = new WeakMap<Message, string>();

export class ActionError extends Error {
  constructor(message: string) { super(message); this.name = 'ActionError'; }
}

export function buildAction(spec: Exclude<ActionSpec, { function: 'sink' }>, deps: ActionDeps): Action {
  if (spec.function === 'console') {
    return (output, env) => deps.log.info({ rule_id: env.ruleId, output: jsonSafe(output) }, '[rule action] console');
  }
  return republish(spec.args, deps);
}

function republish(args: RepublishArgs, deps: ActionDeps): Action {
  const topic = new Template(args.topic);
  const qos = typeof args.qos === 'number' ? args.qos : new Template(args.qos);
  const retain = typeof args.retain === 'boolean' ? args.retain : new Template(args.retain);
  const payload = new Template(args.payload);
  const userProps = new Template(args.user_properties);
  const props = Object.entries(args.mqtt_properties).map(([k, v]) => [k, new Template(v)] as const);
  return (output, env) => {
    if (env.republishedBy === env.ruleId) {
      throw new ActionError(`recursive republish refused: the message on this topic was republished by rule '${env.ruleId}' itself`);
    }
    const t = topic.render(output);
    const q = typeof qos === 'number' ? qos : Number(qos.render(output));
    if (q !== 0 && q !== 1 && q !== 2) throw new ActionError(`republish: qos '${typeof qos === 'number' ? qos : qos.render(output)}' is not 0, 1 or 2`);
    const r = typeof retain === 'boolean' ? retain : retain.render(output) === 'true';
    const p = payload.value(output);
    const body = Buffer.isBuffer(p) ? p : Buffer.from(payload.single === null ? (p as string) : toText(p));
    const properties = mqttProperties(userProps.value(output), props, output);
    deps.publish(t, body, q, r, properties, env.ruleId);
  };
}

function mqttProperties(user: unknown, props: ReadonlyArray<readonly [string, Template]>, output: Record<string, unknown>): PublishProperties | null {
  const out: PublishProperties = {};
  let any = false;
  const up = userProperties(user);
  if (up !== null) { out.userProperties = up; any = true; }
  for (const [k, t] of props) {
    const v = t.render(output);
    if (v === '') continue;
    any = true;
    switch (k) {
      case 'Payload-Format-Indicator': out.payloadFormatIndicator = v === '1' || v === 'true'; break;
      case 'Message-Expiry-Interval': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new ActionError(`republish: Message-Expiry-Interval '${v}' is not a number of seconds`);
        out.messageExpiryInterval = n;
        break;
      }
      case 'Content-Type': out.contentType = v; break;
      case 'Response-Topic': out.responseTopic = v; break;
      case 'Correlation-Data': out.correlationData = Buffer.from(v); break;
    }
  }
  return any ? out : null;
}

/** A map `{k: v}` or EMQX's ordered pairs `[{key, value}]`; anything else means none. */
function userProperties(v: unknown): Record<string, string | string[]> | null {
  if (typeof v === 'string' && v.startsWith('{')) { try { v = JSON.parse(v); } catch { return null; } }
  if (v === null || typeof v !== 'object') return null;
  const out: Record<string, string | string[]> = {};
  const add = (k: string, val: unknown): void => {
    const s = toText(val);
    const cur = out[k];
    out[k] = cur === undefined ? s : Array.isArray(cur) ? [...cur, s] : [cur, s];
  };
  if (Array.isArray(v)) {
    for (const e of v) if (e !== null && typeof e === 'object' && 'key' in e) add(String((e as { key: unknown }).key), (e as { value: unknown }).value);
  } else {
    for (const [k, val] of Object.entries(v)) add(k, val);
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** Buffers as text (or base64 when not UTF-8) so a log line stays JSON. */
export function jsonSafe(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = jsonSafe(x);
    return o;
  }
  return v;
}
