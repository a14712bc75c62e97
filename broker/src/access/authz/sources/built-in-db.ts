/**
 * The `built_in_database` source: rules kept in the node's store (namespace `authz_rules`; in
 * etcd on a cluster, every node reading its copy in memory — access/shared-store.ts) per username, per client id, and for all clients, managed through the REST API
 * (/api/v5/authorization/sources/built_in_database/rules/…). A check reads the client id's
 * rules, then the username's, then the rules for all, as EMQX does; the first match decides.
 *
 * Rows are stored in EMQX's REST shape (`{topic, permission, action, qos, retain}`) and
 * compiled once per entry; a write replaces the entry and its compiled form, here or on another
 * node (then `changed` tells the service, which empties the authorization caches).
 */
import type { AuthzRequest } from '../../../hooks.js';
import { sharedOf, type SharedStore } from '../../shared-store.js';
import type { AccessContext, AuthzAnswer, AuthzSource, AuthzSourceKind, Parsed } from '../../types.js';
import { compileRules, matchCompiled, type CompiledRule } from '../acl-match.js';
import { rowToRule, type BuiltInRow } from '../rule-input.js';

export interface BuiltInConfig { max_rules: number }

export type RulesKey = { kind: 'username' | 'clientid'; id: string } | { kind: 'all' };

const NS = 'authz_rules';
const storeKey = (k: RulesKey): string => (k.kind === 'all' ? 'all' : `${k.kind === 'username' ? 'u' : 'c'}:${k.id}`);

/** The rule table over the store, with a compiled copy of each entry read. */
export class BuiltInRules {
  private readonly store: SharedStore;
  private readonly compiled = new Map<string, readonly CompiledRule[]>();
  /** Called after another node changed an entry (its compiled form is dropped first). */
  changed: (() => void) | null = null;
  constructor(store: SharedStore) {
    this.store = store;
    store.watch(NS, (key) => { this.compiled.delete(key); this.changed?.(); });
  }

  get(k: RulesKey): BuiltInRow[] | null { return (this.store.get(NS, storeKey(k)) as BuiltInRow[] | undefined) ?? null; }

  /** Applies here at once; resolves once stored (on a cluster: in etcd). */
  set(k: RulesKey, rows: BuiltInRow[]): Promise<void> {
    const key = storeKey(k);
    this.compiled.delete(key);
    return rows.length === 0 && k.kind === 'all' ? this.store.del(NS, key) : this.store.put(NS, key, rows);
  }

  /** false (at once) when there were no rules; else resolves true once the deletion is stored. */
  async delete(k: RulesKey): Promise<boolean> {
    const key = storeKey(k);
    const had = this.store.get(NS, key) !== undefined;
    this.compiled.delete(key);
    if (had) await this.store.del(NS, key);
    return had;
  }

  /** Every username (or client id) with rules, in key order. */
  list(kind: 'username' | 'clientid'): Array<{ id: string; rules: BuiltInRow[] }> {
    const prefix = kind === 'username' ? 'u:' : 'c:';
    const out: Array<{ id: string; rules: BuiltInRow[] }> = [];
    for (const [key, rows] of this.store.scan(NS, prefix)) out.push({ id: key.slice(2), rules: rows as BuiltInRow[] });
    return out;
  }

  /** Compiled rules of one entry (empty when there are none). */
  rulesFor(key: string): readonly CompiledRule[] {
    let c = this.compiled.get(key);
    if (c === undefined) {
      const rows = this.store.get(NS, key) as BuiltInRow[] | undefined;
      c = rows === undefined ? [] : compileRules(rows.map(rowToRule));
      this.compiled.set(key, c);
    }
    return c;
  }
}

export class BuiltInSource implements AuthzSource {
  readonly type = 'built_in_database';
  private readonly rules: BuiltInRules;
  constructor(rules: BuiltInRules) { this.rules = rules; }

  authorize(req: AuthzRequest): AuthzAnswer {
    const c = req.client;
    let r = matchCompiled(this.rules.rulesFor(`c:${c.clientId}`), req);
    if (r === 'nomatch' && c.username !== null) r = matchCompiled(this.rules.rulesFor(`u:${c.username}`), req);
    if (r === 'nomatch') r = matchCompiled(this.rules.rulesFor('all'), req);
    return r;
  }

  async close(): Promise<void> {}
}

/** One table per store: the source and the REST API share it. */
const tables = new WeakMap<SharedStore, BuiltInRules>();
export function builtInRules(store: SharedStore): BuiltInRules {
  let t = tables.get(store);
  if (t === undefined) { t = new BuiltInRules(store); tables.set(store, t); }
  return t;
}

export const builtInAuthzKind: AuthzSourceKind<BuiltInConfig> = {
  type: 'built_in_database',
  parse(raw: Record<string, unknown>): Parsed<BuiltInConfig> {
    for (const k of Object.keys(raw)) {
      if (!['type', 'enable', 'max_rules'].includes(k)) return { ok: false, error: `unknown key '${k}' (built_in_database takes max_rules)` };
    }
    const m = raw.max_rules ?? 100;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 1) return { ok: false, error: 'max_rules must be a whole number ≥ 1' };
    return { ok: true, value: { max_rules: m } };
  },
  create(_cfg: BuiltInConfig, ctx: AccessContext): AuthzSource { return new BuiltInSource(builtInRules(sharedOf(ctx))); },
};
