/**
 * What Redis, PostgreSQL and MySQL authentication and authorization have in common once the
 * backend answered: a user record (password hash, salt, superuser flag) checked against the
 * CONNECT password, or ACL rows matched against one publish or subscribe.
 *
 * A backend that fails (unreachable, timed out, a bad answer) makes the authenticator answer
 * `ignore` and the source `nomatch`, so the chain goes on. Its log says so once per outage — the
 * first failure, and the first success after it — not once per client: a broker with 10,000
 * reconnecting devices would otherwise bury the one line that matters.
 */
import type { Logger } from '../../log.js';
import type { AuthRequest, AuthzRequest } from '../../hooks.js';
import type { AclRule, Authenticator, AuthnOutcome, AuthzAnswer, AuthzSource } from '../types.js';
import { checkPassword, type HashAlgorithm } from '../authn/password-hash.js';
import { matchRules } from '../authz/acl-match.js';
import { asText, toBool } from './config.js';
import { authnVars, authzVars, type Vars } from './template.js';

export function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return errorText(err.errors[0]);
  if (err instanceof Error) return (err as NodeJS.ErrnoException).code && !err.message.includes((err as NodeJS.ErrnoException).code!) ? `${(err as NodeJS.ErrnoException).code}: ${err.message}` : err.message || err.name;
  return String(err);
}

/** Logs a backend's outages: one line when it starts failing, one when it answers again. */
export class BackendHealth {
  private down = false;
  failures = 0;
  constructor(private readonly log: Logger, readonly what: string) {}

  failed(err: unknown): string {
    const msg = errorText(err);
    this.failures++;
    if (!this.down) {
      this.down = true;
      this.log.error({ backend: this.what, err: msg }, `${this.what}: backend failing (${msg}); its answers are ignore/nomatch until it is back`);
    }
    return msg;
  }

  ok(): void {
    if (!this.down) return;
    this.down = false;
    this.log.warn({ backend: this.what, failures: this.failures }, `${this.what}: backend answering again`);
  }

  get isDown(): boolean { return this.down; }
}

// ---------------------------------------------------------------- authentication

/** The user record found for a client (column or field name → value), or null: no such user. */
export type UserLookup = (vars: Vars) => Promise<Record<string, unknown> | null>;

export class PasswordAuthenticator implements Authenticator {
  readonly mechanism = 'password_based' as const;
  readonly id: string;
  constructor(
    readonly backend: string,
    private readonly algorithm: HashAlgorithm,
    private readonly lookup: UserLookup,
    private readonly health: BackendHealth,
    private readonly closeFn: () => Promise<void>,
  ) { this.id = `password_based:${backend}`; }

  async authenticate(req: AuthRequest): Promise<AuthnOutcome> {
    // Enhanced authentication (SCRAM) and password-less clients are for other authenticators.
    if (req.method !== null || req.password === null) return { result: 'ignore' };
    let found: Record<string, unknown> | null;
    try { found = await this.lookup(authnVars(req)); } catch (err) { return { result: 'ignore', error: this.health.failed(err) }; }
    this.health.ok();
    return checkUser(this.algorithm, found, req.password);
  }

  close(): Promise<void> { return (this.closing ??= this.closeFn()); }
  private closing: Promise<void> | undefined;
}

/** A found record against the CONNECT password, as EMQX: no hash column → not authorized. */
export async function checkUser(alg: HashAlgorithm, found: Record<string, unknown> | null, password: Buffer): Promise<AuthnOutcome> {
  if (found === null) return { result: 'ignore' };
  const row: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(found)) row[k.toLowerCase()] = v;
  const hash = asText(row.password_hash) ?? asText(row.password);
  if (hash === undefined) return { result: 'deny', reason: 'NOT_AUTHORIZED' };
  const ok = await checkPassword(alg, password, hash, asText(row.salt) ?? '');
  if (!ok) return { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' };
  return { result: 'allow', isSuperuser: toBool(row.is_superuser) };
}

// ---------------------------------------------------------------- authorization

/** This client's rules for this request (bad rows already reported and skipped). */
export type RulesLookup = (vars: Vars, req: AuthzRequest) => Promise<readonly AclRule[]>;

export class RulesSource implements AuthzSource {
  constructor(
    readonly type: string,
    private readonly lookup: RulesLookup,
    private readonly health: BackendHealth,
    private readonly closeFn: () => Promise<void>,
  ) {}

  async authorize(req: AuthzRequest): Promise<AuthzAnswer> {
    let rules: readonly AclRule[];
    try { rules = await this.lookup(authzVars(req), req); } catch (err) { this.health.failed(err); return 'nomatch'; }
    this.health.ok();
    if (rules.length === 0) return 'nomatch';
    // A rule the matcher cannot compile (a bad regex in a row) is the backend's bad answer.
    try { return matchRules(rules, req); } catch (err) { this.health.failed(err); return 'nomatch'; }
  }

  close(): Promise<void> { return (this.closing ??= this.closeFn()); }
  private closing: Promise<void> | undefined;
}
