/**
 * A JSON Web Key Set fetched from an identity provider (`endpoint`), kept in memory and
 * refreshed every `refresh_interval`, so a provider can rotate its signing keys:
 *
 * - a token whose `kid` is not in the set triggers one fetch at once (the provider published a
 *   new key before the next scheduled refresh). On-demand fetches are rate-limited
 *   (`minRefetchMs`) and shared by concurrent connects, so tokens with made-up kids cannot turn
 *   the broker into a load generator against the provider;
 * - a failed fetch keeps the last good set until `max_fail_count` failures in a row (a
 *   provider blip does not lock every device out), then drops it;
 * - failures are logged once per failure period (the first failure, then one line when the
 *   endpoint answers again), not once per connect.
 *
 * The refresh timer is unref'd (it never keeps the process alive) and close() clears it and
 * aborts a fetch in flight.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../../log.js';

export interface JwksTls {
  /** Verify the server certificate (EMQX `verify: verify_peer`, the default). */
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
}

export interface JwksOptions {
  endpoint: string;
  refreshIntervalMs: number;
  headers: Readonly<Record<string, string>>;
  maxFailCount: number;
  /** Per-request timeout (EMQX uses 5 s). */
  timeoutMs?: number;
  /** Least time between two fetches triggered by unknown kids. */
  minRefetchMs?: number;
  /** Largest response accepted. */
  maxBytes?: number;
  tls?: JwksTls;
  log: Logger;
}

export interface Jwk {
  kid: string | undefined;
  alg: string | undefined;
  key: KeyObject;
}

export type KeyLookup = { ok: true; keys: readonly Jwk[] } | { ok: false; error: string };

export class JwksClient {
  private readonly opts: Required<Omit<JwksOptions, 'tls'>> & { tls: JwksTls | undefined };
  private keys: readonly Jwk[] | null = null;
  private failures = 0;
  private lastError = '';
  private inFlight: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private lastOnDemand = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Fetches started (the tests read it to see rate limiting at work). */
  fetches = 0;

  constructor(opts: JwksOptions) {
    this.opts = {
      timeoutMs: 5000, minRefetchMs: 10_000, maxBytes: 1024 * 1024, tls: undefined, ...opts,
    };
  }

  /** First fetch now, then every refresh interval. */
  start(): void {
    void this.refresh();
    this.timer = setInterval(() => { void this.refresh(); }, this.opts.refreshIntervalMs);
    this.timer.unref();
  }

  /**
   * Keys that may have signed a token with this `kid`: the key with that kid, or every key
   * when the token names none. An unknown kid fetches the set again (rate-limited) first.
   */
  async lookup(kid: string | undefined): Promise<KeyLookup> {
    if (this.inFlight) await this.inFlight;
    let found = this.match(kid);
    if (found.length === 0 && Date.now() - this.lastOnDemand >= this.opts.minRefetchMs && !this.closed) {
      this.lastOnDemand = Date.now();
      await this.refresh();
      found = this.match(kid);
    }
    if (this.keys === null) return { ok: false, error: `JWKS endpoint ${this.opts.endpoint} unavailable: ${this.lastError || 'not fetched yet'}` };
    // A set whose keys carry no kid still verifies tokens that name one (EMQX tries every key).
    if (found.length === 0) found = this.keys.filter((k) => k.kid === undefined);
    if (found.length === 0) return { ok: false, error: `no key with kid ${JSON.stringify(kid)} in the JWKS of ${this.opts.endpoint}` };
    return { ok: true, keys: found };
  }

  private match(kid: string | undefined): readonly Jwk[] {
    if (this.keys === null) return [];
    return kid === undefined ? this.keys : this.keys.filter((k) => k.kid === kid);
  }

  /** One fetch at a time: callers arriving while one runs share it. */
  refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.inFlight === null) this.inFlight = this.fetchOnce().finally(() => { this.inFlight = null; });
    return this.inFlight;
  }

  private async fetchOnce(): Promise<void> {
    this.fetches++;
    const abort = new AbortController();
    this.abort = abort;
    try {
      const body = await this.get(abort.signal);
      const keys = parseJwks(body);
      if (this.closed) return;
      if (this.failures > 0) this.opts.log.info({ endpoint: this.opts.endpoint, keys: keys.length }, 'JWKS endpoint answers again');
      this.keys = keys;
      this.failures = 0;
      this.lastError = '';
    } catch (err) {
      if (this.closed) return;
      this.lastError = (err as Error).message;
      this.failures++;
      if (this.failures === 1) {
        this.opts.log.warn({ endpoint: this.opts.endpoint, err: this.lastError }, 'JWKS fetch failed; keeping the last key set until it answers (logged once until then)');
      }
      if (this.failures >= this.opts.maxFailCount) this.keys = null;
    } finally {
      if (this.abort === abort) this.abort = null;
    }
  }

  private get(signal: AbortSignal): Promise<string> {
    const o = this.opts;
    const url = new URL(o.endpoint);
    const tls = o.tls;
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, {
        method: 'GET', headers: { ...o.headers }, signal, timeout: o.timeoutMs,
        ...(url.protocol === 'https:' && tls ? { rejectUnauthorized: tls.verify, ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.servername } : {}),
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > o.maxBytes) { req.destroy(new Error(`response larger than ${o.maxBytes} bytes`)); return; }
          chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) { reject(new Error(`HTTP ${res.statusCode}`)); return; }
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
        res.on('error', reject);
      });
      // The whole request, not only an idle socket, is bounded by the timeout.
      const t = setTimeout(() => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
      t.unref();
      req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
      req.on('error', (e) => { clearTimeout(t); reject(e); });
      req.on('close', () => clearTimeout(t));
      req.end();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort?.abort();
    await this.inFlight?.catch(() => {});
  }
}

/** A JWKS document → its signature keys. Keys marked for encryption or that do not import are skipped. */
export function parseJwks(body: string): Jwk[] {
  let doc: unknown;
  try { doc = JSON.parse(body); } catch { throw new Error('response is not JSON'); }
  const list = (doc as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) throw new Error("response has no 'keys' list");
  const out: Jwk[] = [];
  let bad = 0;
  for (const jwk of list) {
    if (jwk === null || typeof jwk !== 'object' || (jwk as { use?: unknown }).use === 'enc') continue;
    const j = jwk as { kid?: unknown; alg?: unknown; kty?: unknown };
    try {
      // Symmetric keys in a public key set would let anyone who reads the set sign tokens.
      if (j.kty === 'oct') throw new Error('symmetric key');
      const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
      out.push({ kid: typeof j.kid === 'string' ? j.kid : undefined, alg: typeof j.alg === 'string' ? j.alg : undefined, key });
    } catch { bad++; }
  }
  if (out.length === 0) throw new Error(`no usable signature key in the set${bad ? ` (${bad} could not be read)` : ''}`);
  return out;
}
