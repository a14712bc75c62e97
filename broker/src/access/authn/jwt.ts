/**
 * JWT authentication (EMQX's `mechanism: jwt`): the client brings a signed token as its
 * password (or username); a valid token lets it in, with `is_superuser` and ACL rules taken
 * from its claims, and its `exp` as the time the connection should end.
 *
 * What each failure answers follows EMQX 5 (emqx_authn_jwt.erl, default security profile):
 * - no token (`from` field absent)              → ignore (deny with on_missing_jwt: deny)
 * - an MQTT 5 enhanced-auth CONNECT             → ignore: the token is not ours to read
 * - not a JWT, or no key verifies the signature → ignore with an error: the next authenticator
 *   may know the client; with JWT alone the chain ends "not authorized"
 * - JWKS endpoint unavailable                   → ignore with an error
 * - `exp` passed, `nbf` ahead, a verify_claims mismatch or missing claim, a malformed ACL
 *   claim                                       → deny (bad username or password)
 */
import { lazyModule } from '../../util/lazy-module.js';
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AuthRequest } from '../../hooks.js';
import type { AccessContext, AclRule, AuthenticatorKind, Authenticator, AuthnOutcome } from '../types.js';
import { aclFromClaim } from './jwt-acl.js';
import { parseJwtConfig, readPemFile, renderClaim, type JwtConfig } from './jwt-config.js';
import { JwksClient, type JwksTls } from './jwks.js';

const jose = lazyModule<typeof import('jose')>('jose');

export type { JwtConfig } from './jwt-config.js';

const HMAC_ALGS = ['HS256', 'HS384', 'HS512'];
const HMAC_HASH: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };
/** A header with nothing beyond these (no `crit`, no `b64`): the fast HMAC path applies. */
const PLAIN_HEADER_KEYS = new Set(['alg', 'typ', 'kid', 'cty']);

/** The payload of a compact JWS whose HMAC signature checks out, else null. */
function verifyHmac(token: string, hash: string, key: KeyObject): Uint8Array | null {
  const a = token.indexOf('.');
  const b = token.indexOf('.', a + 1);
  if (a < 0 || b < 0 || token.indexOf('.', b + 1) >= 0) return null;
  const sig = Buffer.from(token.slice(b + 1), 'base64url');
  const want = createHmac(hash, key).update(token.slice(0, b)).digest();
  if (sig.length !== want.length || !timingSafeEqual(sig, want)) return null;
  return Buffer.from(token.slice(a + 1, b), 'base64url');
}
const PUBLIC_KEY_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

const DENY: AuthnOutcome = { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' };

export const jwtKind: AuthenticatorKind<JwtConfig> = {
  mechanism: 'jwt',
  backend: '',
  parse: parseJwtConfig,
  create: (cfg, ctx) => new JwtAuthenticator(cfg, ctx),
};

type Keys = { fixed: Uint8Array | KeyObject; algs: readonly string[] } | { jwks: JwksClient };

export class JwtAuthenticator implements Authenticator {
  readonly id = 'jwt';
  readonly mechanism = 'jwt' as const;
  readonly backend = '';
  private readonly cfg: JwtConfig;
  private readonly ctx: AccessContext;
  private readonly keys: Keys;

  constructor(cfg: JwtConfig, ctx: AccessContext) {
    this.cfg = cfg;
    this.ctx = ctx;
    const k = cfg.keys;
    if (k.kind === 'hmac') {
      // A KeyObject made once: handing jose raw bytes would import the key again per token.
      this.keys = { fixed: createSecretKey(k.secret), algs: HMAC_ALGS };
    } else if (k.kind === 'public') {
      let key = k.key;
      if (key === null) {
        try { key = readPemFile(resolve(ctx.configDir, k.file!)); } catch (err) { throw new Error(`jwt: ${(err as Error).message}`); }
      }
      this.keys = { fixed: key, algs: PUBLIC_KEY_ALGS };
    } else {
      const client = new JwksClient({
        endpoint: k.endpoint, refreshIntervalMs: k.refreshIntervalMs, headers: k.headers, maxFailCount: k.maxFailCount,
        tls: jwksTls(k.ssl, ctx.configDir), log: ctx.log.child({ authenticator: 'jwt' }),
      });
      client.start();
      this.keys = { jwks: client };
    }
  }

  async authenticate(req: AuthRequest): Promise<AuthnOutcome> {
    if (req.method !== null) return { result: 'ignore' };
    const c = req.client;
    const token = this.cfg.from === 'password' ? req.password?.toString('utf8') : c.username;
    if (token === undefined || token === null) {
      return this.cfg.onMissingJwt === 'deny' ? DENY : { result: 'ignore' };
    }
    let alg: string | undefined;
    let kid: string | undefined;
    let plain: boolean;
    try {
      const h = jose().decodeProtectedHeader(token);
      alg = h.alg;
      kid = h.kid;
      plain = Object.keys(h).every((k) => PLAIN_HEADER_KEYS.has(k));
    } catch {
      return { result: 'ignore', error: `the ${this.cfg.from} is not a JWT` };
    }
    let candidates: ReadonlyArray<{ key: Uint8Array | KeyObject; alg?: string }>;
    let algs: readonly string[];
    if ('jwks' in this.keys) {
      const found = await this.keys.jwks.lookup(kid);
      if (!found.ok) return { result: 'ignore', error: found.error };
      candidates = found.keys;
      algs = PUBLIC_KEY_ALGS;
    } else {
      candidates = [{ key: this.keys.fixed }];
      algs = this.keys.algs;
    }
    let payload: Uint8Array | null = null;
    // HMAC with the configured secret: node:crypto directly (jose's WebCrypto path costs ≈ 10× more per connect).
    if (!('jwks' in this.keys) && alg !== undefined && HMAC_HASH[alg] !== undefined && this.keys.algs.includes(alg)
      && (this.keys.fixed as KeyObject).type === 'secret' && plain) {
      payload = verifyHmac(token, HMAC_HASH[alg]!, this.keys.fixed as KeyObject);
      if (payload === null) return { result: 'ignore', error: `JWT signature does not verify (alg ${alg})` };
    }
    for (const cand of payload === null ? candidates : []) {
      if (cand.alg !== undefined && cand.alg !== alg) continue;
      try {
        payload = (await jose().compactVerify(token, cand.key, { algorithms: algs as string[] })).payload;
        break;
      } catch { /* the next key may have signed it */ }
    }
    if (payload === null) return { result: 'ignore', error: `JWT signature does not verify (alg ${alg ?? 'none'}${kid !== undefined ? `, kid ${kid}` : ''})` };
    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(Buffer.from(payload).toString('utf8'));
      if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new Error('not an object');
    } catch {
      return { result: 'ignore', error: 'JWT payload is not a JSON object' };
    }
    const bad = checkClaims(claims, this.cfg, c.clientId, c.username, Date.now());
    if (bad !== null) {
      this.ctx.log.debug({ clientid: c.clientId, reason: bad }, 'JWT refused');
      return DENY;
    }
    const out: { result: 'allow'; isSuperuser: boolean; acl?: readonly AclRule[]; expireAt?: number } = {
      result: 'allow', isSuperuser: toBool(claims.is_superuser),
    };
    const aclClaim = claims[this.cfg.aclClaimName];
    if (aclClaim !== undefined) {
      const acl = aclFromClaim(aclClaim);
      if (!acl.ok) {
        this.ctx.log.debug({ clientid: c.clientId, reason: acl.error }, 'JWT refused: bad ACL claim');
        return DENY;
      }
      out.acl = acl.rules;
    }
    const exp = num(claims.exp);
    if (this.cfg.disconnectAfterExpire && exp !== undefined) out.expireAt = exp * 1000;
    return out;
  }

  async close(): Promise<void> {
    if ('jwks' in this.keys) await this.keys.jwks.close();
  }
}

/** EMQX reads `exp` and `nbf` given as numeric strings too. */
function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return undefined;
}

/** Why the claims are refused, or null. Seconds since the epoch, as JWT writes time. */
export function checkClaims(claims: Record<string, unknown>, cfg: Pick<JwtConfig, 'verifyClaims'>, clientId: string, username: string | null, nowMs: number): string | null {
  const now = Math.floor(nowMs / 1000);
  if (claims.exp !== undefined) {
    const exp = num(claims.exp);
    if (exp === undefined || !(now < exp)) return `expired (exp ${JSON.stringify(claims.exp)})`;
  }
  if (claims.nbf !== undefined) {
    const nbf = num(claims.nbf);
    if (nbf === undefined || !(nbf <= now)) return `not valid yet (nbf ${JSON.stringify(claims.nbf)})`;
  }
  for (const [name, template] of cfg.verifyClaims) {
    const expected = renderClaim(template, clientId, username);
    const got = claims[name];
    if (got === undefined) return `claim '${name}' missing`;
    if (name === 'aud') {
      // An audience may be one string or a list; an empty one never matches.
      const ok = typeof got === 'string' ? got !== '' && got === expected : Array.isArray(got) && got.includes(expected);
      if (!ok) return "claim 'aud' does not match";
    } else if (got !== expected) {
      return `claim '${name}' does not match`;
    }
  }
  return null;
}

/** EMQX's reading of `is_superuser`: true, 1 (or more), "true", "1"… */
export function toBool(v: unknown): boolean {
  if (v === true || v === 'true') return true;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 1;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v) >= 1;
  return false;
}

function jwksTls(s: Extract<JwtConfig['keys'], { kind: 'jwks' }>['ssl'], dir: string): JwksTls | undefined {
  if (!s.enable) return undefined;
  const file = (k: 'cacertfile' | 'certfile' | 'keyfile'): Buffer | undefined => {
    const f = s[k];
    if (f === undefined) return undefined;
    try { return readFileSync(resolve(dir, f)); } catch (err) { throw new Error(`jwt: 'ssl.${k}' ${f} cannot be read: ${(err as Error).message}`); }
  };
  return { verify: s.verify, ca: file('cacertfile'), cert: file('certfile'), key: file('keyfile'), servername: s.server_name_indication };
}
