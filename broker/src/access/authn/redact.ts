/**
 * Secrets in authenticator configs (a Redis password, a JWT secret, an HTTP Authorization
 * header) are shown as `******` by the REST API, as EMQX shows them; a config sent back with
 * `******` in place of a secret keeps the secret it had (EMQX's deobfuscate), so a client may
 * GET, edit and PUT a config without ever seeing the secret.
 */

export const REDACTED = '******';

/** EMQX's sensitive keys (emqx_utils_redact). */
const SENSITIVE = new Set([
  'access_key_id', 'access_key_secret', 'access_token', 'account_key', 'api_key', 'api_secret',
  'aws_secret_access_key', 'bind_password', 'client_jwks', 'id_token', 'jwk', 'jwt', 'mfa_token',
  'new_pwd', 'old_pwd', 'passcode', 'passwd', 'password', 'private_key', 'private_key_password',
  'refresh_token', 'secret', 'secret_access_key', 'secret_key', 'security_token', 'sentinel_password',
  'sp_private_key', 'token', 'client_secret',
]);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function sensitive(key: string, parent: string | null): boolean {
  return SENSITIVE.has(key) || (parent === 'headers' && key.toLowerCase() === 'authorization');
}

export function redact(v: unknown, parent: string | null = null): unknown {
  if (Array.isArray(v)) return v.map((x) => redact(x, parent));
  if (!isObj(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = sensitive(k, parent) && x !== '' && x !== null ? REDACTED : redact(x, k);
  return out;
}

/** `next` with every `******` replaced by the value at the same place in `prev`. */
export function deobfuscate(next: unknown, prev: unknown): unknown {
  if (!isObj(next)) return next;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(next)) {
    const old = isObj(prev) ? prev[k] : undefined;
    out[k] = x === REDACTED && old !== undefined ? old : deobfuscate(x, old);
  }
  return out;
}
