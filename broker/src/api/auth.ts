/**
 * API keys: `key:secret` lines in api_key.bootstrap_file, checked from HTTP Basic in constant
 * time. With no keys configured the API answers loopback clients only, so a fresh node is not
 * open to its network.
 */
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';

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
