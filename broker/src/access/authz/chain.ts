/**
 * The authorization chain, installed as the `client.authorize` hook (the Authorizer around it
 * adds the answer cache and lets superusers through). In order:
 *   1. the ACL the client brought with its authentication (a JWT `acl` claim, an HTTP answer);
 *   2. each enabled source, in the configured order.
 * `allow` or `deny` stops; `nomatch` asks the next; a source that throws or rejects is logged,
 * counted as `failed`, and skipped. Nothing decided → undefined, and the Authorizer applies
 * `authorization.no_match`.
 *
 * Sources answer synchronously when they can (file, built-in database); the first promise
 * turns the rest of the walk async. The source list is replaced, never edited in place, so a
 * walk in flight finishes on the list it started with.
 */
import type { AuthzRequest, AuthzResult } from '../../hooks.js';
import type { Logger } from '../../log.js';
import type { AccessContext, AuthzAnswer, AuthzSource } from '../types.js';
import { matchRules } from './acl-match.js';

export interface SourceMetrics { allow: number; deny: number; nomatch: number; failed: number }

export interface RunningSource {
  readonly type: string;
  readonly source: AuthzSource;
  readonly metrics: SourceMetrics;
}

/** A failing source logs at most one line per this interval (with how many it held back). */
const LOG_EVERY_MS = 5000;

export class AuthzChain {
  private list: readonly RunningSource[] = [];
  private readonly ctx: AccessContext;
  private readonly log: Logger;
  /** The client-brought ACL counts here (REST shows it as the source `client_acl`). */
  readonly clientAclMetrics: SourceMetrics = { allow: 0, deny: 0, nomatch: 0, failed: 0 };
  private readonly lastLog = new Map<string, { at: number; held: number }>();
  /** The hook callback (one function for every request). */
  readonly hook: (req: AuthzRequest) => AuthzResult | undefined | Promise<AuthzResult | undefined>;

  constructor(ctx: AccessContext) {
    this.ctx = ctx;
    this.log = ctx.log;
    this.hook = (req) => this.authorize(req);
  }

  get sources(): readonly RunningSource[] { return this.list; }
  set sources(list: readonly RunningSource[]) { this.list = list; }

  authorize(req: AuthzRequest): AuthzResult | undefined | Promise<AuthzResult | undefined> {
    const acl = this.ctx.clientAcl.get(req.client);
    if (acl !== undefined) {
      const m = this.clientAclMetrics;
      try {
        const r = matchRules(acl, req);
        m[r]++;
        if (r !== 'nomatch') { req.source = 'client_acl'; return r; }
      } catch (err) { m.failed++; this.failed('client_acl', err, req); }
    }
    return this.walk(this.list, 0, req);
  }

  private walk(list: readonly RunningSource[], from: number, req: AuthzRequest): AuthzResult | undefined | Promise<AuthzResult | undefined> {
    for (let i = from; i < list.length; i++) {
      const s = list[i];
      let r: AuthzAnswer | Promise<AuthzAnswer>;
      try { r = s.source.authorize(req); } catch (err) { s.metrics.failed++; this.failed(s.type, err, req); continue; }
      if (typeof r !== 'string') return this.walkAsync(list, i, r, req);
      s.metrics[r]++;
      if (r !== 'nomatch') { req.source = s.type; return r; }
    }
    return undefined;
  }

  private async walkAsync(list: readonly RunningSource[], at: number, pending: Promise<AuthzAnswer>, req: AuthzRequest): Promise<AuthzResult | undefined> {
    const s = list[at];
    let r: AuthzAnswer;
    try { r = await pending; } catch (err) { s.metrics.failed++; this.failed(s.type, err, req); return this.walk(list, at + 1, req); }
    if (r !== 'allow' && r !== 'deny' && r !== 'nomatch') { s.metrics.failed++; this.failed(s.type, new Error(`answered ${JSON.stringify(r)}`), req); return this.walk(list, at + 1, req); }
    s.metrics[r]++;
    if (r !== 'nomatch') { req.source = s.type; return r; }
    return this.walk(list, at + 1, req);
  }

  private failed(type: string, err: unknown, req: AuthzRequest): void {
    const now = Date.now();
    const last = this.lastLog.get(type);
    if (last !== undefined && now - last.at < LOG_EVERY_MS) { last.held++; return; }
    this.lastLog.set(type, { at: now, held: 0 });
    this.log.warn({
      source: type, err: (err as Error)?.message ?? String(err), clientid: req.client.clientId, action: req.action, topic: req.topic,
      ...(last !== undefined && last.held > 0 ? { suppressed: last.held } : {}),
    }, `authorization source '${type}' failed; asking the next source`);
  }
}
