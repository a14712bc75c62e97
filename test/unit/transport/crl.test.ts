/**
 * CRLs without a listener: parsing what `openssl ca -gencrl` writes (PEM and DER), the
 * revocation decision (listed, not listed, wrong issuer, forged, expired), the distribution
 * point in a certificate, and the distribution-point cache against a real HTTP server
 * (cached, kept when the server goes away, capacity).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { CrlCache, checkRevocation, parseCrls } from '../../../broker/src/transport/crl.js';
import { DerError, certFields, pemBlocks } from '../../../broker/src/transport/der.js';
import { silentLogger } from '../../../broker/src/log.js';
import { Pki } from '../../support/pki.js';

const pki = new Pki();
const alice = pki.issue('alice', { crlUrl: 'http://127.0.0.1:9/ca.crl' });
const bob = pki.issue('bob');
pki.revoke(bob);
const crlFile = pki.crl();
const other = new Pki();
const otherCrl = other.crl();
after(() => { pki.remove(); other.remove(); });

const der = (file: string): Buffer => pemBlocks(readFileSync(file, 'latin1'), 'CERTIFICATE')[0]!;
const ca = new X509Certificate(readFileSync(pki.ca.crt));

test('crl: the distribution point URI is read from the certificate', () => {
  assert.deepEqual(certFields(der(alice.crt)).crlUrls, ['http://127.0.0.1:9/ca.crl']);
  assert.deepEqual(certFields(der(bob.crt)).crlUrls, []);
});

test('crl: PEM and DER CRLs parse alike; the revoked serial is listed', () => {
  const pem = parseCrls(readFileSync(crlFile), crlFile);
  const asDer = parseCrls(pemBlocks(readFileSync(crlFile, 'latin1'), 'X509 CRL')[0]!, 'der');
  assert.equal(pem.length, 1);
  assert.deepEqual([...pem[0]!.revoked], [...asDer[0]!.revoked]);
  assert.equal(pem[0]!.revoked.size, 1);
  assert.ok(pem[0]!.nextUpdate! > Date.now());
});

test('crl: listed → revoked, not listed → good, CRL of another CA → undetermined', () => {
  const crls = parseCrls(readFileSync(crlFile), crlFile);
  assert.equal(checkRevocation(der(bob.crt), ca, crls).status, 'revoked');
  assert.deepEqual(checkRevocation(der(alice.crt), ca, crls), { status: 'good' });
  const foreign = parseCrls(readFileSync(otherCrl), otherCrl);
  const r = checkRevocation(der(alice.crt), ca, foreign);
  assert.equal(r.status, 'undetermined');
  assert.equal(checkRevocation(der(alice.crt), ca, []).status, 'undetermined');
});

test('crl: a CRL with a broken signature or past its nextUpdate does not count', () => {
  const bytes = pemBlocks(readFileSync(crlFile, 'latin1'), 'X509 CRL')[0]!;
  const forged = Buffer.from(bytes);
  forged[forged.length - 3] = forged[forged.length - 3]! ^ 0xff;
  const r = checkRevocation(der(bob.crt), ca, parseCrls(forged, 'forged'));
  assert.equal(r.status, 'undetermined');
  assert.match((r as { reason: string }).reason, /signature/);
  const later = checkRevocation(der(alice.crt), ca, parseCrls(bytes, 'f'), Date.now() + 60 * 86_400_000);
  assert.match((later as { reason: string }).reason, /expired/);
});

test('crl: garbage is a DerError naming the source', () => {
  assert.throws(() => parseCrls(Buffer.from('-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n'), 'bad.crl'), (e: unknown) => e instanceof DerError && /bad\.crl/.test((e as Error).message));
  assert.throws(() => parseCrls(Buffer.from('hello'), 'x'), DerError);
  assert.throws(() => parseCrls(Buffer.from('-----BEGIN CERTIFICATE-----\n'), 'y'), /PEM without an "X509 CRL" block/);
});

async function serve(handler: (path: string) => Buffer | null): Promise<{ url: (p: string) => string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url!);
    const body = handler(req.url!);
    if (body === null) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: (p) => `http://127.0.0.1:${port}${p}`, hits, server };
}

test('crl cache: fetched once, shared; kept when the server goes away; capacity drops the oldest', async () => {
  const body = readFileSync(crlFile);
  const s = await serve((p) => (p.startsWith('/ok') ? body : null));
  const cache = new CrlCache({ refresh_interval: 60_000, http_timeout: 2000, capacity: 2 }, silentLogger());
  const release = cache.acquire();
  try {
    await Promise.all([cache.ensure([s.url('/ok1')]), cache.ensure([s.url('/ok1')])]);
    assert.deepEqual(s.hits, ['/ok1']);
    assert.equal(cache.for([s.url('/ok1')]).length, 1);
    await cache.ensure([s.url('/missing')]);
    assert.equal(cache.has(s.url('/missing')), false);
    await cache.ensure([s.url('/missing')]); // not asked again right away
    assert.equal(s.hits.filter((h) => h === '/missing').length, 1);
    await new Promise<void>((r) => s.server.close(() => r()));
    await cache.refresh();
    assert.equal(cache.for([s.url('/ok1')]).length, 1, 'last CRL kept while the server is down');
    const s2 = await serve(() => body);
    await cache.ensure([s2.url('/a'), s2.url('/b')]);
    assert.equal(cache.has(s.url('/ok1')), false, 'the oldest URL was dropped at capacity 2');
    assert.equal(cache.has(s2.url('/a')) && cache.has(s2.url('/b')), true);
    s2.server.close();
  } finally {
    release();
  }
});
