/**
 * Authorization of one client action (publish to a topic, subscribe to a filter), asked of
 * the `client.authorize` hook chain: the first callback with an answer decides; no answer at
 * all is `no_match` (allow, as EMQX's default `authorization.no_match: allow`).
 *
 * The publish path calls this per message, so:
 * - no callback registered, or a superuser: 'allow' at once, nothing allocated;
 * - callbacks that answer synchronously: the answer, synchronously;
 * - a callback that answers with a promise (a database, an HTTP service): a promise, and the
 *   caller holds the client's later packets until it settles, so order is kept;
 * - answers are cached per client (EMQX's authorization cache: `max_size` entries per client,
 *   `ttl`), keyed by action, QoS, retain and topic; the whole cache is invalidated when a hook
 *   is added or removed, or when `invalidate()` is called (an ACL changed).
 */
import type { QoS } from '../types.js';
import type { AuthzRequest, AuthzResult, ClientInfo, Hooks, HookSignatures } from '../hooks.js';

export interface AuthorizerOptions {
  cache: { enable: boolean; maxSize: number; ttlMs: number };
  /** Answer when no callback decides. */
  noMatch: AuthzResult;
  /** What else a denied publish does: nothing (ignore, the default) or disconnect the client (v5: DISCONNECT 0x87). */
  denyAction?: 'ignore' | 'disconnect';
}

export interface AuthzCounters {
  'client.authorize': number;
  'authorization.allow': number;
  'authorization.deny': number;
  'authorization.cache_hit': number;
}

/** One client's cached answers: a small insertion-ordered map, oldest evicted first. */
class ClientCache {
  generation: number;
  readonly entries = new Map<string, { result: AuthzResult; until: number }>();
  /**
   * The last publish answered, compared field by field before any key is built: a device
   * publishes to the same topic with the same QoS over and over.
   */
  lastTopic: string | null = null;
  lastQos = 0;
  lastRetain = false;
  lastResult: AuthzResult = 'deny';
  lastUntil = 0;
  constructor(generation: number) { this.generation = generation; }
}

export class Authorizer {
  private readonly hooks: Hooks;
  private opts: AuthorizerOptions;
  private readonly counters: AuthzCounters;
  private readonly caches = new WeakMap<ClientInfo, ClientCache>();
  private generation = 0;
  private chainGeneration = -1;
  private chainList: ReadonlyArray<HookSignatures['client.authorize']> = [];

  constructor(hooks: Hooks, counters: AuthzCounters, opts: AuthorizerOptions) {
    this.hooks = hooks;
    this.counters = counters;
    this.opts = opts;
  }

  /** True when no callback can refuse anything: callers skip the check entirely. */
  get open(): boolean { return !this.hooks.active('client.authorize'); }

  get options(): Readonly<AuthorizerOptions> { return this.opts; }
  get denyAction(): 'ignore' | 'disconnect' { return this.opts.denyAction ?? 'ignore'; }

  /** New settings at run time (the REST API); cached answers are forgotten. */
  configure(opts: Partial<AuthorizerOptions>): void { this.opts = { ...this.opts, ...opts }; this.generation++; }

  /** Forgets every cached answer (an ACL source changed). */
  invalidate(): void { this.generation++; }

  /** Allowed or not; a promise only when a callback answered with one. */
  check(client: ClientInfo, action: 'publish' | 'subscribe', topic: string, qos: QoS, retain: boolean): AuthzResult | Promise<AuthzResult> {
    if (client.isSuperuser || !this.hooks.active('client.authorize')) return 'allow';
    const c = this.counters;
    c['client.authorize']++;
    const chain = this.chain(); // first: a changed hook list empties the cache
    const gen = this.generation;
    let cache: ClientCache | undefined;
    let key = '';
    const now = Date.now();
    if (this.opts.cache.enable) {
      cache = this.caches.get(client);
      if (cache === undefined || cache.generation !== gen) { cache = new ClientCache(gen); this.caches.set(client, cache); }
      if (action === 'publish' && cache.lastTopic === topic && cache.lastQos === qos && cache.lastRetain === retain && cache.lastUntil > now) {
        c['authorization.cache_hit']++;
        if (this.hooks.active('client.check_authz_complete')) this.hooks.run('client.check_authz_complete', client, action, topic, cache.lastResult, 'cache');
        return this.count(cache.lastResult);
      }
      key = (action === 'publish' ? 'p' : 's') + qos + (retain ? '1' : '0') + topic;
      const hit = cache.entries.get(key);
      if (hit !== undefined && hit.until > now) {
        c['authorization.cache_hit']++;
        if (this.hooks.active('client.check_authz_complete')) this.hooks.run('client.check_authz_complete', client, action, topic, hit.result, 'cache');
        if (action === 'publish') this.remember(cache, topic, qos, retain, hit.result, hit.until);
        return this.count(hit.result);
      }
    }
    const req: AuthzRequest = { client, action, topic, qos, retain, source: undefined };
    for (let i = 0; i < chain.length; i++) {
      let r: AuthzResult | undefined | Promise<AuthzResult | undefined>;
      try { r = chain[i](req); } catch (err) { this.hooks.failed('client.authorize', err); return this.store(cache, key, now, 'deny', req); }
      if (r === undefined) continue;
      if (typeof r === 'string') return this.store(cache, key, now, r, req);
      return this.finishAsync(r, chain, i + 1, req, cache, key);
    }
    return this.store(cache, key, now, this.opts.noMatch, req, false);
  }

  private async finishAsync(
    first: Promise<AuthzResult | undefined>, chain: ReadonlyArray<HookSignatures['client.authorize']>, next: number,
    req: Parameters<HookSignatures['client.authorize']>[0], cache: ClientCache | undefined, key: string,
  ): Promise<AuthzResult> {
    let r: AuthzResult | undefined;
    try { r = await first; } catch (err) { this.hooks.failed('client.authorize', err); return this.store(cache, key, Date.now(), 'deny', req); }
    for (let i = next; r === undefined && i < chain.length; i++) {
      try { r = await chain[i](req); } catch (err) { this.hooks.failed('client.authorize', err); return this.store(cache, key, Date.now(), 'deny', req); }
    }
    return this.store(cache, key, Date.now(), r ?? this.opts.noMatch, req, r !== undefined);
  }

  private store(cache: ClientCache | undefined, key: string, now: number, result: AuthzResult, req: AuthzRequest, decided = true): AuthzResult {
    if (this.hooks.active('client.check_authz_complete')) {
      // EMQX's authz_source: the deciding source's type; 'default' when none matched (no_match).
      const source = req.source ?? (decided ? 'unknown' : 'default');
      this.hooks.run('client.check_authz_complete', req.client, req.action, req.topic, result, source);
    }
    if (cache !== undefined) {
      const e = cache.entries;
      const until = now + this.opts.cache.ttlMs;
      e.delete(key);
      if (e.size >= this.opts.cache.maxSize) e.delete(e.keys().next().value as string);
      e.set(key, { result, until });
      if (req.action === 'publish') this.remember(cache, req.topic, req.qos, req.retain, result, until);
    }
    return this.count(result);
  }

  private remember(cache: ClientCache, topic: string, qos: number, retain: boolean, result: AuthzResult, until: number): void {
    cache.lastTopic = topic;
    cache.lastQos = qos;
    cache.lastRetain = retain;
    cache.lastResult = result;
    cache.lastUntil = until;
  }

  private count(result: AuthzResult): AuthzResult {
    if (result === 'allow') this.counters['authorization.allow']++; else this.counters['authorization.deny']++;
    return result;
  }

  private chain(): ReadonlyArray<HookSignatures['client.authorize']> {
    if (this.chainGeneration !== this.hooks.generation) {
      this.chainList = this.hooks.chain('client.authorize');
      this.chainGeneration = this.hooks.generation;
      this.generation++; // cached answers came from the old chain
    }
    return this.chainList;
  }
}
