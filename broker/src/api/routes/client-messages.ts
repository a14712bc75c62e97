/**
 * A client's queued (mqueue_messages) and in-flight (inflight_messages) messages, as EMQX 5
 * lists them: not paged by page number but by `position`, the `msgid` of the last message
 * of the previous answer (meta.position; "none" when there was none), so a queue that moves
 * between two requests neither repeats nor skips a message. `payload` picks the encoding
 * (base64 by default, plain, or none) and `max_payload_bytes` cuts longer payloads.
 * Asked of every node; the one that holds the session answers.
 */
import { ApiError } from '../errors.js';
import { ERROR_SCHEMA, json, type JsonSchema, type Route } from '../route.js';

export type MessagesKind = 'mqueue' | 'inflight';

export interface MessagesQuery {
  /** The msgid after which to start; null = from the first. */
  position: number | null;
  limit: number;
  payload: 'base64' | 'plain' | 'none';
  maxPayloadBytes: number;
}

export interface MessageRow {
  msgid: string;
  topic: string;
  qos: number;
  /** ms since the epoch, as EMQX. */
  publish_at: number;
  from_clientid: string;
  inserted_at: string;
  payload?: string;
}

export interface MessagesPage {
  data: MessageRow[];
  meta: { start: string; position: string };
}

const QUERY: JsonSchema = {
  type: 'object',
  properties: {
    position: { type: 'string', pattern: '^(none|[0-9]{1,15}(_([0-9]+|infinity))?)$', description: 'meta.position of the previous page ("none" or absent: from the first message).' },
    limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 },
    payload: { enum: ['base64', 'plain', 'none'], default: 'base64', description: 'Payload encoding; none leaves it out.' },
    max_payload_bytes: { type: 'string', pattern: '^[1-9][0-9]{0,12}(B|KB|MB|GB)?$', default: '1MB', description: 'Longer payloads are cut to this size ("1MB", "512KB", 4096).' },
  },
};

const PAGE: JsonSchema = {
  type: 'object',
  required: ['data', 'meta'],
  properties: {
    data: {
      type: 'array',
      items: {
        type: 'object',
        required: ['msgid', 'topic', 'qos', 'publish_at', 'from_clientid'],
        properties: {
          msgid: { type: 'string' }, topic: { type: 'string' }, qos: { type: 'integer' }, publish_at: { type: 'integer' },
          from_clientid: { type: 'string' }, inserted_at: { type: 'string' }, payload: { type: 'string' },
        },
      },
    },
    meta: { type: 'object', required: ['start', 'position'], properties: { start: { type: 'string' }, position: { type: 'string' } } },
  },
};

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

function parse(query: Record<string, unknown>): MessagesQuery {
  const pos = String(query.position ?? 'none');
  const size = /^([0-9]+)(B|KB|MB|GB)?$/.exec(String(query.max_payload_bytes))!;
  return {
    // EMQX's mqueue positions are "<msg>_<priority>": the message part is the one that orders.
    position: pos === 'none' ? null : Number(pos.split('_', 1)[0]),
    limit: query.limit as number,
    payload: query.payload as MessagesQuery['payload'],
    maxPayloadBytes: Number(size[1]) * UNITS[size[2] ?? 'B']!,
  };
}

/** One page of `rows` (in queue order) after `position`; rows are {id, …} with the encoded row. */
export function messagesPage<T extends { id: number }>(rows: readonly T[], q: MessagesQuery, render: (r: T) => MessageRow): MessagesPage {
  let from = 0;
  if (q.position !== null) {
    const at = rows.findIndex((r) => r.id === q.position);
    // The message at `position` left the queue meanwhile: go on from the first newer one.
    const newer = at >= 0 ? -1 : rows.findIndex((r) => r.id > q.position!);
    from = at >= 0 ? at + 1 : newer >= 0 ? newer : rows.length;
  }
  const page = rows.slice(from, from + q.limit);
  return {
    data: page.map(render),
    meta: { start: rows.length > 0 ? String(rows[0]!.id) : 'none', position: page.length > 0 ? String(page[page.length - 1]!.id) : 'none' },
  };
}

function route(kind: MessagesKind): Route {
  return {
    method: 'GET', path: `/api/v5/clients/{clientid}/${kind}_messages`,
    summary: kind === 'mqueue' ? "Messages queued for the client (not yet in flight), after `position`" : 'Messages sent to the client and not yet acknowledged, after `position`',
    query: QUERY, responses: { 200: PAGE, 404: ERROR_SCHEMA },
    handler: async ({ params, query }, admin) => {
      const { page, unreachable } = await admin.cluster.clientMessages(params.clientid!, kind, parse(query));
      if (page === null) {
        throw new ApiError('CLIENTID_NOT_FOUND', `no client or session ${params.clientid}` + (unreachable.length > 0 ? ` (${unreachable.join(', ')} did not answer)` : ''));
      }
      return json(200, page);
    },
  };
}

export const clientMessagesRoutes: Route[] = [route('mqueue'), route('inflight')];
