/**
 * An HTTP service as an authentication backend (`password_based:http`) and an authorization
 * source (`http`), answering as EMQX 5 expects (http-request.ts builds the request):
 *
 *   authentication  204                    → allow (not a superuser)
 *                   200 {"result": "allow", "is_superuser": true, "acl": [rules…],
 *                        "expire_at": unix-seconds}  → allow, the rules kept for this client
 *                   200 {"result": "deny"}   → deny (not authorized)
 *                   200 {"result": "ignore"} or no result → ignore
 *                   any other status, a bad body, no answer → ignore, logged as a failure
 *   authorization   204 → allow; 200 {"result": allow | deny | ignore} → that (ignore = nomatch);
 *                   any other status → nomatch; a bad body or no answer → nomatch, logged
 *
 * A 200 body may be JSON or a form (`result=allow&is_superuser=true`). `acl` holds rules in
 * EMQX's raw format (rule-row.ts); one bad rule denies the client, as EMQX does.
 */
import type { AuthRequest, AuthzRequest } from '../../hooks.js';
import type { AclRule, Authenticator, AuthenticatorKind, AuthnOutcome, AuthzAnswer, AuthzSource, AuthzSourceKind, Parsed } from '../types.js';
import { Reader, toBool } from './config.js';
import { BackendHealth, errorText } from './lookup.js';
import { buildRequest, HttpClient, parseAnswer, parseHttpRequest, type HttpRequestConfig } from './http-request.js';
import { parseRuleRow } from './rule-row.js';
import { AUTHN_VARS, AUTHZ_VARS, authnVars, authzVars } from './template.js';

function parse(raw: Record<string, unknown>, where: string, vars: typeof AUTHN_VARS | typeof AUTHZ_VARS): Parsed<HttpRequestConfig> {
  const r = new Reader(raw, where);
  const req = parseHttpRequest(r, vars);
  if (r.error === null && req.https && req.ssl === null) r.fail('ssl', 'an https:// url needs ssl.enable: true (as EMQX requires)');
  return r.done(req);
}

function target(cfg: HttpRequestConfig): string {
  const u = cfg.url.parts.filter((p): p is string => typeof p === 'string').join('…');
  return u.replace(/\?.*$/, '');
}

/** `expire_at` (Unix seconds) as epoch ms; an error for a value in the past or in ms. */
function expireAt(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`'expire_at' is not an integer (Unix time in seconds): ${JSON.stringify(v)}`);
  const now = Math.floor(Date.now() / 1000);
  if (v < now) throw new Error(`'expire_at' ${v} is in the past`);
  if (v > now * 500) throw new Error(`'expire_at' ${v} does not look like Unix time in seconds`);
  return v * 1000;
}

class HttpAuthenticator implements Authenticator {
  readonly id = 'password_based:http';
  readonly mechanism = 'password_based' as const;
  readonly backend = 'http';
  private readonly client: HttpClient;
  constructor(private readonly cfg: HttpRequestConfig, private readonly health: BackendHealth, configDir: string) {
    this.client = new HttpClient(cfg, configDir);
  }

  async authenticate(req: AuthRequest): Promise<AuthnOutcome> {
    if (req.method !== null) return { result: 'ignore' };
    let built;
    // A value the request cannot carry is this client's problem, not the service's.
    try { built = buildRequest(this.cfg, authnVars(req)); } catch (err) { return { result: 'ignore', error: errorText(err) }; }
    let res;
    try { res = await this.client.send(built); } catch (err) { return { result: 'ignore', error: this.health.failed(err) }; }
    if (res.status === 204) { this.health.ok(); return { result: 'allow', isSuperuser: false }; }
    if (res.status !== 200) return { result: 'ignore', error: this.health.failed(new Error(`answered HTTP ${res.status}`)) };
    let body: Record<string, unknown>;
    try { body = parseAnswer(res); } catch (err) { return { result: 'ignore', error: this.health.failed(err) }; }
    this.health.ok();
    const result = body.result ?? 'ignore';
    if (result === 'deny') return { result: 'deny', reason: 'NOT_AUTHORIZED' };
    if (result === 'ignore') return { result: 'ignore' };
    if (result !== 'allow') return { result: 'ignore', error: this.health.failed(new Error(`unknown result ${JSON.stringify(result)}`)) };
    try {
      const out: { result: 'allow'; isSuperuser: boolean; acl?: AclRule[]; expireAt?: number } = { result: 'allow', isSuperuser: toBool(body.is_superuser) };
      const exp = expireAt(body.expire_at);
      if (exp !== undefined) out.expireAt = exp;
      if (body.acl !== undefined) out.acl = aclOf(body.acl);
      return out;
    } catch (err) {
      // The service allowed with a broken answer: refuse rather than let the client in unchecked.
      this.health.failed(err);
      return { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' };
    }
  }

  async close(): Promise<void> { this.client.close(); }
}

function aclOf(raw: unknown): AclRule[] {
  if (!Array.isArray(raw)) throw new Error(`'acl' is not a list of rules: ${JSON.stringify(raw)}`);
  return raw.map((x, i) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Error(`acl[${i}] is not a rule object`);
    const r = parseRuleRow(x as Record<string, unknown>);
    if (!r.ok) throw new Error(`acl[${i}]: ${r.error}`);
    return r.value;
  });
}

class HttpSource implements AuthzSource {
  readonly type = 'http';
  private readonly client: HttpClient;
  constructor(private readonly cfg: HttpRequestConfig, private readonly health: BackendHealth, configDir: string) {
    this.client = new HttpClient(cfg, configDir);
  }

  async authorize(req: AuthzRequest): Promise<AuthzAnswer> {
    let built;
    try { built = buildRequest(this.cfg, authzVars(req)); } catch { return 'nomatch'; }
    let res;
    try { res = await this.client.send(built); } catch (err) { this.health.failed(err); return 'nomatch'; }
    this.health.ok();
    if (res.status === 204) return 'allow';
    if (res.status !== 200) return 'nomatch';
    let body: Record<string, unknown>;
    try { body = parseAnswer(res); } catch (err) { this.health.failed(err); return 'nomatch'; }
    if (body.result === 'allow' || body.result === 'deny') return body.result;
    if (body.result !== 'ignore') this.health.failed(new Error(`unknown result ${JSON.stringify(body.result ?? null)}`));
    return 'nomatch';
  }

  async close(): Promise<void> { this.client.close(); }
}

export const httpAuthnKind: AuthenticatorKind<HttpRequestConfig> = {
  mechanism: 'password_based',
  backend: 'http',
  parse: (raw) => parse(raw, 'password_based:http', AUTHN_VARS),
  create: (cfg, ctx) => new HttpAuthenticator(cfg, new BackendHealth(ctx.log, `password_based:http ${target(cfg)}`), ctx.configDir),
};

export const httpAuthzKind: AuthzSourceKind<HttpRequestConfig> = {
  type: 'http',
  parse: (raw) => parse(raw, 'authorization.sources.http', AUTHZ_VARS),
  create: (cfg, ctx) => new HttpSource(cfg, new BackendHealth(ctx.log, `authorization http ${target(cfg)}`), ctx.configDir),
};

