/**
 * Authorization at run time: the configured sources, their running instances in the chain,
 * the settings (no_match, deny_action, cache), and every change the REST API makes to them.
 * A change applies at once: the chain gets a new list and every client's cached answers are
 * forgotten (Authorizer.configure/invalidate). Errors carry a `code` the routes map to HTTP:
 * NOT_FOUND, ALREADY_EXISTS, BAD_REQUEST.
 *
 * The sources and settings changed through REST are saved (namespace `authz_config`; etcd on a
 * cluster, where every node follows them) and used at the next start unless the configuration
 * file sets them — it wins, as emqx.conf wins over cluster.hocon since EMQX 5.1.
 */
import type { Authorizer, AuthorizerOptions } from '../authorizer.js';
import type { Hooks } from '../../hooks.js';
import type { AccessContext } from '../types.js';
import { parseDuration, formatDuration } from '../../config/units.js';
import { AuthzChain, type RunningSource, type SourceMetrics } from './chain.js';
import { authzKind, parseSource, type SourceConfig } from './registry.js';
import { builtInRules, type BuiltInConfig, type BuiltInRules, type RulesKey } from './sources/built-in-db.js';
import { rowFromJson, type BuiltInRow } from './rule-input.js';
import { sharedOf, type SharedStore } from '../shared-store.js';
import { parseSources } from './registry.js';

/** Where REST changes to the sources and settings are kept: keys `sources` (raw list) and `settings`. */
export const AUTHZ_CONFIG_NS = 'authz_config';

export type AuthzErrorCode = 'NOT_FOUND' | 'ALREADY_EXISTS' | 'BAD_REQUEST';
export class AuthzAdminError extends Error {
  readonly code: AuthzErrorCode;
  constructor(code: AuthzErrorCode, message: string) { super(message); this.name = 'AuthzAdminError'; this.code = code; }
}

export interface AuthzSettings {
  no_match: 'allow' | 'deny';
  deny_action: 'ignore' | 'disconnect';
  cache: { enable: boolean; max_size: number; ttl: string };
}

type SettingsBody = Partial<{ no_match: string; deny_action: string; cache: Partial<{ enable: boolean; max_size: number; ttl: string | number }> }>;

interface Slot { config: SourceConfig; running: RunningSource | null }

const zero = (): SourceMetrics => ({ allow: 0, deny: 0, nomatch: 0, failed: 0 });

export class AuthzService {
  readonly chain: AuthzChain;
  private slots: Slot[] = [];
  private readonly ctx: AccessContext;
  private readonly hooks: Hooks;
  private readonly authorizer: Authorizer;
  private readonly rules: BuiltInRules;
  private removeHook: (() => void) | null = null;
  private clientAclSeen: boolean;
  private readonly shared: SharedStore;
  /** What the configuration file sets (null: not set), to go back to when the saved copy goes. */
  private readonly fileSources: readonly SourceConfig[];
  private readonly fileSettings: AuthzSettings;
  private readonly unwatch: () => void;

  /**
   * Builds every enabled source; throws (naming the source) when one cannot start. `sources`
   * null: the file does not set them (the saved ones apply); `settingsFromFile`: the file sets
   * no_match, deny_action or cache (the saved settings are dropped).
   */
  constructor(ctx: AccessContext, hooks: Hooks, authorizer: Authorizer, sources: readonly SourceConfig[] | null, clientAclInUse: boolean, settingsFromFile = true) {
    this.ctx = ctx;
    this.hooks = hooks;
    this.authorizer = authorizer;
    this.chain = new AuthzChain(ctx);
    this.shared = sharedOf(ctx);
    this.rules = builtInRules(this.shared);
    this.rules.changed = () => this.authorizer.invalidate();
    this.clientAclSeen = clientAclInUse;
    this.fileSources = sources ?? [];
    this.fileSettings = this.getSettings();
    for (const c of this.startingSources(sources)) this.slots.push({ config: c, running: c.enable ? this.start(c) : null });
    this.startingSettings(settingsFromFile);
    this.apply();
    this.unwatch = this.shared.watch(AUTHZ_CONFIG_NS, (key, value) => this.remote(key, value));
  }

  /** The file's sources when it sets them (a saved list is dropped), else the saved list, else none. */
  private startingSources(fromFile: readonly SourceConfig[] | null): readonly SourceConfig[] {
    const saved = this.shared.get(AUTHZ_CONFIG_NS, 'sources');
    if (fromFile !== null) {
      if (saved !== undefined) {
        this.drop('sources');
        this.ctx.log.warn({ saved }, 'authorization: the configuration file sets the sources; the changes made to them through the REST API are discarded');
      }
      return fromFile;
    }
    if (saved === undefined) return [];
    const p = parseSources(saved);
    if (!p.ok) throw new Error(`authorization: the sources saved through the REST API (store namespace ${AUTHZ_CONFIG_NS}) are invalid: ${p.error}; set 'authorization.sources' in the configuration file to replace them`);
    this.ctx.log.info({ sources: p.value.map((c) => c.type) }, 'authorization: using the sources saved through the REST API');
    return p.value;
  }

  private startingSettings(fromFile: boolean): void {
    const saved = this.shared.get(AUTHZ_CONFIG_NS, 'settings');
    if (saved === undefined) return;
    if (fromFile) {
      this.drop('settings');
      this.ctx.log.warn({ saved }, 'authorization: the configuration file sets no_match, deny_action or cache; the settings changed through the REST API are discarded');
      return;
    }
    try { this.authorizer.configure(this.parseSettings(saved as SettingsBody)); } catch (err) {
      this.ctx.log.error({ err: (err as Error).message }, 'authorization: the settings saved through the REST API are invalid; the configuration file\'s apply');
    }
  }

  private drop(key: string): void {
    this.shared.del(AUTHZ_CONFIG_NS, key).catch((err: Error) => this.ctx.log.warn({ err: err.message }, `authorization: the saved ${key} could not be dropped`));
  }

  /** Another node changed the sources or settings (or dropped the saved copy: back to this node's file). */
  private remote(key: string, value: unknown): void {
    if (key === 'settings') {
      this.authorizer.configure(this.parseSettings((value ?? this.fileSettings) as SettingsBody));
      this.ctx.log.info({ settings: this.getSettings() }, 'authorization: settings changed on another node; applied here');
      return;
    }
    if (key !== 'sources') return;
    let configs = this.fileSources;
    if (value !== undefined) {
      const p = parseSources(value);
      if (!p.ok) { this.ctx.log.error({ err: p.error }, 'authorization: the sources another node saved are invalid here; this node keeps its sources'); return; }
      configs = p.value;
    }
    const old = this.slots;
    const same = (a: SourceConfig, b: SourceConfig): boolean => a.type === b.type && JSON.stringify(a.raw) === JSON.stringify(b.raw);
    const started: Slot[] = [];
    let next: Slot[];
    try {
      next = configs.map((c) => {
        const kept = old.find((s) => same(s.config, c));
        if (kept !== undefined) return kept;
        const s = { config: c, running: c.enable ? this.start(c) : null };
        started.push(s);
        return s;
      });
    } catch (err) {
      for (const s of started) AuthzService.close(s.running);
      this.ctx.log.error({ err: (err as Error).message }, 'authorization: the sources another node saved cannot start here; this node keeps its sources');
      return;
    }
    for (const s of old) if (!next.includes(s)) AuthzService.close(s.running);
    this.slots = next;
    this.apply();
    this.ctx.log.info({ sources: next.map((s) => s.config.type) }, 'authorization: sources changed on another node; applied here');
  }

  /** Saves the sources as they are now (after a REST change applied here). */
  private saveSources(): Promise<void> {
    return this.shared.put(AUTHZ_CONFIG_NS, 'sources', this.slots.map((s) => ({ ...s.config.raw })));
  }

  /** A client brought its own ACL: the hook must be there even with no source. */
  clientAclUsed(): void { if (!this.clientAclSeen) { this.clientAclSeen = true; this.apply(); } }

  private start(c: SourceConfig): RunningSource {
    const kind = authzKind(c.type)!;
    try { return { type: c.type, source: kind.create(c.cfg, this.ctx), metrics: zero() }; } catch (err) {
      throw new AuthzAdminError('BAD_REQUEST', `authorization source '${c.type}': ${(err as Error).message}`);
    }
  }

  /** New chain list; the hook is registered only while something can answer (an open broker pays nothing). */
  private apply(): void {
    const list = this.slots.flatMap((s) => (s.running !== null ? [s.running] : []));
    this.chain.sources = list;
    const want = list.length > 0 || this.clientAclSeen;
    if (want && this.removeHook === null) this.removeHook = this.hooks.add('client.authorize', this.chain.hook);
    else if (!want && this.removeHook !== null) { this.removeHook(); this.removeHook = null; }
    this.authorizer.invalidate();
  }

  private slot(type: string): Slot {
    const s = this.slots.find((x) => x.config.type === type);
    if (s === undefined) throw new AuthzAdminError('NOT_FOUND', `no authorization source of type '${type}'`);
    return s;
  }

  private parse(body: unknown, where: string): SourceConfig {
    const p = parseSource(body, where);
    if (!p.ok) throw new AuthzAdminError('BAD_REQUEST', p.error);
    return p.value;
  }

  private static close(r: RunningSource | null): void { if (r !== null) r.source.close().catch(() => {}); }

  // ---------------------------------------------------------------- sources

  listSources(): Array<Record<string, unknown>> { return this.slots.map((s) => ({ ...s.config.raw })); }
  getSource(type: string): Record<string, unknown> { return { ...this.slot(type).config.raw }; }

  async addSource(body: unknown): Promise<void> {
    const c = this.parse(body, 'source');
    if (this.slots.some((s) => s.config.type === c.type)) throw new AuthzAdminError('ALREADY_EXISTS', `a '${c.type}' source exists already (PUT /sources/${c.type} changes it)`);
    this.slots = [...this.slots, { config: c, running: c.enable ? this.start(c) : null }];
    this.apply();
    await this.saveSources();
  }

  async updateSource(type: string, body: unknown): Promise<void> {
    const old = this.slot(type);
    const c = this.parse({ ...(body as object), type }, type);
    const running = c.enable ? this.start(c) : null;
    this.slots = this.slots.map((s) => (s === old ? { config: c, running } : s));
    AuthzService.close(old.running);
    this.apply();
    await this.saveSources();
  }

  async deleteSource(type: string): Promise<void> {
    const old = this.slot(type);
    this.slots = this.slots.filter((s) => s !== old);
    AuthzService.close(old.running);
    this.apply();
    await this.saveSources();
  }

  /** position: front | rear | before:<type> | after:<type>. */
  async moveSource(type: string, position: string): Promise<void> {
    const s = this.slot(type);
    const rest = this.slots.filter((x) => x !== s);
    let at: number;
    if (position === 'front') at = 0;
    else if (position === 'rear') at = rest.length;
    else {
      const m = /^(before|after):(.+)$/.exec(position);
      if (m === null) throw new AuthzAdminError('BAD_REQUEST', `position must be front, rear, before:<type> or after:<type>, not '${position}'`);
      const i = rest.findIndex((x) => x.config.type === m[2]);
      if (i < 0) throw new AuthzAdminError('NOT_FOUND', `no authorization source of type '${m[2]}'`);
      at = m[1] === 'before' ? i : i + 1;
    }
    rest.splice(at, 0, s);
    this.slots = rest;
    this.apply();
    await this.saveSources();
  }

  status(type: string): { status: string; metrics: SourceMetrics & { total: number } } {
    const s = this.slot(type);
    const m = s.running?.metrics ?? zero();
    return { status: s.running !== null ? 'connected' : 'disabled', metrics: { ...m, total: m.allow + m.deny + m.nomatch + m.failed } };
  }

  /** Per-source counters, for metrics and the tests. */
  metrics(): Record<string, SourceMetrics> {
    const out: Record<string, SourceMetrics> = { client_acl: { ...this.chain.clientAclMetrics } };
    for (const s of this.slots) if (s.running !== null) out[s.config.type] = { ...s.running.metrics };
    return out;
  }

  // ---------------------------------------------------------------- settings

  getSettings(): AuthzSettings {
    const o = this.authorizer.options;
    return { no_match: o.noMatch, deny_action: this.authorizer.denyAction, cache: { enable: o.cache.enable, max_size: o.cache.maxSize, ttl: formatDuration(o.cache.ttlMs) } };
  }

  async putSettings(body: SettingsBody): Promise<void> {
    this.authorizer.configure(this.parseSettings(body));
    await this.shared.put(AUTHZ_CONFIG_NS, 'settings', this.getSettings());
  }

  /** The authorizer's options with `body` applied over the current ones; AuthzAdminError when a value is bad. */
  private parseSettings(body: SettingsBody): Partial<AuthorizerOptions> {
    const o = this.authorizer.options;
    const noMatch = body.no_match ?? o.noMatch;
    const denyAction = body.deny_action ?? this.authorizer.denyAction;
    if (noMatch !== 'allow' && noMatch !== 'deny') throw new AuthzAdminError('BAD_REQUEST', 'no_match must be allow or deny');
    if (denyAction !== 'ignore' && denyAction !== 'disconnect') throw new AuthzAdminError('BAD_REQUEST', 'deny_action must be ignore or disconnect');
    const cache = { ...o.cache };
    if (body.cache?.enable !== undefined) cache.enable = body.cache.enable;
    if (body.cache?.max_size !== undefined) cache.maxSize = body.cache.max_size;
    if (body.cache?.ttl !== undefined) {
      const d = parseDuration(body.cache.ttl, false);
      if (!d.ok) throw new AuthzAdminError('BAD_REQUEST', `cache.ttl: ${d.error}`);
      cache.ttlMs = d.value;
    }
    return { noMatch, denyAction, cache };
  }

  // ---------------------------------------------------------------- built-in rules

  private maxRules(): number {
    const s = this.slots.find((x) => x.config.type === 'built_in_database');
    if (s === undefined) throw new AuthzAdminError('NOT_FOUND', 'no built_in_database authorization source is configured');
    return (s.config.cfg as BuiltInConfig).max_rules;
  }

  private rows(raw: unknown, where: string): BuiltInRow[] {
    if (!Array.isArray(raw)) throw new AuthzAdminError('BAD_REQUEST', `${where}: rules must be a list`);
    const max = this.maxRules();
    if (raw.length > max) throw new AuthzAdminError('BAD_REQUEST', `${where}: ${raw.length} rules, more than max_rules (${max})`);
    try { return raw.map((r, i) => rowFromJson(r, `${where}.rules[${i}]`)); } catch (err) { throw new AuthzAdminError('BAD_REQUEST', (err as Error).message); }
  }

  listRules(kind: 'username' | 'clientid'): Array<Record<string, unknown>> {
    this.maxRules();
    return this.rules.list(kind).map((e) => ({ [kind]: e.id, rules: e.rules }));
  }

  getRules(k: RulesKey): Record<string, unknown> {
    this.maxRules();
    const rows = this.rules.get(k);
    if (rows === null && k.kind !== 'all') throw new AuthzAdminError('NOT_FOUND', `no rules for ${k.kind} '${k.id}'`);
    return k.kind === 'all' ? { rules: rows ?? [] } : { [k.kind]: k.id, rules: rows };
  }

  /** POST of a list: every entry is checked before any is written. */
  async addRules(kind: 'username' | 'clientid', body: unknown): Promise<void> {
    if (!Array.isArray(body)) throw new AuthzAdminError('BAD_REQUEST', `a list of {${kind}, rules} is required`);
    const writes = body.map((e, i) => {
      const id = (e as Record<string, unknown> | null)?.[kind];
      if (typeof id !== 'string' || id === '') throw new AuthzAdminError('BAD_REQUEST', `[${i}].${kind}: required`);
      if (this.rules.get({ kind, id }) !== null) throw new AuthzAdminError('ALREADY_EXISTS', `rules for ${kind} '${id}' exist already (PUT changes them)`);
      return { id, rows: this.rows((e as Record<string, unknown>).rules, `[${i}]`) };
    });
    const stored = Promise.all(writes.map((w) => this.rules.set({ kind, id: w.id }, w.rows)));
    this.authorizer.invalidate();
    await stored;
  }

  async setRules(k: RulesKey, raw: unknown): Promise<void> {
    const rows = this.rows(raw, k.kind === 'all' ? 'all' : k.id);
    if (k.kind !== 'all' && this.rules.get(k) === null) throw new AuthzAdminError('NOT_FOUND', `no rules for ${k.kind} '${k.id}'`);
    const stored = this.rules.set(k, rows);
    this.authorizer.invalidate();
    await stored;
  }

  async deleteRules(k: RulesKey): Promise<void> {
    this.maxRules();
    const deleted = this.rules.delete(k);
    this.authorizer.invalidate();
    if (!(await deleted) && k.kind !== 'all') throw new AuthzAdminError('NOT_FOUND', `no rules for ${k.kind} '${k.id}'`);
  }

  async close(): Promise<void> {
    this.unwatch();
    this.rules.changed = null;
    if (this.removeHook !== null) { this.removeHook(); this.removeHook = null; }
    const running = this.slots.flatMap((s) => (s.running !== null ? [s.running] : []));
    this.slots = [];
    this.chain.sources = [];
    await Promise.allSettled(running.map((r) => r.source.close()));
  }
}
