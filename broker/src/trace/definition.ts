/**
 * A log trace's definition, as EMQX's /api/v5/trace makes it: a name, what it follows (one
 * client id, a topic filter, or a client address), a time window, and how lines are written
 * (payload as text, hex or hidden, cut at payload_limit bytes; lines as text or JSON).
 *
 * A definition is a plain object (it is stored, and crosses etcd on a cluster). Its status is
 * computed from the clock, as EMQX's: `stopped` once disabled (PUT …/stop) or past end_at,
 * `waiting` before start_at, else `running`. Times are whole epoch seconds.
 *
 * `parseTrace` checks a POST body the way EMQX does and says what is wrong in EMQX's words,
 * so the route only maps the answer to an HTTP status.
 */
import { isIP } from 'node:net';
import { validTopicFilter } from '../router/index.js';

export const TRACE_TYPES = ['clientid', 'topic', 'ip_address'] as const;
export type TraceType = typeof TRACE_TYPES[number];
export const PAYLOAD_ENCODES = ['text', 'hex', 'hidden'] as const;
export type PayloadEncode = typeof PAYLOAD_ENCODES[number];
export const FORMATTERS = ['text', 'json'] as const;
export type Formatter = typeof FORMATTERS[number];
export type TraceStatus = 'running' | 'waiting' | 'stopped';

export interface TraceDef {
  name: string;
  type: TraceType;
  /** The client id, topic filter or IP address, by type. */
  filter: string;
  /** Epoch seconds. */
  start_at: number;
  end_at: number;
  /** false once stopped through the API. */
  enable: boolean;
  payload_encode: PayloadEncode;
  /** Payload bytes written per line; the rest is cut (EMQX's default 1024). */
  payload_limit: number;
  formatter: Formatter;
}

/** EMQX's name rule. */
const NAME_RE = /^[A-Za-z]+[A-Za-z0-9-_]*$/;
export const MAX_NAME_LEN = 256;
/** A trace without end_at lasts this long (EMQX: 10 minutes). */
export const DEFAULT_DURATION_S = 600;
export const DEFAULT_PAYLOAD_LIMIT = 1024;

export const nowSecond = (): number => Math.floor(Date.now() / 1000);

export function traceStatus(d: TraceDef, now = nowSecond()): TraceStatus {
  if (!d.enable) return 'stopped';
  if (now < d.start_at) return 'waiting';
  return now >= d.end_at ? 'stopped' : 'running';
}

export function validName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LEN && NAME_RE.test(name);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** Epoch seconds from EMQX's accepted forms: an integer, its decimal string, or RFC 3339. null = not a time. */
export function parseEpochSecond(v: unknown): number | null {
  let s: number;
  if (typeof v === 'number') s = v;
  else if (typeof v !== 'string') return null;
  else if (/^\d{1,12}$/.test(v)) s = Number(v);
  else if (RFC3339.test(v)) s = Math.floor(Date.parse(v) / 1000);
  else return null;
  return Number.isSafeInteger(s) && s >= 0 && s <= MAX_EPOCH_SECOND ? s : null;
}

/** 9999-12-31T23:59:59Z: later times have no RFC 3339 form. */
export const MAX_EPOCH_SECOND = 253_402_300_799;

export const rfc3339 = (sec: number): string => new Date(sec * 1000).toISOString().replace('.000Z', 'Z');

export type ParsedTrace = { ok: true; def: TraceDef } | { ok: false; error: string };

/** A POST body → a definition (enabled), or what is wrong with it. */
export function parseTrace(body: Record<string, unknown>, maxTopicLevels: number, now = nowSecond()): ParsedTrace {
  const bad = (error: string): ParsedTrace => ({ ok: false, error });
  const name = body.name;
  if (typeof name !== 'string' || name === '') return bad('name required');
  if (name.length > MAX_NAME_LEN) return bad(`Name Length must =< ${MAX_NAME_LEN}`);
  if (!NAME_RE.test(name)) return bad(`Name should be ${NAME_RE.source}`);
  const type = body.type;
  if (!(TRACE_TYPES as readonly unknown[]).includes(type)) return bad(`type=[${TRACE_TYPES.join(',')}] required`);
  const filter = body[type as TraceType];
  if (typeof filter !== 'string' || filter === '') return bad(`${String(type)} required for type ${String(type)}`);
  if (type === 'topic' && !validTopicFilter(filter, maxTopicLevels)) return bad(`topic: ${filter} invalid`);
  if (type === 'ip_address' && isIP(filter) === 0) return bad(`ip address: ${filter} is not an IPv4 or IPv6 address`);
  let start = now;
  if (body.start_at !== undefined) {
    const s = parseEpochSecond(body.start_at);
    if (s === null) return bad('start_at: not an RFC 3339 time or epoch seconds');
    start = s;
  }
  let end = start + DEFAULT_DURATION_S;
  if (body.end_at !== undefined) {
    const e = parseEpochSecond(body.end_at);
    if (e === null) return bad('end_at: not an RFC 3339 time or epoch seconds');
    if (e <= now) return bad('End time has already passed');
    end = e;
  }
  if (end <= start) return bad('Start time is ahead of end time');
  const enc = body.payload_encode ?? 'text';
  if (!(PAYLOAD_ENCODES as readonly unknown[]).includes(enc)) return bad(`payload_encode must be one of ${PAYLOAD_ENCODES.join(', ')}`);
  const fmt = body.formatter ?? 'text';
  if (!(FORMATTERS as readonly unknown[]).includes(fmt)) return bad(`formatter must be one of ${FORMATTERS.join(', ')}`);
  const limit = body.payload_limit ?? DEFAULT_PAYLOAD_LIMIT;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) return bad('payload_limit must be a non-negative integer');
  return {
    ok: true,
    def: {
      name, type: type as TraceType, filter, start_at: start, end_at: end, enable: true,
      payload_encode: enc as PayloadEncode, payload_limit: limit, formatter: fmt as Formatter,
    },
  };
}

/** A stored value read back (another node's, or an older run's): null when it is not a definition. */
export function storedTrace(v: unknown): TraceDef | null {
  if (typeof v !== 'object' || v === null) return null;
  const d = v as Record<string, unknown>;
  const ok = typeof d.name === 'string' && validName(d.name) && (TRACE_TYPES as readonly unknown[]).includes(d.type) && typeof d.filter === 'string'
    && typeof d.start_at === 'number' && typeof d.end_at === 'number' && typeof d.enable === 'boolean'
    && (PAYLOAD_ENCODES as readonly unknown[]).includes(d.payload_encode) && typeof d.payload_limit === 'number'
    && (FORMATTERS as readonly unknown[]).includes(d.formatter);
  return ok ? (d as unknown as TraceDef) : null;
}
