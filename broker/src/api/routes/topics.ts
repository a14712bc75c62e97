/** Every node's routes: (topic filter, node) rows gathered across the cluster, as EMQX lists them. */
import { json, pageOf, paginate, PAGE_QUERY, type Route } from '../route.js';

export const topicsRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/topics', summary: 'Routes of every node: topic filter and node (paged)', query: PAGE_QUERY,
    responses: { 200: pageOf({ type: 'object', required: ['topic', 'node'], properties: { topic: { type: 'string' }, node: { type: 'string' } } }) },
    handler: async ({ query }, admin) => {
      const got = await admin.cluster.topics();
      const page = paginate(got.rows, query);
      if (got.unreachable.length > 0) page.meta.unreachable = got.unreachable;
      return json(200, page);
    },
  },
];
