/**
 * The `mechanism: jwt` entry of an authentication chain, read with EMQX 5's keys and
 * checked whole: key material is decoded here, so a bad secret, PEM or endpoint is a config
 * error naming the key instead of every client being refused later.
 *
 *   - mechanism: jwt
 *     from: password                 # or username: where the token travels
 *     algorithm: hmac-based          # HS256/384/512 with `secret` (+ secret_base64_encoded)
 *     # algorithm: public-key        # RS/PS/ES*, EdDSA with `public_key` (PEM text or a file)
 *     # use_jwks: true               # keys from `endpoint`, refreshed every `refresh_interval`
 *     verify_claims: {sub: "${username}"}
 *     acl_claim_name: acl
 *     disconnect_after_expire: true
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { parseDuration } from '../../config/units.js';
import type { Parsed } from '../types.js';

export type JwtKeySource =
  | { kind: 'hmac'; secret: Uint8Array }
  /** `file` set when the PEM is a relative file name, read against the config directory at create. */
  | { kind: 'public'; key: KeyObject | null; file: string | null }
  | {
    kind: 'jwks'; endpoint: string; refreshIntervalMs: number; headers: Record<string, string>; maxFailCount: number;
    ssl: { enable: boolean; verify: boolean; cacertfile?: string; certfile?: string; keyfile?: string; server_name_indication?: string };
  };

export interface JwtConfig {
  enable: boolean;
  from: 'password' | 'username';
  keys: JwtKeySource;
  /** Claim name → expected value template (`${clientid}`, `${username}` rendered per client). */
  verifyClaims: ReadonlyArray<readonly [string, string]>;
  aclClaimName: string;
  disconnectAfterExpire: boolean;
  onMissingJwt: 'ignore' | 'deny';
}

const KEYS = new Set([
  'mechanism', 'backend', 'enable', 'from', 'use_jwks', 'algorithm', 'secret', 'secret_base64_encoded', 'public_key',
  'endpoint', 'refresh_interval', 'headers', 'pool_size', 'max_fail_count', 'ssl', 'verify_claims', 'acl_claim_name',
  'disconnect_after_expire', 'on_missing_jwt',
]);
const SSL_KEYS = new Set(['enable', 'verify', 'cacertfile', 'certfile', 'keyfile', 'server_name_indication']);
const PLACEHOLDER = /\$\{([^}]*)\}/g;

class Bad extends Error {}
const fail = (msg: string): never => { throw new Bad(msg); };

export function parseJwtConfig(raw: Record<string, unknown>): Parsed<JwtConfig> {
  try {
    return { ok: true, value: read(raw) };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, error: `jwt: ${err.message}` };
    throw err;
  }
}

function read(raw: Record<string, unknown>): JwtConfig {
  for (const k of Object.keys(raw)) if (!KEYS.has(k)) fail(`unknown key '${k}'; known: ${[...KEYS].join(', ')}`);
  if (raw.mechanism !== undefined && raw.mechanism !== 'jwt') fail(`'mechanism' must be jwt, got ${JSON.stringify(raw.mechanism)}`);
  if (raw.backend !== undefined && raw.backend !== '') fail("'backend' does not apply to jwt (keys come from 'secret', 'public_key' or a JWKS 'endpoint')");
  const useJwks = bool(raw, 'use_jwks', false);
  const algorithm = oneOf(raw, 'algorithm', ['hmac-based', 'public-key'] as const, useJwks ? 'public-key' : undefined);
  let keys: JwtKeySource;
  if (useJwks) {
    if (algorithm !== 'public-key') fail("'algorithm' must be public-key (or absent) with use_jwks: true");
    for (const k of ['secret', 'public_key']) if (raw[k] !== undefined) fail(`'${k}' does not apply with use_jwks: true`);
    keys = jwks(raw);
  } else {
    for (const k of ['endpoint', 'refresh_interval', 'headers', 'max_fail_count', 'ssl']) if (raw[k] !== undefined) fail(`'${k}' applies only with use_jwks: true`);
    keys = algorithm === 'hmac-based' ? hmac(raw) : publicKey(raw);
  }
  const acl = raw.acl_claim_name ?? 'acl';
  if (typeof acl !== 'string' || acl === '') fail("'acl_claim_name' must be a non-empty string");
  return {
    enable: bool(raw, 'enable', true),
    from: oneOf(raw, 'from', ['password', 'username'] as const, 'password'),
    keys,
    verifyClaims: verifyClaims(raw.verify_claims),
    aclClaimName: acl as string,
    disconnectAfterExpire: bool(raw, 'disconnect_after_expire', true),
    onMissingJwt: oneOf(raw, 'on_missing_jwt', ['ignore', 'deny'] as const, 'ignore'),
  };
}

function bool(raw: Record<string, unknown>, k: string, def: boolean): boolean {
  const v = raw[k];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') fail(`'${k}' must be true or false, got ${JSON.stringify(v)}`);
  return v as boolean;
}

function oneOf<const V extends readonly string[]>(raw: Record<string, unknown>, k: string, values: V, def: V[number] | undefined): V[number] {
  const v = raw[k] ?? def;
  if (v === undefined) fail(`'${k}' is required: one of ${values.join(', ')}`);
  if (!values.includes(v as string)) fail(`'${k}' must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  return v as V[number];
}

function hmac(raw: Record<string, unknown>): JwtKeySource {
  const s = raw.secret;
  if (typeof s !== 'string' || s === '') fail("'secret' is required with algorithm: hmac-based (a non-empty string)");
  const secret = s as string;
  if (!bool(raw, 'secret_base64_encoded', false)) return { kind: 'hmac', secret: Buffer.from(secret, 'utf8') };
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(secret) || secret.length % 4 !== 0) fail("'secret' is not valid base64 (secret_base64_encoded: true)");
  const bytes = Buffer.from(secret, 'base64');
  if (bytes.length === 0) fail("'secret' decodes to nothing");
  return { kind: 'hmac', secret: bytes };
}

function publicKey(raw: Record<string, unknown>): JwtKeySource {
  if (raw.secret !== undefined || raw.secret_base64_encoded !== undefined) fail("'secret' applies only with algorithm: hmac-based");
  const pk = raw.public_key;
  if (typeof pk !== 'string' || pk.trim() === '') fail("'public_key' is required with algorithm: public-key (PEM text or a file name)");
  const text = pk as string;
  if (text.includes('-----BEGIN')) return { kind: 'public', key: pemKey(text, "'public_key'"), file: null };
  if (!isAbsolute(text)) return { kind: 'public', key: null, file: text };
  return { kind: 'public', key: readPemFile(text), file: null };
}

/** A PEM file → its public key; an Error naming the file when it is missing or not a key. */
export function readPemFile(path: string): KeyObject {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (err) { return fail(`'public_key' file ${path} cannot be read: ${(err as Error).message}`); }
  return pemKey(text, `'public_key' file ${path}`);
}

/** Public key, certificate or even private key PEM (its public half is used). */
function pemKey(pem: string, where: string): KeyObject {
  try {
    if (pem.includes('-----BEGIN CERTIFICATE')) return new X509Certificate(pem).publicKey;
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType === undefined) throw new Error('not an asymmetric key');
    return key;
  } catch (err) {
    return fail(`${where} is not a valid PEM public key: ${(err as Error).message}`);
  }
}

function jwks(raw: Record<string, unknown>): JwtKeySource {
  const ep = raw.endpoint;
  if (typeof ep !== 'string') return fail("'endpoint' is required with use_jwks: true (an http:// or https:// URL)");
  let url: URL;
  try { url = new URL(ep); } catch { return fail(`'endpoint' is not a URL: ${JSON.stringify(ep)}`); }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`'endpoint' must be http:// or https://, got ${url.protocol}`);
  // EMQX writes the interval as a number of seconds; a duration string reads as well.
  const ri = raw.refresh_interval ?? 300;
  let refreshIntervalMs: number;
  if (typeof ri === 'number') {
    if (!Number.isInteger(ri) || ri < 1) fail(`'refresh_interval' must be a positive number of seconds, got ${ri}`);
    refreshIntervalMs = ri * 1000;
  } else {
    const d = parseDuration(ri, false);
    if (!d.ok) return fail(`'refresh_interval': ${d.error}`);
    if (d.value < 1000) fail(`'refresh_interval' must be at least 1s, got ${JSON.stringify(ri)}`);
    refreshIntervalMs = d.value;
  }
  const mfc = raw.max_fail_count ?? 5;
  if (typeof mfc !== 'number' || !Number.isInteger(mfc) || mfc < 1) fail(`'max_fail_count' must be a positive integer, got ${JSON.stringify(mfc)}`);
  const ps = raw.pool_size;
  if (ps !== undefined && (typeof ps !== 'number' || !Number.isInteger(ps) || ps < 1)) fail(`'pool_size' must be a positive integer, got ${JSON.stringify(ps)}`);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (raw.headers !== undefined) {
    if (raw.headers === null || typeof raw.headers !== 'object' || Array.isArray(raw.headers)) fail("'headers' must be a map of header name → value");
    for (const [k, v] of Object.entries(raw.headers as Record<string, unknown>)) {
      if (!/^[-0-9a-zA-Z_ ]+$/.test(k)) fail(`'headers': bad header name ${JSON.stringify(k)}`);
      if (typeof v !== 'string') fail(`'headers.${k}' must be a string`);
      headers[k] = v as string;
    }
  }
  return { kind: 'jwks', endpoint: url.href, refreshIntervalMs, headers, maxFailCount: mfc as number, ssl: ssl(raw.ssl) };
}

function ssl(v: unknown): Extract<JwtKeySource, { kind: 'jwks' }>['ssl'] {
  if (v === undefined) return { enable: false, verify: true };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail("'ssl' must be a map");
  const s = v as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!SSL_KEYS.has(k)) fail(`'ssl.${k}' is not supported for the JWKS fetch; supported: ${[...SSL_KEYS].join(', ')}`);
  if (s.enable !== undefined && typeof s.enable !== 'boolean') fail("'ssl.enable' must be true or false");
  if (s.verify !== undefined && s.verify !== 'verify_peer' && s.verify !== 'verify_none') fail("'ssl.verify' must be verify_peer or verify_none");
  const out: ReturnType<typeof ssl> = { enable: s.enable === true, verify: s.verify !== 'verify_none' };
  for (const k of ['cacertfile', 'certfile', 'keyfile', 'server_name_indication'] as const) {
    if (s[k] === undefined) continue;
    if (typeof s[k] !== 'string') fail(`'ssl.${k}' must be a string`);
    out[k] = s[k] as string;
  }
  return out;
}

/** EMQX accepts a map `{claim: value}` or a list of `{name, value}`; exp, iat and nbf are checked anyway. */
function verifyClaims(v: unknown): Array<readonly [string, string]> {
  if (v === undefined || v === null) return [];
  let pairs: Array<[unknown, unknown]>;
  if (Array.isArray(v)) {
    pairs = v.map((e, i) => {
      if (e === null || typeof e !== 'object' || !('name' in e) || !('value' in e)) fail(`'verify_claims[${i}]' must be {name, value}`);
      return [(e as { name: unknown }).name, (e as { value: unknown }).value];
    });
  } else if (typeof v === 'object') {
    pairs = Object.entries(v as Record<string, unknown>);
  } else {
    return fail("'verify_claims' must be a map of claim → expected value");
  }
  return pairs.map(([name, value]) => {
    if (typeof name !== 'string' || name === '') fail("'verify_claims': a claim name must be a non-empty string");
    if (name === 'exp' || name === 'iat' || name === 'nbf') fail(`'verify_claims.${name}' is not allowed: exp and nbf are always checked against the clock`);
    if (typeof value !== 'string') fail(`'verify_claims.${name}' must be a string (placeholders: \${clientid}, \${username})`);
    for (const m of (value as string).matchAll(PLACEHOLDER)) {
      if (m[1] !== 'clientid' && m[1] !== 'username') fail(`'verify_claims.${name}': unknown placeholder \${${m[1]}}; known: \${clientid}, \${username}`);
    }
    return [name as string, value as string] as const;
  });
}

/** Expected claim value for one client. A missing username renders as the empty string, as EMQX does. */
export function renderClaim(template: string, clientId: string, username: string | null): string {
  return template.replace(PLACEHOLDER, (_m, v: string) => (v === 'clientid' ? clientId : username ?? ''));
}
