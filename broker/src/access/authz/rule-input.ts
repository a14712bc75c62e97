/**
 * ACL rules written as data — YAML under a file source's `rules:`, and the rows of EMQX's
 * built-in-database REST API — checked and turned into AclRules. Errors name the item and the
 * field (`rules[2].who.ipaddr: …`).
 */
import type { AclRule, TopicPattern, Who } from '../types.js';
import type { QoS } from '../../types.js';
import { ALL_TOPICS, AclError, compileRule } from './acl-match.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new AclError(`${where}: unknown key '${k}' (known: ${allowed.join(', ')})`);
}

function qosList(v: unknown, where: string): QoS[] {
  const list = Array.isArray(v) ? v : [v];
  return list.map((q) => { if (q !== 0 && q !== 1 && q !== 2) throw new AclError(`${where}.qos: ${JSON.stringify(q)} is not 0, 1 or 2`); return q; });
}

function retainFlag(v: unknown, where: string): boolean | undefined {
  if (v === true || v === false) return v;
  if (v === 'all' || v === undefined) return undefined;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new AclError(`${where}.retain: must be true, false or "all"`);
}

function action(v: unknown, where: string): AclRule['action'] {
  if (v === undefined || v === 'all' || v === 'pubsub') return 'all';
  if (v === 'publish' || v === 'subscribe') return v;
  throw new AclError(`${where}.action: must be publish, subscribe or all, not ${JSON.stringify(v)}`);
}

function permission(v: unknown, where: string): AclRule['permission'] {
  if (v === 'allow' || v === 'deny') return v;
  throw new AclError(`${where}.permission: must be allow or deny, not ${JSON.stringify(v)}`);
}

/**
 * One YAML rule: `{permission, who?, action?, qos?, retain?, topics | topic}`; who defaults to
 * all, action to all; `topics: all` (or a `{all: true}` item) is every topic, `$`-topics included. Validated by compiling it, so every later check compiles.
 */
export function ruleFromYaml(v: unknown, where: string): AclRule {
  if (!isObj(v)) throw new AclError(`${where}: a rule is an object {permission, who, action, topics}`);
  onlyKeys(v, ['permission', 'who', 'action', 'qos', 'retain', 'topics', 'topic'], where);
  let topics: TopicPattern[];
  if (v.topics !== undefined && v.topic !== undefined) throw new AclError(`${where}: give topics or topic, not both`);
  if (v.topic !== undefined) topics = [v.topic as TopicPattern];
  else if (Array.isArray(v.topics)) topics = v.topics as TopicPattern[];
  // acl.conf's `all` in the topics place: every topic, `$`-topics included.
  else if (v.topics === 'all') topics = [ALL_TOPICS];
  else throw new AclError(`${where}.topics: a list of topics, or all, is required`);
  const rule: AclRule = { permission: permission(v.permission, where), who: (v.who ?? 'all') as Who, action: action(v.action, where), topics };
  if (v.qos !== undefined) rule.qos = qosList(v.qos, where);
  const retain = retainFlag(v.retain, where);
  if (retain !== undefined) rule.retain = retain;
  compileRule(rule, where);
  return rule;
}

/** A row of EMQX's built-in-database API: `{topic, permission, action, qos?, retain?}`. */
export interface BuiltInRow {
  topic: string;
  permission: 'allow' | 'deny';
  action: 'publish' | 'subscribe' | 'all';
  qos: QoS[];
  retain: boolean | 'all';
}

export function rowFromJson(v: unknown, where: string): BuiltInRow {
  if (!isObj(v)) throw new AclError(`${where}: a rule is an object {topic, permission, action}`);
  onlyKeys(v, ['topic', 'permission', 'action', 'qos', 'retain'], where);
  if (typeof v.topic !== 'string' || v.topic === '') throw new AclError(`${where}.topic: a topic string is required`);
  const row: BuiltInRow = {
    topic: v.topic, permission: permission(v.permission, where), action: action(v.action, where),
    qos: v.qos === undefined ? [0, 1, 2] : qosList(v.qos, where), retain: retainFlag(v.retain, where) ?? 'all',
  };
  compileRule(rowToRule(row), where);
  return row;
}

export function rowToRule(r: BuiltInRow): AclRule {
  const rule: AclRule = { permission: r.permission, who: 'all', action: r.action, topics: [r.topic] };
  if (r.qos.length < 3) rule.qos = r.qos;
  if (r.retain !== 'all') rule.retain = r.retain;
  return rule;
}
