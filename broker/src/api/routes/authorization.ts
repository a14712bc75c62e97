/**
 * Authorization, EMQX's shapes: the sources (list, add, show, change, delete, reorder,
 * counters), the settings (no_match, deny_action, cache) and the built-in database's rules per
 * username, per client id and for all. Every change applies at once and empties the
 * authorization caches.
 */
import { ApiError } from '../errors.js';
import { ANY_OBJECT, ERROR_SCHEMA, json, noContent, pageOf, paginate, PAGE_QUERY, type Responses, type Route } from '../route.js';

/** What a change answers: 204, or the failure its code maps to. */
const CHANGED: Responses = { 204: null, 400: ERROR_SCHEMA, 404: ERROR_SCHEMA, 409: ERROR_SCHEMA };
const READ = (schema: Record<string, unknown>): Responses => ({ 200: schema, 404: ERROR_SCHEMA });
import type { AdminApi } from '../admin.js';

type Metrics = { allow: number; deny: number; nomatch: number; failed: number; total: number };
type RulesKey = { kind: 'username' | 'clientid'; id: string } | { kind: 'all' };

/**
 * What the routes ask of the node's authorization (access/authz/service.ts implements it).
 * Failures carry `code`. A change settles once it is stored (on a cluster: in etcd).
 */
export interface AuthzAdmin {
  listSources(): Array<Record<string, unknown>>;
  getSource(type: string): Record<string, unknown>;
  addSource(body: unknown): void | Promise<void>;
  updateSource(type: string, body: unknown): void | Promise<void>;
  deleteSource(type: string): void | Promise<void>;
  moveSource(type: string, position: string): void | Promise<void>;
  status(type: string): { status: string; metrics: Metrics };
  getSettings(): unknown;
  putSettings(body: Record<string, unknown>): void | Promise<void>;
  listRules(kind: 'username' | 'clientid'): Array<Record<string, unknown>>;
  getRules(k: RulesKey): Record<string, unknown>;
  addRules(kind: 'username' | 'clientid', body: unknown): void | Promise<void>;
  setRules(k: RulesKey, rules: unknown): void | Promise<void>;
  deleteRules(k: RulesKey): void | Promise<void>;
}

const CODES: Record<string, 'RESOURCE_NOT_FOUND' | 'ALREADY_EXISTS' | 'BAD_REQUEST'> = {
  NOT_FOUND: 'RESOURCE_NOT_FOUND', ALREADY_EXISTS: 'ALREADY_EXISTS', BAD_REQUEST: 'BAD_REQUEST',
};

/** Runs an authorization call, its coded failures turned into API errors. */
function call<T>(admin: AdminApi, f: (a: AuthzAdmin) => T): T {
  const a = admin.authorization;
  if (a === undefined) throw new ApiError('RESOURCE_NOT_FOUND', 'authorization is not available on this node');
  try { return f(a); } catch (err) {
    const code = CODES[(err as { code?: string }).code ?? ''];
    if (code !== undefined) throw new ApiError(code, (err as Error).message);
    throw err;
  }
}

/** Runs an authorization change and waits until it is stored; failures as call(). */
async function change(admin: AdminApi, f: (a: AuthzAdmin) => void | Promise<void>): Promise<void> {
  const a = admin.authorization;
  if (a === undefined) throw new ApiError('RESOURCE_NOT_FOUND', 'authorization is not available on this node');
  try { await f(a); } catch (err) {
    const code = CODES[(err as { code?: string }).code ?? ''];
    if (code !== undefined) throw new ApiError(code, (err as Error).message);
    throw err;
  }
}

const OBJECT = { type: 'object' };
const SOURCES = '/api/v5/authorization/sources';
const RULES = `${SOURCES}/built_in_database/rules`;

function ruleRoutes(kind: 'username' | 'clientid', seg: 'users' | 'clients'): Route[] {
  const one = (p: Record<string, string>): RulesKey => ({ kind, id: p[kind] });
  return [
    {
      method: 'GET', path: `${RULES}/${seg}`, summary: `Built-in rules per ${kind} (paged)`, query: PAGE_QUERY, responses: READ(pageOf(ANY_OBJECT)),
      handler: ({ query }, admin) => json(200, paginate(call(admin, (a) => a.listRules(kind)), query)),
    },
    {
      method: 'POST', path: `${RULES}/${seg}`, summary: `Add rules for ${kind}s: [{${kind}, rules: [{topic, permission, action, qos, retain}]}]`, body: { type: 'array' }, responses: CHANGED,
      handler: async ({ body }, admin) => { await change(admin, (a) => a.addRules(kind, body)); return noContent(); },
    },
    {
      method: 'GET', path: `${RULES}/${seg}/{${kind}}`, summary: `The rules of one ${kind}`, responses: READ(ANY_OBJECT),
      handler: ({ params }, admin) => json(200, call(admin, (a) => a.getRules(one(params)))),
    },
    {
      method: 'PUT', path: `${RULES}/${seg}/{${kind}}`, summary: `Replace the rules of one ${kind}: {rules: […]}`, body: OBJECT, responses: CHANGED,
      handler: async ({ params, body }, admin) => { await change(admin, (a) => a.setRules(one(params), (body as { rules?: unknown }).rules)); return noContent(); },
    },
    {
      method: 'DELETE', path: `${RULES}/${seg}/{${kind}}`, summary: `Delete the rules of one ${kind}`, responses: CHANGED,
      handler: async ({ params }, admin) => { await change(admin, (a) => a.deleteRules(one(params))); return noContent(); },
    },
  ];
}

export const authorizationRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/authorization/settings', summary: 'no_match, deny_action and cache', responses: READ(ANY_OBJECT),
    handler: (_r, admin) => json(200, call(admin, (a) => a.getSettings())),
  },
  {
    method: 'PUT', path: '/api/v5/authorization/settings', summary: 'Change no_match, deny_action or cache ({enable, max_size, ttl}) at once', responses: CHANGED,
    body: {
      type: 'object', additionalProperties: false,
      properties: {
        no_match: { enum: ['allow', 'deny'] }, deny_action: { enum: ['ignore', 'disconnect'] },
        cache: { type: 'object', additionalProperties: false, properties: { enable: { type: 'boolean' }, max_size: { type: 'integer', minimum: 1, maximum: 1_000_000 }, ttl: { type: 'string' } } },
      },
    },
    handler: async ({ body }, admin) => { await change(admin, (a) => a.putSettings(body as Record<string, unknown>)); return noContent(); },
  },
  {
    method: 'GET', path: SOURCES, summary: 'The authorization sources, in the order they are asked', responses: READ({ type: 'object', required: ['sources'], properties: { sources: { type: 'array', items: ANY_OBJECT } } }),
    handler: (_r, admin) => json(200, { sources: call(admin, (a) => a.listSources()) }),
  },
  {
    method: 'POST', path: SOURCES, summary: 'Add a source at the end of the chain ({type, enable, …})', body: OBJECT, responses: CHANGED,
    handler: async ({ body }, admin) => { await change(admin, (a) => a.addSource(body)); return noContent(); },
  },
  ...ruleRoutes('username', 'users'),
  ...ruleRoutes('clientid', 'clients'),
  {
    method: 'GET', path: `${RULES}/all`, summary: 'The built-in rules for all clients', responses: READ(ANY_OBJECT),
    handler: (_r, admin) => json(200, call(admin, (a) => a.getRules({ kind: 'all' }))),
  },
  {
    method: 'POST', path: `${RULES}/all`, summary: 'Set the built-in rules for all clients: {rules: […]}', body: OBJECT, responses: CHANGED,
    handler: async ({ body }, admin) => { await change(admin, (a) => a.setRules({ kind: 'all' }, (body as { rules?: unknown }).rules)); return noContent(); },
  },
  {
    method: 'DELETE', path: `${RULES}/all`, summary: 'Delete the built-in rules for all clients', responses: CHANGED,
    handler: async (_r, admin) => { await change(admin, (a) => a.deleteRules({ kind: 'all' })); return noContent(); },
  },
  {
    method: 'GET', path: `${SOURCES}/{type}`, summary: 'One source as configured', responses: READ(ANY_OBJECT),
    handler: ({ params }, admin) => json(200, call(admin, (a) => a.getSource(params.type))),
  },
  {
    method: 'PUT', path: `${SOURCES}/{type}`, summary: 'Replace one source\'s settings (it restarts with them)', body: OBJECT, responses: CHANGED,
    handler: async ({ params, body }, admin) => { await change(admin, (a) => a.updateSource(params.type, body)); return noContent(); },
  },
  {
    method: 'DELETE', path: `${SOURCES}/{type}`, summary: 'Remove one source', responses: CHANGED,
    handler: async ({ params }, admin) => { await change(admin, (a) => a.deleteSource(params.type)); return noContent(); },
  },
  {
    method: 'GET', path: `${SOURCES}/{type}/status`, summary: 'A source\'s counters: allow, deny, nomatch, failed', responses: READ(ANY_OBJECT),
    handler: ({ params }, admin) => {
      const s = call(admin, (a) => a.status(params.type));
      return json(200, { status: s.status, metrics: s.metrics, node_status: [{ node: admin.nodeName, status: s.status }], node_metrics: [{ node: admin.nodeName, metrics: s.metrics }] });
    },
  },
  {
    method: 'POST', path: `${SOURCES}/{type}/move`, summary: 'Move a source: {position: front | rear | before:<type> | after:<type>}', responses: CHANGED,
    body: { type: 'object', required: ['position'], additionalProperties: false, properties: { position: { type: 'string' } } },
    handler: async ({ params, body }, admin) => { await change(admin, (a) => a.moveSource(params.type, (body as { position: string }).position)); return noContent(); },
  },
];
