/** The router's distinct topic filters. */
import { json, paginate, PAGE_QUERY, type Route } from '../route.js';

export const topicsRoutes: Route[] = [
  { method: 'GET', path: '/api/v5/topics', summary: 'Distinct subscribed topic filters (paged)', query: PAGE_QUERY, handler: ({ query }, admin) => json(200, paginate(admin.listTopics(), query)) },
];
