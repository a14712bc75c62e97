/**
 * Publishing through the API (EMQX: POST /api/v5/publish and /api/v5/publish/bulk).
 *
 * Answers 200 `{id}` when at least one subscriber got the message and 202
 * `{id, reason_code: 16, message}` when none matched (the MQTT 5 "No matching subscribers"
 * reason code; a retained message is stored all the same). The bulk form checks every message
 * before publishing any, answers with one result per message, 200 when all were delivered and
 * 202 otherwise.
 */
import type { AdminApi, AdminPublish } from '../admin.js';
import { ApiError } from '../errors.js';
import { json, type JsonSchema, type Route } from '../route.js';

/** `{id}` when delivered; `{id, reason_code: 16, message}` when no subscriber matched. */
const RESULT: JsonSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string' }, reason_code: { type: 'integer' }, message: { type: 'string' } },
};

/** The MQTT 5 properties EMQX's publish API takes, by their REST names. */
const PROPERTIES: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    payload_format_indicator: { type: 'integer', minimum: 0, maximum: 1, description: '1 = the payload is UTF-8 text.' },
    message_expiry_interval: { type: 'integer', minimum: 0, maximum: 4294967295, description: 'Seconds until the message expires.' },
    response_topic: { type: 'string', minLength: 1 },
    correlation_data: { type: 'string', description: 'Sent as its UTF-8 bytes.' },
    user_properties: { type: 'object', additionalProperties: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } },
    content_type: { type: 'string' },
  },
};

export const MESSAGE_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['topic'],
  properties: {
    topic: { type: 'string', minLength: 1, description: 'A topic name (no wildcards).' },
    payload: { type: 'string', default: '' },
    payload_encoding: { enum: ['plain', 'base64'], default: 'plain' },
    qos: { type: 'integer', minimum: 0, maximum: 2, default: 0 },
    retain: { type: 'boolean', default: false },
    properties: PROPERTIES,
  },
};

export const BULK_SCHEMA: JsonSchema = { type: 'array', minItems: 1, items: MESSAGE_SCHEMA };

interface Body {
  topic: string;
  payload: string;
  payload_encoding: 'plain' | 'base64';
  qos: 0 | 1 | 2;
  retain: boolean;
  properties?: {
    payload_format_indicator?: number;
    message_expiry_interval?: number;
    response_topic?: string;
    correlation_data?: string;
    user_properties?: Record<string, string | string[]>;
    content_type?: string;
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A topic name a client could publish to: not empty, no wildcards, no NUL, at most maxLevels levels. */
export function validTopicName(topic: string, maxLevels: number): boolean {
  if (topic.length === 0) return false; // [MQTT-4.7.3-1]
  if (/[+#\u0000]/.test(topic)) return false; // [MQTT-3.3.2-2] [MQTT-4.7.3-2]
  return topic.split('/').length <= maxLevels;
}

/** The body (already schema-checked) as the message the admin publishes; throws BAD_REQUEST naming the field. */
export function toMessage(b: Body, maxLevels: number, at = 'body'): AdminPublish {
  if (!validTopicName(b.topic, maxLevels)) throw new ApiError('BAD_REQUEST', `${at}.topic must be a valid topic name (no + or #, at most ${maxLevels} levels)`);
  let payload: Buffer;
  if (b.payload_encoding === 'base64') {
    if (!BASE64.test(b.payload)) throw new ApiError('BAD_REQUEST', `${at}.payload is not valid base64`);
    payload = Buffer.from(b.payload, 'base64');
  } else payload = Buffer.from(b.payload, 'utf8');
  let properties: Record<string, unknown> | null = null;
  const p = b.properties;
  if (p !== undefined) {
    properties = {};
    if (p.payload_format_indicator !== undefined) properties.payloadFormatIndicator = p.payload_format_indicator === 1;
    if (p.message_expiry_interval !== undefined) properties.messageExpiryInterval = p.message_expiry_interval;
    if (p.content_type !== undefined) properties.contentType = p.content_type;
    if (p.response_topic !== undefined) {
      // [MQTT-3.3.2-14] the Response Topic is a topic name
      if (!validTopicName(p.response_topic, maxLevels)) throw new ApiError('BAD_REQUEST', `${at}.properties.response_topic must be a valid topic name`);
      properties.responseTopic = p.response_topic;
    }
    if (p.correlation_data !== undefined) properties.correlationData = Buffer.from(p.correlation_data, 'utf8');
    if (p.user_properties !== undefined) properties.userProperties = p.user_properties;
    if (Object.keys(properties).length === 0) properties = null;
  }
  return { topic: b.topic, payload, qos: b.qos, retain: b.retain, properties };
}

async function publishOne(admin: AdminApi, m: AdminPublish): Promise<{ ok: boolean; row: Record<string, unknown> }> {
  const r = await admin.publish(m);
  if (r.delivered === 0) return { ok: false, row: { id: r.id, reason_code: 0x10, message: 'no matching subscribers' } };
  return { ok: true, row: { id: r.id } };
}

export const publishRoutes: Route[] = [
  {
    method: 'POST', path: '/api/v5/publish', summary: 'Publish a message (200, or 202 with reason_code 16 when no subscriber matched)', body: MESSAGE_SCHEMA, responses: { 200: RESULT, 202: RESULT },
    handler: async ({ body }, admin) => {
      const r = await publishOne(admin, toMessage(body as Body, admin.maxTopicLevels));
      return json(r.ok ? 200 : 202, r.row);
    },
  },
  {
    method: 'POST', path: '/api/v5/publish/bulk', summary: 'Publish several messages; one result per message', body: BULK_SCHEMA, responses: { 200: { type: 'array', items: RESULT }, 202: { type: 'array', items: RESULT } },
    handler: async ({ body }, admin) => {
      const msgs = (body as Body[]).map((b, i) => toMessage(b, admin.maxTopicLevels, `body[${i}]`));
      const rows: Array<Record<string, unknown>> = [];
      let all = true;
      for (const m of msgs) {
        const r = await publishOne(admin, m);
        all &&= r.ok;
        rows.push(r.row);
      }
      return json(all ? 200 : 202, rows);
    },
  },
];
