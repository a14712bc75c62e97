/**
 * The user database interface an authenticator with its own users exposes as `users` (the
 * built-in database's password users, SCRAM's users): what the REST API
 * (/api/v5/authentication/{id}/users, /import_users) calls, whatever stores the rows.
 */

export interface UserRow { user_id: string; is_superuser: boolean }

/** EMQX's import report: `override` = existing users replaced, `skipped` = identical rows already there. */
export interface ImportResult { total: number; success: number; override: number; skipped: number; failed: number }

/** Thrown by UserDb methods; `code` is what the REST API answers with. */
export class UserDbError extends Error {
  readonly code: 'ALREADY_EXISTS' | 'NOT_FOUND' | 'BAD_REQUEST';
  constructor(code: UserDbError['code'], message: string) {
    super(message);
    this.name = 'UserDbError';
    this.code = code;
  }
}

export interface UserDb {
  /** Rejects with UserDbError('ALREADY_EXISTS') for a user id that exists. */
  add(u: { user_id: string; password: string; is_superuser?: boolean }): Promise<void>;
  /** Rejects with UserDbError('NOT_FOUND') for an unknown user id. */
  update(id: string, patch: { password?: string; is_superuser?: boolean }): Promise<void>;
  /** false = no such user. */
  delete(id: string): Promise<boolean>;
  get(id: string): UserRow | undefined;
  /** Users in user id order; `like_user_id` is a substring; `count` counts every match, not just the page. */
  list(opts: { page: number; limit: number; like_user_id?: string; is_superuser?: boolean }): { data: UserRow[]; count: number };
  /** EMQX's CSV or JSON user files; rejects with UserDbError('BAD_REQUEST') naming the line for a malformed file. */
  import(format: 'csv' | 'json', text: string, type: 'plain' | 'hash'): Promise<ImportResult>;
}

/** The `users` of an authenticator that has them (REST finds user databases this way). */
export function userDbOf(a: object): UserDb | undefined {
  const u = (a as { users?: unknown }).users;
  return typeof u === 'object' && u !== null && typeof (u as UserDb).list === 'function' ? u as UserDb : undefined;
}

/** One page of rows already filtered and sorted: the shared paging of `list`. */
export function pageOf(rows: readonly UserRow[], page: number, limit: number): UserRow[] {
  const start = (page - 1) * limit;
  return rows.slice(start, start + limit);
}
