/**
 * OCSP stapling (RFC 6960, RFC 6066 status_request) for ssl and wss listeners, configured as
 * EMQX does: `ssl_options.ocsp: {enable_ocsp_stapling, responder_url, issuer_pem,
 * refresh_interval, refresh_http_timeout}`.
 *
 * The listener asks the responder about its own certificate: an OCSPRequest naming the
 * certificate by its issuer's name hash, key hash and serial (SHA-1, what every responder
 * answers), POSTed to responder_url. A response is kept only when it is "successful", is signed
 * by the issuer or by a responder certificate the issuer delegated (extended key usage
 * OCSPSigning), names our certificate and says "good", and is current (thisUpdate not in the
 * future, nextUpdate not passed). That response is stapled to every handshake whose client asks
 * for one, and fetched again every refresh_interval. While the responder is down the last good
 * response is stapled until its nextUpdate; the failure is logged once, and again only after
 * the responder has answered in between.
 */
import { X509Certificate, createHash, verify as verifySignature } from 'node:crypto';
import type { Logger } from 'pino';
import {
  DerError, TAG, certFields, children, decodeOid, decodeTime, explicit, expect, integerHex, integerRaw, nullValue,
  octets, oid, parseDer, seq, signatureDigest, type Tlv,
} from './der.js';

const OID_SHA1 = '1.3.14.3.2.26';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const OID_OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';
const RESPONSE_STATUS = ['successful', 'malformedRequest', 'internalError', 'tryLater', '(4 unused)', 'sigRequired', 'unauthorized'];
/** Clocks of responder and broker may differ a little. */
const SKEW_MS = 5 * 60_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

export class OcspError extends Error {
  constructor(message: string) { super(message); this.name = 'OcspError'; }
}

/** The DER OCSPRequest for one certificate (no nonce: a stapled response is shared by all clients). */
export function buildOcspRequest(certDer: Buffer, issuerDer: Buffer): Buffer {
  const cert = certFields(certDer);
  const issuer = certFields(issuerDer);
  const h = (b: Buffer) => createHash('sha1').update(b).digest();
  const certId = seq(seq(oid(OID_SHA1), nullValue()), octets(h(issuer.subject)), octets(h(issuer.publicKeyBits)), integerRaw(cert.serial));
  return seq(seq(seq(seq(certId)))); // OCSPRequest { TBSRequest { requestList { Request { CertID } } } }
}

export interface OcspStatus {
  certStatus: 'good' | 'revoked' | 'unknown';
  thisUpdate: number;
  nextUpdate: number | null;
  producedAt: number;
}

/**
 * Checks a DER OCSPResponse for `certDer` (issued by `issuerDer`) and returns what it says.
 * Throws OcspError saying what is wrong: not successful, not signed by the issuer or its
 * delegated responder, not about this certificate, not current.
 */
export function parseOcspResponse(der: Buffer, certDer: Buffer, issuerDer: Buffer, now = Date.now()): OcspStatus {
  try {
    const top = children(expect(parseDer(der), TAG.SEQUENCE, 'OCSPResponse'));
    const status = expect(top[0], TAG.ENUMERATED, 'responseStatus').value[0] ?? 255;
    if (status !== 0) throw new OcspError(`responder answered ${RESPONSE_STATUS[status] ?? status}`);
    const bytes = children(expect(children(expect(top[1], 0xa0, 'responseBytes'))[0], TAG.SEQUENCE, 'ResponseBytes'));
    const type = decodeOid(expect(bytes[0], TAG.OID, 'responseType').value);
    if (type !== OID_OCSP_BASIC) throw new OcspError(`response type ${type} is not id-pkix-ocsp-basic`);
    const basic = children(expect(parseDer(expect(bytes[1], TAG.OCTET_STRING, 'response').value), TAG.SEQUENCE, 'BasicOCSPResponse'));
    const tbs = expect(basic[0], TAG.SEQUENCE, 'tbsResponseData');
    const issuer = new X509Certificate(issuerDer);
    verifyResponseSignature(tbs, basic, issuer);
    const data = children(tbs);
    let i = data[0]?.tag === 0xa0 ? 1 : 0; // [0] version
    i++; // responderID
    const producedAt = decodeTime(data[i++]!);
    const cert = certFields(certDer);
    const issuerFields = certFields(issuerDer);
    const single = children(expect(data[i], TAG.SEQUENCE, 'responses')).find((r) => sameCertId(children(r)[0]!, cert.serial, issuerFields));
    if (single === undefined) throw new OcspError('the response does not name this certificate');
    const parts = children(single);
    const s = parts[1]!;
    const certStatus = s.tag === 0x80 ? 'good' : s.tag === 0xa1 ? 'revoked' : s.tag === 0x82 ? 'unknown' : null;
    if (certStatus === null) throw new OcspError(`certStatus tag 0x${s.tag.toString(16)} unknown`);
    const thisUpdate = decodeTime(parts[2]!);
    const next = parts.slice(3).find((p) => p.tag === 0xa0);
    const nextUpdate = next ? decodeTime(children(next)[0]!) : null;
    if (thisUpdate > now + SKEW_MS) throw new OcspError(`thisUpdate ${new Date(thisUpdate).toISOString()} is in the future`);
    if (nextUpdate !== null && nextUpdate < now) throw new OcspError(`nextUpdate ${new Date(nextUpdate).toISOString()} has passed`);
    return { certStatus, thisUpdate, nextUpdate, producedAt };
  } catch (err) {
    if (err instanceof DerError) throw new OcspError(`malformed response: ${err.message}`);
    throw err;
  }
}

function sameCertId(id: Tlv, serial: Buffer, issuer: ReturnType<typeof certFields>): boolean {
  const f = children(id);
  const alg = decodeOid(children(f[0]!)[0]!.value);
  const name = alg === OID_SHA1 ? 'sha1' : alg === OID_SHA256 ? 'sha256' : null;
  if (name === null) return false;
  const h = (b: Buffer) => createHash(name).update(b).digest();
  return f[1]!.value.equals(h(issuer.subject)) && f[2]!.value.equals(h(issuer.publicKeyBits)) && integerHex(f[3]!.value) === integerHex(serial);
}

/** The signer is the issuer itself or a certificate in `certs` that the issuer signed for OCSP. */
function verifyResponseSignature(tbs: Tlv, basic: Tlv[], issuer: X509Certificate): void {
  const digest = signatureDigest(expect(basic[1], TAG.SEQUENCE, 'signatureAlgorithm'));
  if (digest === undefined) throw new OcspError('signature algorithm not supported (RSA-PSS and others with parameters)');
  const sig = expect(basic[2], TAG.BIT_STRING, 'signature').value.subarray(1);
  const ok = (key: X509Certificate['publicKey']): boolean => {
    try { return verifySignature(digest, tbs.raw, key, sig); } catch { return false; }
  };
  if (ok(issuer.publicKey)) return;
  const certs = basic[3]?.tag === 0xa0 ? children(children(basic[3])[0]!) : [];
  for (const c of certs) {
    const responder = new X509Certificate(c.raw);
    if (!responder.checkIssued(issuer) || !responder.verify(issuer.publicKey)) continue;
    if (!(responder.keyUsage ?? []).includes(OID_OCSP_SIGNING)) continue;
    if (ok(responder.publicKey)) return;
  }
  throw new OcspError('signature not made by the issuer or a responder it delegated');
}

// ---------------------------------------------------------------- the stapler

export interface OcspConfig {
  responder_url: string;
  /** ms between fetches. */
  refresh_interval: number;
  /** ms one fetch may take. */
  refresh_http_timeout: number;
}

/** Fetches, checks and caches the OCSP response for one server certificate. */
export class OcspStapler {
  readonly cert: Buffer;
  private readonly issuer: Buffer;
  private readonly cfg: OcspConfig;
  private readonly log: Logger;
  private readonly request: Buffer;
  private good: { der: Buffer; nextUpdate: number | null } | null;
  private failing: boolean;
  private timer: NodeJS.Timeout | null;
  private closed: boolean;

  constructor(cert: Buffer, issuer: Buffer, cfg: OcspConfig, log: Logger) {
    this.cert = cert;
    this.issuer = issuer;
    this.cfg = cfg;
    this.log = log;
    this.request = buildOcspRequest(cert, issuer);
    this.good = null;
    this.failing = false;
    this.timer = null;
    this.closed = false;
  }

  /** Fetches now, then every refresh_interval. Resolves after the first attempt. */
  start(): Promise<void> {
    this.timer = setInterval(() => { void this.refresh(); }, this.cfg.refresh_interval);
    this.timer.unref();
    return this.refresh();
  }

  stop(): void {
    this.closed = true;
    if (this.timer !== null) { clearInterval(this.timer); this.timer = null; }
  }

  /** The response to staple now, or null (none yet, or the last one is past its nextUpdate). */
  response(): Buffer | null {
    const g = this.good;
    if (g === null) return null;
    if (g.nextUpdate !== null && g.nextUpdate < Date.now()) {
      this.good = null;
      this.log.warn({ responder: this.cfg.responder_url }, 'OCSP response expired and no fresh one could be fetched; stapling stopped');
      return null;
    }
    return g.der;
  }

  /** One fetch; a failure keeps the last good response. Never rejects. */
  async refresh(): Promise<void> {
    let der: Buffer;
    let status: OcspStatus;
    try {
      const res = await fetch(this.cfg.responder_url, {
        method: 'POST', body: this.request, headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
        signal: AbortSignal.timeout(this.cfg.refresh_http_timeout),
      });
      if (res.status !== 200) { await res.body?.cancel(); throw new OcspError(`HTTP ${res.status}`); }
      der = Buffer.from(await res.arrayBuffer());
      if (der.length > MAX_RESPONSE_BYTES) throw new OcspError(`response of ${der.length} bytes is too large`);
      status = parseOcspResponse(der, this.cert, this.issuer);
    } catch (err) {
      if (this.closed) return;
      const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${this.cfg.refresh_http_timeout} ms` : (err as Error).message;
      const keeping = this.good !== null ? 'stapling the last good response until its nextUpdate' : 'nothing to staple';
      if (!this.failing) this.log.warn({ responder: this.cfg.responder_url, reason }, `OCSP refresh failed; ${keeping}`);
      else this.log.debug({ responder: this.cfg.responder_url, reason }, 'OCSP refresh still failing');
      this.failing = true;
      return;
    }
    if (this.closed) return;
    if (status.certStatus !== 'good') {
      this.good = null;
      this.log.error({ responder: this.cfg.responder_url, certStatus: status.certStatus }, 'OCSP responder says the server certificate is not good; nothing stapled');
      this.failing = true;
      return;
    }
    if (this.failing) this.log.info({ responder: this.cfg.responder_url }, 'OCSP responder answers again');
    this.failing = false;
    this.good = { der, nextUpdate: status.nextUpdate };
  }
}
