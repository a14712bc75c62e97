/** Connected clients: list, show (also an offline session), kick, their subscriptions. */
import { ApiError } from '../errors.js';
import { json, noContent, paginate, PAGE_QUERY, type Route } from '../route.js';

const notFound = (id: string): ApiError => new ApiError('CLIENTID_NOT_FOUND', `no client or session ${id}`);

export const clientsRoutes: Route[] = [
  { method: 'GET', path: '/api/v5/clients', summary: 'Connected clients (paged)', query: PAGE_QUERY, handler: ({ query }, admin) => json(200, paginate(admin.listClients(), query)) },
  {
    method: 'GET', path: '/api/v5/clients/{clientid}', summary: 'One client, connected or with an offline session',
    handler: ({ params }, admin) => {
      const c = admin.getClient(params.clientid);
      if (c === null) throw notFound(params.clientid);
      return json(200, c);
    },
  },
  {
    method: 'DELETE', path: '/api/v5/clients/{clientid}', summary: 'Kick the client (v5: DISCONNECT 0x98) and discard its session',
    handler: ({ params }, admin) => {
      if (!admin.kickClient(params.clientid)) throw notFound(params.clientid);
      return noContent();
    },
  },
  {
    method: 'GET', path: '/api/v5/clients/{clientid}/subscriptions', summary: "The client's subscriptions",
    handler: ({ params }, admin) => {
      const subs = admin.clientSubscriptions(params.clientid);
      if (subs === null) throw notFound(params.clientid);
      return json(200, subs);
    },
  },
];
