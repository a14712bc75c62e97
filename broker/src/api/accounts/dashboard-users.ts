/**
 * Dashboard users (EMQX's /api/v5/users, /login, /logout): a username, a bcrypt hash of the
 * password, a role and a description; and the bearer tokens a login hands out.
 *
 * Both live in the shared store, so on a cluster a user made on one node logs in on any node,
 * and a token from one node is good on all of them (a dashboard behind a load balancer).
 * Tokens are 32 random bytes; the store keeps their SHA-256 only (namespace
 * `dashboard_tokens`), with the owner, the role at login and the expiry. Expired tokens are
 * deleted when they are next presented and, all of them, at each login. Changing a user's
 * password, role or deleting the user revokes the user's tokens.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SharedStore } from '../../access/shared-store.js';
import { checkPassword, hashPassword } from '../../access/authn/password-hash.js';
import type { Role } from './roles.js';

const USERS = 'dashboard_users';
const TOKENS = 'dashboard_tokens';
const BCRYPT = { name: 'bcrypt', salt_rounds: 10 } as const;

interface StoredUser { username: string; password_hash: string; role: Role; description: string; created_at: number }
interface StoredToken { username: string; role: Role; expires_at: number }

export interface UserView { username: string; role: Role; description: string; backend: 'local' }

export type TokenCheck = { ok: true; username: string; role: Role } | { ok: false; why: 'unknown' | 'expired' };

type Log = { warn(o: object, m?: string): void };

/** EMQX's rule: 8 to 64 characters, of at least two kinds (letters, digits, others). null = acceptable. */
export function weakPassword(p: string): string | null {
  if (p.length < 8 || p.length > 64) return 'the password must be 8 to 64 characters long';
  const kinds = [/[A-Za-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(p)).length;
  return kinds < 2 ? 'the password must mix at least two of: letters, digits, other characters' : null;
}

export class DashboardUsers {
  private readonly store: SharedStore;
  private readonly tokenTtlMs: number;
  private readonly log: Log;
  /** A hash of a random password, checked when the username does not exist. */
  private dummy: Promise<string> | null = null;

  constructor(store: SharedStore, tokenTtlMs: number, log: Log) {
    this.store = store;
    this.tokenTtlMs = tokenTtlMs;
    this.log = log;
  }

  /** The first administrator, when no user exists yet and a password is configured; true = made here. */
  async ensureDefault(username: string, password: string): Promise<boolean> {
    if (password === '' || !this.store.scan(USERS)[Symbol.iterator]().next().done) return false;
    return this.store.create(USERS, username, await this.row(username, password, 'administrator', 'default administrator (dashboard.default_password)'));
  }

  list(): UserView[] { return [...this.store.scan(USERS)].map(([, v]) => view(v as StoredUser)); }

  get(username: string): UserView | null {
    const u = this.store.get(USERS, username) as StoredUser | undefined;
    return u === undefined ? null : view(u);
  }

  /** null = the user exists. */
  async create(username: string, password: string, role: Role, description: string): Promise<UserView | null> {
    if (this.store.get(USERS, username) !== undefined) return null;
    const row = await this.row(username, password, role, description);
    return await this.store.create(USERS, username, row) ? view(row) : null;
  }

  async update(username: string, f: { role?: Role; description?: string }): Promise<UserView | null> {
    const cur = this.store.get(USERS, username) as StoredUser | undefined;
    if (cur === undefined) return null;
    const next = { ...cur, ...(f.role !== undefined ? { role: f.role } : {}), ...(f.description !== undefined ? { description: f.description } : {}) };
    await this.store.put(USERS, username, next);
    if (next.role !== cur.role) await this.revoke(username);
    return view(next);
  }

  async delete(username: string): Promise<boolean> {
    if (this.store.get(USERS, username) === undefined) return false;
    await this.store.del(USERS, username);
    await this.revoke(username);
    return true;
  }

  /** How many administrators there are (the last one may not be deleted or demoted). */
  administrators(): number { return this.list().filter((u) => u.role === 'administrator').length; }

  /** null = no such user or a wrong password (the caller cannot tell which). */
  async verify(username: string, password: string): Promise<UserView | null> {
    const u = this.store.get(USERS, username) as StoredUser | undefined;
    if (u === undefined) {
      // As long as a real check, so the answer's timing does not tell which usernames exist.
      this.dummy ??= hashPassword(BCRYPT, randomBytes(16).toString('hex')).then((h) => h.password_hash);
      await checkPassword(BCRYPT, password, await this.dummy, '');
      return null;
    }
    return await checkPassword(BCRYPT, password, u.password_hash, '') ? view(u) : null;
  }

  async changePassword(username: string, newPassword: string): Promise<void> {
    const cur = this.store.get(USERS, username) as StoredUser;
    const { password_hash } = await hashPassword(BCRYPT, newPassword);
    await this.store.put(USERS, username, { ...cur, password_hash });
    await this.revoke(username);
  }

  /** A new token for a user who just proved their password. */
  async issue(u: UserView, now = Date.now()): Promise<string> {
    this.sweep(now);
    const token = randomBytes(32).toString('base64url');
    await this.store.put(TOKENS, tokenKey(token), { username: u.username, role: u.role, expires_at: now + this.tokenTtlMs } satisfies StoredToken);
    return token;
  }

  check(token: string, now = Date.now()): TokenCheck {
    const key = tokenKey(token);
    const t = this.store.get(TOKENS, key) as StoredToken | undefined;
    if (t === undefined) return { ok: false, why: 'unknown' };
    if (t.expires_at <= now) {
      this.store.del(TOKENS, key).catch((err: Error) => this.log.warn({ err: err.message }, 'expired dashboard token not deleted cluster-wide'));
      return { ok: false, why: 'expired' };
    }
    return { ok: true, username: t.username, role: t.role };
  }

  /** false = the token is not this user's (or no longer valid). */
  async logout(username: string, token: string): Promise<boolean> {
    const key = tokenKey(token);
    const t = this.store.get(TOKENS, key) as StoredToken | undefined;
    if (t === undefined || t.username !== username) return false;
    await this.store.del(TOKENS, key);
    return true;
  }

  private async revoke(username: string): Promise<void> {
    for (const [k, v] of [...this.store.scan(TOKENS)]) if ((v as StoredToken).username === username) await this.store.del(TOKENS, k);
  }

  private sweep(now: number): void {
    for (const [k, v] of [...this.store.scan(TOKENS)]) {
      if ((v as StoredToken).expires_at > now) continue;
      this.store.del(TOKENS, k).catch((err: Error) => this.log.warn({ err: err.message }, 'expired dashboard token not deleted cluster-wide'));
    }
  }

  private async row(username: string, password: string, role: Role, description: string): Promise<StoredUser> {
    const { password_hash } = await hashPassword(BCRYPT, password);
    return { username, password_hash, role, description, created_at: Date.now() };
  }
}

function tokenKey(token: string): string { return createHash('sha256').update(token).digest('hex'); }

function view(u: StoredUser): UserView { return { username: u.username, role: u.role, description: u.description, backend: 'local' }; }
