/**
 * UUIDs, conditionals and type checks, the node key-value store, getenv and the topic-filter
 * helpers. Type checks follow EMQX: is_str is true for text and binaries; is_null is true only
 * for undefined (a missing field), is_null_var also for JSON null.
 */
import { randomUUID } from 'node:crypto';
import { ArgError } from './errors.js';
import { def, type Family } from './family.js';
import { toMap } from './convert.js';
import { topicMatches } from '../../router/topic.js';
import { array, deepEqual, isInt, isMap, text } from './values.js';

const isEmptyText = (v: unknown): boolean => v === '' || (v instanceof Uint8Array && v.length === 0);

function firstOf(list: readonly unknown[], skip: (v: unknown) => boolean): unknown {
  return list.find((v) => !skip(v));
}

function listArg(a: unknown, b: unknown, nargs: number): readonly unknown[] {
  return nargs === 1 ? array(a, 1) : [a, b];
}

/** EMQX's node-wide kv_store (an ETS table there), bounded so rules cannot grow it forever. */
const KV_MAX = 100_000;
const kv = new Map<string, unknown>();
const env = new Map<string, string>();

function kvKey(v: unknown): string {
  return text(v, 1);
}

interface TopicFilter { topic?: unknown; qos?: unknown }

function findFilter(filters: unknown, topic: unknown, match: (entry: string, arg: string) => boolean): TopicFilter | undefined {
  const t = text(topic, 2);
  for (const f of array(filters, 1)) {
    if (isMap(f) && typeof f.topic === 'string' && match(f.topic, t)) return f;
  }
  return undefined;
}

function topicCheck(match: (entry: string, arg: string) => boolean) {
  return def(2, 3, (filters: unknown, topic: unknown, qos?: unknown) => {
    const hit = findFilter(filters, topic, match);
    return qos === undefined ? hit !== undefined : hit !== undefined && deepEqual(hit.qos, qos);
  });
}

export const MISC: Family = {
  uuid_v4: def(0, 0, () => randomUUID()),
  uuid_v4_no_hyphen: def(0, 0, () => randomUUID().replaceAll('-', '')),
  null: def(0, 0, () => undefined),
  coalesce: def(1, 2, function (a: unknown, b: unknown) {
    return firstOf(listArg(a, b, arguments.length), (v) => v === undefined);
  }),
  coalesce_ne: def(1, 2, function (a: unknown, b: unknown) {
    return firstOf(listArg(a, b, arguments.length), (v) => v === undefined || isEmptyText(v));
  }),
  is_null: def(1, 1, (v: unknown) => v === undefined),
  is_not_null: def(1, 1, (v: unknown) => v !== undefined),
  is_null_var: def(1, 1, (v: unknown) => v === undefined || v === null),
  is_not_null_var: def(1, 1, (v: unknown) => v !== undefined && v !== null),
  is_str: def(1, 1, (v: unknown) => typeof v === 'string' || v instanceof Uint8Array),
  is_bool: def(1, 1, (v: unknown) => typeof v === 'boolean'),
  is_int: def(1, 1, (v: unknown) => isInt(v)),
  is_float: def(1, 1, (v: unknown) => typeof v === 'number' && Number.isFinite(v) && !Number.isInteger(v)),
  is_num: def(1, 1, (v: unknown) => typeof v === 'bigint' || (typeof v === 'number' && Number.isFinite(v))),
  is_map: def(1, 1, (v: unknown) => isMap(v)),
  is_array: def(1, 1, (v: unknown) => Array.isArray(v)),
  is_empty: def(1, 1, (v: unknown) => {
    if (Array.isArray(v)) return v.length === 0;
    if (isEmptyText(v)) return true;
    return Object.keys(toMap(v, 1)).length === 0;
  }),
  eq: def(2, 2, (a: unknown, b: unknown) => deepEqual(a, b)),
  /** Reads EMQXVAR_<Name> once; later changes to the environment are not seen (as in EMQX). */
  getenv: def(1, 1, (name: unknown) => {
    const n = text(name, 1);
    let v = env.get(n);
    if (v === undefined) {
      v = process.env[`EMQXVAR_${n}`] ?? '';
      env.set(n, v);
    }
    return v;
  }),
  kv_store_get: def(1, 2, (k: unknown, dflt?: unknown) => (kv.has(kvKey(k)) ? kv.get(kvKey(k)) : dflt)),
  kv_store_put: def(2, 2, (k: unknown, v: unknown) => {
    const key = kvKey(k);
    if (!kv.has(key) && kv.size >= KV_MAX) throw new ArgError(1, `the kv store is full (${KV_MAX} keys)`);
    kv.set(key, v);
    return true;
  }),
  kv_store_del: def(1, 1, (k: unknown) => {
    kv.delete(kvKey(k));
    return true;
  }),
  // The list holds maps with a `topic` (and `qos`), as in $events/session_subscribed data.
  contains_topic: topicCheck((entry, arg) => entry === arg),
  contains_topic_match: topicCheck((entry, arg) => topicMatches(arg, entry)),
};

