/**
 * Map functions. map_get/map_put take a dotted path ('a.b.c') and never change their input
 * (a new map comes back). A map argument that is a JSON object string is decoded first, as in
 * EMQX. mget/mput take one key, or an array of keys for a nested path.
 */
import { def, type Family } from './family.js';
import { toMap } from './convert.js';
import { compact, isMap, text, toFixedExact, type RuleMap } from './values.js';

function asMap(v: unknown): RuleMap | undefined {
  if (isMap(v)) return v;
  if (typeof v === 'string' || v instanceof Uint8Array) {
    try {
      const parsed: unknown = JSON.parse(text(v, 1));
      return isMap(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function getPath(path: readonly string[], data: unknown, dflt: unknown): unknown {
  let cur: unknown = data;
  for (const key of path) {
    const m = asMap(cur);
    const val = m !== undefined && Object.hasOwn(m, key) ? m[key] : undefined;
    if (val === undefined) return dflt;
    cur = val;
  }
  return cur;
}

function putPath(path: readonly string[], val: unknown, data: unknown): unknown {
  if (path.length === 0) return val;
  const base = asMap(data) ?? {};
  const [key, ...more] = path;
  return { ...base, [key!]: putPath(more, val, base[key!]) };
}

function keyPath(k: unknown, arg: number, dotted: boolean): string[] {
  if (Array.isArray(k)) return k.map((x) => text(x, arg));
  const s = text(k, arg);
  return dotted ? s.split('.') : [s];
}

function redisValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || Number.isInteger(v)) return String(v);
  if (typeof v === 'number' && Number.isFinite(v)) return compact(toFixedExact(v, 6));
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

export const MAP: Family = {
  map_new: def(0, 0, () => ({})),
  map_get: def(2, 3, (k: unknown, m: unknown, d?: unknown) => getPath(keyPath(k, 1, true), m, d)),
  map_put: def(3, 3, (k: unknown, v: unknown, m: unknown) => putPath(keyPath(k, 1, true), v, m)),
  mget: def(2, 3, (k: unknown, m: unknown, d?: unknown) => getPath(keyPath(k, 1, false), toMap(m, 2), d)),
  mput: def(3, 3, (k: unknown, v: unknown, m: unknown) => putPath(keyPath(k, 1, false), v, toMap(m, 3))),
  map_keys: def(1, 1, (m: unknown) => Object.keys(toMap(m, 1))),
  map_values: def(1, 1, (m: unknown) => Object.values(toMap(m, 1))),
  map_size: def(1, 1, (m: unknown) => Object.keys(toMap(m, 1)).length),
  map_to_entries: def(1, 1, (m: unknown) => Object.entries(toMap(m, 1)).map(([key, value]) => ({ key, value }))),
  /**
   * Field/value pairs for a Redis HSET command template, flattened: ['a', '1', 'b', 'x'].
   * Values that are not strings, numbers or booleans are left out, and so is invalid JSON.
   */
  map_to_redis_hset_args: def(1, 1, (m: unknown) => {
    const map = asMap(m);
    const out: string[] = [];
    if (map === undefined) return out;
    for (const [k, v] of Object.entries(map)) {
      const s = redisValue(v);
      if (s !== undefined) out.push(k, s);
    }
    return out;
  }),
};
