/** Every session's subscriptions. */
import { json, pageOf, paginate, PAGE_QUERY, type JsonSchema, type Route } from '../route.js';

/** One subscription (SubscriptionView): MQTT 5 options as 0/1 flags, as EMQX shows them. */
export const SUBSCRIPTION_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['clientid', 'topic', 'qos', 'node'],
  properties: {
    clientid: { type: 'string' }, topic: { type: 'string' }, qos: { type: 'integer', minimum: 0, maximum: 2 },
    nl: { enum: [0, 1] }, rap: { enum: [0, 1] }, rh: { enum: [0, 1, 2] }, node: { type: 'string' },
  },
};

export const subscriptionsRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/subscriptions', summary: 'All subscriptions (paged)', query: PAGE_QUERY, responses: { 200: pageOf(SUBSCRIPTION_SCHEMA) },
    handler: ({ query }, admin) => json(200, paginate(admin.listSubscriptions(), query)),
  },
];
