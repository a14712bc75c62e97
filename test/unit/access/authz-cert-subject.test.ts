/**
 * `${cert_subject}` is EMQX's `dn` of the client certificate: RFC 4514, most specific first
 * ("CN=dev1,OU=Devices,O=Acme,C=SE"), read here from a real certificate over a loopback TLS
 * handshake, so the order is the certificate's and not an object's key order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { matchRules } from '../../../broker/src/access/authz/acl-match.js';
import { authzVars } from '../../../broker/src/access/backends/template.js';
import { peerCertFrom } from '../../../broker/src/transport/tls-options.js';
import type { AclRule } from '../../../broker/src/access/types.js';
import type { ClientInfo } from '../../../broker/src/hooks.js';

function selfSigned(dir: string, name: string, subj: string): { key: Buffer; cert: Buffer } {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', subj], { stdio: 'ignore' });
  return { key: readFileSync(key), cert: readFileSync(crt) };
}

/** The client certificate as the broker sees it after a handshake. */
async function peerCertOverTls(server: { key: Buffer; cert: Buffer }, client: { key: Buffer; cert: Buffer }): Promise<ReturnType<typeof peerCertFrom>> {
  const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: false });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  try {
    const got = once(srv, 'secureConnection') as Promise<[tls.TLSSocket]>;
    const c = tls.connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, ...client, rejectUnauthorized: false });
    const [sock] = await got;
    const pc = peerCertFrom(sock.getPeerCertificate(false));
    sock.destroy();
    c.destroy();
    return pc;
  } finally { srv.close(); }
}

test('${cert_subject} in a rule is the dn, most specific first, as EMQX renders it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-dn-'));
  try {
    const server = selfSigned(dir, 'server', '/CN=127.0.0.1');
    const device = selfSigned(dir, 'device', '/C=SE/O=Acme/OU=Devices/CN=dev1');
    const peerCert = await peerCertOverTls(server, device);
    assert.equal(peerCert.dn, 'CN=dev1,OU=Devices,O=Acme,C=SE');

    const client: ClientInfo = { clientId: 'c1', username: null, peerHost: '127.0.0.1', peerPort: 1, listener: 'ssl:default', protocol: 'mqtt', protocolVersion: 5, peerCert, isSuperuser: false };
    const rules: AclRule[] = [{ permission: 'allow', who: 'all', action: 'all', topics: ['certs/${cert_subject}/#'] }];
    const ask = (topic: string) => matchRules(rules, { client, action: 'publish', topic, qos: 0, retain: false });
    assert.equal(ask('certs/CN=dev1,OU=Devices,O=Acme,C=SE/up'), 'allow');
    assert.equal(ask('certs/C=SE,O=Acme,OU=Devices,CN=dev1/up'), 'nomatch', 'the certificate order is not EMQX\'s');
    assert.equal(ask('certs/CN=dev2,OU=Devices,O=Acme,C=SE/up'), 'nomatch');
    // The backends' ${cert_subject} (Redis, SQL, HTTP) is the same string.
    assert.equal(authzVars({ client, action: 'publish', topic: 't', qos: 0, retain: false }).cert_subject, 'CN=dev1,OU=Devices,O=Acme,C=SE');

    // No certificate (plain TCP): the topic matches nothing rather than an empty level.
    const plain = { ...client, peerCert: null };
    assert.equal(matchRules(rules, { client: plain, action: 'publish', topic: 'certs//up', qos: 0, retain: false }), 'nomatch');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a dn holding a / cannot widen the rule', () => {
  const peerCert = { cn: 'x', dn: 'CN=a/b,O=Acme', subject: { O: 'Acme', CN: 'a/b' } };
  const client: ClientInfo = { clientId: 'c1', username: null, peerHost: '127.0.0.1', peerPort: 1, listener: 'ssl:default', protocol: 'mqtt', protocolVersion: 5, peerCert, isSuperuser: false };
  const rules: AclRule[] = [{ permission: 'allow', who: 'all', action: 'all', topics: ['certs/${cert_subject}'] }];
  assert.equal(matchRules(rules, { client, action: 'publish', topic: 'certs/CN=a/b,O=Acme', qos: 0, retain: false }), 'nomatch');
});
