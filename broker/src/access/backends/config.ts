/**
 * The config keys the external backends share, with EMQX's names and defaults: where the
 * service is (`server`, `database`, `username`, `password`), how many connections
 * (`pool_size`), TLS (`ssl`), and how long to wait (`connect_timeout`, `request_timeout`).
 *
 * Each backend reads its entry with a Reader: every key it takes is named once, with its
 * default; the first wrong value and any key nobody read become one error naming the key.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { Parsed } from '../types.js';
import { parseDuration } from '../../config/units.js';

/** Keys of an authenticator or source entry that the chains read, not the backend. */
const CHAIN_KEYS = ['mechanism', 'backend', 'type', 'enable'];

export class Reader {
  private readonly used = new Set<string>(CHAIN_KEYS);
  error: string | null = null;
  constructor(private readonly raw: Record<string, unknown>, readonly where: string) {}

  private bad(key: string, msg: string): void { if (this.error === null) this.error = `${this.where}.${key}: ${msg}`; }

  has(key: string): boolean { return this.raw[key] !== undefined && this.raw[key] !== null; }

  /** Marks a key as taken without reading it (accepted for EMQX compatibility, no effect here). */
  accept(...keys: string[]): void { for (const k of keys) this.used.add(k); }

  raw_(key: string): unknown { this.used.add(key); return this.raw[key]; }

  str(key: string, def?: string): string {
    const v = this.raw_(key);
    if (v === undefined || v === null) { if (def === undefined) this.bad(key, 'required'); return def ?? ''; }
    if (typeof v !== 'string') { this.bad(key, `expected a string, got ${JSON.stringify(v)}`); return def ?? ''; }
    return v;
  }

  int(key: string, def: number, min: number, max: number): number {
    const v = this.raw_(key);
    if (v === undefined || v === null) return def;
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) { this.bad(key, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`); return def; }
    return n;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.raw_(key);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') { this.bad(key, `expected true or false, got ${JSON.stringify(v)}`); return def; }
    return v;
  }

  duration(key: string, def: number): number {
    const v = this.raw_(key);
    if (v === undefined || v === null) return def;
    const d = parseDuration(v, false);
    if (!d.ok) { this.bad(key, d.error); return def; }
    if (d.value <= 0) { this.bad(key, 'must be more than 0'); return def; }
    return d.value;
  }

  oneOf<const V extends readonly string[]>(key: string, values: V, def: V[number]): V[number] {
    const v = this.raw_(key);
    if (v === undefined || v === null) return def;
    const s = typeof v === 'string' ? v.toLowerCase() : v;
    if (typeof s !== 'string' || !values.includes(s)) { this.bad(key, `expected one of ${values.join(', ')}, got ${JSON.stringify(v)}`); return def; }
    return s as V[number];
  }

  obj(key: string): Record<string, unknown> | undefined {
    const v = this.raw_(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) { this.bad(key, `expected a map, got ${JSON.stringify(v)}`); return undefined; }
    return v as Record<string, unknown>;
  }

  /** Records an error found by the caller (a template, a command) under `key`. */
  fail(key: string, msg: string): void { this.bad(key, msg); }

  /** Takes the error of a Reader of a nested map (made with `${this.where}.key`), already prefixed. */
  adopt(child: Reader): void { if (this.error === null && child.error !== null) this.error = child.error; }

  done<T>(value: T): Parsed<T> {
    if (this.error === null) {
      const unknown = Object.keys(this.raw).filter((k) => !this.used.has(k));
      if (unknown.length > 0) this.error = `${this.where}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`;
    }
    return this.error === null ? { ok: true, value } : { ok: false, error: this.error };
  }
}

// ---------------------------------------------------------------- server, TLS

export interface Endpoint { host: string; port: number }

/** `host`, `host:port`, `[v6]:port`. */
export function parseServer(r: Reader, defaultPort: number): Endpoint {
  const s = r.str('server').trim();
  if (r.error !== null) return { host: '', port: 0 };
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:\s]+)(?::(\d+))?$/.exec(s);
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!m || port < 1 || port > 65535) { r.fail('server', `expected "host" or "host:port", got ${JSON.stringify(s)}`); return { host: '', port: 0 }; }
  return { host: m[1], port };
}

export interface TlsConfig {
  /** Verify the server's certificate (`verify: verify_peer`; EMQX's default is verify_none). */
  verify: boolean;
  /** Files as written in the config; relative ones resolve against the config dir. */
  cacertfile?: string; certfile?: string; keyfile?: string;
  servername?: string;
}

/** `ssl: {enable, verify, cacertfile, certfile, keyfile, server_name_indication}`; null when off. */
export function parseTls(r: Reader): TlsConfig | null {
  const raw = r.obj('ssl');
  if (raw === undefined) return null;
  const t = new Reader(raw, `${r.where}.ssl`);
  const enable = t.bool('enable', false);
  const out: TlsConfig = { verify: t.oneOf('verify', ['verify_peer', 'verify_none'] as const, 'verify_none') === 'verify_peer' };
  for (const key of ['cacertfile', 'certfile', 'keyfile'] as const) {
    const f = t.str(key, '');
    if (f !== '') out[key] = f;
  }
  const sni = t.str('server_name_indication', '');
  if (sni !== '' && sni !== 'disable') out.servername = sni;
  t.accept('depth', 'versions', 'ciphers', 'secure_renegotiate', 'reuse_sessions', 'hibernate_after', 'password');
  t.done(null);
  r.adopt(t);
  if (t.error !== null) return null;
  return enable ? out : null;
}

/** Node's TLS options; a file that cannot be read throws an error naming it. */
export function tlsOptions(t: TlsConfig, configDir: string): ConnectionOptions {
  const read = (key: 'cacertfile' | 'certfile' | 'keyfile'): Buffer | undefined => {
    const f = t[key];
    if (f === undefined) return undefined;
    const p = isAbsolute(f) ? f : resolve(configDir, f);
    try { return readFileSync(p); } catch (err) { throw new Error(`ssl.${key}: cannot read ${p}: ${(err as Error).message}`); }
  };
  return { rejectUnauthorized: t.verify, ca: read('cacertfile'), cert: read('certfile'), key: read('keyfile'), servername: t.servername };
}

// ---------------------------------------------------------------- values from backends

/** EMQX's truthiness of `is_superuser`: true, 1, "1", "true", any integer ≥ 1. */
export function toBool(v: unknown): boolean {
  if (v === true) return true;
  if (typeof v === 'number' || typeof v === 'bigint') return v >= 1;
  const s = Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : null;
  if (s === null) return false;
  if (s === 'true') return true;
  return /^\d+$/.test(s) && Number(s) >= 1;
}

/** A column or field value as text (drivers return strings, numbers, Buffers, Dates). */
export function asText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return String(v);
}
