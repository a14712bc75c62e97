/**
 * TLS settings for ssl and wss listeners, from the EMQX-style `ssl_options`:
 * verify_peer → requestCert (ask for a client certificate), fail_if_no_peer_cert →
 * rejectUnauthorized (no valid certificate, no connection), versions → minVersion/maxVersion,
 * crlfile → crl (unless enable_crl_check: then revocation is decided after the handshake, see
 * crl.ts). Files are read when the listener starts and again when they change (tls-context.ts).
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate, SecureVersion, TLSSocket, TlsOptions } from 'node:tls';
import type { SslListenerConfig } from '../config/index.js';
import { DerError, toPem } from './der.js';
import { parseCrls, type ParsedCrl } from './crl.js';
import { ListenerError } from './errors.js';
import type { PeerCert } from './types.js';

export type SslOptions = SslListenerConfig['ssl_options'];

const VERSIONS: Readonly<Record<string, SecureVersion>> = { 'tlsv1.2': 'TLSv1.2', 'tlsv1.3': 'TLSv1.3' };
const ORDER: readonly SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];

/** The file contents a secure context is built from. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | null;
  /** CRLs of ssl_options.crlfile. */
  crls: ParsedCrl[];
}

/** Whether client certificates are checked for revocation on this listener. */
export const crlChecking = (ssl: SslOptions): boolean => ssl.enable_crl_check || ssl.crlfile !== '';

/** Reads (and checks) the files; throws ListenerError naming the key, the file and what is wrong. */
export function readTlsFiles(id: string, address: string, ssl: SslOptions): TlsFiles {
  const read = (what: string, file: string): Buffer => {
    if (!file) throw new ListenerError(id, address, 'TLS_CONFIG', `listener ${id} cannot start: ssl_options.${what} is not set`);
    try {
      return readFileSync(file);
    } catch (err) {
      throw ListenerError.cannotLoad(id, address, `${what} ${file}`, err as NodeJS.ErrnoException);
    }
  };
  if (crlChecking(ssl) && ssl.verify !== 'verify_peer') {
    throw new ListenerError(id, address, 'TLS_CONFIG', `listener ${id}: ssl_options.${ssl.enable_crl_check ? 'enable_crl_check' : 'crlfile'} needs ssl_options.verify = verify_peer`);
  }
  let crls: ParsedCrl[] = [];
  if (ssl.crlfile) {
    try {
      crls = parseCrls(read('crlfile', ssl.crlfile), ssl.crlfile);
    } catch (err) {
      if (!(err instanceof DerError)) throw err;
      throw new ListenerError(id, address, 'TLS_CONFIG', `listener ${id} cannot load crlfile: ${err.message}`, err);
    }
  }
  return {
    cert: read('certfile', ssl.certfile),
    key: read('keyfile', ssl.keyfile),
    ca: ssl.cacertfile ? read('cacertfile', ssl.cacertfile) : null,
    crls,
  };
}

export function buildTlsOptions(id: string, address: string, ssl: SslOptions, files = readTlsFiles(id, address, ssl)): TlsOptions {
  const versions = ssl.versions.map((v) => VERSIONS[v]!).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  const opts: TlsOptions = {
    cert: files.cert,
    key: files.key,
    requestCert: ssl.verify === 'verify_peer',
    rejectUnauthorized: ssl.verify === 'verify_peer' && ssl.fail_if_no_peer_cert,
    minVersion: versions[0],
    maxVersion: versions[versions.length - 1],
    handshakeTimeout: 15_000,
  };
  if (files.ca) opts.ca = files.ca;
  if (!ssl.enable_crl_check && files.crls.length > 0) opts.crl = files.crls.map((c) => c.pem);
  if (ssl.ciphers.length > 0) opts.ciphers = ssl.ciphers.join(':');
  return opts;
}

/**
 * The client's certificate once verified: null when none was presented; 'invalid' when one was
 * presented but failed verification (the listener then closes the connection even when
 * fail_if_no_peer_cert is false, as EMQX does: an unverified certificate is never an identity).
 */
export function peerCertOf(socket: TLSSocket): PeerCert | null | 'invalid' {
  const cert = socket.getPeerCertificate(false);
  if (!cert || Object.keys(cert).length === 0) return null;
  if (!socket.authorized) return 'invalid';
  return peerCertFrom(cert);
}

export function peerCertFrom(cert: PeerCertificate | DetailedPeerCertificate): PeerCert {
  const subject: Record<string, string> = {};
  for (const [k, v] of Object.entries(cert.subject ?? {})) subject[k] = Array.isArray(v) ? v.join(',') : String(v);
  const out: PeerCert = { subject, fingerprint256: cert.fingerprint256, dn: distinguishedName(cert.subject), raw: cert.raw };
  if (subject['CN'] !== undefined) out.cn = subject['CN'];
  return out;
}

/**
 * The subject as an RFC 4514 string, most specific first ("CN=device-1,O=Acme,C=SE"), the form
 * EMQX gives `dn`. Node's subject object keeps the certificate's order (C first), so reversed.
 */
function distinguishedName(subject: PeerCertificate['subject'] | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(subject ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) parts.push(`${k}=${String(one).replace(/([,+"\\<>;])/g, '\\$1')}`);
  }
  return parts.reverse().join(',');
}

export type PeerCertAs = 'disabled' | 'cn' | 'dn' | 'crt' | 'pem' | 'md5';

/**
 * What `mqtt.peer_cert_as_username` / `peer_cert_as_clientid` take from a verified certificate
 * (undefined when disabled or the field is absent). pem and md5 give what EMQX gives (base64 and
 * hex MD5 of the DER); crt gives the PEM text, where EMQX gives raw DER bytes no MQTT string can hold.
 */
export function peerCertValue(cert: PeerCert | null | undefined, as: PeerCertAs): string | undefined {
  if (!cert || as === 'disabled') return undefined;
  switch (as) {
    case 'cn': return cert.cn;
    case 'dn': return cert.dn;
    case 'crt': return cert.raw ? toPem(cert.raw, 'CERTIFICATE') : undefined;
    case 'pem': return cert.raw?.toString('base64');
    case 'md5': return cert.raw ? createHash('md5').update(cert.raw).digest('hex') : undefined;
  }
}

