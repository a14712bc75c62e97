/**
 * Test support: a throw-away PKI made with the openssl CLI (Debian's openssl package) in a temp
 * directory — a CA run by `openssl ca` (so it keeps index.txt, can revoke and issue CRLs), a
 * server certificate for 127.0.0.1/localhost, client certificates with or without a CRL
 * Distribution Point, an OCSP signing certificate, and an OCSP responder on loopback answering
 * with `openssl ocsp`. EC P-256 keys: fast to make.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './broker.js';

export interface Issued { name: string; crt: string; key: string }

export interface IssueOptions {
  kind?: 'client' | 'server' | 'ocsp';
  /** CRL Distribution Point URI written into the certificate. */
  crlUrl?: string;
  /** Subject CN (default: the name). */
  cn?: string;
}

const OPENSSL = '/usr/bin/openssl';

export class Pki {
  readonly dir: string;
  readonly ca: Issued;
  private readonly cnf: string;

  /** `caName`: the CA's CN (two PKIs may share one to play an impostor). */
  constructor(caName = 'Petrel Test CA') {
    requireBinary(OPENSSL, 'openssl');
    this.dir = mkdtempSync(join(tmpdir(), 'petrel-pki-'));
    mkdirSync(join(this.dir, 'newcerts'));
    writeFileSync(join(this.dir, 'index.txt'), '');
    writeFileSync(join(this.dir, 'index.txt.attr'), 'unique_subject = no\n');
    writeFileSync(join(this.dir, 'serial'), '1000\n');
    writeFileSync(join(this.dir, 'crlnumber'), '01\n');
    this.cnf = join(this.dir, 'ca.cnf');
    writeFileSync(this.cnf, caConfig(this.dir));
    this.ca = { name: 'ca', crt: join(this.dir, 'ca.crt'), key: join(this.dir, 'ca.key') };
    this.genkey(this.ca.key);
    this.run('req', '-config', this.cnf, '-x509', '-new', '-key', this.ca.key, '-subj', `/O=Petrel Test/CN=${caName}`,
      '-days', '3650', '-extensions', 'v3_ca', '-out', this.ca.crt);
  }

  /** Issues a certificate signed by the CA (recorded in index.txt as valid). */
  issue(name: string, opts: IssueOptions = {}): Issued {
    const kind = opts.kind ?? 'client';
    const key = join(this.dir, `${name}.key`);
    const crt = join(this.dir, `${name}.crt`);
    const csr = join(this.dir, `${name}.csr`);
    const ext = join(this.dir, `${name}.ext`);
    this.genkey(key);
    this.run('req', '-config', this.cnf, '-new', '-key', key, '-subj', `/O=Petrel Test/CN=${opts.cn ?? name}`, '-out', csr);
    writeFileSync(ext, extensions(kind, opts.crlUrl));
    this.run('ca', '-config', this.cnf, '-batch', '-notext', '-days', '3650', '-in', csr, '-out', crt, '-extfile', ext, '-extensions', 'ext');
    return { name, crt, key };
  }

  revoke(cert: Issued): void {
    this.run('ca', '-config', this.cnf, '-revoke', cert.crt);
  }

  /** Writes the CA's current CRL (PEM) to `file` (default ca.crl in the PKI dir) and returns its path. */
  crl(file = join(this.dir, 'ca.crl')): string {
    this.run('ca', '-config', this.cnf, '-gencrl', '-crldays', '30', '-out', file);
    return file;
  }

  read(file: string): Buffer { return readFileSync(file); }

  /** An OCSP response for `cert` made by `openssl ocsp` from index.txt (no server), DER. */
  ocspResponse(cert: Issued, signer: Issued, extra: string[] = ['-ndays', '1']): Buffer {
    const req = join(this.dir, `${cert.name}.ocspreq`);
    const resp = join(this.dir, `${cert.name}.ocspresp`);
    this.run('ocsp', '-issuer', this.ca.crt, '-cert', cert.crt, '-no_nonce', '-reqout', req);
    this.run('ocsp', '-index', join(this.dir, 'index.txt'), '-rsigner', signer.crt, '-rkey', signer.key, '-CA', this.ca.crt,
      '-reqin', req, '-respout', resp, ...extra);
    return readFileSync(resp);
  }

  /**
   * An OCSP responder on 127.0.0.1 (port 0): a node:http server that answers each request with
   * `openssl ocsp -index … -reqin - -respout -`, run once per request. `openssl ocsp -port` would
   * serve by itself, but OpenSSL 3.0 binds it to every interface (`[::]:port`, `-url`'s host
   * is ignored) and the tests keep to loopback. POST (DER body) and GET (base64 in the path,
   * RFC 6960 A.1) are answered; a request openssl cannot read gets `malformedRequest`.
   */
  async ocspResponder(signer: Issued): Promise<{ url: string; port: number; served: () => number; stop(): Promise<void> }> {
    const args = ['ocsp', '-index', join(this.dir, 'index.txt'), '-rsigner', signer.crt, '-rkey', signer.key, '-CA', this.ca.crt,
      '-ndays', '1', '-reqin', '-', '-respout', '-'];
    let served = 0;
    const server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => { size += c.length; if (size <= 65536) chunks.push(c); });
      req.on('end', () => {
        const der = req.method === 'GET' ? Buffer.from(decodeURIComponent((req.url ?? '/').slice(1)), 'base64') : Buffer.concat(chunks);
        if (size > 65536 || der.length === 0) { answer(res, MALFORMED_REQUEST); return; }
        const proc = spawn(OPENSSL, args, { cwd: this.dir, stdio: ['pipe', 'pipe', 'ignore'] });
        const out: Buffer[] = [];
        proc.stdout!.on('data', (c: Buffer) => out.push(c));
        proc.stdin!.on('error', () => {}); // openssl may exit before reading a bad request
        proc.stdin!.end(der);
        proc.once('close', (code) => {
          const body = Buffer.concat(out);
          if (code === 0 && body.length > 0) { served++; answer(res, body); } else answer(res, MALFORMED_REQUEST);
        });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    return {
      url: `http://127.0.0.1:${port}`, port, served: () => served,
      async stop() {
        if (!server.listening) return;
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }

  remove(): void { rmSync(this.dir, { recursive: true, force: true }); }

  private genkey(file: string): void {
    this.run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file);
  }

  private run(...args: string[]): void {
    try {
      execFileSync(OPENSSL, args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: Buffer };
      throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() ?? err}`);
    }
  }
}

/** An OCSPResponse with responseStatus malformedRequest (1) and no body (RFC 6960 4.2.1). */
const MALFORMED_REQUEST = Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]);

function answer(res: ServerResponse, der: Buffer): void {
  res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': der.length });
  res.end(der);
}

/** A port the OS says is free on 127.0.0.1 (for programs that cannot take port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function caConfig(dir: string): string {
  return `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
default_days = 3650
default_crl_days = 30
policy = policy_any
copy_extensions = none
[ policy_any ]
organizationName = optional
commonName = supplied
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
`;
}

function extensions(kind: 'client' | 'server' | 'ocsp', crlUrl?: string): string {
  const lines = ['[ ext ]', 'basicConstraints = CA:FALSE'];
  if (kind === 'client') lines.push('keyUsage = digitalSignature', 'extendedKeyUsage = clientAuth');
  if (kind === 'server') lines.push('keyUsage = digitalSignature, keyEncipherment', 'extendedKeyUsage = serverAuth', 'subjectAltName = IP:127.0.0.1, DNS:localhost');
  if (kind === 'ocsp') lines.push('keyUsage = digitalSignature', 'extendedKeyUsage = OCSPSigning');
  if (crlUrl) lines.push(`crlDistributionPoints = URI:${crlUrl}`);
  return lines.join('\n') + '\n';
}
