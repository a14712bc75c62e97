/**
 * The REST API's own accounts: API keys made over REST, dashboard users and their tokens, and
 * the failed-login limiter. Keys from api_key.bootstrap_file are not here: the HTTP server
 * reads that file itself (auth.ts), and they keep working whether or not this exists.
 */
import type { SharedStore } from '../../access/shared-store.js';
import { ApiKeys } from './api-keys.js';
import { DashboardUsers } from './dashboard-users.js';
import { LoginLimiter, type LoginLimits } from './login-limiter.js';

export { ApiKeys, type ApiKeyView } from './api-keys.js';
export { DashboardUsers, weakPassword, type UserView } from './dashboard-users.js';
export { LoginLimiter } from './login-limiter.js';
export { ROLES, type Role, type Caller } from './roles.js';

export interface AccountsOptions {
  /** The node's store, or etcd shared by the cluster. */
  store: SharedStore;
  /** dashboard.token_expired_time. */
  tokenTtlMs: number;
  limits: LoginLimits;
  log: { warn(o: object, m?: string): void };
}

export class Accounts {
  readonly keys: ApiKeys;
  readonly users: DashboardUsers;
  readonly limiter: LoginLimiter;

  constructor(o: AccountsOptions) {
    this.keys = new ApiKeys(o.store);
    this.users = new DashboardUsers(o.store, o.tokenTtlMs, o.log);
    this.limiter = new LoginLimiter(o.limits);
  }
}
