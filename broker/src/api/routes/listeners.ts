/**
 * Listener status; start / stop / restart of one listener (EMQX: PUT /api/v5/listeners/{id}/{action});
 * and a change of its config (EMQX: PUT /api/v5/listeners/{id}), applied by restarting it.
 */
import { ApiError } from '../errors.js';
import { ERROR_SCHEMA, json, noContent, type JsonSchema, type Route } from '../route.js';

const LISTENER: JsonSchema = {
  type: 'object',
  required: ['id', 'running'],
  properties: {
    id: { type: 'string' }, transport: { type: 'string' }, bind: { type: 'string' }, running: { type: 'boolean' },
    currentConnections: { type: 'integer' }, maxConnections: { anyOf: [{ type: 'integer' }, { const: 'infinity' }] },
  },
};

export const listenersRoutes: Route[] = [
  { method: 'GET', path: '/api/v5/listeners', summary: 'Listeners: id, transport, bind, running, connections, counters', responses: { 200: { type: 'array', items: LISTENER } }, handler: async (_r, admin) => json(200, admin.listListenersNode !== undefined ? await admin.listListenersNode() : admin.listListeners()) },
  {
    method: 'PUT', path: '/api/v5/listeners/{id}', summary: 'Change a listener\'s config (bind, max_connections, max_conn_rate, tcp_options, websocket, ssl_options…): the fields given replace its own, checked as in the config file; applied by restarting it (enable: false leaves it stopped)',
    params: { type: 'object', properties: { id: { type: 'string' } } },
    body: { type: 'object', description: 'Fields of the listener\'s config, with the config file\'s names and units ("1000/s", "4MB"); authentication is not taken.' },
    responses: { 200: LISTENER, 400: ERROR_SCHEMA, 404: ERROR_SCHEMA, 409: ERROR_SCHEMA, 503: ERROR_SCHEMA },
    handler: async ({ params, body }, admin) => {
      if (admin.updateListener === undefined) throw new ApiError('NOT_FOUND', 'listener updates are not available on this node');
      if (!admin.running()) throw new ApiError('SERVICE_UNAVAILABLE', `the node is draining: cannot restart ${params.id}`);
      try {
        return json(200, await admin.updateListener(params.id!, body as Record<string, unknown>));
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === 'UNKNOWN_LISTENER') throw new ApiError('NOT_FOUND', `no listener ${params.id}`);
        if (code === 'BAD_CONFIG') throw new ApiError('BAD_REQUEST', (err as Error).message);
        throw new ApiError('LISTENER_ERROR', (err as Error).message);
      }
    },
  },
  {
    method: 'PUT', path: '/api/v5/listeners/{id}/{action}', summary: 'Start, stop or restart one listener (id is type:name, e.g. tcp:default)',
    responses: { 204: null, 404: ERROR_SCHEMA, 409: ERROR_SCHEMA, 503: ERROR_SCHEMA },
    params: {
      type: 'object',
      properties: { id: { type: 'string' }, action: { enum: ['start', 'stop', 'restart'] } },
    },
    handler: async ({ params }, admin) => {
      const action = params.action as 'start' | 'stop' | 'restart';
      // Starting a listener on a node that is draining would take clients back in.
      if (action !== 'stop' && !admin.running()) throw new ApiError('SERVICE_UNAVAILABLE', `the node is draining: cannot ${action} ${params.id}`);
      try {
        await admin.listenerAction(params.id, action);
      } catch (err) {
        if ((err as { code?: unknown }).code === 'UNKNOWN_LISTENER') throw new ApiError('NOT_FOUND', `no listener ${params.id}`);
        throw new ApiError('LISTENER_ERROR', (err as Error).message);
      }
      return noContent();
    },
  },
];
