/**
 * Data integration's actions (sinks) and sources over REST, as EMQX 5's /api/v5/actions and
 * /api/v5/sources: the same shape as connectors, plus an action's metrics and their reset.
 */
import { ApiError } from '../errors.js';
import { ANY_OBJECT, json, noContent, type Route } from '../route.js';
import { ID_PARAMS, integrationOf, NF, resourceRoutes } from './connectors.js';

export const actionsRoutes: Route[] = [
  ...resourceRoutes('actions', 'action'),
  {
    method: 'GET', path: '/api/v5/actions/{id}/metrics', summary: 'An action\'s counters (matched, success, failed, dropped.*, retried, queuing, inflight)', params: ID_PARAMS,
    responses: { 200: { type: 'object', required: ['metrics'], properties: { metrics: ANY_OBJECT, node_metrics: { type: 'array', items: ANY_OBJECT } } }, ...NF },
    handler: ({ params }, admin) => {
      const m = integrationOf(admin).actionMetrics(params.id!);
      if (m === null) throw new ApiError('RESOURCE_NOT_FOUND', `no action '${params.id}'`);
      return json(200, { metrics: m, node_metrics: [{ node: admin.nodeName, metrics: m }] });
    },
  },
  {
    method: 'PUT', path: '/api/v5/actions/{id}/metrics/reset', summary: 'Zero an action\'s counters', params: ID_PARAMS, responses: { 204: null, ...NF },
    handler: ({ params }, admin) => {
      if (!integrationOf(admin).resetActionMetrics(params.id!)) throw new ApiError('RESOURCE_NOT_FOUND', `no action '${params.id}'`);
      return noContent();
    },
  },
  ...resourceRoutes('sources', 'source'),
];
