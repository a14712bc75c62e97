/**
 * Log trace, as EMQX's /api/v5/trace: follow one client id, a topic filter or a client
 * address for a time window, written to a file per node under <data_dir>/trace/; list,
 * create, stop, delete, read a page of a node's file (`/log`), the files' sizes
 * (`/log_detail`), and download every node's file as one ZIP. The traces themselves run in
 * broker/src/trace/ (docs/api.md, "Log trace").
 */
import { ApiError } from '../errors.js';
import { ERROR_SCHEMA, ZIP_SCHEMA, json, noContent, type JsonSchema, type Route } from '../route.js';

/** A trace as the API shows it (EMQX's fields; `log_size` is bytes per node). */
export interface TraceRow {
  name: string;
  type: 'clientid' | 'topic' | 'ip_address';
  clientid?: string;
  topic?: string;
  ip_address?: string;
  start_at: string;
  end_at: string;
  status: 'running' | 'waiting' | 'stopped';
  payload_encode: string;
  payload_limit: number;
  formatter: string;
  log_size: Record<string, number>;
}

export type TraceCreated =
  | { ok: true; trace: TraceRow }
  | { ok: false; why: 'invalid' | 'exists' | 'duplicate' | 'limit'; error: string };

/** A page of one node's trace file: `items` whole lines, `position` where the next page starts. */
export interface TraceChunk { items: string; position: number; eof: boolean }

export interface TraceAdmin {
  /** Newest start first, with every live node's file size. */
  list(): Promise<TraceRow[]>;
  create(body: Record<string, unknown>): Promise<TraceCreated>;
  /** false = no such trace. */
  delete(name: string): Promise<boolean>;
  clear(): Promise<void>;
  stop(name: string): Promise<boolean>;
  /** null = no such trace; throws an Error with code 'UNKNOWN_NODE' for a node that is not a member. */
  read(name: string, node: string | undefined, position: number, bytes: number): Promise<TraceChunk | null>;
  /** Each node's file: size and modification time (epoch seconds); null = no such trace. */
  detail(name: string): Promise<Array<{ node: string; size: number; mtime: number }> | null>;
  /** A ZIP of every node's file, or one node's (`<node>-<name>.log`); null = no such trace; UNKNOWN_NODE as read(). */
  download(name: string, node: string | undefined): Promise<Buffer | null>;
}

/** EMQX's largest page of /log. */
export const MAX_READ_BYTES = 64 * 1024 * 1024;

const TIME: JsonSchema = { anyOf: [{ type: 'string', minLength: 1 }, { type: 'integer', minimum: 0 }], description: 'RFC 3339, or epoch seconds.' };

const TRACE_BODY: JsonSchema = {
  type: 'object',
  required: ['name', 'type'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[A-Za-z]+[A-Za-z0-9_-]*$', description: 'Letters first, then letters, digits, - and _ (EMQX\'s rule).' },
    type: { type: 'string', enum: ['clientid', 'topic', 'ip_address'], description: 'What the trace follows; the field of the same name says which one.' },
    clientid: { type: 'string', description: 'type clientid: this client id.' },
    topic: { type: 'string', description: 'type topic: PUBLISH packets whose topic matches this filter (wildcards allowed).' },
    ip_address: { type: 'string', description: 'type ip_address: clients connecting from this address.' },
    start_at: { ...TIME, description: 'When tracing starts (default now): RFC 3339 or epoch seconds.' },
    end_at: { ...TIME, description: 'When it stops (default start_at + 10 minutes); must be in the future.' },
    payload_encode: { type: 'string', enum: ['text', 'hex', 'hidden'], default: 'text', description: 'How payloads are written.' },
    payload_limit: { type: 'integer', minimum: 0, default: 1024, description: 'Payload bytes written per line.' },
    formatter: { type: 'string', enum: ['text', 'json'], default: 'text', description: 'A line of text or a JSON object per event.' },
  },
};

const TRACE: JsonSchema = {
  type: 'object',
  required: ['name', 'type', 'start_at', 'end_at', 'status', 'payload_encode', 'formatter', 'log_size'],
  properties: {
    name: { type: 'string' }, type: { type: 'string', enum: ['clientid', 'topic', 'ip_address'] },
    clientid: { type: 'string' }, topic: { type: 'string' }, ip_address: { type: 'string' },
    start_at: { type: 'string' }, end_at: { type: 'string' },
    status: { type: 'string', enum: ['running', 'waiting', 'stopped'] },
    payload_encode: { type: 'string' }, payload_limit: { type: 'integer' }, formatter: { type: 'string' },
    log_size: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Bytes of the trace file, by node.' },
  },
};

const NAME_PARAM: JsonSchema = { type: 'object', properties: { name: { type: 'string', minLength: 1 } } };

const LOG_QUERY: JsonSchema = {
  type: 'object',
  properties: {
    bytes: { type: 'integer', minimum: 0, maximum: MAX_READ_BYTES, default: 1000, description: 'Most bytes to return (whole lines; at least one line when one is longer).' },
    position: { type: 'integer', minimum: 0, default: 0, description: 'Byte offset to read from: 0, then the meta.position of the previous page.' },
    node: { type: 'string', minLength: 1, description: 'Whose file (default: the node answering).' },
  },
};

const LOG_PAGE: JsonSchema = {
  type: 'object',
  required: ['items', 'meta'],
  properties: {
    items: { type: 'string', description: 'Lines of the file, as written.' },
    meta: {
      type: 'object', required: ['position', 'bytes'],
      properties: { position: { type: 'integer' }, bytes: { type: 'integer' }, hint: { type: 'string', enum: ['eof'] } },
    },
  },
};

const DETAIL: JsonSchema = {
  type: 'array',
  items: { type: 'object', required: ['node', 'size', 'mtime'], properties: { node: { type: 'string' }, size: { type: 'integer' }, mtime: { type: 'integer' } } },
};

function admin(a: { trace?: TraceAdmin }): TraceAdmin {
  if (a.trace === undefined) throw new ApiError('NOT_FOUND', 'log trace is not available on this node');
  return a.trace;
}

const notFound = (name: string): ApiError => new ApiError('NOT_FOUND', `trace ${name} not found`);

/** A node that is not a member: 404. */
async function onNode<T>(node: unknown, fn: () => Promise<T>): Promise<T> {
  try { return await fn(); } catch (err) {
    if ((err as { code?: unknown }).code === 'UNKNOWN_NODE') throw new ApiError('NOT_FOUND', `node ${String(node)} not found`);
    throw err;
  }
}

const CREATE_ERRORS = { invalid: 'INVALID_PARAMS', exists: 'ALREADY_EXISTS', duplicate: 'DUPLICATE_CONDITION', limit: 'EXCEED_LIMIT' } as const;

export const traceRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/trace', summary: 'Every log trace with its status and its file size on each node', responses: { 200: { type: 'array', items: TRACE } },
    handler: async (_req, a) => json(200, await admin(a).list()),
  },
  {
    method: 'POST', path: '/api/v5/trace', summary: 'Create a log trace of a client id, topic filter or client address', body: TRACE_BODY,
    responses: { 200: TRACE, 400: ERROR_SCHEMA, 409: ERROR_SCHEMA },
    handler: async ({ body }, a) => {
      const r = await admin(a).create(body as Record<string, unknown>);
      if (r.ok) return json(200, r.trace);
      throw new ApiError(CREATE_ERRORS[r.why], r.error);
    },
  },
  {
    method: 'DELETE', path: '/api/v5/trace', summary: 'Delete every log trace and its files', responses: { 204: null },
    handler: async (_req, a) => { await admin(a).clear(); return noContent(); },
  },
  {
    method: 'DELETE', path: '/api/v5/trace/{name}', summary: 'Delete a log trace and its files', params: NAME_PARAM, responses: { 204: null, 404: ERROR_SCHEMA },
    handler: async ({ params }, a) => {
      if (!(await admin(a).delete(params.name!))) throw notFound(params.name!);
      return noContent();
    },
  },
  {
    method: 'PUT', path: '/api/v5/trace/{name}/stop', summary: 'Stop a log trace (its files stay until it is deleted)', params: NAME_PARAM,
    responses: { 200: { type: 'object', required: ['name', 'enable'], properties: { name: { type: 'string' }, enable: { type: 'boolean' } } }, 404: ERROR_SCHEMA },
    handler: async ({ params }, a) => {
      if (!(await admin(a).stop(params.name!))) throw notFound(params.name!);
      return json(200, { enable: false, name: params.name });
    },
  },
  {
    method: 'GET', path: '/api/v5/trace/{name}/download', summary: 'Every node\'s file of a log trace, as one ZIP (<node>-<name>.log each)', params: NAME_PARAM,
    query: { type: 'object', properties: { node: { type: 'string', minLength: 1, description: 'Only this node\'s file.' } } },
    responses: { 200: ZIP_SCHEMA, 404: ERROR_SCHEMA },
    handler: async ({ params, query }, a) => {
      const z = await onNode(query.node, () => admin(a).download(params.name!, query.node as string | undefined));
      if (z === null) throw notFound(params.name!);
      return {
        status: 200, text: z, contentType: 'application/zip',
        headers: { 'content-disposition': `attachment; filename=${params.name!}.zip` },
      };
    },
  },
  {
    method: 'GET', path: '/api/v5/trace/{name}/log', summary: 'A page of one node\'s file of a log trace', params: NAME_PARAM, query: LOG_QUERY,
    responses: { 200: LOG_PAGE, 404: ERROR_SCHEMA },
    handler: async ({ params, query }, a) => {
      const bytes = query.bytes as number;
      const c = await onNode(query.node, () => admin(a).read(params.name!, query.node as string | undefined, query.position as number, bytes));
      if (c === null) throw notFound(params.name!);
      const meta: Record<string, unknown> = { position: c.position, bytes };
      if (c.eof) meta.hint = 'eof';
      return json(200, { items: c.items, meta });
    },
  },
  {
    method: 'GET', path: '/api/v5/trace/{name}/log_detail', summary: 'The size and modification time of each node\'s file of a log trace', params: NAME_PARAM,
    responses: { 200: DETAIL, 404: ERROR_SCHEMA },
    handler: async ({ params }, a) => {
      const d = await admin(a).detail(params.name!);
      if (d === null) throw notFound(params.name!);
      return json(200, d);
    },
  },
];
