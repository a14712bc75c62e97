/**
 * Data integration's connectors over REST, as EMQX 5's /api/v5/connectors: list, create, read,
 * replace, delete, enable/disable, and a probe that tries settings without keeping anything.
 * Ids are "<type>:<name>". Every change applies at once and is kept in the node's store.
 * actions.ts serves /api/v5/actions (and /api/v5/sources) with the same builder.
 */
import { ApiError } from '../errors.js';
import { ANY_OBJECT, ERROR_SCHEMA, json, noContent, type JsonSchema, type Route } from '../route.js';

/** EMQX's shape of a connector, action or source: its settings as written plus these. */
export const RESOURCE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['type', 'name', 'enable', 'status'],
  properties: { type: { type: 'string' }, name: { type: 'string' }, enable: { type: 'boolean' }, status: { type: 'string' }, status_reason: { type: 'string' }, node_status: { type: 'array', items: ANY_OBJECT } },
};
export const NF = { 404: ERROR_SCHEMA };
const CHANGE = { 400: ERROR_SCHEMA, 404: ERROR_SCHEMA, 409: ERROR_SCHEMA };
import type { Change, Kind, ResourceView } from '../../rules/connectors/integration.js';

/** What the routes need of data integration (rules/connectors/integration.ts implements it). */
export interface IntegrationAdmin {
  list(kind: Kind): ResourceView[];
  view(kind: Kind, id: string): ResourceView | null;
  create(kind: Kind, body: Record<string, unknown>): Change;
  update(kind: Kind, id: string, body: Record<string, unknown>): Change;
  enable(kind: Kind, id: string, on: boolean): Change;
  delete(kind: Kind, id: string): Change;
  probe(body: Record<string, unknown>): Promise<{ ok: true } | { ok: false; status: 400; error: string }>;
  actionMetrics(id: string): Record<string, number> | null;
  resetActionMetrics(id: string): boolean;
}

export const ID_PARAMS: JsonSchema = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } };

export const integrationOf = (admin: Parameters<Route['handler']>[1]): IntegrationAdmin => {
  if (admin.integration === undefined) throw new ApiError('NOT_FOUND', 'data integration is not running on this node');
  return admin.integration;
};

/** EMQX's shape: the settings as written, with type, name, status and per-node status. */
function render(v: ResourceView, node: string): Record<string, unknown> {
  return { ...v.raw, type: v.type, name: v.name, enable: v.enable, status: v.status, status_reason: v.status_reason ?? undefined, node_status: [{ node, status: v.status, status_reason: v.status_reason ?? undefined }] };
}

function done(i: IntegrationAdmin, kind: Kind, c: Change, status: number, node: string) {
  if (!c.ok) throw new ApiError(c.status === 404 ? 'RESOURCE_NOT_FOUND' : c.status === 409 ? 'ALREADY_EXISTS' : 'BAD_REQUEST', c.error);
  return json(status, render(i.view(kind, c.id)!, node));
}

/** list / create / read / replace / delete / enable for one kind. */
export function resourceRoutes(kind: Kind, what: string): Route[] {
  const base = `/api/v5/${kind}`;
  return [
    {
      method: 'GET', path: base, summary: `All ${kind}, with their status`, responses: { 200: { type: 'array', items: RESOURCE_SCHEMA }, ...NF },
      handler: (_r, admin) => json(200, integrationOf(admin).list(kind).map((v) => render(v, admin.nodeName))),
    },
    {
      method: 'POST', path: base, summary: `Create ${what} (applies at once): {type, name, …settings}`, responses: { 201: RESOURCE_SCHEMA, ...CHANGE },
      body: { type: 'object', required: ['type', 'name'], properties: { type: { type: 'string' }, name: { type: 'string' } } },
      handler: ({ body }, admin) => { const i = integrationOf(admin); return done(i, kind, i.create(kind, body as Record<string, unknown>), 201, admin.nodeName); },
    },
    {
      method: 'GET', path: `${base}/{id}`, summary: `One of the ${kind} ("<type>:<name>")`, params: ID_PARAMS, responses: { 200: RESOURCE_SCHEMA, ...NF },
      handler: ({ params }, admin) => {
        const v = integrationOf(admin).view(kind, params.id!);
        if (v === null) throw new ApiError('RESOURCE_NOT_FOUND', `no ${what} '${params.id}'`);
        return json(200, render(v, admin.nodeName));
      },
    },
    {
      method: 'PUT', path: `${base}/{id}`, summary: `Replace the settings of ${what} (restarts it)`, params: ID_PARAMS, body: { type: 'object' }, responses: { 200: RESOURCE_SCHEMA, ...CHANGE },
      handler: ({ params, body }, admin) => { const i = integrationOf(admin); return done(i, kind, i.update(kind, params.id!, body as Record<string, unknown>), 200, admin.nodeName); },
    },
    {
      method: 'DELETE', path: `${base}/{id}`, summary: `Delete ${what}`, params: ID_PARAMS, responses: { 204: null, ...CHANGE },
      handler: ({ params }, admin) => {
        const c = integrationOf(admin).delete(kind, params.id!);
        if (!c.ok) throw new ApiError(c.status === 404 ? 'RESOURCE_NOT_FOUND' : 'BAD_REQUEST', c.error);
        return noContent();
      },
    },
    {
      method: 'POST', path: `${base}/{id}/enable/{enable}`, summary: `Enable or disable ${what}`, responses: { 204: null, ...CHANGE },
      params: { type: 'object', required: ['id', 'enable'], properties: { id: { type: 'string', minLength: 1 }, enable: { type: 'string', enum: ['true', 'false'] } } },
      handler: ({ params }, admin) => {
        const c = integrationOf(admin).enable(kind, params.id!, params.enable === 'true');
        if (!c.ok) throw new ApiError(c.status === 404 ? 'RESOURCE_NOT_FOUND' : 'BAD_REQUEST', c.error);
        return noContent();
      },
    },
  ];
}

export const connectorsRoutes: Route[] = [
  ...resourceRoutes('connectors', 'connector'),
  {
    method: 'POST', path: '/api/v5/connectors_probe', summary: 'Try connector settings ({type, …}): 204 when the target answers, 400 with the reason otherwise', responses: { 204: null, 400: ERROR_SCHEMA, ...NF },
    body: { type: 'object', required: ['type'], properties: { type: { type: 'string' } } },
    handler: async ({ body }, admin) => {
      const r = await integrationOf(admin).probe(body as Record<string, unknown>);
      if (!r.ok) throw new ApiError('BAD_REQUEST', r.error);
      return noContent();
    },
  },
];
