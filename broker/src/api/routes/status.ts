/** Health for probes: open to anyone, 503 while the node drains or stops. */
import { VERSION } from '../../version.js';
import { json, text, TEXT_SCHEMA, type JsonSchema, type Route } from '../route.js';

const STATUS: JsonSchema = {
  type: 'object',
  required: ['node', 'status'],
  properties: { node: { type: 'string' }, status: { enum: ['running', 'draining'] }, version: { type: 'string' }, uptime: { type: 'integer' } },
};

export const statusRoutes: Route[] = [
  {
    method: 'GET', path: '/status', access: 'open', summary: 'Node status as text (EMQX: /status), 503 while draining', responses: { 200: TEXT_SCHEMA, 503: TEXT_SCHEMA },
    handler: (_req, admin) => {
      const ok = admin.running();
      return text(ok ? 200 : 503, `Node ${admin.nodeName} is ${ok ? 'started' : 'stopping'}\npetrel is ${ok ? 'running' : 'draining'}\n`, 'text/plain');
    },
  },
  {
    method: 'GET', path: '/api/v5/status', access: 'open', summary: 'Node status as JSON, 503 while draining', responses: { 200: STATUS, 503: STATUS },
    handler: (_req, admin) => {
      const ok = admin.running();
      return json(ok ? 200 : 503, { node: admin.nodeName, status: ok ? 'running' : 'draining', version: VERSION, uptime: admin.uptimeSec() });
    },
  },
];
