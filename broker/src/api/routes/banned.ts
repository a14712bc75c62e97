/**
 * The banned list, as EMQX's /api/v5/banned: list (paged; one optional filter, exact or a
 * `like_` regular expression), add, delete one by {as}/{who} (who percent-encoded: a CIDR's
 * "/" is %2F), clear. Bans are the cluster's (etcd) or this node's (docs/banned-and-limits.md).
 */
import type { BanView } from '../admin.js';
import { ApiError } from '../errors.js';
import { ERROR_SCHEMA, json, noContent, pageOf, paginate, PAGE_QUERY, type JsonSchema, type Route } from '../route.js';

const KINDS = ['clientid', 'username', 'peerhost', 'clientid_re', 'username_re', 'peerhost_net'];
const str = (description: string): JsonSchema => ({ type: 'string', minLength: 1, description });

/** Filter → the kinds of ban it looks at (EMQX: a username filter also sees username_re bans). */
const EXACT: Readonly<Record<string, readonly string[]>> = { clientid: ['clientid'], username: ['username'], peerhost: ['peerhost'] };
const LIKE: Readonly<Record<string, readonly string[]>> = {
  like_clientid: ['clientid', 'clientid_re'], like_username: ['username', 'username_re'],
  like_peerhost: ['peerhost'], like_peerhost_net: ['peerhost_net'],
};
const FILTERS = [...Object.keys(EXACT), ...Object.keys(LIKE)];

const BANNED_QUERY: JsonSchema = {
  type: 'object',
  properties: {
    ...(PAGE_QUERY.properties as Record<string, JsonSchema>),
    clientid: str('Only the ban of this client id.'),
    username: str('Only the ban of this username.'),
    peerhost: str('Only the ban of this address.'),
    like_clientid: str('Client id bans and client id patterns matching this regular expression.'),
    like_username: str('Username bans and username patterns matching this regular expression.'),
    like_peerhost: str('Address bans matching this regular expression.'),
    like_peerhost_net: str('Network bans matching this regular expression.'),
  },
};

const BAN_BODY: JsonSchema = {
  type: 'object',
  required: ['as', 'who'],
  additionalProperties: false,
  properties: {
    as: { type: 'string', enum: KINDS, description: 'What `who` is.' },
    who: { type: 'string', minLength: 1, description: 'A client id, username, IP address, regular expression or CIDR block, by `as`.' },
    by: { type: 'string', description: 'Who banned it (default "mgmt_api").' },
    reason: { type: 'string', description: 'Why (default "").' },
    at: { anyOf: [{ type: 'string' }, { type: 'integer' }], description: 'Start, RFC 3339 or epoch seconds (default now).' },
    until: { anyOf: [{ type: 'string' }, { type: 'integer' }], description: 'End, RFC 3339 or epoch seconds, or "infinity" (the default).' },
  },
};

const BAN: JsonSchema = {
  type: 'object',
  required: ['as', 'who', 'by', 'reason', 'at', 'until'],
  properties: { as: { type: 'string' }, who: { type: 'string' }, by: { type: 'string' }, reason: { type: 'string' }, at: { type: 'string' }, until: { type: 'string' } },
};

function filtered(rows: BanView[], query: Record<string, unknown>): { rows: BanView[]; exact: boolean } {
  const given = FILTERS.filter((f) => query[f] !== undefined);
  if (given.length === 0) return { rows, exact: false };
  if (given.length > 1) throw new ApiError('BAD_REQUEST', `too_many_filters: use one of ${given.join(', ')}`);
  const f = given[0]!;
  const value = String(query[f]);
  if (EXACT[f] !== undefined) return { rows: rows.filter((r) => EXACT[f]!.includes(r.as) && r.who === value), exact: true };
  let re: RegExp;
  try { re = new RegExp(value); } catch (err) { throw new ApiError('BAD_REQUEST', `query.${f}: not a regular expression: ${(err as Error).message}`); }
  return { rows: rows.filter((r) => LIKE[f]!.includes(r.as) && re.test(r.who)), exact: false };
}

export const bannedRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/banned', summary: 'Active bans (paged; one optional filter)', query: BANNED_QUERY, responses: { 200: pageOf(BAN) },
    handler: ({ query }, admin) => {
      const { rows, exact } = filtered(admin.banned.list(), query);
      // EMQX answers an exact filter with every match on one page.
      if (exact) return json(200, { data: rows, meta: { page: query.page, limit: query.limit, count: rows.length, hasnext: false } });
      return json(200, paginate(rows, query));
    },
  },
  {
    method: 'POST', path: '/api/v5/banned', summary: 'Ban a client id, username, address, pattern or network (connected clients it names are kicked)', body: BAN_BODY, responses: { 200: BAN, 409: ERROR_SCHEMA },
    handler: async ({ body }, admin) => {
      const r = await admin.banned.create(body as Record<string, unknown>);
      if (r.ok) return json(200, r.ban);
      throw new ApiError(r.exists !== undefined ? 'ALREADY_EXISTS' : 'BAD_REQUEST', r.error);
    },
  },
  {
    method: 'DELETE', path: '/api/v5/banned', summary: 'Remove every ban', responses: { 204: null },
    handler: async (_req, admin) => { await admin.banned.clear(); return noContent(); },
  },
  {
    method: 'DELETE', path: '/api/v5/banned/{as}/{who}', summary: 'Remove one ban', responses: { 204: null, 404: ERROR_SCHEMA },
    params: { type: 'object', properties: { as: { type: 'string', enum: KINDS }, who: { type: 'string', minLength: 1 } } },
    handler: async ({ params }, admin) => {
      if (!(await admin.banned.delete(params.as!, params.who!))) throw new ApiError('NOT_FOUND', `${params.as}: ${params.who} not found`);
      return noContent();
    },
  },
];
