/**
 * What a route module exports: a list of `Route`s. A route is data: method, path (OpenAPI
 * style, `/api/v5/clients/{clientid}`), who may call it, JSON Schemas for its path parameters,
 * query and body, and a handler that gets the validated request and the AdminApi and returns
 * a `Reply` (or throws an ApiError). Handlers never see the socket, so they are plain
 * functions; the schemas are plain JSON Schema objects, which is also what an OpenAPI
 * document is made of.
 */
import type { AdminApi } from './admin.js';
import type { Caller } from './accounts/roles.js';

/** A JSON Schema (draft 7 subset as ajv reads it). */
export type JsonSchema = Record<string, unknown>;

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * - `open`: anyone (health probes, Prometheus scrapes);
 * - `key`: an API key by HTTP Basic, or, while no keys are configured, loopback clients only;
 * - `key-or-loopback`: like `key`, and loopback clients need no key even when keys exist
 *   (the drain hook, called by the pod's own preStop).
 */
export type Access = 'open' | 'key' | 'key-or-loopback';

export interface ApiRequest {
  /** Decoded path parameters, by name. */
  params: Record<string, string>;
  /** Query parameters (first value of each), coerced and defaulted by the route's query schema. */
  query: Record<string, unknown>;
  /** The parsed JSON body, validated by the route's body schema; null for routes without one. */
  body: unknown;
  /** Who called (null on `open` routes, which check no credentials). */
  caller?: Caller | null;
  /** The client's address (the login limiter counts failures per address). */
  peer?: string;
}

/** `ApiRequest.body` of a route with `rawBody`. */
export interface RawBody { contentType: string; raw: Buffer }

export interface Reply {
  status: number;
  /** Serialised as JSON unless `text` is set. */
  body?: unknown;
  /** A non-JSON body (Prometheus, /status, a ZIP download), sent with `contentType`. */
  text?: string | Buffer;
  contentType?: string;
  /** More response headers (a download's content-disposition). */
  headers?: Record<string, string>;
}

export interface Route {
  method: Method;
  path: string;
  summary: string;
  access?: Access;
  params?: JsonSchema;
  query?: JsonSchema;
  body?: JsonSchema;
  /** The body is not JSON (an uploaded CSV, a multipart form): the handler gets it as a RawBody, of any content type. */
  rawBody?: boolean;
  /** A viewer may call it although it is not a GET: it changes only the caller's own login (logout). */
  anyRole?: boolean;
  /** The path parameter naming a dashboard user: a viewer may call this route for itself only (its own password). */
  ownUser?: string;
  /**
   * The JSON Schema of each status the handler returns itself (errors it throws: ERROR_SCHEMA);
   * `null` = no body (204). Errors the server adds (400 for a bad request, 401, 405, 413, 415,
   * 500, 503) are documented by openapi.ts for every route. A `text/plain` body: TEXT_SCHEMA (this very object).
   */
  responses?: Responses;
  handler(req: ApiRequest, admin: AdminApi): Reply | Promise<Reply>;
}

export type Responses = Record<number, JsonSchema | null>;

/** Every error body: `{code, message}` (errors.ts). */
export const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string', description: 'From the error catalog (docs/api.md).' }, message: { type: 'string' } },
};

/** A `text/plain` reply (Prometheus, /status): openapi.ts knows it by identity and documents that media type. */
export const TEXT_SCHEMA: JsonSchema = { type: 'string' };

/** An `application/zip` reply (a trace download): openapi.ts knows it by identity too. */
export const ZIP_SCHEMA: JsonSchema = { type: 'string', format: 'binary' };

/** An object whose fields the route does not pin down (a config as written, a counter set). */
export const ANY_OBJECT: JsonSchema = { type: 'object' };

/** `{data: [item…], meta}`: one page of EMQX-style paging. */
export function pageOf(item: JsonSchema): JsonSchema {
  return {
    type: 'object',
    required: ['data', 'meta'],
    properties: {
      data: { type: 'array', items: item },
      meta: {
        type: 'object',
        required: ['page', 'limit', 'count', 'hasnext'],
        properties: {
          page: { type: 'integer' }, limit: { type: 'integer' }, count: { type: 'integer' }, hasnext: { type: 'boolean' },
          unreachable: { type: 'array', items: { type: 'string' }, description: 'Nodes that did not answer.' },
        },
      },
    },
  };
}

export const arrayOf = (item: JsonSchema): JsonSchema => ({ type: 'array', items: item });

export const json = (status: number, body: unknown): Reply => ({ status, body });
export const noContent = (): Reply => ({ status: 204 });
export const text = (status: number, t: string, contentType: string): Reply => ({ status, text: t, contentType });

/** EMQX's paging parameters: `page` from 1, `limit` rows per page (100 by default). */
export const PAGE_QUERY: JsonSchema = {
  type: 'object',
  properties: {
    page: { type: 'integer', minimum: 1, default: 1, description: 'Page number, from 1.' },
    limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100, description: 'Rows per page.' },
  },
};

export interface Page<T> {
  data: T[];
  /** `unreachable`: cluster-wide lists only, when some nodes did not answer (their rows are missing). */
  meta: { page: number; limit: number; count: number; hasnext: boolean; unreachable?: string[] };
}

/** One page of rows, from a query validated by PAGE_QUERY. */
export function paginate<T>(rows: T[], query: Record<string, unknown>): Page<T> {
  const page = query.page as number;
  const limit = query.limit as number;
  const start = (page - 1) * limit;
  return { data: rows.slice(start, start + limit), meta: { page, limit, count: rows.length, hasnext: start + limit < rows.length } };
}
