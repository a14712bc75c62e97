/**
 * The rule engine, as EMQX's /api/v5/rules and /api/v5/rule_test: list and create rules, read,
 * replace (enable/disable through `enable`) and delete one, its metrics, and a dry run of a
 * statement. Changes apply to the next message. A bad statement is a 400 naming line:column.
 */
import { ApiError } from '../errors.js';
import { ANY_OBJECT, ERROR_SCHEMA, json, noContent, pageOf, paginate, PAGE_QUERY, type JsonSchema, type Route } from '../route.js';

/** What the routes need of the rule engine (rules/engine.ts implements it). */
export interface RulesAdmin {
  list(): Array<{ id: string }>;
  get(id: string): { spec: { readonly id: string }; from: readonly string[]; createdAt: number } | null;
  create(body: Record<string, unknown>): { ok: true; rule: { id: string } } | { ok: false; status: 400 | 404 | 409; error: string };
  update(id: string, body: Record<string, unknown>): { ok: true; rule: { id: string } } | { ok: false; status: 400 | 404 | 409; error: string };
  delete(id: string): boolean;
  /** Settles once the last change is stored (cluster-wide on etcd): a 2xx then means every node has it. */
  stored?(): Promise<void>;
  metrics(id: string): Record<string, number> | null;
  resetMetrics(id: string): boolean;
  test(sql: string, context: Record<string, unknown>): { ok: true; output: unknown } | { ok: false; status: 400 | 412; code: string; message: string };
}

const ID_PARAMS: JsonSchema = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } };

const ACTIONS: JsonSchema = {
  type: 'array',
  description: 'Built-in actions: {"function": "republish", "args": {topic, qos, retain, payload, user_properties, mqtt_properties}} or {"function": "console"}.',
  items: { anyOf: [{ type: 'object' }, { type: 'string' }] },
};

const RULE_FIELDS: Record<string, JsonSchema> = {
  id: { type: 'string', description: 'Rule id (POST; generated when absent).' },
  name: { type: 'string' },
  sql: { type: 'string', description: 'EMQX rule SQL (docs/rules-sql.md).' },
  actions: ACTIONS,
  enable: { type: 'boolean' },
  description: { type: 'string' },
  metadata: { type: 'object' },
};

const RULE: JsonSchema = {
  type: 'object',
  required: ['id', 'sql', 'from', 'created_at'],
  properties: { ...RULE_FIELDS, from: { type: 'array', items: { type: 'string' } }, created_at: { type: 'string' } },
};
const METRICS: JsonSchema = { type: 'object', required: ['metrics'], properties: { metrics: ANY_OBJECT, node_metrics: { type: 'array', items: ANY_OBJECT } } };
const NF = { 404: ERROR_SCHEMA };
const CHANGE = { 400: ERROR_SCHEMA, 404: ERROR_SCHEMA, 409: ERROR_SCHEMA };

const rulesOf = (admin: Parameters<Route['handler']>[1]): RulesAdmin => {
  if (admin.rules === undefined) throw new ApiError('NOT_FOUND', 'the rule engine is not running on this node');
  return admin.rules;
};

function view(r: RulesAdmin, id: string): Record<string, unknown> {
  const g = r.get(id);
  if (g === null) throw new ApiError('RESOURCE_NOT_FOUND', `no rule '${id}'`);
  return { ...g.spec, from: g.from, created_at: new Date(g.createdAt).toISOString(), metadata: {} };
}

function changed(r: RulesAdmin, res: ReturnType<RulesAdmin['create']>, status: number) {
  if (!res.ok) throw new ApiError(res.status === 404 ? 'RESOURCE_NOT_FOUND' : res.status === 409 ? 'ALREADY_EXISTS' : 'BAD_REQUEST', res.error);
  return json(status, view(r, res.rule.id));
}

export const rulesRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/rules', summary: 'Rules (paged)', query: PAGE_QUERY, responses: { 200: pageOf(RULE), ...NF },
    handler: ({ query }, admin) => {
      const r = rulesOf(admin);
      return json(200, paginate(r.list().map((x) => view(r, x.id)), query));
    },
  },
  {
    method: 'POST', path: '/api/v5/rules', summary: 'Create a rule (applies at once)', responses: { 201: RULE, ...CHANGE },
    body: { type: 'object', required: ['sql'], additionalProperties: false, properties: RULE_FIELDS },
    handler: async ({ body }, admin) => { const r = rulesOf(admin); const res = r.create(body as Record<string, unknown>); if (res.ok) await r.stored?.(); return changed(r, res, 201); },
  },
  {
    method: 'GET', path: '/api/v5/rules/{id}', summary: 'One rule', params: ID_PARAMS, responses: { 200: RULE, ...NF },
    handler: ({ params }, admin) => json(200, view(rulesOf(admin), params.id!)),
  },
  {
    method: 'PUT', path: '/api/v5/rules/{id}', summary: 'Change a rule: the fields given replace its own (enable: false disables it)', params: ID_PARAMS, responses: { 200: RULE, ...CHANGE },
    body: { type: 'object', additionalProperties: false, properties: RULE_FIELDS },
    handler: async ({ params, body }, admin) => { const r = rulesOf(admin); const res = r.update(params.id!, body as Record<string, unknown>); if (res.ok) await r.stored?.(); return changed(r, res, 200); },
  },
  {
    method: 'DELETE', path: '/api/v5/rules/{id}', summary: 'Delete a rule', params: ID_PARAMS, responses: { 204: null, ...NF },
    handler: async ({ params }, admin) => {
      const r = rulesOf(admin);
      if (!r.delete(params.id!)) throw new ApiError('RESOURCE_NOT_FOUND', `no rule '${params.id}'`);
      await r.stored?.();
      return noContent();
    },
  },
  {
    method: 'GET', path: '/api/v5/rules/{id}/metrics', summary: 'A rule\'s counters (matched, passed, failed, actions.*)', params: ID_PARAMS, responses: { 200: METRICS, ...NF },
    handler: ({ params }, admin) => {
      const m = rulesOf(admin).metrics(params.id!);
      if (m === null) throw new ApiError('RESOURCE_NOT_FOUND', `no rule '${params.id}'`);
      return json(200, { id: params.id, metrics: m, node_metrics: [{ node: admin.nodeName, metrics: m }] });
    },
  },
  {
    method: 'PUT', path: '/api/v5/rules/{id}/metrics/reset', summary: 'Zero a rule\'s counters', params: ID_PARAMS, responses: { 204: null, ...NF },
    handler: ({ params }, admin) => {
      if (!rulesOf(admin).resetMetrics(params.id!)) throw new ApiError('RESOURCE_NOT_FOUND', `no rule '${params.id}'`);
      return noContent();
    },
  },
  {
    method: 'POST', path: '/api/v5/rule_test', summary: 'Run SQL over a sample context without publishing (EMQX\'s context: event_type and columns)',
    responses: { 200: {}, 400: ERROR_SCHEMA, 412: ERROR_SCHEMA, ...NF },
    body: { type: 'object', required: ['sql'], properties: { sql: { type: 'string' }, context: { type: 'object' } } },
    handler: ({ body }, admin) => {
      const b = body as { sql: string; context?: Record<string, unknown> };
      const res = rulesOf(admin).test(b.sql, b.context ?? {});
      if (res.ok) return json(200, res.output);
      if (res.status === 400) throw new ApiError('BAD_REQUEST', res.message);
      return json(412, { code: res.code, message: res.message });
    },
  },
];
