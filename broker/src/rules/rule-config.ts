/**
 * A rule as EMQX writes it, in `rule_engine.rules.<id>` and in the body of /api/v5/rules:
 * `{sql, actions, enable, description}`. Parsed and checked here once — the SQL compiled, every
 * action's arguments read — so a bad rule is refused with the reason (and the SQL's line:column)
 * before it reaches the engine, from the config file and from REST alike.
 *
 * Actions: `{function: republish, args: {topic, qos, retain, payload, user_properties,
 * mqtt_properties}}` and `{function: console}` (a bare "console" too), and a data-integration
 * action by its id, `"<type>:<name>"` ("http:my_hook"); whether that action exists is checked by
 * the engine, which knows the actions (an unknown one is refused there with its name).
 */
import { compileRule, RuleSqlError, type CompiledRule } from './sql/index.js';
import { FUNCTIONS } from './functions/index.js';

export interface RepublishArgs {
  topic: string;
  /** A number 0–2 or a template (`${qos}`). */
  qos: number | string;
  /** A boolean or a template (`${flags.retain}`). */
  retain: boolean | string;
  payload: string;
  user_properties: string;
  mqtt_properties: Record<string, string>;
}

export type ActionSpec =
  | { function: 'republish'; args: RepublishArgs }
  | { function: 'console' }
  /** A data-integration action, `actions.<type>.<name>`, by its id `<type>:<name>`. */
  | { function: 'sink'; id: string };

export interface RuleSpec {
  id: string;
  sql: string;
  actions: ActionSpec[];
  enable: boolean;
  description: string;
  /** EMQX's optional display name (defaults to ""). */
  name: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string; sql?: RuleSqlError };

/** EMQX's republish defaults: the incoming message's QoS, retain flag, payload and user properties. */
const REPUBLISH_DEFAULTS = { qos: '${qos}', retain: '${flags.retain}', payload: '${payload}', user_properties: '${user_properties}' };
const MQTT_PROPS = ['Payload-Format-Indicator', 'Message-Expiry-Interval', 'Content-Type', 'Response-Topic', 'Correlation-Data'];
const RULE_KEYS = new Set(['sql', 'actions', 'enable', 'description', 'name', 'id', 'metadata']);

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Compiles the SQL with EMQX's functions; a RuleSqlError names line:column. */
export function compileSql(sql: string): CompiledRule {
  return compileRule(sql, FUNCTIONS);
}

export function parseRuleSpec(id: string, raw: unknown, where = `rule '${id}'`): Parsed<RuleSpec> {
  if (!isObj(raw)) return { ok: false, error: `${where}: expected a map {sql, actions, enable, description}` };
  for (const k of Object.keys(raw)) if (!RULE_KEYS.has(k)) return { ok: false, error: `${where}: unknown key '${k}' (known: sql, actions, enable, description, name)` };
  if (typeof raw.sql !== 'string' || raw.sql.trim() === '') return { ok: false, error: `${where}.sql: a SELECT or FOREACH statement is required` };
  try { compileSql(raw.sql); } catch (err) {
    if (err instanceof RuleSqlError) return { ok: false, error: `${where}.sql: ${err.message}`, sql: err };
    return { ok: false, error: `${where}.sql: ${(err as Error).message}` };
  }
  const enable = raw.enable ?? true;
  if (typeof enable !== 'boolean') return { ok: false, error: `${where}.enable: expected true or false` };
  const description = raw.description ?? '';
  if (typeof description !== 'string') return { ok: false, error: `${where}.description: expected a string` };
  const name = raw.name ?? '';
  if (typeof name !== 'string') return { ok: false, error: `${where}.name: expected a string` };
  const list = raw.actions ?? [];
  if (!Array.isArray(list)) return { ok: false, error: `${where}.actions: expected a list` };
  const actions: ActionSpec[] = [];
  for (let i = 0; i < list.length; i++) {
    const a = parseAction(list[i], `${where}.actions[${i}]`);
    if (!a.ok) return a;
    actions.push(a.value);
  }
  return { ok: true, value: { id, sql: raw.sql, actions, enable, description, name } };
}

function parseAction(raw: unknown, where: string): Parsed<ActionSpec> {
  if (raw === 'console') return { ok: true, value: { function: 'console' } };
  if (typeof raw === 'string') {
    if (/^[a-z][a-z0-9_]*:[A-Za-z0-9][A-Za-z0-9_-]*$/.test(raw)) return { ok: true, value: { function: 'sink', id: raw } };
    return { ok: false, error: `${where}: '${raw}' is neither "console" nor an action id "<type>:<name>" (such as "http:my_hook")` };
  }
  if (!isObj(raw)) return { ok: false, error: `${where}: expected {function: republish, args: {…}} or {function: console}` };
  const fn = raw.function;
  if (fn === 'console') return { ok: true, value: { function: 'console' } };
  if (fn !== 'republish') return { ok: false, error: `${where}.function: '${String(fn)}' is not a built-in action (republish, console)` };
  const args = raw.args;
  if (!isObj(args)) return { ok: false, error: `${where}.args: expected a map with at least 'topic'` };
  for (const k of Object.keys(args)) {
    if (!['topic', 'qos', 'retain', 'payload', 'user_properties', 'mqtt_properties', 'direct_dispatch'].includes(k)) return { ok: false, error: `${where}.args: unknown key '${k}'` };
  }
  if (typeof args.topic !== 'string' || args.topic === '') return { ok: false, error: `${where}.args.topic: a topic (template) is required` };
  const qos = args.qos ?? REPUBLISH_DEFAULTS.qos;
  if (!(typeof qos === 'string' || (typeof qos === 'number' && [0, 1, 2].includes(qos)))) return { ok: false, error: `${where}.args.qos: expected 0, 1, 2 or a template such as "\${qos}"` };
  const retain = args.retain ?? REPUBLISH_DEFAULTS.retain;
  if (typeof retain !== 'boolean' && typeof retain !== 'string') return { ok: false, error: `${where}.args.retain: expected true, false or a template` };
  const payload = args.payload ?? REPUBLISH_DEFAULTS.payload;
  if (typeof payload !== 'string') return { ok: false, error: `${where}.args.payload: expected a string template` };
  const userProps = args.user_properties ?? REPUBLISH_DEFAULTS.user_properties;
  if (typeof userProps !== 'string') return { ok: false, error: `${where}.args.user_properties: expected a template such as "\${pub_props.'User-Property'}"` };
  const mp = args.mqtt_properties ?? {};
  if (!isObj(mp)) return { ok: false, error: `${where}.args.mqtt_properties: expected a map` };
  const mqttProps: Record<string, string> = {};
  for (const [k, v] of Object.entries(mp)) {
    if (!MQTT_PROPS.includes(k)) return { ok: false, error: `${where}.args.mqtt_properties: unknown property '${k}' (known: ${MQTT_PROPS.join(', ')})` };
    if (typeof v !== 'string' && typeof v !== 'number') return { ok: false, error: `${where}.args.mqtt_properties.${k}: expected a value or template` };
    mqttProps[k] = String(v);
  }
  return { ok: true, value: { function: 'republish', args: { topic: args.topic, qos, retain, payload, user_properties: userProps, mqtt_properties: mqttProps } } };
}

/** The spec as EMQX writes it (a data-integration action back to its id string), for REST and the store. */
export function specToRaw(spec: RuleSpec): Omit<RuleSpec, 'actions'> & { actions: unknown[] } {
  return { ...spec, actions: spec.actions.map((a) => (a.function === 'sink' ? a.id : a)) };
}

/** `rule_engine.rules` from the config file: a map of id → rule. */
export function parseRuleMap(v: unknown): Parsed<RuleSpec[]> {
  if (v === undefined || v === null) return { ok: true, value: [] };
  if (!isObj(v)) return { ok: false, error: 'expected a map of rule id → {sql, actions, enable, description}' };
  const out: RuleSpec[] = [];
  for (const [id, raw] of Object.entries(v)) {
    if (!validRuleId(id)) return { ok: false, error: `rule id '${id}': use letters, digits, '_', '-' and '.' (1–255)` };
    const r = parseRuleSpec(id, raw);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return { ok: true, value: out };
}

export function validRuleId(id: string): boolean {
  return /^[A-Za-z0-9_.:-]{1,255}$/.test(id);
}
