/**
 * The TLS side of one ssl or wss listener, for as long as its server runs: the secure context
 * (rebuilt when the certificate, key, CA or CRL files change on disk, and installed with
 * server.setSecureContext, so new handshakes get it and established connections are left
 * alone), the OCSP response it staples, and the verdict on each client certificate (verified,
 * not revoked: crl.ts) before the connection is handed on.
 *
 * A changed file that does not load (half-written PEM, key not matching the certificate) is
 * logged and the current context kept; the next change is tried again.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type DetailedPeerCertificate, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import { FileWatcher, type FileWatcherOptions } from './cert-reload.js';
import { checkRevocation, type CrlCache } from './crl.js';
import { certFields, pemBlocks } from './der.js';
import { ListenerError } from './errors.js';
import { OcspStapler } from './ocsp.js';
import { buildTlsOptions, peerCertFrom, readTlsFiles, type SslOptions, type TlsFiles } from './tls-options.js';
import type { PeerCert } from './types.js';

export type Verdict = { ok: true; cert: PeerCert | null } | { ok: false; reason: string };

export interface ListenerTlsDeps {
  log: Logger;
  /** The node's distribution-point CRL cache (used with enable_crl_check). */
  crlCache: CrlCache | null;
  watch?: FileWatcherOptions;
}

const refuse = (reason: string): Verdict => ({ ok: false, reason });

export class ListenerTls {
  private readonly id: string;
  private readonly address: string;
  private readonly ssl: SslOptions;
  private readonly log: Logger;
  private readonly crlCache: CrlCache | null;
  private readonly watchOpts: FileWatcherOptions | undefined;
  private files: TlsFiles;
  private issuer: Buffer | null;
  private server: TlsServer | null;
  private stapler: OcspStapler | null;
  private watcher: FileWatcher | null;
  private releaseCrlCache: (() => void) | null;

  /** Reads the files; throws ListenerError when one is missing or broken. */
  constructor(id: string, address: string, ssl: SslOptions, deps: ListenerTlsDeps) {
    this.id = id;
    this.address = address;
    this.ssl = ssl;
    this.log = deps.log;
    this.crlCache = ssl.enable_crl_check ? deps.crlCache : null;
    this.watchOpts = deps.watch;
    this.files = readTlsFiles(id, address, ssl);
    this.issuer = this.readIssuer();
    this.server = null;
    this.stapler = null;
    this.watcher = null;
    this.releaseCrlCache = null;
  }

  options(): TlsOptions {
    return buildTlsOptions(this.id, this.address, this.ssl, this.files);
  }

  /** Starts stapling, file watching and the distribution-point cache for the server built from options(). */
  attach(server: TlsServer): void {
    this.server = server;
    if (this.issuer !== null) {
      server.on('OCSPRequest', (cert: Buffer, _issuer: Buffer | null, done: (err: Error | null, resp?: Buffer) => void) => {
        const s = this.stapler;
        const resp = s !== null && s.cert.equals(cert) ? s.response() : null;
        done(null, resp ?? undefined);
      });
      this.restartStapler();
    }
    if (this.crlCache !== null) this.releaseCrlCache = this.crlCache.acquire();
    const o = this.ssl.ocsp;
    this.watcher = new FileWatcher(
      [this.ssl.certfile, this.ssl.keyfile, this.ssl.cacertfile, this.ssl.crlfile, o.enable_ocsp_stapling ? o.issuer_pem : ''],
      () => this.reload(), this.log, this.watchOpts);
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    this.stapler?.stop();
    this.stapler = null;
    this.releaseCrlCache?.();
    this.releaseCrlCache = null;
    this.server = null;
  }

  /** Re-reads the files; applies them when they changed and load. */
  reload(): void {
    let files: TlsFiles;
    let issuer: Buffer | null;
    try {
      files = readTlsFiles(this.id, this.address, this.ssl);
      issuer = this.readIssuer();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'changed TLS files cannot be loaded; keeping the current certificate');
      return;
    }
    const certChanged = !files.cert.equals(this.files.cert) || !sameBytes(issuer, this.issuer);
    const same = !certChanged && files.key.equals(this.files.key) && sameBytes(files.ca, this.files.ca)
      && files.crls.map((c) => c.pem).join() === this.files.crls.map((c) => c.pem).join();
    if (same) return;
    if (!this.apply(files, 'TLS files changed on disk')) return;
    this.issuer = issuer;
    if (certChanged && this.issuer !== null && this.server !== null) this.restartStapler();
  }

  /** The verdict on a client's certificate after the handshake; a promise while a CRL is fetched. */
  verify(socket: TLSSocket): Verdict | Promise<Verdict> {
    const cert = socket.getPeerCertificate(true);
    if (!cert || Object.keys(cert).length === 0) return { ok: true, cert: null };
    // Every verification error refuses: never accept on "unable to get CRL", which OpenSSL may
    // report in place of an untrusted chain (see crl.ts).
    if (!socket.authorized) return refuse(String(socket.authorizationError ?? 'certificate not verified'));
    const cache = this.crlCache;
    if (cache === null) return { ok: true, cert: peerCertFrom(cert) };
    let urls: string[];
    let issuer: X509Certificate | null;
    try {
      urls = certFields(cert.raw).crlUrls;
      issuer = issuerOf(cert);
    } catch (err) {
      return refuse(`certificate cannot be read for the CRL check: ${(err as Error).message}`);
    }
    const decide = (): Verdict => {
      const crls = [...this.files.crls, ...cache.for(urls)];
      const r = checkRevocation(cert.raw, issuer, crls);
      if (r.status === 'good') return { ok: true, cert: peerCertFrom(cert) };
      return refuse(r.status === 'revoked' ? `certificate revoked: ${r.reason}` : `revocation status undetermined: ${r.reason}`);
    };
    const missing = urls.filter((u) => !cache.has(u));
    return missing.length === 0 ? decide() : cache.ensure(missing).then(decide);
  }

  /** Installs a context built from `files`; false (logged) when it does not build. */
  private apply(files: TlsFiles, why: string): boolean {
    const server = this.server;
    if (server === null) return false;
    let opts: TlsOptions;
    try {
      opts = buildTlsOptions(this.id, this.address, this.ssl, files);
      createSecureContext(opts); // throws on a key that does not match, a bad PEM…
      server.setSecureContext(opts);
    } catch (err) {
      this.log.error({ err: (err as Error).message, why }, 'new TLS context cannot be built; keeping the current one');
      return false;
    }
    const changedCert = !files.cert.equals(this.files.cert);
    this.files = files;
    if (changedCert) {
      let fingerprint = '';
      try { fingerprint = new X509Certificate(files.cert).fingerprint256; } catch { /* logged without it */ }
      this.log.info({ why, fingerprint256: fingerprint }, 'TLS certificate reloaded; new connections get it');
    } else {
      this.log.info({ why }, 'TLS context reloaded');
    }
    return true;
  }

  private readIssuer(): Buffer | null {
    const o = this.ssl.ocsp;
    if (!o.enable_ocsp_stapling) return null;
    const bad = (what: string): ListenerError => new ListenerError(this.id, this.address, 'TLS_CONFIG', `listener ${this.id}: ssl_options.ocsp.${what}`);
    if (!/^https?:\/\/[^\s/]+/i.test(o.responder_url)) throw bad(`responder_url must be an http:// or https:// URL with enable_ocsp_stapling (got "${o.responder_url}")`);
    if (o.issuer_pem === '') throw bad('issuer_pem is required with enable_ocsp_stapling');
    let text: string;
    try {
      text = readFileSync(o.issuer_pem, 'latin1');
    } catch (err) {
      throw ListenerError.cannotLoad(this.id, this.address, `ssl_options.ocsp.issuer_pem ${o.issuer_pem}`, err as NodeJS.ErrnoException);
    }
    const der = pemBlocks(text, 'CERTIFICATE')[0];
    if (der === undefined) throw bad(`issuer_pem ${o.issuer_pem} holds no PEM certificate`);
    try { certFields(der); } catch (err) { throw bad(`issuer_pem ${o.issuer_pem} is not a valid certificate: ${(err as Error).message}`); }
    return der;
  }

  private restartStapler(): void {
    this.stapler?.stop();
    this.stapler = null;
    const cert = pemBlocks(this.files.cert.toString('latin1'), 'CERTIFICATE')[0];
    if (cert === undefined || this.issuer === null) {
      this.log.error('OCSP stapling: certfile holds no PEM certificate; nothing stapled');
      return;
    }
    const o = this.ssl.ocsp;
    try {
      this.stapler = new OcspStapler(cert, this.issuer, o, this.log.child({ ocsp: o.responder_url }));
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'OCSP stapling: the certificate or issuer cannot be read; nothing stapled');
      return;
    }
    void this.stapler.start();
  }
}

/** The certificate that issued `cert`, as Node built the verified chain (null when self-signed or unknown). */
function issuerOf(cert: DetailedPeerCertificate): X509Certificate | null {
  const up = cert.issuerCertificate;
  if (!up || up === cert || !up.raw) return null;
  return new X509Certificate(up.raw);
}

const sameBytes = (a: Buffer | null, b: Buffer | null): boolean => (a === null || b === null ? a === b : a.equals(b));
