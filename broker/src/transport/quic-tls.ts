/**
 * TLS material of a quic listener. quiche reads the PEM text itself, per connection, and a bad
 * file would only show as failed handshakes; so start() checks here first that the key parses,
 * the certificate parses and matches it, and the CA file holds certificates, and refuses the
 * listener with an error naming the key and file. Also: the client certificate as a PeerCert,
 * and the HMAC the library signs its stateless Retry tokens with.
 */
import { createHmac, createPrivateKey, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { buildQuicheConfig, serverDefault } from '@matrixai/quic/config.js';
import type { Config } from '../config/index.js';
import { pemBlocks } from './der.js';
import { ListenerError } from './errors.js';
import { peerCertFrom } from './tls-options.js';
import type { PeerCert } from './types.js';

type QuicSslOptions = Config['listeners']['quic'][string]['ssl_options'];

export interface QuicTlsMaterial { key: string; cert: string; ca?: string }

export function quicTlsMaterial(id: string, bind: string, ssl: QuicSslOptions): QuicTlsMaterial {
  const bad = (what: string, why: string) => new ListenerError(id, bind, 'TLS_CONFIG', `listener ${id} cannot use ssl_options.${what}: ${why}`);
  const read = (file: string, what: string): string => {
    if (file === '') throw new ListenerError(id, bind, 'TLS_CONFIG', `listener ${id} needs ssl_options.${what} (QUIC always runs TLS 1.3)`);
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw ListenerError.cannotLoad(id, bind, `ssl_options.${what} ${file}`, err as NodeJS.ErrnoException);
    }
  };
  const m: QuicTlsMaterial = { key: read(ssl.keyfile, 'keyfile'), cert: read(ssl.certfile, 'certfile') };
  let x: X509Certificate;
  try {
    x = new X509Certificate(m.cert);
  } catch (err) {
    throw bad('certfile', `${ssl.certfile} holds no PEM certificate (${(err as Error).message})`);
  }
  try {
    if (!x.checkPrivateKey(createPrivateKey(m.key))) throw bad('keyfile', `${ssl.keyfile} is not the key of ${ssl.certfile}`);
  } catch (err) {
    if (err instanceof ListenerError) throw err;
    throw bad('keyfile', `${ssl.keyfile} holds no usable unencrypted PEM key (${(err as Error).message})`);
  }
  if (ssl.verify === 'verify_peer' || ssl.cacertfile !== '') {
    m.ca = read(ssl.cacertfile, 'cacertfile');
    const certs = pemBlocks(m.ca, 'CERTIFICATE');
    if (certs.length === 0) throw bad('cacertfile', `${ssl.cacertfile} holds no PEM certificate`);
    for (const der of certs) {
      try { new X509Certificate(der); } catch (err) { throw bad('cacertfile', `${ssl.cacertfile} holds a certificate that does not parse (${(err as Error).message})`); }
    }
  }
  try {
    buildQuicheConfig({ ...serverDefault, ...m, verifyPeer: ssl.verify === 'verify_peer' });
  } catch (err) {
    throw new ListenerError(id, bind, 'TLS_CONFIG', `listener ${id}: the QUIC TLS stack refuses ssl_options: ${(err as Error).message}`, err);
  }
  return m;
}

/** The leaf of a verified chain as the PeerCert the channel knows from ssl listeners. */
export function certOf(chain: Uint8Array[]): PeerCert | null {
  const leaf = chain[0];
  if (leaf === undefined) return null;
  const x = new X509Certificate(Buffer.from(leaf));
  const subject: Record<string, string[]> = {};
  for (const line of x.subject.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) (subject[line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return peerCertFrom({ subject, fingerprint256: x.fingerprint256, raw: x.raw } as unknown as Parameters<typeof peerCertFrom>[0]);
}

/** Retry tokens are HMACs under a key made per listener start (tokens do not outlive it). */
export function retryTokenCrypto() {
  const key = randomBytes(32);
  const mac = (k: ArrayBuffer, data: ArrayBuffer) => createHmac('sha256', Buffer.from(k)).update(Buffer.from(data)).digest();
  return {
    key: toArrayBuffer(key),
    ops: {
      sign: async (k: ArrayBuffer, data: ArrayBuffer) => toArrayBuffer(mac(k, data)),
      verify: async (k: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer) => {
        const want = mac(k, data);
        const got = Buffer.from(sig);
        return got.length === want.length && timingSafeEqual(got, want);
      },
    },
  };
}

const toArrayBuffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
