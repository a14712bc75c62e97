/**
 * The OpenAPI 3.1 document of the REST API, made from the route table itself: the schemas
 * that validate a request (path, query, body) and the ones each route declares for its
 * replies are the document's, so the two cannot drift. OpenAPI 3.1 takes JSON Schema as it
 * is, which is what the routes hold (ajv reads the same objects).
 *
 * What every route may answer besides its own replies is added here, once: 400 when it takes
 * input, 401 when it needs a key, 413 and 415 when it takes a body, and a `default` error
 * (405, 500, 503…), all the one `{code, message}` schema.
 */
import { VERSION } from '../version.js';
import { ERROR_SCHEMA, TEXT_SCHEMA, ZIP_SCHEMA, type JsonSchema, type Route } from './route.js';

/** A reply that is an HTML page (the document's viewer); known by identity, like TEXT_SCHEMA. */
export const HTML_SCHEMA: JsonSchema = { type: 'string' };

type Obj = Record<string, unknown>;

const ERROR_REF = { $ref: '#/components/schemas/Error' };

/**
 * How a caller proves who it is, by OpenAPI security scheme name: an API key by HTTP Basic
 * (key:secret), or a dashboard login's bearer token; a route's `access` decides whether it takes one.
 */
export const SECURITY_SCHEMES: Record<string, Obj> = {
  basicAuth: { type: 'http', scheme: 'basic', description: 'An API key: key as user name, secret as password (api_key.bootstrap_file or POST /api/v5/api_key).' },
  bearerAuth: { type: 'http', scheme: 'bearer', description: 'A dashboard login token (POST /api/v5/login).' },
};

/** The security requirements of a route: any one of them is enough; `{}` = none needed. */
function schemesFor(route: Route): Obj[] {
  const access = route.access ?? 'key';
  if (access === 'open') return [];
  const keyed = Object.keys(SECURITY_SCHEMES).map((name) => ({ [name]: [] }));
  // The drain hook answers loopback callers without a key.
  return access === 'key-or-loopback' ? [...keyed, {}] : keyed;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted (not delivered to any subscriber)', 204: 'Done, no body', 400: 'Bad request', 401: 'No or bad credentials', 403: 'The caller\'s role (viewer) may not change anything',
  404: 'Not found', 409: 'Conflict', 412: 'Precondition failed', 413: 'Body too large', 415: 'Body is not JSON', 503: 'Draining or unavailable',
};

function content(schema: JsonSchema): Obj {
  if (schema === TEXT_SCHEMA) return { 'text/plain': { schema } };
  if (schema === HTML_SCHEMA) return { 'text/html': { schema } };
  if (schema === ZIP_SCHEMA) return { 'application/zip': { schema } };
  return { 'application/json': { schema: schema === ERROR_SCHEMA ? ERROR_REF : schema } };
}

function responses(route: Route): Obj {
  const out: Obj = {};
  for (const [status, schema] of Object.entries(route.responses ?? {})) {
    const description = STATUS_TEXT[Number(status)] ?? `HTTP ${status}`;
    out[status] = schema === null ? { description } : { description, content: content(schema) };
  }
  const error = (status: number): void => { out[status] ??= { description: STATUS_TEXT[status], content: content(ERROR_SCHEMA) }; };
  if (route.params !== undefined || route.query !== undefined || route.body !== undefined || route.rawBody === true || /\{/.test(route.path)) error(400);
  if ((route.access ?? 'key') !== 'open') error(401);
  // The router refuses every change to a viewer (roles.ts), except its own logout and password.
  if ((route.access ?? 'key') !== 'open' && route.method !== 'GET' && route.anyRole !== true) error(403);
  if (route.body !== undefined || route.rawBody === true) { error(413); error(415); }
  out.default = { description: 'Any other error (405, 500, 503…)', content: content(ERROR_SCHEMA) };
  return out;
}

function parameters(route: Route): Obj[] {
  const out: Obj[] = [];
  const pathProps = (route.params?.properties ?? {}) as Record<string, JsonSchema>;
  for (const m of route.path.matchAll(/\{(\w+)\}/g)) {
    const name = m[1]!;
    out.push({ name, in: 'path', required: true, schema: pathProps[name] ?? { type: 'string' } });
  }
  const q = route.query;
  if (q !== undefined) {
    const required = new Set((q.required ?? []) as string[]);
    for (const [name, schema] of Object.entries((q.properties ?? {}) as Record<string, JsonSchema>)) {
      const { description, ...rest } = schema;
      out.push({ name, in: 'query', required: required.has(name), schema: rest, ...(description !== undefined ? { description } : {}) });
    }
  }
  return out;
}

function requestBody(route: Route): Obj | undefined {
  if (route.rawBody === true) {
    return {
      required: true,
      content: {
        'text/csv': { schema: { type: 'string' } },
        'application/json': { schema: { type: 'array', items: { type: 'object' } } },
        'multipart/form-data': { schema: { type: 'object', properties: { filename: { type: 'string', format: 'binary' } } } },
      },
    };
  }
  if (route.body === undefined) return undefined;
  return { required: true, content: { 'application/json': { schema: route.body } } };
}

/** A stable operationId: method and path, `{x}` as `by_x`. */
export function operationId(route: Route): string {
  return `${route.method.toLowerCase()}_${route.path.replace(/^\//, '').replace(/\{(\w+)\}/g, 'by_$1').replace(/[^A-Za-z0-9]+/g, '_')}`;
}

/** The tag a route is listed under: the first path segment after /api/v5 (or the path's own). */
function tag(route: Route): string {
  const segs = route.path.split('/').filter((s) => s !== '');
  return (segs[0] === 'api' && segs[1] === 'v5' ? segs[2] : segs[0]) ?? 'root';
}

export function openApiDocument(routes: readonly Route[]): Obj {
  const paths: Record<string, Obj> = {};
  for (const route of routes) {
    const op: Obj = {
      operationId: operationId(route),
      summary: route.summary,
      tags: [tag(route)],
      parameters: parameters(route),
      responses: responses(route),
      security: schemesFor(route),
    };
    const body = requestBody(route);
    if (body !== undefined) op.requestBody = body;
    (paths[route.path] ??= {})[route.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Petrel REST API',
      version: VERSION,
      description: 'Shaped like EMQX\'s /api/v5. Errors are {code, message} (docs/api.md has the catalog).',
    },
    paths,
    components: { schemas: { Error: ERROR_SCHEMA }, securitySchemes: SECURITY_SCHEMES },
  };
}
