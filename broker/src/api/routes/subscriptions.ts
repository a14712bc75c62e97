/** Every session's subscriptions, with EMQX's exact-match filters (clientid, topic, qos, node). */
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

const SUBSCRIPTIONS_QUERY: JsonSchema = {
  type: 'object',
  properties: {
    ...(PAGE_QUERY.properties as Record<string, JsonSchema>),
    clientid: { type: 'string', minLength: 1, description: 'Only this client\'s subscriptions.' },
    topic: { type: 'string', minLength: 1, description: 'Only this topic filter, as subscribed (exact, not matched).' },
    qos: { type: 'integer', enum: [0, 1, 2], description: 'Only subscriptions with this QoS.' },
    node: { type: 'string', minLength: 1, description: 'Only the subscriptions held on this node.' },
  },
};

const FILTERS = ['clientid', 'topic', 'qos', 'node'] as const;

export const subscriptionsRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/subscriptions', summary: 'All subscriptions (paged; filters clientid, topic, qos, node)', query: SUBSCRIPTIONS_QUERY, responses: { 200: pageOf(SUBSCRIPTION_SCHEMA) },
    handler: ({ query }, admin) => {
      const given = FILTERS.filter((f) => query[f] !== undefined);
      const rows = admin.listSubscriptions().filter((r) => given.every((f) => r[f] === query[f]));
      return json(200, paginate(rows, query));
    },
  },
];
