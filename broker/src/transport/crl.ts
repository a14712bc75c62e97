/**
 * Certificate revocation lists for ssl and wss listeners.
 *
 * Two sources: CRL files named in `ssl_options.crlfile` (a Petrel addition), and, with
 * `ssl_options.enable_crl_check`, the CRL Distribution Points written in the client
 * certificates themselves (EMQX's behaviour), fetched over HTTP the first time a certificate
 * names a URL and refreshed every `crl_cache.refresh_interval`. The cache is one per node,
 * shared by every listener (two listeners naming the same URL fetch it once), holding at most
 * `crl_cache.capacity` URLs (the oldest fetched is dropped first).
 *
 * A crlfile alone goes into the listener's secure context (Node's `crl` option): OpenSSL checks
 * it with the chain. Distribution points cannot work that way: their URL is only known once a
 * client has presented its certificate, and a context with some CRLs makes OpenSSL report
 * "unable to get CRL" for the others — as the last error, hiding an untrusted chain behind it
 * (Node accepts every certificate during the handshake and reads the last error after it). So
 * with enable_crl_check the context holds no CRL, OpenSSL verifies the chain alone, and
 * checkRevocation() decides on the verified certificate after the handshake, against the file
 * and distribution-point CRLs: the CRL must come from the certificate's issuer, carry that
 * issuer's valid signature and not be past its nextUpdate.
 *
 * A distribution point that cannot be fetched keeps its last CRL (logged once per failure
 * streak). One that never could be fetched leaves the certificate's status undetermined, and
 * an undetermined certificate is refused, as EMQX (OTP's crl_check) does.
 */
import { X509Certificate, verify as verifySignature } from 'node:crypto';
import type { Logger } from 'pino';
import {
  DerError, TAG, certFields, children, decodeTime, expect, integerHex, parseDer, pemBlocks, signatureDigest, toPem,
} from './der.js';

/** One parsed CRL (RFC 5280 5.1). */
export interface ParsedCrl {
  /** Where it came from: a file name or a distribution-point URL. */
  source: string;
  /** PEM text, as the secure context's `crl` option takes it. */
  pem: string;
  /** DER of the issuer Name, compared with a certificate's issuer byte for byte. */
  issuer: Buffer;
  thisUpdate: number;
  nextUpdate: number | null;
  /** Revoked serial numbers (integerHex form). */
  revoked: ReadonlySet<string>;
  tbs: Buffer;
  digest: string | null | undefined;
  signature: Buffer;
  /** Issuer fingerprints whose key verified (or failed to verify) the signature. */
  verified: Map<string, boolean>;
}

export function parseCrl(der: Buffer, source: string): ParsedCrl {
  try {
    const top = children(expect(parseDer(der), TAG.SEQUENCE, 'CertificateList'));
    const tbsTlv = expect(top[0], TAG.SEQUENCE, 'tbsCertList');
    const tbs = children(tbsTlv);
    let i = tbs[0]?.tag === TAG.INTEGER ? 1 : 0; // version (v2) is optional
    i++; // signature algorithm
    const issuer = expect(tbs[i++], TAG.SEQUENCE, 'issuer').raw;
    const thisUpdate = decodeTime(tbs[i++]!);
    let nextUpdate: number | null = null;
    if (tbs[i] && (tbs[i]!.tag === TAG.UTC_TIME || tbs[i]!.tag === TAG.GENERALIZED_TIME)) nextUpdate = decodeTime(tbs[i++]!);
    const revoked = new Set<string>();
    if (tbs[i]?.tag === TAG.SEQUENCE) {
      for (const entry of children(tbs[i]!)) revoked.add(integerHex(expect(children(entry)[0], TAG.INTEGER, 'userCertificate').value));
    }
    const sig = expect(top[2], TAG.BIT_STRING, 'signatureValue').value;
    return {
      source, pem: toPem(der, 'X509 CRL'), issuer, thisUpdate, nextUpdate, revoked, tbs: tbsTlv.raw,
      digest: signatureDigest(expect(top[1], TAG.SEQUENCE, 'signatureAlgorithm')), signature: sig.subarray(1), verified: new Map(),
    };
  } catch (err) {
    if (err instanceof DerError) throw new DerError(`${source}: not a valid CRL (${err.message})`);
    throw err;
  }
}

/** All CRLs in a file or HTTP body: PEM (one or more "X509 CRL" blocks) or a single DER CRL. */
export function parseCrls(body: Buffer, source: string): ParsedCrl[] {
  const text = body.subarray(0, 64).toString('latin1');
  if (text.includes('-----BEGIN')) {
    const blocks = pemBlocks(body.toString('latin1'), 'X509 CRL');
    if (blocks.length === 0) throw new DerError(`${source}: PEM without an "X509 CRL" block`);
    return blocks.map((b) => parseCrl(b, source));
  }
  return [parseCrl(body, source)];
}

export type Revocation = { status: 'good' } | { status: 'revoked' | 'undetermined'; reason: string };

/**
 * The revocation status of `certDer` (issued by `issuer`) according to `crls`: revoked when a
 * valid CRL of its issuer lists its serial; good when at least one valid CRL of its issuer
 * does not; undetermined otherwise (no CRL of that issuer, bad signature, expired).
 */
export function checkRevocation(certDer: Buffer, issuer: X509Certificate | null, crls: Iterable<ParsedCrl>, now = Date.now()): Revocation {
  const cert = certFields(certDer);
  const serial = integerHex(cert.serial);
  let why = 'no CRL from the certificate\'s issuer';
  let good = false;
  for (const crl of crls) {
    if (!crl.issuer.equals(cert.issuer)) continue;
    if (issuer === null) { why = 'issuer certificate unknown, CRL signature not verifiable'; continue; }
    if (!signedBy(crl, issuer)) { why = `CRL from ${crl.source} does not carry the issuer's signature`; continue; }
    if (crl.nextUpdate !== null && crl.nextUpdate < now) { why = `CRL from ${crl.source} expired at ${new Date(crl.nextUpdate).toISOString()}`; continue; }
    if (crl.revoked.has(serial)) return { status: 'revoked', reason: `serial ${serial} is listed in the CRL from ${crl.source}` };
    good = true;
  }
  return good ? { status: 'good' } : { status: 'undetermined', reason: why };
}

function signedBy(crl: ParsedCrl, issuer: X509Certificate): boolean {
  const key = issuer.fingerprint256;
  let ok = crl.verified.get(key);
  if (ok === undefined) {
    try {
      ok = crl.digest !== undefined && verifySignature(crl.digest, crl.tbs, issuer.publicKey, crl.signature);
    } catch {
      ok = false;
    }
    crl.verified.set(key, ok);
  }
  return ok;
}

// ---------------------------------------------------------------- distribution-point cache

export interface CrlCacheConfig {
  /** ms between refreshes of every cached URL. */
  refresh_interval: number;
  /** ms one HTTP fetch may take. */
  http_timeout: number;
  /** Most URLs cached. */
  capacity: number;
}

/** Largest CRL body accepted from a distribution point. */
const MAX_CRL_BYTES = 16 * 1024 * 1024;
/** A URL that never answered is not asked again for this long (a flood of clients, one fetch). */
const RETRY_AFTER_MS = 5000;

interface Entry { crls: ParsedCrl[]; failing: boolean }

export class CrlCache {
  private readonly cfg: CrlCacheConfig;
  private readonly log: Logger;
  /** URL → CRLs; Map order is fetch order, so the first key is the oldest. */
  private readonly entries: Map<string, Entry>;
  private readonly inflight: Map<string, Promise<void>>;
  /** URLs that never answered, with when they last failed. */
  private readonly missing: Map<string, number>;
  /** Listeners using the cache; refreshes run while there is one. */
  private users: number;
  private timer: NodeJS.Timeout | null;

  constructor(cfg: CrlCacheConfig, log: Logger) {
    this.cfg = cfg;
    this.log = log.child({ component: 'crl_cache' });
    this.entries = new Map();
    this.inflight = new Map();
    this.missing = new Map();
    this.users = 0;
    this.timer = null;
  }

  /** Registers a user; refreshes run while anyone uses the cache. Returns the release. */
  acquire(): () => void {
    this.users++;
    if (this.timer === null) {
      this.timer = setInterval(() => { void this.refresh(); }, this.cfg.refresh_interval);
      this.timer.unref();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.users === 0 && this.timer !== null) { clearInterval(this.timer); this.timer = null; }
    };
  }

  has(url: string): boolean { return this.entries.has(url); }

  /** The CRLs cached for these URLs. */
  for(urls: readonly string[]): ParsedCrl[] {
    const out: ParsedCrl[] = [];
    for (const u of urls) { const e = this.entries.get(u); if (e) out.push(...e.crls); }
    return out;
  }

  /** Fetches the URLs not cached yet; never rejects (a failure is logged and leaves them missing). */
  async ensure(urls: readonly string[]): Promise<void> {
    const now = Date.now();
    await Promise.all(urls.filter((u) => !this.entries.has(u) && now - (this.missing.get(u) ?? 0) >= RETRY_AFTER_MS).map((u) => this.fetchOnce(u)));
  }

  /** Fetches every cached URL again. */
  async refresh(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((u) => this.fetchOnce(u)));
  }

  private fetchOnce(url: string): Promise<void> {
    let p = this.inflight.get(url);
    if (p === undefined) {
      p = this.fetch(url).finally(() => this.inflight.delete(url));
      this.inflight.set(url, p);
    }
    return p;
  }

  private async fetch(url: string): Promise<void> {
    let crls: ParsedCrl[];
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.cfg.http_timeout), redirect: 'follow' });
      if (res.status !== 200) { await res.body?.cancel(); throw new Error(`HTTP ${res.status}`); }
      const body = Buffer.from(await res.arrayBuffer());
      if (body.length > MAX_CRL_BYTES) throw new Error(`${body.length} bytes, more than ${MAX_CRL_BYTES}`);
      crls = parseCrls(body, url);
    } catch (err) {
      const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${this.cfg.http_timeout} ms` : (err as Error).message;
      const old = this.entries.get(url);
      if (old === undefined) {
        this.missing.set(url, Date.now());
        this.log.warn({ url, reason }, 'CRL distribution point cannot be fetched; certificates that name it are refused until it can');
      } else if (!old.failing) {
        old.failing = true;
        this.log.warn({ url, reason }, 'CRL distribution point cannot be fetched; keeping the last CRL');
      } else {
        this.log.debug({ url, reason }, 'CRL distribution point still cannot be fetched');
      }
      return;
    }
    const old = this.entries.get(url);
    if (old?.failing) this.log.info({ url }, 'CRL distribution point answers again');
    this.missing.delete(url);
    if (old === undefined) {
      this.entries.set(url, { crls, failing: false });
      for (const oldest of this.entries.keys()) {
        if (this.entries.size <= this.cfg.capacity) break;
        this.entries.delete(oldest);
        this.log.info({ url: oldest, capacity: this.cfg.capacity }, 'CRL cache full; dropped the oldest URL');
      }
    } else {
      old.crls = crls;
      old.failing = false;
    }
  }
}
