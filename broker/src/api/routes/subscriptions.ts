/** Every session's subscriptions. */
import { json, paginate, PAGE_QUERY, type Route } from '../route.js';

export const subscriptionsRoutes: Route[] = [
  { method: 'GET', path: '/api/v5/subscriptions', summary: 'All subscriptions (paged)', query: PAGE_QUERY, handler: ({ query }, admin) => json(200, paginate(admin.listSubscriptions(), query)) },
];
