/**
 * Just enough ASN.1 DER to read certificates, CRLs and OCSP responses and to write an OCSP
 * request: Node has X509Certificate but no CRL or OCSP API. A TLV is tag, length, value;
 * constructed values (SEQUENCE 0x30, context tags 0xA0..) hold further TLVs. Only single-byte
 * tags occur in these structures; lengths are definite (DER forbids the indefinite form).
 *
 * Reading never throws on bad input with a JavaScript error from deep inside: every malformed
 * byte raises DerError with the offset, so a caller can say "OCSP response: bad DER at 17".
 */

export class DerError extends Error {
  constructor(message: string) { super(message); this.name = 'DerError'; }
}

export const TAG = {
  BOOLEAN: 0x01, INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06,
  ENUMERATED: 0x0a, UTC_TIME: 0x17, GENERALIZED_TIME: 0x18, SEQUENCE: 0x30, SET: 0x31,
} as const;

/** One TLV inside `buf`: `value` is a view (no copy); `raw` is the whole TLV including its header. */
export interface Tlv {
  tag: number;
  value: Buffer;
  raw: Buffer;
}

/** Reads the TLV at `offset`; `end` bounds it (the enclosing value's end). */
export function readTlv(buf: Buffer, offset = 0, end = buf.length): Tlv {
  if (offset + 2 > end) throw new DerError(`truncated header at ${offset}`);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at ${offset} not supported`);
  let len = buf[offset + 1]!;
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError(`bad length form at ${offset + 1}`);
    if (offset + 2 + n > end) throw new DerError(`truncated length at ${offset + 1}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    header += n;
  }
  const start = offset + header;
  if (start + len > end) throw new DerError(`value at ${offset} runs past its end (${len} bytes, ${end - start} left)`);
  return { tag, value: buf.subarray(start, start + len), raw: buf.subarray(offset, start + len) };
}

/** Parses a whole buffer as one TLV (trailing bytes are an error). */
export function parseDer(buf: Buffer): Tlv {
  const t = readTlv(buf, 0, buf.length);
  if (t.raw.length !== buf.length) throw new DerError(`${buf.length - t.raw.length} trailing bytes after the outer value`);
  return t;
}

/** The TLVs inside a constructed value. */
export function children(t: Tlv): Tlv[] {
  if ((t.tag & 0x20) === 0) throw new DerError(`tag 0x${t.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  const buf = t.value;
  let off = 0;
  while (off < buf.length) {
    const c = readTlv(buf, off, buf.length);
    out.push(c);
    off += c.raw.length;
  }
  return out;
}

/** Checks the tag, naming `what` in the error. */
export function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t === undefined) throw new DerError(`${what} missing`);
  if (t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

export function decodeOid(v: Buffer): string {
  if (v.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    n = n * 128 + (v[i]! & 0x7f);
    if ((v[i]! & 0x80) === 0) { parts.push(n); n = 0; }
  }
  const first = parts.shift()!;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...parts].join('.');
}

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), in ms since the epoch. */
export function decodeTime(t: Tlv): number {
  const s = t.value.toString('latin1');
  const m = t.tag === TAG.UTC_TIME ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s)
    : t.tag === TAG.GENERALIZED_TIME ? /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/.exec(s) : null;
  if (!m) throw new DerError(`bad time "${s}" (tag 0x${t.tag.toString(16)})`);
  let year = Number(m[1]);
  if (t.tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900; // RFC 5280 4.1.2.5.1
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** An INTEGER's magnitude as lower-case hex without leading zero bytes (serial numbers). */
export function integerHex(v: Buffer): string {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return v.subarray(i).toString('hex');
}

// ---------------------------------------------------------------- writing

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(value.length), value]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(TAG.SEQUENCE, Buffer.concat(items));
export const octets = (v: Buffer): Buffer => tlv(TAG.OCTET_STRING, v);
export const nullValue = (): Buffer => Buffer.from([TAG.NULL, 0]);
/** An INTEGER from its content bytes, as read from a certificate (already two's complement). */
export const integerRaw = (v: Buffer): Buffer => tlv(TAG.INTEGER, v);
/** A context-specific constructed tag [n] around `inner` (EXPLICIT tagging). */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);

export function oid(dotted: string): Buffer {
  const p = dotted.split('.').map(Number);
  if (p.length < 2 || p.some((x) => !Number.isInteger(x) || x < 0)) throw new DerError(`bad OID "${dotted}"`);
  const out: number[] = [];
  const push = (n: number): void => {
    const b: number[] = [n & 0x7f];
    for (let x = Math.floor(n / 128); x > 0; x = Math.floor(x / 128)) b.unshift(0x80 | (x & 0x7f));
    out.push(...b);
  };
  push(p[0]! * 40 + p[1]!);
  for (const x of p.slice(2)) push(x);
  return tlv(TAG.OID, Buffer.from(out));
}

// ---------------------------------------------------------------- PEM

/** The DER blocks of a PEM text with the given label ("CERTIFICATE", "X509 CRL"). */
export function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  const out: Buffer[] = [];
  for (const m of text.matchAll(re)) out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  return out;
}

export function toPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

// ---------------------------------------------------------------- X.509 certificate fields

/** What CRL and OCSP checks need from a certificate (RFC 5280 4.1), read from its DER. */
export interface CertFields {
  /** The serial's content bytes, as they go back into an OCSP CertID. */
  serial: Buffer;
  /** DER of the issuer and subject Names (compared byte for byte, hashed for OCSP). */
  issuer: Buffer;
  subject: Buffer;
  /** The subjectPublicKey BIT STRING's bits (without the unused-bits byte): OCSP's issuerKeyHash input. */
  publicKeyBits: Buffer;
  /** HTTP(S) URIs of the CRL Distribution Points extension (2.5.29.31). */
  crlUrls: string[];
}

const OID_CRL_DP = '2.5.29.31';

export function certFields(der: Buffer): CertFields {
  const cert = children(expect(parseDer(der), TAG.SEQUENCE, 'certificate'));
  const tbs = children(expect(cert[0], TAG.SEQUENCE, 'tbsCertificate'));
  let i = tbs[0]?.tag === 0xa0 ? 1 : 0; // [0] version, absent for v1
  const serial = expect(tbs[i++], TAG.INTEGER, 'serialNumber').value;
  i++; // signature algorithm
  const issuer = expect(tbs[i++], TAG.SEQUENCE, 'issuer').raw;
  i++; // validity
  const subject = expect(tbs[i++], TAG.SEQUENCE, 'subject').raw;
  const spki = children(expect(tbs[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo'));
  const bits = expect(spki[1], TAG.BIT_STRING, 'subjectPublicKey').value;
  const crlUrls: string[] = [];
  const ext = tbs.slice(i).find((t) => t.tag === 0xa3);
  if (ext) {
    for (const e of children(expect(children(ext)[0], TAG.SEQUENCE, 'extensions'))) {
      const parts = children(e);
      if (decodeOid(expect(parts[0], TAG.OID, 'extnID').value) !== OID_CRL_DP) continue;
      const value = expect(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue').value;
      for (const dp of children(parseDer(value))) {
        const name = children(dp).find((t) => t.tag === 0xa0); // distributionPoint
        const full = name && children(name).find((t) => t.tag === 0xa0); // fullName
        for (const gn of full ? children(full) : []) {
          const uri = gn.tag === 0x86 ? gn.value.toString('latin1') : ''; // uniformResourceIdentifier
          if (/^https?:\/\//i.test(uri)) crlUrls.push(uri);
        }
      }
    }
  }
  return { serial, issuer, subject, publicKeyBits: bits.subarray(1), crlUrls };
}

/** Node's crypto.verify digest for a signature algorithm OID; null digest for Ed25519/Ed448. */
const SIG_DIGESTS: Readonly<Record<string, string | null>> = {
  '1.2.840.113549.1.1.5': 'sha1', '1.2.840.113549.1.1.11': 'sha256', '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512', '1.2.840.10045.4.1': 'sha1', '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384', '1.2.840.10045.4.3.4': 'sha512', '1.3.101.112': null, '1.3.101.113': null,
};

/**
 * The digest for a signed structure's AlgorithmIdentifier, or undefined when Petrel cannot
 * verify it (RSA-PSS and other algorithms with parameters).
 */
export function signatureDigest(algId: Tlv): string | null | undefined {
  const o = decodeOid(expect(children(algId)[0], TAG.OID, 'algorithm').value);
  return Object.hasOwn(SIG_DIGESTS, o) ? SIG_DIGESTS[o]! : undefined;
}
