/** EMQX's /monitor and /monitor_current: the last hour of 10 s samples kept by the node (monitor.ts). */
import { ApiError } from '../errors.js';
import { monitorOf } from '../monitor.js';
import { ERROR_SCHEMA, json, type JsonSchema, type Route } from '../route.js';
import type { AdminApi } from '../admin.js';

function monitor(admin: AdminApi) {
  const m = monitorOf(admin);
  if (m === undefined) throw new ApiError('NOT_FOUND', 'this node keeps no monitor samples');
  return m;
}

/** Numbers by name (time_stamp, connections, received, …). */
const NUMBERS: JsonSchema = { type: 'object', additionalProperties: { type: 'number' } };

export const monitorRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/monitor', summary: 'This node\'s samples every 10 s over the last hour, oldest first: gauges and the messages received, sent, dropped in each interval',
    query: { type: 'object', additionalProperties: false, properties: { latest: { type: 'integer', minimum: 1, maximum: 360, description: 'Only the last N samples.' } } },
    responses: { 200: { type: 'array', items: { ...NUMBERS, required: ['time_stamp'], properties: { time_stamp: { type: 'number' } } } }, 404: ERROR_SCHEMA },
    handler: ({ query }, admin) => json(200, monitor(admin).latest(query.latest as number | undefined)),
  },
  {
    method: 'GET', path: '/api/v5/monitor_current', summary: 'This node\'s gauges now and its message rates per second',
    responses: { 200: NUMBERS, 404: ERROR_SCHEMA },
    handler: (_r, admin) => json(200, monitor(admin).current()),
  },
];
