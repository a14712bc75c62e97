/**
 * The SCRAM authenticator's users in the node store (namespace `authn_scram_users`; in etcd on a
 * cluster, read from every node's copy in memory — access/shared-store.ts): never the
 * password, only what RFC 5802 lets a server keep — StoredKey = H(HMAC(SaltedPassword,
 * "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key"), the salt and the iteration
 * count — so a leaked store does not give away passwords or let anyone log in.
 *
 * Users are kept per authenticator ("user group": the chain it sits in and its id, as the
 * built-in password database keys them), so a listener's own chain has its own users.
 * `UserDb` (user-db.ts) is what the REST API `/api/v5/authentication/{id}/users` drives.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { SharedStore } from '../shared-store.js';
import { UserDbError, type ImportResult, type UserDb, type UserRow } from './user-db.js';

export { UserDbError, type UserDb, type UserRow } from './user-db.js';

const pbkdf2Async = promisify(pbkdf2);

export const SCRAM_USERS_NS = 'authn_scram_users';

export type ScramAlgorithm = 'sha256' | 'sha512';

/** What a user's record holds (binary fields base64, readable in a store dump). */
export interface ScramRecord {
  stored_key: string;
  server_key: string;
  salt: string;
  iteration_count: number;
  algorithm: ScramAlgorithm;
  is_superuser: boolean;
}

export interface ScramKeys { storedKey: Buffer; serverKey: Buffer }

const hashLen = (alg: ScramAlgorithm): number => (alg === 'sha256' ? 32 : 64);

/** SaltedPassword = Hi(password, salt, i), the PBKDF2 of RFC 5802 §2.2 (off the event loop). */
export async function saltedPassword(password: string, salt: Buffer, iterations: number, alg: ScramAlgorithm): Promise<Buffer> {
  // RFC 5802 asks for SASLprep; NFKC normalisation is its main effect on real passwords.
  return pbkdf2Async(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, hashLen(alg), alg);
}

export function keysFromSalted(salted: Buffer, alg: ScramAlgorithm): ScramKeys {
  const clientKey = createHmac(alg, salted).update('Client Key').digest();
  return {
    storedKey: createHash(alg).update(clientKey).digest(),
    serverKey: createHmac(alg, salted).update('Server Key').digest(),
  };
}

export class ScramUserDb implements UserDb {
  private readonly store: SharedStore;
  private readonly prefix: string;
  private readonly alg: ScramAlgorithm;
  private readonly iterations: number;

  constructor(store: SharedStore, group: string, alg: ScramAlgorithm, iterations: number) {
    this.store = store;
    this.prefix = `${group}\u0000`;
    this.alg = alg;
    this.iterations = iterations;
  }

  /** The stored record (for the authenticator); undefined for none, or a row that is not one. */
  record(id: string): ScramRecord | undefined {
    const v = this.store.get(SCRAM_USERS_NS, this.prefix + id) as Partial<ScramRecord> | undefined;
    if (v === undefined || v === null || typeof v !== 'object') return undefined;
    if (typeof v.stored_key !== 'string' || typeof v.server_key !== 'string' || typeof v.salt !== 'string' || typeof v.iteration_count !== 'number') return undefined;
    return v as ScramRecord;
  }

  async add(u: { user_id: string; password: string; is_superuser?: boolean }): Promise<void> {
    checkId(u.user_id);
    checkPassword(u.password);
    if (this.record(u.user_id) !== undefined) throw new UserDbError('ALREADY_EXISTS', `user ${JSON.stringify(u.user_id)} already exists`);
    const rec = await this.derive(u.password, u.is_superuser === true);
    // Created only if no node has it: another add (here, or on another node) may have won meanwhile.
    if (!(await this.store.create(SCRAM_USERS_NS, this.prefix + u.user_id, rec))) throw new UserDbError('ALREADY_EXISTS', `user ${JSON.stringify(u.user_id)} already exists`);
  }

  async update(id: string, patch: { password?: string; is_superuser?: boolean }): Promise<void> {
    const cur = this.record(id);
    if (cur === undefined) throw new UserDbError('NOT_FOUND', `no user ${JSON.stringify(id)}`);
    if (patch.is_superuser !== undefined && typeof patch.is_superuser !== 'boolean') throw new UserDbError('BAD_REQUEST', 'is_superuser must be true or false');
    let next: ScramRecord;
    if (patch.password !== undefined) {
      checkPassword(patch.password);
      next = await this.derive(patch.password, patch.is_superuser ?? cur.is_superuser);
    } else {
      next = { ...cur, is_superuser: patch.is_superuser ?? cur.is_superuser };
    }
    if (this.record(id) === undefined) throw new UserDbError('NOT_FOUND', `no user ${JSON.stringify(id)}`);
    await this.store.put(SCRAM_USERS_NS, this.prefix + id, next);
  }

  async delete(id: string): Promise<boolean> {
    if (this.record(id) === undefined) return false;
    await this.store.del(SCRAM_USERS_NS, this.prefix + id);
    return true;
  }

  get(id: string): UserRow | undefined {
    const r = this.record(id);
    return r === undefined ? undefined : { user_id: id, is_superuser: r.is_superuser };
  }

  list(opts: { page: number; limit: number; like_user_id?: string; is_superuser?: boolean }): { data: UserRow[]; count: number } {
    const page = Math.max(1, Math.floor(opts.page));
    const limit = Math.max(1, Math.floor(opts.limit));
    const skip = (page - 1) * limit;
    const data: UserRow[] = [];
    let count = 0;
    // The store scans in key order, so pages come in user id order without sorting.
    for (const [key, v] of this.store.scan(SCRAM_USERS_NS, this.prefix)) {
      const id = key.slice(this.prefix.length);
      const r = v as ScramRecord;
      if (opts.like_user_id !== undefined && !id.includes(opts.like_user_id)) continue;
      if (opts.is_superuser !== undefined && r.is_superuser !== opts.is_superuser) continue;
      if (count >= skip && data.length < limit) data.push({ user_id: id, is_superuser: r.is_superuser });
      count++;
    }
    return { data, count };
  }

  /** EMQX cannot import SCRAM users from a file either: the file formats carry password hashes SCRAM cannot use. */
  async import(): Promise<ImportResult> {
    throw new UserDbError('BAD_REQUEST', 'SCRAM users cannot be imported from a file (as in EMQX); add them one by one');
  }

  private async derive(password: string, isSuperuser: boolean): Promise<ScramRecord> {
    const salt = randomBytes(16);
    const keys = keysFromSalted(await saltedPassword(password, salt, this.iterations, this.alg), this.alg);
    return {
      stored_key: keys.storedKey.toString('base64'), server_key: keys.serverKey.toString('base64'), salt: salt.toString('base64'),
      iteration_count: this.iterations, algorithm: this.alg, is_superuser: isSuperuser,
    };
  }
}

function checkId(id: unknown): void {
  if (typeof id !== 'string' || id === '' || id.includes('\u0000')) throw new UserDbError('BAD_REQUEST', 'user_id must be a non-empty string without NUL');
}

function checkPassword(p: unknown): void {
  if (typeof p !== 'string' || p === '') throw new UserDbError('BAD_REQUEST', 'password must be a non-empty string');
}
