/**
 * A Kafka producer action's `parameters` (EMQX 5's names and defaults) and how one rule output
 * becomes one Kafka record. Pure: no client, no socket, so every rule of it is unit-tested.
 *
 * Rendering follows EMQX's Kafka producer:
 * - `topic` is a template; a record whose topic renders empty or not a legal Kafka topic name is
 *   the rule's failure (never retried: it would never succeed).
 * - `message.key` / `message.value` render as text (a missing placeholder is empty); a value that is
 *   one placeholder holding binary data (`${payload}`) is sent byte for byte.
 * - `message.timestamp` renders to milliseconds; anything not an integer means "now".
 * - `kafka_headers` is one placeholder whose value is a map, a list of `{key, value}` maps, or a
 *   JSON string of either; `kafka_ext_headers` add `{kafka_ext_header_key, kafka_ext_header_value}`
 *   pairs (a pair whose placeholder finds nothing is left out). With
 *   `kafka_header_value_encode_mode: none` only string values are kept; with `json` every value is
 *   sent as its JSON text.
 */
import { int, oneOf, size, str } from '../../config/schema-types.js';
import { Template, toText } from '../template.js';
import { isObj, readFields, type FieldSpec } from './fields.js';
import { SinkConfigError } from './types.js';

export interface KafkaParameters {
  topic: string;
  message: { key: string; value: string; timestamp: string };
  kafka_headers: string;
  kafka_ext_headers: { kafka_ext_header_key: string; kafka_ext_header_value: string }[];
  kafka_header_value_encode_mode: 'none' | 'json';
  partition_strategy: 'random' | 'key_dispatch';
  required_acks: 'all_isr' | 'leader_only' | 'none';
  compression: 'no_compression' | 'gzip' | 'snappy';
  max_batch_bytes: number;
  max_inflight: number;
}

/** One record as buffered: plain data, so it survives v8.serialize. */
export interface KafkaItem {
  topic: string;
  key: string;
  value: string | Buffer;
  timestamp: number;
  headers: [string, string][];
}

const SPEC: FieldSpec = {
  topic: 'any',
  message: 'any',
  kafka_headers: str('', 'One placeholder (e.g. ${pub_props}) whose map or list of {key, value} becomes record headers.'),
  kafka_ext_headers: 'any',
  kafka_header_value_encode_mode: oneOf(['none', 'json'] as const, 'none', 'none: keep string header values only; json: send every value as JSON.'),
  partition_strategy: oneOf(['random', 'key_dispatch'] as const, 'random', 'random partition, or by the hash of the key.'),
  required_acks: oneOf(['all_isr', 'leader_only', 'none'] as const, 'all_isr', 'Acknowledgement the broker gives before a batch counts as sent.'),
  compression: oneOf(['no_compression', 'gzip', 'snappy'] as const, 'no_compression', 'Compression of record batches.'),
  max_batch_bytes: size('896KB', 'Largest produce request; a bigger batch is sent in several.', { min: 1 }),
  max_inflight: int(10, 'Produce requests in flight per broker connection.', { min: 1 }),
};
// EMQX's wolff-specific knobs: accepted so EMQX configs load unchanged, no effect here (see the doc).
const ACCEPTED = ['max_linger_time', 'max_linger_bytes', 'partition_count_refresh_interval', 'partitions_limit', 'buffer', 'query_mode', 'sync_query_timeout', 'max_batch_age', 'max_retries', 'reconnect_delay'];
const MESSAGE_SPEC: FieldSpec = {
  key: str('${.clientid}', 'Template of the record key.'),
  value: str('${.}', 'Template of the record value.'),
  timestamp: str('${.timestamp}', 'Template of the record timestamp (ms).'),
};
const EXT_SPEC: FieldSpec = {
  kafka_ext_header_key: str('', 'Template of the header key.'),
  kafka_ext_header_value: str('', 'One placeholder or a plain string.'),
};

/** A template parsed now, so a malformed one is a config error naming its key. */
function template(src: string, where: string): Template {
  try { return new Template(src); } catch (err) { throw new SinkConfigError(`${where}: ${(err as Error).message}`); }
}

export function parseKafkaParameters(raw: unknown, where: string): KafkaParameters {
  const p = readFields<Record<string, unknown>>(raw, where, SPEC, ACCEPTED);
  if (typeof p.topic !== 'string' || p.topic.trim() === '') throw new SinkConfigError(`${where}.topic: required (a Kafka topic, may hold \${…} placeholders)`);
  template(p.topic, `${where}.topic`);
  const message = readFields<KafkaParameters['message']>(p.message, `${where}.message`, MESSAGE_SPEC);
  for (const k of ['key', 'value', 'timestamp'] as const) template(message[k], `${where}.message.${k}`);
  if (p.partition_strategy === 'key_dispatch' && message.key === '') {
    throw new SinkConfigError(`${where}.message.key: must not be empty when partition_strategy is key_dispatch`);
  }
  const headers = p.kafka_headers as string;
  if (headers !== '' && template(headers, `${where}.kafka_headers`).single === null) {
    throw new SinkConfigError(`${where}.kafka_headers: must be a single placeholder like \${pub_props}, got ${JSON.stringify(headers)}`);
  }
  const extRaw = p.kafka_ext_headers ?? [];
  if (!Array.isArray(extRaw)) throw new SinkConfigError(`${where}.kafka_ext_headers: expected a list of {kafka_ext_header_key, kafka_ext_header_value}`);
  const ext = extRaw.map((e, i) => {
    const w = `${where}.kafka_ext_headers[${i + 1}]`;
    const h = readFields<KafkaParameters['kafka_ext_headers'][number]>(e, w, EXT_SPEC);
    if (h.kafka_ext_header_key === '') throw new SinkConfigError(`${w}.kafka_ext_header_key: required`);
    template(h.kafka_ext_header_key, `${w}.kafka_ext_header_key`);
    const v = h.kafka_ext_header_value;
    if (v === '') throw new SinkConfigError(`${w}.kafka_ext_header_value: required`);
    if (v.includes('${') && template(v, `${w}.kafka_ext_header_value`).single === null) {
      throw new SinkConfigError(`${w}.kafka_ext_header_value: must be a single placeholder like \${foo} or a plain string, got ${JSON.stringify(v)}`);
    }
    return h;
  });
  return Object.freeze({ ...(p as object), message, kafka_headers: headers, kafka_ext_headers: ext } as KafkaParameters);
}

// Kafka's own rule for topic names (org.apache.kafka.common.internals.Topic).
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Bad data met while rendering headers: EMQX's bad_kafka_header(s). */
export class KafkaRenderError extends Error {}

export interface KafkaRenderer { render(output: Record<string, unknown>): KafkaItem }

export function kafkaRenderer(p: KafkaParameters): KafkaRenderer {
  const topic = new Template(p.topic);
  const key = new Template(p.message.key);
  const value = new Template(p.message.value);
  const ts = new Template(p.message.timestamp);
  const headers = p.kafka_headers === '' ? null : new Template(p.kafka_headers);
  const ext = p.kafka_ext_headers.map((h) => ({ key: new Template(h.kafka_ext_header_key), value: new Template(h.kafka_ext_header_value) }));
  const json = p.kafka_header_value_encode_mode === 'json';
  return {
    render(output) {
      const t = topic.render(output);
      if (!LEGAL_TOPIC.test(t)) throw new KafkaRenderError(`topic template '${p.topic}' rendered ${JSON.stringify(t)}, not a legal Kafka topic name`);
      const raw = value.value(output);
      const v = value.single !== null && Buffer.isBuffer(raw) ? raw : value.render(output);
      const tsText = ts.render(output);
      const tsNum = /^-?\d+$/.test(tsText) ? Number(tsText) : Date.now();
      const pairs: [unknown, unknown][] = headers === null ? [] : headerPairs(headers.value(output));
      for (const h of ext) {
        const k = h.key.single === null ? h.key.render(output) : h.key.value(output);
        const val = h.value.value(output);
        if (k === undefined || k === null || val === undefined || val === null) continue;
        pairs.push([toText(k), val]);
      }
      const out: [string, string][] = [];
      for (const [k, val] of pairs) {
        if (json) out.push([toText(k), JSON.stringify(val)]);
        else if (typeof val === 'string') out.push([toText(k), val]);
        else if (Buffer.isBuffer(val)) out.push([toText(k), val.toString('utf8')]);
      }
      return { topic: t, key: key.render(output), value: v, timestamp: tsNum, headers: out };
    },
  };
}

/** `kafka_headers`' value → [key, value] pairs (EMQX: a map, a list of {key, value}, or JSON of one). */
function headerPairs(v: unknown): [unknown, unknown][] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string' || Buffer.isBuffer(v)) {
    let parsed: unknown;
    try { parsed = JSON.parse(v.toString()); } catch { throw new KafkaRenderError(`kafka_headers: ${JSON.stringify(v.toString().slice(0, 100))} is neither a map nor a list of {key, value}`); }
    if (!isObj(parsed) && !Array.isArray(parsed)) throw new KafkaRenderError(`kafka_headers: ${JSON.stringify(v.toString().slice(0, 100))} is neither a map nor a list of {key, value}`);
    return headerPairs(parsed);
  }
  if (Array.isArray(v)) {
    return v.flatMap((h): [unknown, unknown][] => {
      if (isObj(h) && 'key' in h && 'value' in h) return [[h.key, h.value]];
      if (Array.isArray(h)) return headerPairs(h);
      throw new KafkaRenderError(`kafka_headers: item ${JSON.stringify(h)} is not a {key, value} map`);
    });
  }
  if (isObj(v)) return Object.entries(v);
  throw new KafkaRenderError(`kafka_headers: ${JSON.stringify(v)} is neither a map nor a list of {key, value}`);
}
