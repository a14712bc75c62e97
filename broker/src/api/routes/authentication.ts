/**
 * The global authentication chain and the built-in database's users, on EMQX's paths and in
 * its shapes: list, add, show, update, delete and move authenticators (changes apply at once,
 * no restart), their status and counters, and users (add, list with EMQX's filters, show,
 * update, delete, import EMQX's CSV and JSON files). An authenticator id is EMQX's
 * (`password_based:built_in_database`), URL-encoded in paths.
 */
import type { AdminApi } from '../admin.js';
import type { AuthnAdmin } from '../../access/authn/index.js';
import { ApiError, type ApiErrorCode } from '../errors.js';
import { ANY_OBJECT, arrayOf, ERROR_SCHEMA, json, noContent, pageOf, PAGE_QUERY, type JsonSchema, type RawBody, type Route } from '../route.js';

const BASE = '/api/v5/authentication';

function authn(admin: AdminApi): AuthnAdmin {
  if (admin.authn === undefined) throw new ApiError('NOT_FOUND', 'authentication is not managed on this node');
  return admin.authn;
}

/** ChainError and UserDbError (and the SCRAM user database's) carry the code to answer with. */
const MAPPED: ReadonlySet<string> = new Set(['NOT_FOUND', 'ALREADY_EXISTS', 'BAD_REQUEST']);

async function mapped<T>(fn: () => T | Promise<T>): Promise<T> {
  try { return await fn(); } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && MAPPED.has(code)) throw new ApiError(code as ApiErrorCode, (err as Error).message);
    throw err;
  }
}

const USER: JsonSchema = { type: 'object', required: ['user_id'], properties: { user_id: { type: 'string' }, is_superuser: { type: 'boolean' } } };
const ERR = { 400: ERROR_SCHEMA, 404: ERROR_SCHEMA };

const USER_QUERY: JsonSchema = {
  type: 'object',
  properties: {
    ...(PAGE_QUERY.properties as Record<string, JsonSchema>),
    like_user_id: { type: 'string', minLength: 1, description: 'User ids containing this text.' },
    is_superuser: { type: 'boolean', description: 'Only superusers (true) or only the others (false).' },
  },
};

const NEW_USER: JsonSchema = {
  type: 'object',
  required: ['user_id', 'password'],
  additionalProperties: false,
  properties: {
    user_id: { type: 'string', minLength: 1 },
    password: { type: 'string', minLength: 1 },
    is_superuser: { type: 'boolean', default: false },
  },
};

const USER_PATCH: JsonSchema = {
  type: 'object',
  minProperties: 1,
  additionalProperties: false,
  properties: { password: { type: 'string', minLength: 1 }, is_superuser: { type: 'boolean' } },
};

const IMPORT_QUERY: JsonSchema = {
  type: 'object',
  required: ['type'],
  properties: { type: { type: 'string', enum: ['plain', 'hash'], description: 'plain: the file has passwords; hash: password_hash and salt.' } },
};

/**
 * The user file of an import: a JSON array (application/json), a CSV (text/csv, text/plain),
 * or EMQX's multipart form with the file in the field `filename` (the dashboard's and
 * `curl -F filename=@users.csv`'s), whose name ends in .csv or .json.
 */
function importedFile(body: RawBody): { format: 'csv' | 'json'; text: string } {
  const type = body.contentType.split(';', 1)[0].trim().toLowerCase();
  if (type === 'application/json') return { format: 'json', text: body.raw.toString('utf8') };
  if (type === 'text/csv' || type === 'text/plain' || type === '') return { format: 'csv', text: body.raw.toString('utf8') };
  if (type === 'multipart/form-data') {
    const file = multipartFile(body.contentType, body.raw, 'filename');
    const lower = file.name.toLowerCase();
    const format = lower.endsWith('.csv') ? 'csv' : lower.endsWith('.json') ? 'json' : null;
    if (format === null) throw new ApiError('BAD_REQUEST', `uploaded file ${JSON.stringify(file.name)}: the name must end in .csv or .json`);
    return { format, text: file.data.toString('utf8') };
  }
  throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `content-type ${body.contentType}: send application/json, text/csv or a multipart/form-data field "filename"`);
}

/** The one file field of a multipart/form-data body (RFC 7578), enough for an upload form. */
function multipartFile(contentType: string, raw: Buffer, field: string): { name: string; data: Buffer } {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (m === null) throw new ApiError('BAD_REQUEST', 'multipart/form-data without a boundary');
  const delim = Buffer.from(`--${m[1] ?? m[2]}`);
  let at = raw.indexOf(delim);
  while (at >= 0) {
    const start = at + delim.length;
    const next = raw.indexOf(delim, start);
    if (next < 0) break;
    const part = raw.subarray(start, next);
    const headEnd = part.indexOf('\r\n\r\n');
    if (headEnd >= 0) {
      const head = part.subarray(0, headEnd).toString('utf8');
      const name = /name="([^"]*)"/i.exec(head)?.[1];
      if (name === field) {
        const filename = /filename="([^"]*)"/i.exec(head)?.[1] ?? '';
        // The part's data ends before the CRLF that precedes the next delimiter.
        let data = part.subarray(headEnd + 4);
        if (data.length >= 2 && data[data.length - 2] === 0x0d && data[data.length - 1] === 0x0a) data = data.subarray(0, data.length - 2);
        return { name: filename, data };
      }
    }
    at = next;
  }
  throw new ApiError('BAD_REQUEST', `multipart/form-data: no field "${field}" with the user file`);
}

export const authenticationRoutes: Route[] = [
  {
    method: 'GET', path: BASE, summary: 'The global authentication chain, in order', responses: { 200: arrayOf(ANY_OBJECT), 404: ERROR_SCHEMA },
    handler: (_r, admin) => json(200, authn(admin).list()),
  },
  {
    method: 'POST', path: BASE, summary: 'Add an authenticator at the end of the chain (EMQX config shape)', body: ANY_OBJECT, responses: { 200: ANY_OBJECT, 409: ERROR_SCHEMA, ...ERR },
    handler: async ({ body }, admin) => json(200, await mapped(() => authn(admin).create(body))),
  },
  {
    method: 'GET', path: `${BASE}/{id}`, summary: 'One authenticator\'s config', responses: { 200: ANY_OBJECT, 404: ERROR_SCHEMA },
    handler: ({ params }, admin) => {
      const a = authn(admin).get(params.id);
      if (a === undefined) throw new ApiError('NOT_FOUND', `authenticator '${params.id}' does not exist`);
      return json(200, a);
    },
  },
  {
    method: 'PUT', path: `${BASE}/{id}`, summary: 'Replace an authenticator\'s config (same mechanism and backend); applies at once', body: ANY_OBJECT, responses: { 204: null, ...ERR },
    handler: async ({ params, body }, admin) => { await mapped(() => authn(admin).update(params.id, body)); return noContent(); },
  },
  {
    method: 'DELETE', path: `${BASE}/{id}`, summary: 'Remove an authenticator from the chain (its built-in users stay in the store)', responses: { 204: null, ...ERR },
    handler: async ({ params }, admin) => { await mapped(() => authn(admin).delete(params.id)); return noContent(); },
  },
  {
    method: 'PUT', path: `${BASE}/{id}/position/{position}`, summary: 'Move an authenticator: front, rear, before:{id} or after:{id}', responses: { 204: null, ...ERR },
    handler: async ({ params }, admin) => { await mapped(() => authn(admin).move(params.id, params.position)); return noContent(); },
  },
  {
    method: 'GET', path: `${BASE}/{id}/status`, summary: 'An authenticator\'s status and counters (total, success, failed, nomatch)', responses: { 200: ANY_OBJECT, 404: ERROR_SCHEMA },
    handler: ({ params }, admin) => {
      const s = authn(admin).status(params.id);
      if (s === undefined) throw new ApiError('NOT_FOUND', `authenticator '${params.id}' does not exist`);
      return json(200, s);
    },
  },
  {
    method: 'GET', path: `${BASE}/{id}/users`, summary: 'Users of an authenticator\'s database (paged; like_user_id, is_superuser)', query: USER_QUERY, responses: { 200: pageOf(USER), ...ERR },
    handler: async ({ params, query }, admin) => {
      const db = await mapped(() => authn(admin).users(params.id));
      const page = query.page as number;
      const limit = query.limit as number;
      const r = db.list({ page, limit, like_user_id: query.like_user_id as string | undefined, is_superuser: query.is_superuser as boolean | undefined });
      return json(200, { data: r.data, meta: { page, limit, count: r.count, hasnext: page * limit < r.count } });
    },
  },
  {
    method: 'POST', path: `${BASE}/{id}/users`, summary: 'Add a user (201); 409 if the user id exists', body: NEW_USER, responses: { 201: USER, 409: ERROR_SCHEMA, ...ERR },
    handler: async ({ params, body }, admin) => {
      const u = body as { user_id: string; password: string; is_superuser: boolean };
      await mapped(async () => authn(admin).users(params.id).add(u));
      return json(201, { user_id: u.user_id, is_superuser: u.is_superuser });
    },
  },
  {
    method: 'GET', path: `${BASE}/{id}/users/{user_id}`, summary: 'One user', responses: { 200: USER, ...ERR },
    handler: async ({ params }, admin) => {
      const u = (await mapped(() => authn(admin).users(params.id))).get(params.user_id);
      if (u === undefined) throw new ApiError('NOT_FOUND', `user ${JSON.stringify(params.user_id)} not found`);
      return json(200, u);
    },
  },
  {
    method: 'PUT', path: `${BASE}/{id}/users/{user_id}`, summary: 'Change a user\'s password and/or is_superuser', body: USER_PATCH, responses: { 200: USER, ...ERR },
    handler: async ({ params, body }, admin) => {
      const db = await mapped(() => authn(admin).users(params.id));
      await mapped(() => db.update(params.user_id, body as { password?: string; is_superuser?: boolean }));
      return json(200, db.get(params.user_id));
    },
  },
  {
    method: 'DELETE', path: `${BASE}/{id}/users/{user_id}`, summary: 'Delete a user (connected clients stay until they reconnect)', responses: { 204: null, ...ERR },
    handler: async ({ params }, admin) => {
      const db = await mapped(() => authn(admin).users(params.id));
      if (!(await db.delete(params.user_id))) throw new ApiError('NOT_FOUND', `user ${JSON.stringify(params.user_id)} not found`);
      return noContent();
    },
  },
  {
    method: 'POST', path: `${BASE}/{id}/import_users`, summary: 'Import EMQX\'s CSV or JSON user file (?type=plain|hash); existing users are replaced',
    query: IMPORT_QUERY, rawBody: true, responses: { 200: ANY_OBJECT, 415: ERROR_SCHEMA, ...ERR },
    handler: async ({ params, query, body }, admin) => {
      const db = await mapped(() => authn(admin).users(params.id));
      const file = importedFile(body as RawBody);
      return json(200, await mapped(() => db.import(file.format, file.text, query.type as 'plain' | 'hash')));
    },
  },
];
