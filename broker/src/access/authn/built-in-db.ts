/**
 * `password_based` + `built_in_database`: users and their password hashes kept in the node's
 * store (namespace `authn_users`) — in etcd on a cluster, shared by every node — as EMQX's
 * built-in database (Mnesia) keeps them.
 *
 *   authentication:
 *     - mechanism: password_based
 *       backend: built_in_database
 *       user_id_type: username            # or clientid
 *       password_hash_algorithm: {name: sha256, salt_position: prefix}
 *       bootstrap_file: users.csv         # EMQX's CSV or JSON user file, read at start
 *       bootstrap_type: plain             # or hash
 *
 * Answers as EMQX: no password, or an enhanced-auth (MQTT 5 AUTH) request, or an unknown
 * user → ignore (the next authenticator decides); a wrong password → deny
 * (BAD_USERNAME_OR_PASSWORD); the right one → allow with the user's is_superuser.
 *
 * Users are keyed per authenticator ("user group": the chain it sits in and its id), so a
 * listener's own chain has its own users. Reads come from an in-memory map loaded at create;
 * writes go to the map and the store together, and other nodes' writes come back into the map
 * (access/shared-store.ts), so a user added on one node logs in on every node. The bootstrap file adds users that do not
 * exist yet and never overwrites one (a restart keeps passwords changed through REST).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AuthRequest } from '../../hooks.js';
import type { AccessContext, Authenticator, AuthenticatorKind, AuthnOutcome, Parsed } from '../types.js';
import { checkPassword, hashPassword, parseHashAlgorithm, type HashAlgorithm } from './password-hash.js';
import { formatOfFile, parseUserFile, type FileUser, type PasswordType, type UserFileFormat } from './bootstrap.js';
import { pageOf, UserDbError, type ImportResult, type UserDb, type UserRow } from './user-db.js';
import { sharedOf, type SharedStore } from '../shared-store.js';

export const USERS_NAMESPACE = 'authn_users';

export interface BuiltInDbConfig {
  user_id_type: 'username' | 'clientid';
  password_hash_algorithm: HashAlgorithm;
  /** '' = none. */
  bootstrap_file: string;
  bootstrap_type: PasswordType;
}

/** The chain an authenticator is created for ('global', or a listener id): its users' group. */
export interface ChainScoped { chainName?: string }

interface StoredUser { password_hash: string; salt: string; is_superuser: boolean }

const KEYS = ['user_id_type', 'password_hash_algorithm', 'bootstrap_file', 'bootstrap_type'];

function parse(raw: Record<string, unknown>): Parsed<BuiltInDbConfig> {
  const extra = Object.keys(raw).filter((k) => !KEYS.includes(k));
  if (extra.length > 0) return { ok: false, error: `unknown key ${extra.map((k) => `'${k}'`).join(', ')} (allowed: ${KEYS.join(', ')})` };
  const type = raw.user_id_type ?? 'username';
  if (type !== 'username' && type !== 'clientid') return { ok: false, error: `user_id_type: expected username or clientid, got ${JSON.stringify(type)}` };
  const alg = parseHashAlgorithm(raw.password_hash_algorithm);
  if (!alg.ok) return alg;
  const file = raw.bootstrap_file ?? '';
  if (typeof file !== 'string') return { ok: false, error: `bootstrap_file: expected a file name, got ${JSON.stringify(file)}` };
  if (file !== '' && formatOfFile(file) === undefined) return { ok: false, error: `bootstrap_file: ${JSON.stringify(file)} must end in .csv or .json (EMQX picks the format by the extension)` };
  const btype = raw.bootstrap_type ?? 'plain';
  if (btype !== 'plain' && btype !== 'hash') return { ok: false, error: `bootstrap_type: expected plain or hash, got ${JSON.stringify(btype)}` };
  return { ok: true, value: { user_id_type: type, password_hash_algorithm: alg.value, bootstrap_file: file, bootstrap_type: btype } };
}

/** The users of one authenticator: an in-memory index over the store's rows. */
export class BuiltInUsers implements UserDb {
  private readonly ctx: AccessContext;
  private readonly shared: SharedStore;
  private readonly prefix: string;
  private readonly alg: HashAlgorithm;
  private readonly byId = new Map<string, StoredUser>();
  private readonly unwatch: () => void;

  constructor(ctx: AccessContext, group: string, alg: HashAlgorithm) {
    this.ctx = ctx;
    this.shared = sharedOf(ctx);
    this.prefix = `${group}\u0000`;
    this.alg = alg;
    for (const [key, value] of this.shared.scan(USERS_NAMESPACE, this.prefix)) this.apply(key, value);
    this.unwatch = this.shared.watch(USERS_NAMESPACE, (key, value) => { if (key.startsWith(this.prefix)) this.apply(key, value); });
  }

  /** A row as the store has it now (undefined: gone): loaded at create, or changed by another node. */
  private apply(key: string, value: unknown): void {
    const id = key.slice(this.prefix.length);
    if (value === undefined) { this.byId.delete(id); return; }
    const v = value as Partial<StoredUser> | null;
    if (v === null || typeof v !== 'object' || typeof v.password_hash !== 'string' || typeof v.salt !== 'string') {
      this.ctx.log.warn({ namespace: USERS_NAMESPACE, key }, 'built-in database: malformed user row skipped');
      return;
    }
    this.byId.set(id, { password_hash: v.password_hash, salt: v.salt, is_superuser: v.is_superuser === true });
  }

  /** Stops following other nodes' changes (the authenticator closed). */
  close(): void { this.unwatch(); }

  get size(): number { return this.byId.size; }

  /** The stored row, for authentication. */
  lookup(id: string): StoredUser | undefined { return this.byId.get(id); }

  /** In the map at once; resolves once stored (on a cluster: in etcd, else taken back and rejected). */
  private put(id: string, u: StoredUser): Promise<void> {
    this.byId.set(id, u);
    return this.shared.put(USERS_NAMESPACE, this.prefix + id, { ...u });
  }

  async add(u: { user_id: string; password: string; is_superuser?: boolean }): Promise<void> {
    if (this.byId.has(u.user_id)) throw new UserDbError('ALREADY_EXISTS', `user ${JSON.stringify(u.user_id)} already exists`);
    const h = await hashPassword(this.alg, u.password);
    // Created only if no node has it: another add (here, or on another node) may have won meanwhile.
    const row: StoredUser = { password_hash: h.password_hash, salt: h.salt, is_superuser: u.is_superuser === true };
    if (this.byId.has(u.user_id) || !(await this.shared.create(USERS_NAMESPACE, this.prefix + u.user_id, { ...row }))) {
      throw new UserDbError('ALREADY_EXISTS', `user ${JSON.stringify(u.user_id)} already exists`);
    }
    this.byId.set(u.user_id, row);
  }

  async update(id: string, patch: { password?: string; is_superuser?: boolean }): Promise<void> {
    if (!this.byId.has(id)) throw new UserDbError('NOT_FOUND', `no user ${JSON.stringify(id)}`);
    const h = patch.password !== undefined ? await hashPassword(this.alg, patch.password) : undefined;
    const cur = this.byId.get(id);
    if (cur === undefined) throw new UserDbError('NOT_FOUND', `no user ${JSON.stringify(id)}`);
    await this.put(id, {
      password_hash: h?.password_hash ?? cur.password_hash, salt: h?.salt ?? cur.salt,
      is_superuser: patch.is_superuser ?? cur.is_superuser,
    });
  }

  async delete(id: string): Promise<boolean> {
    if (!this.byId.delete(id)) return false;
    await this.shared.del(USERS_NAMESPACE, this.prefix + id);
    return true;
  }

  get(id: string): UserRow | undefined {
    const u = this.byId.get(id);
    return u === undefined ? undefined : { user_id: id, is_superuser: u.is_superuser };
  }

  list(opts: { page: number; limit: number; like_user_id?: string; is_superuser?: boolean }): { data: UserRow[]; count: number } {
    const rows: UserRow[] = [];
    for (const [id, u] of this.byId) {
      if (opts.like_user_id !== undefined && !id.includes(opts.like_user_id)) continue;
      if (opts.is_superuser !== undefined && u.is_superuser !== opts.is_superuser) continue;
      rows.push({ user_id: id, is_superuser: u.is_superuser });
    }
    rows.sort((a, b) => (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
    return { data: pageOf(rows, opts.page, opts.limit), count: rows.length };
  }

  async import(format: UserFileFormat, text: string, type: PasswordType): Promise<ImportResult> {
    const parsed = parseUserFile(format, text, type, `uploaded ${format.toUpperCase()}`);
    if (!parsed.ok) throw new UserDbError('BAD_REQUEST', parsed.error);
    return this.insertAll(parsed.value, true);
  }

  /**
   * Inserts users read from a file. `override`: an existing user is replaced (REST import);
   * otherwise it is left as it is and counted as skipped (bootstrap at start).
   */
  async insertAll(users: readonly FileUser[], override: boolean): Promise<ImportResult> {
    const r: ImportResult = { total: users.length, success: 0, override: 0, skipped: 0, failed: 0 };
    const todo = override ? users : users.filter((u) => !this.byId.has(u.user_id));
    r.skipped = users.length - todo.length;
    const rows = await hashAll(this.alg, todo);
    const writes: Array<[string, StoredUser]> = [];
    for (let i = 0; i < todo.length; i++) {
      const id = todo[i].user_id;
      const row = rows[i];
      const now = this.byId.get(id);
      // Added meanwhile (REST) during a bootstrap: still never overwritten.
      if (now !== undefined && !override) { r.skipped++; continue; }
      if (now !== undefined && now.password_hash === row.password_hash && now.salt === row.salt && now.is_superuser === row.is_superuser) { r.skipped++; continue; }
      this.byId.set(id, row);
      writes.push([this.prefix + id, { ...row }]);
      if (now === undefined) r.success++; else r.override++;
    }
    await this.shared.putAll(USERS_NAMESPACE, writes);
    return r;
  }
}

/** bcrypt and PBKDF2 run on libuv's pool (4 threads by default): hashing a file's passwords that many at a time. */
const HASH_PARALLEL = 4;

/** The stored rows for file users, in order: plain passwords hashed (a few at a time), hashes as given. */
async function hashAll(alg: HashAlgorithm, users: readonly FileUser[]): Promise<StoredUser[]> {
  const out = new Array<StoredUser>(users.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < users.length) {
      const i = next++;
      const u = users[i];
      if ('password' in u) {
        const h = await hashPassword(alg, u.password);
        out[i] = { password_hash: h.password_hash, salt: h.salt, is_superuser: u.is_superuser };
      } else {
        out[i] = { password_hash: u.password_hash, salt: u.salt, is_superuser: u.is_superuser };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(HASH_PARALLEL, users.length) }, worker));
  return out;
}

export class BuiltInDbAuthenticator implements Authenticator {
  readonly id = 'password_based:built_in_database';
  readonly mechanism = 'password_based' as const;
  readonly backend = 'built_in_database';
  readonly users: BuiltInUsers;
  /** Settles when the bootstrap file's users are in; rejects with an error naming the file and line. */
  readonly ready: Promise<void>;
  private readonly cfg: BuiltInDbConfig;

  constructor(cfg: BuiltInDbConfig, ctx: AccessContext & ChainScoped) {
    this.cfg = cfg;
    this.users = new BuiltInUsers(ctx, `${ctx.chainName ?? 'global'}/${this.id}`, cfg.password_hash_algorithm);
    this.ready = cfg.bootstrap_file === '' ? Promise.resolve() : this.bootstrap(ctx);
  }

  private async bootstrap(ctx: AccessContext): Promise<void> {
    const file = resolve(ctx.configDir, this.cfg.bootstrap_file);
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (err) {
      throw new Error(`authentication ${this.id}: bootstrap_file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    const parsed = parseUserFile(formatOfFile(file)!, text, this.cfg.bootstrap_type, file);
    if (!parsed.ok) throw new Error(`authentication ${this.id}: bootstrap_file ${parsed.error}`);
    const r = await this.users.insertAll(parsed.value, false);
    ctx.log.info({ authenticator: this.id, file, ...r }, 'built-in database: bootstrap users loaded');
  }

  authenticate(req: AuthRequest): AuthnOutcome | Promise<AuthnOutcome> {
    if (req.method !== null || req.password === null) return IGNORE;
    const id = this.cfg.user_id_type === 'username' ? req.client.username : req.client.clientId;
    if (id === null) return IGNORE;
    const u = this.users.lookup(id);
    if (u === undefined) return IGNORE;
    return checkPassword(this.cfg.password_hash_algorithm, req.password, u.password_hash, u.salt)
      .then((ok) => (ok ? { result: 'allow', isSuperuser: u.is_superuser } : BAD_PASSWORD));
  }

  async close(): Promise<void> { await this.ready.catch(() => {}); this.users.close(); }
}

const IGNORE: AuthnOutcome = Object.freeze({ result: 'ignore' });
const BAD_PASSWORD: AuthnOutcome = Object.freeze({ result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' });

export const builtInDbKind: AuthenticatorKind<BuiltInDbConfig> = {
  mechanism: 'password_based',
  backend: 'built_in_database',
  parse,
  create: (cfg, ctx) => new BuiltInDbAuthenticator(cfg, ctx),
};
