/**
 * Gateways, as EMQX's REST API shows them: the list with each gateway's status (running,
 * stopped, or unloaded when the config does not name it), one gateway, enabling and disabling
 * it, its clients (the same rows as /api/v5/clients) and its listeners.
 */
import { ApiError } from '../errors.js';
import { ANY_OBJECT, ERROR_SCHEMA, json, pageOf, paginate, PAGE_QUERY, type JsonSchema, type Route } from '../route.js';
import { CLIENT_SCHEMA } from './clients.js';
import type { AdminApi } from '../admin.js';

/** What the routes need of the node's gateways (gateway/registry.ts implements it). */
export interface GatewaysAdmin {
  list(): Array<Record<string, unknown>>;
  /** null = no gateway type of this name. */
  row(name: string): Record<string, unknown> | null;
  /** false = unknown or unloaded gateway. */
  setEnabled(name: string, enable: boolean): Promise<boolean>;
  /** Client ids of the gateway's connected clients; null = unknown or unloaded gateway. */
  clientIds(name: string): string[] | null;
  /** null = unknown or unloaded gateway. */
  listeners(name: string): Array<Record<string, unknown>> | null;
}

const GATEWAY: JsonSchema = { type: 'object', required: ['name', 'status'], properties: { name: { type: 'string' }, status: { enum: ['running', 'stopped', 'unloaded'] } } };
const ONE = { 200: GATEWAY, 404: ERROR_SCHEMA };

const NAME: JsonSchema = { type: 'object', properties: { name: { type: 'string', pattern: '^[a-z0-9_-]{1,32}$', description: 'Gateway name (mqttsn).' } }, required: ['name'] };

function gateways(admin: AdminApi): GatewaysAdmin {
  if (admin.gateways === undefined) throw new ApiError('RESOURCE_NOT_FOUND', 'gateways are not available on this node');
  return admin.gateways;
}

function loaded(g: GatewaysAdmin, name: string): Record<string, unknown> {
  const row = g.row(name);
  if (row === null) throw new ApiError('RESOURCE_NOT_FOUND', `no gateway ${name} (known: ${g.list().map((r) => r.name).join(', ')})`);
  return row;
}

const unloaded = (name: string): ApiError => new ApiError('RESOURCE_NOT_FOUND', `gateway ${name} is not loaded: add gateway.${name} to the config`);

async function enable(admin: AdminApi, name: string, on: boolean): Promise<Record<string, unknown>> {
  const g = gateways(admin);
  loaded(g, name);
  if (!(await g.setEnabled(name, on))) throw unloaded(name);
  return g.row(name)!;
}

export const gatewaysRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/gateways', summary: 'Every gateway with its status: running, stopped, or unloaded', responses: { 200: { type: 'array', items: GATEWAY }, 404: ERROR_SCHEMA },
    handler: (_r, admin) => json(200, gateways(admin).list()),
  },
  {
    method: 'GET', path: '/api/v5/gateways/{name}', summary: 'One gateway: status, listeners, connections, counters', params: NAME, responses: ONE,
    handler: ({ params }, admin) => json(200, loaded(gateways(admin), params.name)),
  },
  {
    method: 'PUT', path: '/api/v5/gateways/{name}', summary: 'Enable or disable a loaded gateway ({"enable": true|false}); its other settings come from the config file', params: NAME, responses: ONE,
    body: { type: 'object', properties: { enable: { type: 'boolean' } }, required: ['enable'] },
    handler: async ({ params, body }, admin) => json(200, await enable(admin, params.name, (body as { enable: boolean }).enable)),
  },
  {
    method: 'PUT', path: '/api/v5/gateways/{name}/enable/{enable}', summary: 'Enable or disable a loaded gateway (EMQX path)', responses: ONE,
    params: { type: 'object', properties: { name: { type: 'string', pattern: '^[a-z0-9_-]{1,32}$' }, enable: { type: 'string', enum: ['true', 'false'] } }, required: ['name', 'enable'] },
    handler: async ({ params }, admin) => json(200, await enable(admin, params.name, params.enable === 'true')),
  },
  {
    method: 'GET', path: '/api/v5/gateways/{name}/clients', summary: "The gateway's connected clients (paged; the rows of /api/v5/clients)", params: NAME, query: PAGE_QUERY, responses: { 200: pageOf(CLIENT_SCHEMA), 404: ERROR_SCHEMA },
    handler: ({ params, query }, admin) => {
      const ids = gateways(admin).clientIds(params.name);
      if (ids === null) throw unloaded(params.name);
      const rows = ids.map((id) => admin.getClient(id)).filter((r) => r !== null);
      return json(200, paginate(rows, query));
    },
  },
  {
    method: 'GET', path: '/api/v5/gateways/{name}/listeners', summary: "The gateway's listeners with their counters", params: NAME, responses: { 200: { type: 'array', items: ANY_OBJECT }, 404: ERROR_SCHEMA },
    handler: ({ params }, admin) => {
      const ls = gateways(admin).listeners(params.name);
      if (ls === null) throw unloaded(params.name);
      return json(200, ls);
    },
  },
];
