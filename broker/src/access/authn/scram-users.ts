/**
 * The SCRAM authenticator's users in the node store (namespace `authn_scram_users`): never the
 * password, only what RFC 5802 lets a server keep — StoredKey = H(HMAC(SaltedPassword,
 * "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key"), the salt and the iteration
 * count — so a leaked store does not give away passwords or let anyone log in.
 *
 * `UserDb` is the interface the REST API `/api/v5/authentication/{id}/users` drives; the
 * built-in password authenticator exposes the same one.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Store } from '../../store/index.js';

const pbkdf2Async = promisify(pbkdf2);

export const SCRAM_USERS_NS = 'authn_scram_users';

export type ScramAlgorithm = 'sha256' | 'sha512';

export interface UserInfo { user_id: string; is_superuser: boolean }

export interface UserDb {
  /** Rejects with a UserDbError ALREADY_EXISTS when the user is there. */
  add(u: { user_id: string; password: string; is_superuser?: boolean }): Promise<void>;
  /** Rejects with a UserDbError NOT_FOUND when the user is not there. */
  update(id: string, patch: { password?: string; is_superuser?: boolean }): Promise<void>;
  /** False when there was no such user. */
  delete(id: string): Promise<boolean>;
  get(id: string): UserInfo | undefined;
  /** `page` counts from 1; `like_user_id` is a substring match, as EMQX's. */
  list(opts: { page: number; limit: number; like_user_id?: string; is_superuser?: boolean }): { data: UserInfo[]; count: number };
}

export type UserDbErrorCode = 'ALREADY_EXISTS' | 'NOT_FOUND' | 'BAD_REQUEST';

export class UserDbError extends Error {
  readonly code: UserDbErrorCode;
  constructor(code: UserDbErrorCode, message: string) {
    super(message);
    this.name = 'UserDbError';
    this.code = code;
  }
}

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
  private readonly store: Store;
  private readonly alg: ScramAlgorithm;
  private readonly iterations: number;

  constructor(store: Store, alg: ScramAlgorithm, iterations: number) {
    this.store = store;
    this.alg = alg;
    this.iterations = iterations;
  }

  /** The stored record (for the authenticator). */
  record(id: string): ScramRecord | undefined {
    return this.store.get(SCRAM_USERS_NS, id) as ScramRecord | undefined;
  }

  async add(u: { user_id: string; password: string; is_superuser?: boolean }): Promise<void> {
    checkId(u.user_id);
    checkPassword(u.password);
    if (this.record(u.user_id) !== undefined) throw new UserDbError('ALREADY_EXISTS', `user ${JSON.stringify(u.user_id)} already exists`);
    const rec = await this.derive(u.password, u.is_superuser === true);
    // Checked again: another add may have finished while the key was derived.
    if (this.record(u.user_id) !== undefined) throw new UserDbError('ALREADY_EXISTS', `user ${JSON.stringify(u.user_id)} already exists`);
    this.store.put(SCRAM_USERS_NS, u.user_id, rec);
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
    this.store.put(SCRAM_USERS_NS, id, next);
  }

  async delete(id: string): Promise<boolean> {
    if (this.record(id) === undefined) return false;
    this.store.del(SCRAM_USERS_NS, id);
    return true;
  }

  get(id: string): UserInfo | undefined {
    const r = this.record(id);
    return r === undefined ? undefined : { user_id: id, is_superuser: r.is_superuser };
  }

  list(opts: { page: number; limit: number; like_user_id?: string; is_superuser?: boolean }): { data: UserInfo[]; count: number } {
    const page = Math.max(1, Math.floor(opts.page));
    const limit = Math.max(1, Math.floor(opts.limit));
    const skip = (page - 1) * limit;
    const data: UserInfo[] = [];
    let count = 0;
    for (const [id, v] of this.store.scan(SCRAM_USERS_NS)) {
      const r = v as ScramRecord;
      if (opts.like_user_id !== undefined && !id.includes(opts.like_user_id)) continue;
      if (opts.is_superuser !== undefined && r.is_superuser !== opts.is_superuser) continue;
      if (count >= skip && data.length < limit) data.push({ user_id: id, is_superuser: r.is_superuser });
      count++;
    }
    return { data, count };
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
  if (typeof id !== 'string' || id === '') throw new UserDbError('BAD_REQUEST', 'user_id must be a non-empty string');
}

function checkPassword(p: unknown): void {
  if (typeof p !== 'string' || p === '') throw new UserDbError('BAD_REQUEST', 'password must be a non-empty string');
}
