/**
 * API keys made over REST (EMQX's /api/v5/api_key): a name, a generated key and secret, an
 * expiry, an enable flag and a role. The secret is shown once, in the answer to the POST; the
 * store keeps a salted SHA-256 of it. A slow hash (bcrypt) would cost every API request tens of
 * milliseconds, and buys nothing here: the secret is 32 random bytes, not a password a person
 * chose, so there is no dictionary to slow down.
 *
 * Rows live in the shared store (namespace `api_keys`, keyed by name), so a key made on one
 * node of a cluster works on every node. Requests look keys up by `api_key`; that index is
 * rebuilt from the store whenever a row changes here or on another node.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SharedStore } from '../../access/shared-store.js';
import type { Role } from './roles.js';

const NS = 'api_keys';

interface StoredKey {
  name: string;
  api_key: string;
  salt: string;
  secret_hash: string;
  /** ms since the epoch; null = never. */
  expired_at: number | null;
  created_at: number;
  desc: string;
  enable: boolean;
  role: Role;
}

/** A key as the API shows it: never the secret, nor its hash. */
export interface ApiKeyView {
  name: string;
  api_key: string;
  /** RFC 3339, or "infinity". */
  expired_at: string;
  created_at: string;
  desc: string;
  enable: boolean;
  /** Past its expiry now. */
  expired: boolean;
  role: Role;
}

export interface ApiKeyFields { expired_at?: string; desc?: string; enable?: boolean; role?: Role }

/** `disabled` and `expired` only once the secret was right: a guesser learns nothing of the key. */
export type KeyCheck =
  | { ok: true; name: string; role: Role }
  | { ok: false; why: 'unknown' | 'secret' }
  | { ok: false; why: 'disabled' | 'expired'; name: string };

export class ApiKeys {
  private readonly store: SharedStore;
  private byKey = new Map<string, StoredKey>();

  constructor(store: SharedStore) {
    this.store = store;
    this.reindex();
    store.watch(NS, () => this.reindex());
  }

  /** How many keys exist (any state): with none, loopback callers need no credentials. */
  get size(): number { return this.byKey.size; }

  list(now = Date.now()): ApiKeyView[] {
    return [...this.store.scan(NS)].map(([, v]) => view(v as StoredKey, now));
  }

  get(name: string, now = Date.now()): ApiKeyView | null {
    const s = this.store.get(NS, name) as StoredKey | undefined;
    return s === undefined ? null : view(s, now);
  }

  /** null = a key of this name exists (on any node). Throws on a bad `expired_at`. */
  async create(name: string, f: ApiKeyFields): Promise<{ key: ApiKeyView; api_secret: string } | null> {
    const secret = randomBytes(32).toString('base64url');
    const salt = randomBytes(16).toString('hex');
    const row: StoredKey = {
      name, api_key: randomBytes(8).toString('hex'), salt, secret_hash: digest(salt, secret),
      expired_at: parseExpiry(f.expired_at), created_at: Date.now(), desc: f.desc ?? '', enable: f.enable ?? true, role: f.role ?? 'administrator',
    };
    const made = await this.store.create(NS, name, row);
    this.reindex();
    return made ? { key: view(row, Date.now()), api_secret: secret } : null;
  }

  /** The fields given replace the key's; null = no such key. */
  async update(name: string, f: ApiKeyFields): Promise<ApiKeyView | null> {
    const cur = this.store.get(NS, name) as StoredKey | undefined;
    if (cur === undefined) return null;
    const next: StoredKey = {
      ...cur,
      ...(f.expired_at !== undefined ? { expired_at: parseExpiry(f.expired_at) } : {}),
      ...(f.desc !== undefined ? { desc: f.desc } : {}),
      ...(f.enable !== undefined ? { enable: f.enable } : {}),
      ...(f.role !== undefined ? { role: f.role } : {}),
    };
    await this.store.put(NS, name, next);
    this.reindex();
    return view(next, Date.now());
  }

  async delete(name: string): Promise<boolean> {
    if (this.store.get(NS, name) === undefined) return false;
    await this.store.del(NS, name);
    this.reindex();
    return true;
  }

  check(apiKey: string, secret: string, now = Date.now()): KeyCheck {
    const s = this.byKey.get(apiKey);
    if (s === undefined) return { ok: false, why: 'unknown' };
    const a = Buffer.from(s.secret_hash, 'hex');
    const b = Buffer.from(digest(s.salt, secret), 'hex');
    if (!timingSafeEqual(a, b)) return { ok: false, why: 'secret' };
    if (!s.enable) return { ok: false, why: 'disabled', name: s.name };
    if (s.expired_at !== null && s.expired_at <= now) return { ok: false, why: 'expired', name: s.name };
    return { ok: true, name: s.name, role: s.role };
  }

  private reindex(): void {
    const m = new Map<string, StoredKey>();
    for (const [, v] of this.store.scan(NS)) { const s = v as StoredKey; m.set(s.api_key, s); }
    this.byKey = m;
  }
}

function digest(salt: string, secret: string): string {
  return createHash('sha256').update(salt).update(secret).digest('hex');
}

/** "infinity" or absent → never; else an RFC 3339 time. */
export function parseExpiry(s: string | undefined): number | null {
  if (s === undefined || s === 'infinity') return null;
  const t = Date.parse(s);
  if (!Number.isFinite(t) || !/^\d{4}-\d\d-\d\dT/.test(s)) throw Object.assign(new Error(`expired_at '${s}' is not an RFC 3339 time or "infinity"`), { code: 'BAD_EXPIRY' });
  return t;
}

function view(s: StoredKey, now: number): ApiKeyView {
  return {
    name: s.name, api_key: s.api_key,
    expired_at: s.expired_at === null ? 'infinity' : new Date(s.expired_at).toISOString(),
    created_at: new Date(s.created_at).toISOString(),
    desc: s.desc, enable: s.enable, expired: s.expired_at !== null && s.expired_at <= now, role: s.role,
  };
}
