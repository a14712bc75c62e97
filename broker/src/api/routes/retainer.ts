/** Retained messages: list (without payloads), show one (payload in base64), delete one. */
import type { RetainedView } from '../admin.js';
import { ApiError } from '../errors.js';
import { ERROR_SCHEMA, json, noContent, pageOf, paginate, PAGE_QUERY, type JsonSchema, type Route } from '../route.js';

const RETAINED: JsonSchema = {
  type: 'object',
  required: ['topic', 'qos', 'msgid'],
  properties: {
    topic: { type: 'string' }, qos: { type: 'integer' }, from_clientid: { type: 'string' }, publish_at: { type: 'string' }, msgid: { type: 'string' },
    payload: { type: 'string', description: 'base64 (one message only).' },
  },
};

const row = (m: RetainedView, withPayload: boolean): Record<string, unknown> => {
  const { payload, ...rest } = m;
  return withPayload ? { ...rest, payload: payload.toString('base64') } : rest;
};

const TOPIC: JsonSchema = { type: 'object', required: ['topic'], properties: { topic: { type: 'string', minLength: 1, description: 'A topic name, percent-encoded (a/b is a%2Fb).' } } };

export const retainerRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/retainer/messages', summary: 'Retained messages without payloads (paged)', query: PAGE_QUERY, responses: { 200: pageOf(RETAINED) },
    handler: ({ query }, admin) => json(200, paginate(admin.listRetained().map((m) => row(m, false)), query)),
  },
  {
    method: 'GET', path: '/api/v5/retainer/message/{topic}', summary: 'One retained message, payload in base64 (topic percent-encoded)', params: TOPIC, responses: { 200: RETAINED, 404: ERROR_SCHEMA },
    handler: ({ params }, admin) => {
      const m = admin.getRetained(params.topic);
      if (m === null) throw new ApiError('NOT_FOUND', `no retained message on ${params.topic}`);
      return json(200, row(m, true));
    },
  },
  {
    method: 'DELETE', path: '/api/v5/retainer/message/{topic}', summary: 'Delete the retained message of a topic (204 also when there was none)', params: TOPIC, responses: { 204: null },
    handler: ({ params }, admin) => { admin.deleteRetained(params.topic); return noContent(); },
  },
];
