/**
 * OCSP without a network: the DER encoder/decoder, the OCSPRequest compared byte for byte with
 * the one `openssl ocsp -reqout` writes, and responses made by `openssl ocsp -respout` from the
 * CA's index (good, revoked, signed by someone else, corrupted, expired).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DerError, TAG, certFields, children, decodeOid, decodeTime, oid, parseDer, pemBlocks, readTlv, seq, tlv, toPem,
} from '../../../broker/src/transport/der.js';
import { OcspError, buildOcspRequest, parseOcspResponse } from '../../../broker/src/transport/ocsp.js';
import { Pki } from '../../support/pki.js';

const pki = new Pki();
const server = pki.issue('server', { kind: 'server' });
const revoked = pki.issue('gone', { kind: 'server' });
const responder = pki.issue('ocsp', { kind: 'ocsp' });
pki.revoke(revoked);
const rogue = new Pki();
const rogueSigner = rogue.issue('rogue-ocsp', { kind: 'ocsp' });
after(() => { pki.remove(); rogue.remove(); });

const der = (file: string): Buffer => pemBlocks(readFileSync(file, 'latin1'), 'CERTIFICATE')[0]!;

test('der: OIDs encode and decode, including multi-byte arcs', () => {
  for (const o of ['1.3.14.3.2.26', '2.16.840.1.101.3.4.2.1', '1.3.6.1.5.5.7.48.1.1', '2.5.29.31', '1.2.840.113549.1.1.11']) {
    const t = parseDer(oid(o));
    assert.equal(t.tag, TAG.OID);
    assert.equal(decodeOid(t.value), o);
  }
  assert.deepEqual([...oid('1.2.840.113549')], [0x06, 0x06, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]);
});

test('der: long-form lengths round-trip; children walk a SEQUENCE', () => {
  const big = Buffer.alloc(300, 7);
  const enc = seq(tlv(TAG.OCTET_STRING, big), tlv(TAG.NULL, Buffer.alloc(0)));
  assert.deepEqual([...enc.subarray(0, 4)], [0x30, 0x82, 0x01, 0x32]); // 300 + 4 + 2 = 306 = 0x132
  const kids = children(parseDer(enc));
  assert.equal(kids.length, 2);
  assert.ok(kids[0]!.value.equals(big));
  assert.equal(kids[1]!.tag, TAG.NULL);
});

test('der: truncated, overlong and trailing input is a DerError naming the offset, never a crash', () => {
  const good = seq(tlv(TAG.INTEGER, Buffer.from([1])));
  assert.throws(() => parseDer(good.subarray(0, good.length - 1)), (e: unknown) => e instanceof DerError && /runs past its end/.test((e as Error).message));
  assert.throws(() => parseDer(Buffer.concat([good, Buffer.from([0])])), /trailing bytes/);
  assert.throws(() => readTlv(Buffer.from([0x30])), /truncated header at 0/);
  assert.throws(() => readTlv(Buffer.from([0x30, 0x85, 1, 1, 1, 1, 1])), /bad length form/);
  assert.throws(() => readTlv(Buffer.from([0x1f, 0x01, 0x00])), /multi-byte tag/);
  // Every prefix of a real certificate fails cleanly.
  const cert = der(server.crt);
  for (let n = 0; n < cert.length; n += 17) assert.throws(() => certFields(cert.subarray(0, n)), DerError);
});

test('der: times in UTCTime and GeneralizedTime', () => {
  assert.equal(decodeTime(readTlv(tlv(TAG.UTC_TIME, Buffer.from('491231235959Z')))), Date.UTC(2049, 11, 31, 23, 59, 59));
  assert.equal(decodeTime(readTlv(tlv(TAG.UTC_TIME, Buffer.from('500101000000Z')))), Date.UTC(1950, 0, 1));
  assert.equal(decodeTime(readTlv(tlv(TAG.GENERALIZED_TIME, Buffer.from('20260102030405Z')))), Date.UTC(2026, 0, 2, 3, 4, 5));
  assert.throws(() => decodeTime(readTlv(tlv(TAG.UTC_TIME, Buffer.from('2601')))), DerError);
});

test('der: PEM blocks round-trip', () => {
  const cert = der(server.crt);
  assert.ok(pemBlocks(toPem(cert, 'CERTIFICATE'), 'CERTIFICATE')[0]!.equals(cert));
  assert.deepEqual(pemBlocks('nothing here', 'CERTIFICATE'), []);
});

test('ocsp: the request is byte for byte the one openssl ocsp writes (SHA-1 CertID, no nonce)', () => {
  const req = buildOcspRequest(der(server.crt), der(pki.ca.crt));
  const out = join(pki.dir, 'by-openssl.req');
  pki.ocspResponse(server, responder); // writes server.ocspreq with -no_nonce
  const theirs = readFileSync(join(pki.dir, 'server.ocspreq'));
  assert.ok(req.equals(theirs), `ours ${req.toString('hex')}\ntheirs ${theirs.toString('hex')} (${out})`);
});

test('ocsp: a good response from a delegated responder is accepted with its dates', () => {
  const resp = pki.ocspResponse(server, responder);
  const s = parseOcspResponse(resp, der(server.crt), der(pki.ca.crt));
  assert.equal(s.certStatus, 'good');
  assert.ok(s.nextUpdate !== null && s.nextUpdate > Date.now() + 23 * 3600_000);
  assert.ok(Math.abs(s.thisUpdate - Date.now()) < 10 * 60_000);
});

test('ocsp: a response signed by the CA itself is accepted too', () => {
  const resp = pki.ocspResponse(server, pki.ca);
  assert.equal(parseOcspResponse(resp, der(server.crt), der(pki.ca.crt)).certStatus, 'good');
});

test('ocsp: a revoked certificate reads as revoked', () => {
  const resp = pki.ocspResponse(revoked, responder);
  assert.equal(parseOcspResponse(resp, der(revoked.crt), der(pki.ca.crt)).certStatus, 'revoked');
});

test('ocsp: a response about another certificate is refused', () => {
  const resp = pki.ocspResponse(revoked, responder);
  assert.throws(() => parseOcspResponse(resp, der(server.crt), der(pki.ca.crt)), /does not name this certificate/);
});

test('ocsp: a response signed by a responder of another CA is refused', () => {
  // rogue's index does not know our server; sign an "unknown" answer about it with the rogue key.
  const resp = pki.ocspResponse(server, rogueSigner, ['-ndays', '1']);
  assert.throws(() => parseOcspResponse(resp, der(server.crt), der(pki.ca.crt)), (e: unknown) => e instanceof OcspError && /signature/.test((e as Error).message));
});

test('ocsp: a response past its nextUpdate is refused', () => {
  const resp = pki.ocspResponse(server, responder);
  assert.throws(() => parseOcspResponse(resp, der(server.crt), der(pki.ca.crt), Date.now() + 2 * 86_400_000), /nextUpdate .* has passed/);
});

test('ocsp: corrupted responses are OcspErrors, and a flipped signature byte fails verification', () => {
  const resp = pki.ocspResponse(server, responder);
  for (let n = 0; n < resp.length; n += 23) {
    assert.throws(() => parseOcspResponse(resp.subarray(0, n), der(server.crt), der(pki.ca.crt)), OcspError);
  }
  // tryLater (3), as a responder under load answers.
  assert.throws(() => parseOcspResponse(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x03]), der(server.crt), der(pki.ca.crt)), /tryLater/);
  const flipped = Buffer.from(resp);
  const basic = children(parseDer(children(children(children(parseDer(flipped))[1]!)[0]!)[1]!.value));
  const sigOffset = flipped.indexOf(basic[2]!.raw) + basic[2]!.raw.length - 5;
  flipped[sigOffset] = flipped[sigOffset]! ^ 0xff;
  assert.throws(() => parseOcspResponse(flipped, der(server.crt), der(pki.ca.crt)), /signature/);
});
