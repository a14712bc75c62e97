/**
 * TLS settings for ssl and wss listeners, from the EMQX-style `ssl_options`:
 * verify_peer → requestCert (ask for a client certificate), fail_if_no_peer_cert →
 * rejectUnauthorized (no valid certificate, no connection), versions → minVersion/maxVersion.
 * Files are read when the listener starts, so restartOne() picks up rotated certificates.
 */
import { readFileSync } from 'node:fs';
import type { SecureVersion, TLSSocket, TlsOptions } from 'node:tls';
import type { SslListenerConfig } from '../config/index.js';
import { ListenerError } from './errors.js';
import type { PeerCert } from './types.js';

type SslOptions = SslListenerConfig['ssl_options'];

const VERSIONS: Readonly<Record<string, SecureVersion>> = { 'tlsv1.2': 'TLSv1.2', 'tlsv1.3': 'TLSv1.3' };
const ORDER: readonly SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];

export function buildTlsOptions(id: string, address: string, ssl: SslOptions): TlsOptions {
  const read = (what: string, file: string): Buffer => {
    if (!file) throw new ListenerError(id, address, 'TLS_CONFIG', `listener ${id} cannot start: ssl_options.${what} is not set`);
    try {
      return readFileSync(file);
    } catch (err) {
      throw ListenerError.cannotLoad(id, address, `${what} ${file}`, err as NodeJS.ErrnoException);
    }
  };
  const versions = ssl.versions.map((v) => VERSIONS[v]!).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  const opts: TlsOptions = {
    cert: read('certfile', ssl.certfile),
    key: read('keyfile', ssl.keyfile),
    requestCert: ssl.verify === 'verify_peer',
    rejectUnauthorized: ssl.verify === 'verify_peer' && ssl.fail_if_no_peer_cert,
    minVersion: versions[0],
    maxVersion: versions[versions.length - 1],
    handshakeTimeout: 15_000,
  };
  if (ssl.cacertfile) opts.ca = read('cacertfile', ssl.cacertfile);
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
  const subject: Record<string, string> = {};
  for (const [k, v] of Object.entries(cert.subject ?? {})) subject[k] = Array.isArray(v) ? v.join(',') : String(v);
  const out: PeerCert = { subject, fingerprint256: cert.fingerprint256 };
  if (subject['CN'] !== undefined) out.cn = subject['CN'];
  return out;
}
