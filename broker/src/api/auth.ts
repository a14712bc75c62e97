/**
 * Credentials: `key:secret` lines in api_key.bootstrap_file, checked from HTTP Basic in constant
 * time, API keys made over REST, and dashboard login tokens (accounts/). With no API key at all
 * the API answers loopback clients only, so a fresh node is not open to its network.
 */
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';
import type { Accounts } from './accounts/index.js';
import type { Caller } from './accounts/roles.js';

export type Credentials = 'ok' | 'missing' | 'bad';

export function loadKeys(file: string): Map<string, string> {
  const keys = new Map<string, string>();
  if (!file) return keys;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const i = t.indexOf(':');
    if (i <= 0) throw new Error(`api_key.bootstrap_file ${file}: lines must be "key:secret"`);
    keys.set(t.slice(0, i), t.slice(i + 1));
  }
  return keys;
}

/** Checks an Authorization header against the keys. */
export function checkBasic(keys: ReadonlyMap<string, string>, header: string | undefined): Credentials {
  if (header === undefined || header === '') return 'missing';
  if (!header.startsWith('Basic ')) return 'bad';
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return 'bad';
  const want = keys.get(decoded.slice(0, i));
  if (want === undefined) return 'bad';
  const a = Buffer.from(want);
  const b = Buffer.from(decoded.slice(i + 1));
  return a.length === b.length && timingSafeEqual(a, b) ? 'ok' : 'bad';
}

export function isLoopback(a: string | undefined): boolean {
  return a !== undefined && (a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.'));
}

const LOOPBACK: Caller = Object.freeze({ kind: 'loopback', name: '', role: 'administrator' });
const CHALLENGE = { 'www-authenticate': 'Basic realm="petrel"' };

/**
 * Who sent a request to a route that is not `open`: an Authorization header, when present, is
 * always checked and decides (a viewer's token from loopback is still a viewer's). Without
 * one, loopback callers pass as administrators on `key-or-loopback` routes, and on every
 * route while no API key exists (bootstrap or REST-made). Throws the 401 ApiError otherwise.
 */
export function identify(
  access: 'key' | 'key-or-loopback', header: string | undefined, remote: string | undefined,
  bootstrap: ReadonlyMap<string, string>, accounts: Accounts | undefined,
): Caller {
  if (header === undefined || header === '') {
    const loopback = isLoopback(remote);
    if (loopback && (access === 'key-or-loopback' || bootstrap.size + (accounts?.keys.size ?? 0) === 0)) return LOOPBACK;
    throw new ApiError('UNAUTHORIZED', bootstrap.size + (accounts?.keys.size ?? 0) === 0 && accounts === undefined
      ? 'no API keys configured: the API answers loopback clients only'
      : 'API key (HTTP Basic) or login token (Bearer) required', CHALLENGE);
  }
  if (header.startsWith('Bearer ')) {
    const t = accounts?.users.check(header.slice(7).trim());
    if (t?.ok === true) return { kind: 'user', name: t.username, role: t.role, token: header.slice(7).trim() };
    if (t?.why === 'expired') throw new ApiError('TOKEN_TIME_OUT', 'the login token expired: log in again (POST /api/v5/login)');
    throw new ApiError('BAD_TOKEN', 'unknown or revoked login token: log in again (POST /api/v5/login)');
  }
  if (checkBasic(bootstrap, header) === 'ok') return { kind: 'bootstrap', name: basicKey(header), role: 'administrator' };
  if (accounts !== undefined && header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      const k = accounts.keys.check(decoded.slice(0, i), decoded.slice(i + 1));
      if (k.ok) return { kind: 'api_key', name: k.name, role: k.role };
      if (k.why === 'disabled') throw new ApiError('BAD_API_KEY_OR_SECRET', `API key '${k.name}' is disabled`, CHALLENGE);
      if (k.why === 'expired') throw new ApiError('BAD_API_KEY_OR_SECRET', `API key '${k.name}' expired`, CHALLENGE);
    }
  }
  throw new ApiError('BAD_API_KEY_OR_SECRET', undefined, CHALLENGE);
}

function basicKey(header: string): string {
  const d = Buffer.from(header.slice(6), 'base64').toString('utf8');
  return d.slice(0, Math.max(0, d.indexOf(':')));
}
