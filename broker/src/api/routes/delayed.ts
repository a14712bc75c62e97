/**
 * Delayed publish (`$delayed/{seconds}/{topic}`) as EMQX's API shows it: the settings, the
 * held messages (paged), one of them with its payload, and deleting one before it is due.
 * The cluster holds one table of delayed messages (every node sees all of them), so `node`
 * in a row is the node that answered and `{node}` in a path is not checked against it.
 */
import { ApiError } from '../errors.js';
import { ERROR_SCHEMA, json, noContent, pageOf, paginate, PAGE_QUERY, type JsonSchema, type Route } from '../route.js';

export interface DelayedRow {
  msgid: string;
  node: string;
  topic: string;
  qos: number;
  from_clientid: string;
  publish_at: string;
  /** Seconds asked for. */
  delayed_interval: number;
  /** Seconds left. */
  delayed_remaining: number;
  expected_at: string;
  /** base64; only when one message is shown. */
  payload?: string;
}

export interface DelayedAdmin {
  settings(): { enable: boolean; max_delayed_messages: number };
  list(): DelayedRow[];
  get(msgid: string): DelayedRow | null;
  /** false = no such message (published already, or never held). */
  delete(msgid: string): boolean;
}

const ROW: JsonSchema = {
  type: 'object',
  required: ['msgid', 'node', 'topic', 'qos', 'publish_at', 'delayed_interval', 'delayed_remaining', 'expected_at'],
  properties: {
    msgid: { type: 'string' }, node: { type: 'string' }, topic: { type: 'string' }, qos: { type: 'integer' }, from_clientid: { type: 'string' },
    publish_at: { type: 'string' }, delayed_interval: { type: 'integer' }, delayed_remaining: { type: 'integer' }, expected_at: { type: 'string' },
    payload: { type: 'string', description: 'base64.' },
  },
};

const ONE: JsonSchema = {
  type: 'object',
  required: ['node', 'msgid'],
  properties: { node: { type: 'string', minLength: 1 }, msgid: { type: 'string', pattern: '^[0-9]+$', description: 'The message id of a row of /mqtt/delayed/messages.' } },
};

const delayedOf = (admin: Parameters<Route['handler']>[1]): DelayedAdmin => {
  if (admin.delayed === undefined) throw new ApiError('NOT_FOUND', 'delayed publish is not available on this node');
  return admin.delayed;
};

const gone = (msgid: string): ApiError => new ApiError('NOT_FOUND', `no delayed message ${msgid} (published already, or never held)`);

export const delayedRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/mqtt/delayed', summary: 'Delayed publish settings: enable, max_delayed_messages (0 = no limit)',
    responses: { 200: { type: 'object', required: ['enable', 'max_delayed_messages'], properties: { enable: { type: 'boolean' }, max_delayed_messages: { type: 'integer' } } }, 404: ERROR_SCHEMA },
    handler: (_r, admin) => json(200, delayedOf(admin).settings()),
  },
  {
    method: 'GET', path: '/api/v5/mqtt/delayed/messages', summary: 'Messages held for later, soonest first (paged, without payloads)', query: PAGE_QUERY,
    responses: { 200: pageOf(ROW), 404: ERROR_SCHEMA },
    handler: ({ query }, admin) => json(200, paginate(delayedOf(admin).list(), query)),
  },
  {
    method: 'GET', path: '/api/v5/mqtt/delayed/messages/{node}/{msgid}', summary: 'One held message, payload in base64', params: ONE,
    responses: { 200: ROW, 404: ERROR_SCHEMA },
    handler: ({ params }, admin) => {
      const row = delayedOf(admin).get(params.msgid!);
      if (row === null) throw gone(params.msgid!);
      return json(200, row);
    },
  },
  {
    method: 'DELETE', path: '/api/v5/mqtt/delayed/messages/{node}/{msgid}', summary: 'Drop a held message before it is due', params: ONE,
    responses: { 204: null, 404: ERROR_SCHEMA },
    handler: ({ params }, admin) => {
      if (!delayedOf(admin).delete(params.msgid!)) throw gone(params.msgid!);
      return noContent();
    },
  },
];
