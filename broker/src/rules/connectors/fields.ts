/**
 * Reading one connector's, action's or source's map of settings with the config schema's own
 * leaves (str, int, duration, size, oneOf…): defaults applied, units parsed, unknown keys refused,
 * every error naming the key (`connectors.http.hook.pool_size: expected a whole number`). The
 * sinks describe their fields once with these and never hand-check a value.
 */
import type { Leaf } from '../../config/schema-types.js';
import { parseLeaf } from '../../config/validate.js';
import { closest } from '../../config/suggest.js';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { Reader, parseTls, tlsOptions } from '../../access/backends/config.js';
import { SinkConfigError } from './types.js';

export type FieldSpec = Record<string, Leaf<unknown> | 'any'>;

export const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);

/**
 * `raw` read against `spec`; keys in `passThrough` are left for the caller (e.g. `ssl`,
 * `resource_opts`). 'any' fields are copied as they are (the caller checks them).
 */
export function readFields<T = Record<string, unknown>>(raw: unknown, where: string, spec: FieldSpec, passThrough: readonly string[] = []): T {
  if (raw === undefined || raw === null) raw = {};
  if (!isObj(raw)) throw new SinkConfigError(`${where}: expected a map`);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(raw)) {
    if (!(k in spec) && !passThrough.includes(k)) {
      const hint = closest(k, Object.keys(spec));
      throw new SinkConfigError(`${where}: unknown key '${k}'${hint ? ` (did you mean '${hint}'?)` : ''} (known: ${Object.keys(spec).join(', ')})`);
    }
  }
  for (const [k, leaf] of Object.entries(spec)) {
    const v = raw[k];
    if (leaf === 'any') { if (v !== undefined) out[k] = v; continue; }
    const r = parseLeaf(leaf, v === undefined ? leaf.default : v);
    if (!r.ok) throw new SinkConfigError(`${where}.${k}: ${r.error}`);
    out[k] = r.value;
  }
  for (const k of passThrough) if (raw[k] !== undefined) out[k] = raw[k];
  return out as T;
}

/** A required string: present and not empty. */
export function required(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new SinkConfigError(`${where}: required`);
  return v;
}

/** "host:port" or "host" (default port); IPv6 in brackets. */
export function hostPort(v: string, defPort: number, where: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(v.trim());
  if (m === null) throw new SinkConfigError(`${where}: expected "host:port", got ${JSON.stringify(v)}`);
  const port = m[3] === undefined ? defPort : Number(m[3]);
  if (!(port > 0 && port < 65536)) throw new SinkConfigError(`${where}: port ${m[3]} is not 1–65535`);
  return { host: (m[1] ?? m[2])!, port };
}

/** EMQX's fields every connector has, which the generic machinery reads; a connector type accepts and leaves them. */
export const COMMON_CONNECTOR_KEYS = ['enable', 'description', 'tags', 'resource_opts'] as const;

/**
 * EMQX's client `ssl` block (at `where`) → node:tls options, or null when TLS is off; the same
 * reader as every other client of an external service (access/backends/config.ts). Certificate
 * files are read now, relative to the working directory.
 */
export function sslOptions(raw: unknown, where: string): TlsConnectionOptions | null {
  if (raw === undefined || raw === null) return null;
  const parent = where.endsWith('.ssl') ? where.slice(0, -4) : where;
  const r = new Reader({ ssl: raw }, parent);
  const t = parseTls(r);
  if (r.error !== null) throw new SinkConfigError(r.error);
  if (t === null) return null;
  try { return tlsOptions(t, process.cwd()); } catch (err) { throw new SinkConfigError(`${parent}.${(err as Error).message}`); }
}
