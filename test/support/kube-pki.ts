/**
 * The certificates a throw-away Kubernetes control plane needs, made with the openssl CLI in its
 * temp directory: one CA that both signs the API server's serving certificate and is its
 * --client-ca-file, a client certificate per component (the subject is the identity: CN = user,
 * O = group, so `system:kube-scheduler` gets the bootstrap RBAC the real one gets), and the
 * service-account signing key. EC P-256 keys: fast to make on a busy machine.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OPENSSL = '/usr/bin/openssl';

export interface IssuedCert { crt: string; key: string }

export interface ServerNames { ips: string[]; dns: string[] }

export class KubePki {
  readonly caCrt: string;
  readonly caKey: string;
  readonly saKey: string;
  readonly saPub: string;

  constructor(readonly dir: string) {
    this.caCrt = join(dir, 'ca.crt');
    this.caKey = join(dir, 'ca.key');
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', this.caKey, '-out', this.caCrt, '-days', '3', '-subj', '/CN=petrel-kube-test-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    // The API server signs service-account tokens with this key and checks them with its public half.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.saKey = join(dir, 'sa.key');
    this.saPub = join(dir, 'sa.pub');
    writeFileSync(this.saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(this.saPub, publicKey.export({ type: 'spki', format: 'pem' }));
  }

  /** A client certificate for user `cn` in groups `orgs`. */
  client(name: string, cn: string, orgs: string[] = []): IssuedCert {
    const subj = orgs.map((o) => `/O=${o}`).join('') + `/CN=${cn}`;
    return this.issue(name, subj, 'extendedKeyUsage=clientAuth');
  }

  /** A serving certificate for the given IP addresses and DNS names. */
  server(name: string, names: ServerNames): IssuedCert {
    const san = [...names.ips.map((ip) => `IP:${ip}`), ...names.dns.map((d) => `DNS:${d}`)].join(',');
    return this.issue(name, `/CN=${name}`, `extendedKeyUsage=serverAuth\nsubjectAltName=${san}`);
  }

  caPem(): string {
    return readFileSync(this.caCrt, 'utf8');
  }

  private issue(name: string, subj: string, ext: string): IssuedCert {
    const key = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}.csr`);
    const crt = join(this.dir, `${name}.crt`);
    const extFile = join(this.dir, `${name}.ext`);
    writeFileSync(extFile, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n${ext}\n`);
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', subj);
    openssl('x509', '-req', '-in', csr, '-CA', this.caCrt, '-CAkey', this.caKey, '-CAcreateserial', '-out', crt, '-days', '3', '-extfile', extFile);
    return { crt, key };
  }
}

function openssl(...args: string[]): void {
  try {
    execFileSync(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`openssl ${args[0]} failed: ${(e as { stderr?: Buffer }).stderr?.toString() ?? String(e)}`);
  }
}

/** A kubeconfig whose one user authenticates with a client certificate or a bearer token. */
export function kubeconfigYaml(server: string, caPem: string, user: IssuedCert | { token: string }): string {
  const userLines = 'token' in user
    ? [`    token: ${user.token}`]
    : [`    client-certificate: ${user.crt}`, `    client-key: ${user.key}`];
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: petrel-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'users:',
    '- name: user',
    '  user:',
    ...userLines,
    'contexts:',
    '- name: petrel-test',
    '  context: {cluster: petrel-test, user: user}',
    'current-context: petrel-test',
    '',
  ].join('\n');
}
