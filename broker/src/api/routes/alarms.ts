/**
 * EMQX's alarm list (GET /api/v5/alarms, `activated=true|false` for the active or the
 * deactivated ones, paged) and DELETE /api/v5/alarms, which forgets the deactivated ones.
 * Which alarms the node raises: broker/src/alarms.ts.
 */
import type { AlarmView } from '../../alarms.js';
import { ApiError } from '../errors.js';
import { ANY_OBJECT, ERROR_SCHEMA, json, noContent, pageOf, paginate, PAGE_QUERY, type JsonSchema, type Route } from '../route.js';

export interface AlarmsAdmin {
  list(activated?: boolean): AlarmView[];
  clearDeactivated(): void;
}

const ALARM: JsonSchema = {
  type: 'object',
  required: ['name', 'node', 'message', 'activated', 'activate_at', 'deactivate_at', 'duration'],
  properties: {
    name: { type: 'string' }, node: { type: 'string' }, message: { type: 'string' }, details: ANY_OBJECT, activated: { type: 'boolean' },
    activate_at: { type: 'string' }, deactivate_at: { type: 'string', description: 'RFC 3339, or "infinity" while active.' },
    duration: { type: 'integer', description: 'Milliseconds.' },
  },
};

const alarmsOf = (admin: Parameters<Route['handler']>[1]): AlarmsAdmin => {
  if (admin.alarms === undefined) throw new ApiError('NOT_FOUND', 'alarms are not kept on this node');
  return admin.alarms;
};

export const alarmsRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/alarms', summary: 'Alarms of this node, newest first (activated=true: active; false: deactivated; absent: both)',
    query: { type: 'object', properties: { ...(PAGE_QUERY.properties as Record<string, JsonSchema>), activated: { type: 'boolean', description: 'Only the active (true) or the deactivated (false) alarms.' } } },
    responses: { 200: pageOf(ALARM), 404: ERROR_SCHEMA },
    handler: ({ query }, admin) => json(200, paginate(alarmsOf(admin).list(query.activated as boolean | undefined), query)),
  },
  {
    method: 'DELETE', path: '/api/v5/alarms', summary: 'Forget the deactivated alarms (the active ones stay)',
    responses: { 204: null, 404: ERROR_SCHEMA },
    handler: (_r, admin) => { alarmsOf(admin).clearDeactivated(); return noContent(); },
  },
];
