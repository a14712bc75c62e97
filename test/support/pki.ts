/**
 * Test support: a throw-away PKI made with the openssl CLI (Debian's openssl package) in a temp
 * directory — a CA run by `openssl ca` (so it keeps index.txt, can revoke and issue CRLs), a
 * server certificate for 127.0.0.1/localhost, client certificates with or without a CRL
 * Distribution Point, an OCSP signing certificate, and `openssl ocsp` as a responder on a free
 * port. EC P-256 keys: fast to make.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
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

  /** Starts `openssl ocsp` as an HTTP responder on a free port; resolves once it accepts connections. */
  async ocspResponder(signer: Issued): Promise<{ url: string; port: number; proc: ChildProcess; stop(): Promise<void> }> {
    const port = await freePort();
    const proc = spawn(OPENSSL, ['ocsp', '-index', join(this.dir, 'index.txt'), '-port', String(port), '-rsigner', signer.crt,
      '-rkey', signer.key, '-CA', this.ca.crt, '-ndays', '1', '-ignore_err'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    // Readiness from its own words: a probe connection would hold up its single-threaded loop.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`openssl ocsp did not start on ${port}: ${err}`)); }, 10_000);
      proc.stderr!.on('data', (d) => {
        err += d;
        if (err.includes('waiting for OCSP client connections')) { clearTimeout(timer); resolve(); }
      });
      proc.once('exit', () => { clearTimeout(timer); reject(new Error(`openssl ocsp exited: ${err}`)); });
    });
    return {
      url: `http://127.0.0.1:${port}`, port, proc,
      async stop() { if (proc.exitCode === null && proc.signalCode === null) { proc.kill('SIGKILL'); await exited; } },
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
