/**
 * Authorization (EMQX's `authorization:`): the chain of sources behind the `client.authorize`
 * hook, the `file` and `built_in_database` sources, the ACL matcher every source uses, and the
 * run-time service the REST API drives. `installAuthz` is what a node calls at start.
 */
import type { Hooks } from '../../hooks.js';
import type { Authorizer } from '../authorizer.js';
import type { AccessContext, AclRule } from '../types.js';
import type { ClientInfo } from '../../hooks.js';
import { AuthzService } from './service.js';
import type { SourceConfig } from './registry.js';
import { loadConfig, type Config } from '../../config/index.js';

export { matchRules, compileRules, matchCompiled, AclError } from './acl-match.js';
export { parseAclConf, AclConfError } from './acl-conf.js';
export { AUTHZ_SOURCE_KINDS, parseSources, type SourceConfig } from './registry.js';
export { AuthzService, AuthzAdminError, type AuthzSettings } from './service.js';
export type { SourceMetrics } from './chain.js';

/**
 * The map of ACLs clients brought at authentication (AccessContext.clientAcl). It tells the
 * authorization service when the first one arrives, so a broker without sources registers no
 * hook (and pays nothing per publish) until a client's own ACL needs checking.
 */
export class ClientAclMap extends WeakMap<ClientInfo, readonly AclRule[]> {
  onFirstSet: (() => void) | null = null;
  override set(k: ClientInfo, v: readonly AclRule[]): this {
    super.set(k, v);
    if (this.onFirstSet !== null) { const f = this.onFirstSet; this.onFirstSet = null; f(); }
    return this;
  }
}

/**
 * Starts every enabled source of `authorization.sources` and plugs the chain into the hooks.
 * Throws (naming the source) when one cannot start — an unreadable acl.conf stops the node.
 * When ctx.clientAcl is a plain WeakMap the hook is registered at once (a client's ACL may
 * arrive any time); a ClientAclMap defers it until the first one does.
 */
export function installAuthz(parts: {
  ctx: AccessContext; hooks: Hooks; authorizer: Authorizer;
  /** null: the file does not set them (those saved through REST apply). */
  sources: readonly SourceConfig[] | null;
  /** The file sets no_match, deny_action or cache (default true: settings saved through REST are dropped). */
  settingsFromFile?: boolean;
}): AuthzService {
  const map = parts.ctx.clientAcl;
  const lazy = map instanceof ClientAclMap;
  const svc = new AuthzService(parts.ctx, parts.hooks, parts.authorizer, parts.sources, !lazy, parts.settingsFromFile ?? true);
  if (lazy) map.onFirstSet = () => svc.clientAclUsed();
  return svc;
}

/**
 * Whether the configuration sets no_match, deny_action or cache: the schema fills them in, so a
 * value other than the default is what says so (then it wins over settings saved through REST).
 */
export function authzSettingsSet(a: Pick<Config['authorization'], 'no_match' | 'deny_action' | 'cache'>): boolean {
  const d = loadConfig().authorization;
  return a.no_match !== d.no_match || a.deny_action !== d.deny_action
    || a.cache.enable !== d.cache.enable || a.cache.max_size !== d.cache.max_size || a.cache.ttl !== d.cache.ttl;
}
