/**
 * Clients across the cluster: list (EMQX's filters, `node` among them; paged over the rows of
 * every node), show (also an offline session), kick, their subscriptions. One client is looked
 * for on every member; the node that holds it answers.
 */
import type { ClientFilter } from '../admin.js';
import { ApiError } from '../errors.js';
import { ERROR_SCHEMA, json, noContent, pageOf, paginate, PAGE_QUERY, type JsonSchema, type Route } from '../route.js';
import { SUBSCRIPTION_SCHEMA } from './subscriptions.js';

const notFound = (id: string, unreachable: string[]): ApiError =>
  new ApiError('CLIENTID_NOT_FOUND', `no client or session ${id}` + (unreachable.length > 0 ? ` (${unreachable.join(', ')} did not answer)` : ''));

const str = (description: string): JsonSchema => ({ type: 'string', minLength: 1, description });

const CLIENTS_QUERY: JsonSchema = {
  type: 'object',
  properties: {
    ...(PAGE_QUERY.properties as Record<string, JsonSchema>),
    node: str('Only the clients of this node.'),
    clientid: str('This client id.'),
    username: str('This username.'),
    ip_address: str('This peer address.'),
    proto_ver: { type: 'integer', enum: [3, 4, 5], description: 'This protocol version.' },
    like_clientid: str('Client ids containing this text.'),
    like_username: str('Usernames containing this text.'),
    conn_state: { enum: ['connected', 'disconnected'], description: 'connected (the default): clients with a connection; disconnected: persistent sessions whose client is away.' },
  },
};

const nullable = (type: string): JsonSchema => ({ type: [type, 'null'] });

/** One row of /api/v5/clients (ClientView). */
export const CLIENT_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['clientid', 'connected', 'node'],
  properties: {
    clientid: { type: 'string' }, username: nullable('string'), ip_address: nullable('string'), port: nullable('integer'),
    listener: nullable('string'), proto_name: nullable('string'), proto_ver: nullable('integer'), connected: { type: 'boolean' },
    connected_at: nullable('string'), clean_start: { type: 'boolean' }, keepalive: { type: 'integer' }, expiry_interval: { type: 'integer' },
    subscriptions_cnt: { type: 'integer' }, inflight_cnt: { type: 'integer' }, mqueue_len: { type: 'integer' }, awaiting_rel_cnt: { type: 'integer' },
    node: { type: 'string' },
  },
};

const FILTERS = ['node', 'clientid', 'username', 'ip_address', 'proto_ver', 'like_clientid', 'like_username', 'conn_state'] as const;

export const clientsRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/clients', summary: 'Connected clients of every node, or with conn_state=disconnected their offline sessions (paged, EMQX filters)', query: CLIENTS_QUERY,
    responses: { 200: pageOf(CLIENT_SCHEMA) },
    handler: async ({ query }, admin) => {
      const filter: Record<string, unknown> = {};
      for (const k of FILTERS) if (query[k] !== undefined) filter[k] = query[k];
      let got;
      try {
        got = await admin.cluster.clients(filter as ClientFilter);
      } catch (err) {
        if ((err as { code?: unknown }).code === 'UNKNOWN_NODE') throw new ApiError('BAD_REQUEST', `query.node: no node ${String(query.node)} in the cluster`);
        throw err;
      }
      const page = paginate(got.rows, query);
      if (got.unreachable.length > 0) page.meta.unreachable = got.unreachable;
      return json(200, page);
    },
  },
  {
    method: 'GET', path: '/api/v5/clients/{clientid}', summary: 'One client, connected or with an offline session, on whichever node holds it',
    responses: { 200: CLIENT_SCHEMA, 404: ERROR_SCHEMA },
    handler: async ({ params }, admin) => {
      const { row, unreachable } = await admin.cluster.client(params.clientid);
      if (row === null) throw notFound(params.clientid, unreachable);
      return json(200, row);
    },
  },
  {
    method: 'DELETE', path: '/api/v5/clients/{clientid}', summary: 'Kick the client (v5: DISCONNECT 0x98) and discard its session, on whichever node holds it',
    responses: { 204: null, 404: ERROR_SCHEMA },
    handler: async ({ params }, admin) => {
      const { kicked, unreachable } = await admin.cluster.kick(params.clientid);
      if (!kicked) throw notFound(params.clientid, unreachable);
      return noContent();
    },
  },
  {
    method: 'GET', path: '/api/v5/clients/{clientid}/subscriptions', summary: "The client's subscriptions",
    responses: { 200: { type: 'array', items: SUBSCRIPTION_SCHEMA }, 404: ERROR_SCHEMA },
    handler: async ({ params }, admin) => {
      const { rows, unreachable } = await admin.cluster.subscriptions(params.clientid);
      if (rows === null) throw notFound(params.clientid, unreachable);
      return json(200, rows);
    },
  },
];
