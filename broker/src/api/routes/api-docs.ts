/**
 * The API's own description, as EMQX serves its Swagger: the OpenAPI document at /api-docs
 * (and at EMQX's /api-docs/swagger.json), a page that renders it at /api-docs/index.html. Open
 * to anyone, like EMQX's: it describes the endpoints and holds no data. Built once, on first
 * request, from the route table it is given, which includes these routes.
 */
import { API_DOCS_PAGE } from '../api-docs-page.js';
import { HTML_SCHEMA, openApiDocument } from '../openapi.js';
import { json, text, type Route } from '../route.js';

const DOC = { type: 'object', required: ['openapi', 'paths'], properties: { openapi: { type: 'string' }, paths: { type: 'object' } } };

/** The routes plus the two that describe them all. */
export function withApiDocs(routes: readonly Route[]): Route[] {
  let doc: Record<string, unknown> | null = null;
  const all: Route[] = [];
  const document = (): Record<string, unknown> => (doc ??= openApiDocument(all));
  all.push(
    ...routes,
    {
      method: 'GET', path: '/api-docs', access: 'open', summary: 'The OpenAPI 3.1 document of this API',
      responses: { 200: DOC },
      handler: () => json(200, document()),
    },
    {
      method: 'GET', path: '/api-docs/swagger.json', access: 'open', summary: 'The OpenAPI 3.1 document (EMQX path)',
      responses: { 200: DOC },
      handler: () => json(200, document()),
    },
    {
      method: 'GET', path: '/api-docs/index.html', access: 'open', summary: 'A page that lists every operation with its schemas',
      responses: { 200: HTML_SCHEMA },
      handler: () => text(200, API_DOCS_PAGE, 'text/html; charset=utf-8'),
    },
  );
  return all;
}

