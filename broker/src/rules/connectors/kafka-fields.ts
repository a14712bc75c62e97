/**
 * Reading the Kafka and RabbitMQ connectors' and actions' settings with the config schema's own
 * leaves (str, int, duration, oneOf…): defaults applied, units parsed, unknown keys refused with
 * a "did you mean", every error naming the full key (`connectors.kafka_producer.k1.connect_timeout:
 * …`). Also EMQX's client `ssl` block, turned into node:tls options.
 *
 * The sinks branch has the same reader as connectors/fields.ts (same `readFields` contract); when
 * both are merged these two connectors can import from there and this file can go.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { Leaf } from '../../config/schema-types.js';
import { bool, str, oneOf } from '../../config/schema-types.js';
import { closest } from '../../config/suggest.js';
import { parseLeaf } from '../../config/validate.js';
import { SinkConfigError } from './types.js';

export type FieldSpec = Record<string, Leaf<unknown> | 'any'>;

export const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);

/** EMQX's fields every connector has, which the generic machinery reads; accepted and left alone here. */
export const COMMON_CONNECTOR_KEYS = ['enable', 'description', 'tags', 'resource_opts'] as const;

/** `raw` read against `spec`; keys in `passThrough` are accepted and left for the caller. */
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

/** A string that must be given and not empty. */
export function required(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new SinkConfigError(`${where}: required`);
  return v;
}

/** "host:port" or "host" (default port); IPv6 in brackets. */
export function hostPort(v: string, defPort: number, where: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d+))?$/.exec(v.trim());
  if (m === null) throw new SinkConfigError(`${where}: expected "host:port", got ${JSON.stringify(v)}`);
  const port = m[3] === undefined ? defPort : Number(m[3]);
  if (!(port > 0 && port < 65536)) throw new SinkConfigError(`${where}: port ${m[3]} is not 1–65535`);
  return { host: (m[1] ?? m[2])!, port };
}

const SSL_SPEC: FieldSpec = {
  enable: bool(false, 'Connect with TLS.'),
  cacertfile: str('', 'PEM file of the CAs that sign the server certificate (default: the system CAs).'),
  certfile: str('', 'PEM client certificate, for servers that ask for one.'),
  keyfile: str('', 'PEM key of certfile.'),
  password: str('', 'Passphrase of keyfile.'),
  verify: oneOf(['verify_peer', 'verify_none'] as const, 'verify_none', 'Check the server certificate.'),
  server_name_indication: str('', 'SNI to send; "disable" sends none; empty: the host name.'),
};
// EMQX's ssl block has more (versions, ciphers, depth, …); they are accepted and left to node's defaults.
const SSL_IGNORED = ['versions', 'ciphers', 'depth', 'reuse_sessions', 'secure_renegotiate', 'hibernate_after', 'log_level', 'middlebox_comp_mode', 'partial_chain', 'verify_peer_ext_key_usage'];

/** EMQX's client `ssl` block → node:tls options, or null when TLS is off. Certificate files are read now. */
export function sslOptions(raw: unknown, where: string): TlsOptions | null {
  const s = readFields<Record<string, string | boolean>>(raw, where, SSL_SPEC, SSL_IGNORED);
  if (s.enable !== true) return null;
  const file = (k: string): Buffer | undefined => {
    const f = s[k] as string;
    if (f === '') return undefined;
    try { return readFileSync(f); } catch (err) { throw new SinkConfigError(`${where}.${k}: cannot read ${f}: ${(err as Error).message}`); }
  };
  const sni = s.server_name_indication as string;
  const opts: TlsOptions = { rejectUnauthorized: s.verify === 'verify_peer' };
  const ca = file('cacertfile'); const cert = file('certfile'); const key = file('keyfile');
  if (ca) opts.ca = ca;
  if (cert) opts.cert = cert;
  if (key) opts.key = key;
  if (s.password !== '') opts.passphrase = s.password as string;
  if (sni !== '' && sni !== 'disable') opts.servername = sni;
  return opts;
}
