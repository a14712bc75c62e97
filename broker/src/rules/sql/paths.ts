/**
 * Reading and writing along a path, as EMQX's rule maps do: `a.b` looks a key up in an object,
 * `a[2]` the second element of an array (1-based; negative counts from the end; 0 finds nothing),
 * and a string met on the way is read as JSON (nothing found if it is not). A step that finds
 * nothing makes the whole path undefined: a missing field is never an error.
 *
 * Writing (`… AS a.b[1].c`) builds what is missing: a key under a non-object makes a new object, an
 * index under a non-array a new one-element array; `[0]` inserts first and `[-0]` appends; an index
 * past the end changes nothing. Writes copy the containers they change, so a value shared with the
 * message context is never modified.
 */
import { RuleEvalError } from './errors.js';

/** A path step with its index already evaluated. */
export type Step = { key: string } | { index: number | 'head' | 'tail' | undefined };

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** JSON inside a string met along a path; undefined when it is not JSON. */
export function tryJson(v: string | Buffer): unknown {
  try {
    return JSON.parse(typeof v === 'string' ? v : v.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The payload decoded for a path into it: not JSON is an evaluation error, as EMQX's
 * decode_json_failed. `owner` (the columns of one message) keys a one-entry memory: every rule
 * on that message reads the same payload, so its JSON is parsed once per message, not per rule
 * (a decoded value is never modified: writes copy, see putPath). Another message, even with the
 * same payload, is parsed again.
 */
export function decodePayload(raw: unknown, owner?: object): unknown {
  if (typeof raw !== 'string' && !Buffer.isBuffer(raw)) return raw;
  if (owner !== undefined && owner === lastOwner && raw === lastRaw) return lastDecoded;
  let v: unknown;
  try {
    v = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    throw new RuleEvalError('decode_json_failed: the payload is not JSON');
  }
  lastOwner = owner;
  lastRaw = raw;
  lastDecoded = v;
  return v;
}
let lastOwner: object | undefined = undefined;
let lastRaw: unknown = undefined;
let lastDecoded: unknown = undefined;

export function getKey(data: unknown, key: string): unknown {
  if (typeof data === 'string' || Buffer.isBuffer(data)) data = tryJson(data);
  if (!isObject(data)) return undefined;
  return Object.prototype.hasOwnProperty.call(data, key) ? data[key] : undefined;
}

export function getIndex(data: unknown, index: unknown): unknown {
  if (typeof data === 'string' || Buffer.isBuffer(data)) data = tryJson(data);
  if (!Array.isArray(data) || typeof index !== 'number' || !Number.isInteger(index) || index === 0) return undefined;
  return index > 0 ? data[index - 1] : data[data.length + index];
}

/** `list[from..to]`: 1-based, inclusive, negative from the end; not a list is an evaluation error. */
export function slice(data: unknown, from: number, to: number): unknown[] {
  if (typeof data === 'string' || Buffer.isBuffer(data)) data = tryJson(data);
  if (!Array.isArray(data)) throw new RuleEvalError('range_get: not a list');
  if (from === 0 || to === 0) throw new RuleEvalError('invalid_index: 0');
  const len = data.length;
  const b = from > 0 ? from : len + from + 1;
  const e = to > 0 ? to : len + to + 1;
  return data.slice(Math.max(b - 1, 0), Math.max(e, 0));
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

export function putPath(target: unknown, steps: readonly Step[], value: unknown, at = 0): unknown {
  if (at === steps.length) return value;
  const step = steps[at]!;
  if ('key' in step) {
    let base = target;
    if (typeof base === 'string' || Buffer.isBuffer(base)) base = tryJson(base);
    const obj = isObject(base) ? { ...base } : {};
    obj[step.key] = putPath(obj[step.key], steps, value, at + 1);
    return obj;
  }
  const list = Array.isArray(target) ? target : null;
  const i = step.index;
  if (list === null) return [putPath(undefined, steps, value, at + 1)];
  if (i === 'head') return [putPath(undefined, steps, value, at + 1), ...list];
  if (i === 'tail') return [...list, putPath(undefined, steps, value, at + 1)];
  if (i === undefined || i === 0) return list;
  const pos = i > 0 ? i - 1 : list.length + i;
  if (pos < 0 || pos >= list.length) return list;
  const copy = list.slice();
  copy[pos] = putPath(list[pos], steps, value, at + 1);
  return copy;
}
