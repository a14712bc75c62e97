/**
 * Password hashing against the example hashes of EMQX's own test suite
 * (apps/emqx_auth/test/emqx_authn/emqx_authn_password_hashing_SUITE.erl), the RFC 6070 PBKDF2
 * vectors it borrows, round trips through hashPassword, and the config parser's errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPassword, hashPassword, parseHashAlgorithm, type HashAlgorithm } from '../../../broker/src/access/authn/password-hash.js';

function alg(raw: unknown): HashAlgorithm {
  const p = parseHashAlgorithm(raw);
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

const EMQX_EXAMPLES: Array<{ hash: string; salt: string; password: string; algorithm: unknown }> = [
  { hash: 'plainsalt', salt: 'salt', password: 'plain', algorithm: { name: 'plain', salt_position: 'suffix' } },
  { hash: '1bc29b36f623ba82aaf6724fd3b16718', salt: 'salt', password: 'md5', algorithm: { name: 'md5', salt_position: 'disable' } },
  { hash: 'c665d4c0a9e5498806b7d9fd0b417d272853660e', salt: 'salt', password: 'sha', algorithm: { name: 'sha', salt_position: 'prefix' } },
  { hash: 'ac63a624e7074776d677dd61a003b8c803eb11db004d0ec6ae032a5d7c9c5caf', salt: 'salt', password: 'sha256', algorithm: { name: 'sha256', salt_position: 'prefix' } },
  {
    hash: 'a1509ab67bfacbad020927b5ac9d91e9100a82e33a0ebb01459367ce921c0aa8157aa5652f94bc84fa3babc08283e44887d61c48bcf8ad7bcb3259ee7d0eafcd',
    salt: 'salt', password: 'sha512', algorithm: { name: 'sha512', salt_position: 'prefix' },
  },
  { hash: '$2b$12$wtY3h20mUjjmeaClpqZVveDWGlHzCGsvuThMlneGHA7wVeFYyns2u', salt: '$2b$12$wtY3h20mUjjmeaClpqZVve', password: 'bcrypt', algorithm: { name: 'bcrypt', salt_rounds: 10 } },
  { hash: '01dbee7f4a9e243e988b62c73cda935da05378b93244ec8f48a99e61ad799d86', salt: 'ATHENA.MIT.EDUraeburn', password: 'password', algorithm: { name: 'pbkdf2', iterations: 2, dk_length: 32, mac_fun: 'sha' } },
  { hash: '01dbee7f4a9e243e988b62c73cda935da05378b9', salt: 'ATHENA.MIT.EDUraeburn', password: 'password', algorithm: { name: 'pbkdf2', iterations: 2, mac_fun: 'sha' } },
];

for (const ex of EMQX_EXAMPLES) {
  const a = ex.algorithm as { name: string };
  test(`EMQX example ${a.name} ${JSON.stringify(ex.algorithm)}: right password accepted, wrong refused`, async () => {
    const al = alg(ex.algorithm);
    assert.equal(await checkPassword(al, ex.password, ex.hash, ex.salt), true);
    assert.equal(await checkPassword(al, Buffer.from(ex.password), ex.hash, ex.salt), true, 'a Buffer password (CONNECT bytes) as well');
    assert.equal(await checkPassword(al, 'wrongpass', ex.hash, ex.salt), false);
    assert.equal(await checkPassword(al, '', ex.hash, ex.salt), false);
  });
}

test('hex hashes compare regardless of case (EMQX compares caselessly); plain does not', async () => {
  assert.equal(await checkPassword(alg({ name: 'md5', salt_position: 'disable' }), 'md5', '1BC29B36F623BA82AAF6724FD3B16718', ''), true);
  assert.equal(await checkPassword(alg({ name: 'pbkdf2', iterations: 2, mac_fun: 'sha' }), 'password', '01DBEE7F4A9E243E988B62C73CDA935DA05378B9', 'ATHENA.MIT.EDUraeburn'), true);
  const plain = alg({ name: 'plain', salt_position: 'disable' });
  assert.equal(await checkPassword(plain, 'password', 'password', ''), true);
  assert.equal(await checkPassword(plain, 'PASSWORD', 'password', ''), false);
  assert.equal(await checkPassword(plain, 'Password', 'password', ''), false);
});

test('salt position: suffix and prefix give different hashes; disable ignores the salt', async () => {
  const suffix = alg({ name: 'sha256', salt_position: 'suffix' });
  const prefix = alg({ name: 'sha256', salt_position: 'prefix' });
  // sha256("sha256" + "salt"), computed outside Node: `printf sha256salt | sha256sum`.
  const real = 'e586e489b1c0338b9bcfadc4572c271df669533c8035e02c09a0c58ddb48df63';
  assert.equal(await checkPassword(suffix, 'sha256', real, 'salt'), true);
  assert.equal(await checkPassword(prefix, 'sha256', real, 'salt'), false);
  const disable = alg({ name: 'md5', salt_position: 'disable' });
  assert.equal(await checkPassword(disable, 'md5', '1bc29b36f623ba82aaf6724fd3b16718', 'any salt at all'), true);
});

test('PBKDF2 RFC 6070 vectors with other MAC functions and lengths', async () => {
  // RFC 6070 test 3 (4096 iterations, 20 bytes) and RFC 7914's PBKDF2-HMAC-SHA256 vector.
  assert.equal(await checkPassword(alg({ name: 'pbkdf2', mac_fun: 'sha', iterations: 4096 }), 'password', '4b007901b765489abead49d926f721d065a429c1', 'salt'), true);
  assert.equal(await checkPassword(alg({ name: 'pbkdf2', mac_fun: 'sha256', iterations: 1, dk_length: 64 }), 'passwd',
    '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783', 'salt'), true);
});

test('every algorithm round-trips through hashPassword with a fresh salt', async () => {
  const algs: unknown[] = [
    { name: 'plain', salt_position: 'disable' }, { name: 'plain', salt_position: 'suffix' },
    { name: 'md5', salt_position: 'prefix' }, { name: 'sha', salt_position: 'suffix' },
    { name: 'sha256', salt_position: 'disable' }, { name: 'sha512', salt_position: 'prefix' },
    { name: 'bcrypt', salt_rounds: 5 },
    { name: 'pbkdf2', mac_fun: 'sha512', iterations: 10 }, { name: 'pbkdf2', mac_fun: 'md5', iterations: 3, dk_length: 40 },
    { name: 'pbkdf2', mac_fun: 'sha224', iterations: 3 }, { name: 'pbkdf2', mac_fun: 'sha384', iterations: 3 },
    { name: 'pbkdf2', mac_fun: 'ripemd160', iterations: 3 },
  ];
  for (const raw of algs) {
    const a = alg(raw);
    const { password_hash, salt } = await hashPassword(a, 'pässword');
    assert.equal(await checkPassword(a, 'pässword', password_hash, salt), true, JSON.stringify(raw));
    assert.equal(await checkPassword(a, 'password', password_hash, salt), false, JSON.stringify(raw));
    if (a.name === 'bcrypt') { assert.match(password_hash, /^\$2b\$05\$/); assert.equal(salt, password_hash); }
    else if (a.name === 'plain' || (a.name !== 'pbkdf2' && a.salt_position === 'disable')) assert.equal(salt, '');
    else assert.match(salt, /^[0-9a-f]{32}$/);
    if (a.name === 'pbkdf2') assert.equal(password_hash.length, 2 * (a.dk_length ?? ({ sha512: 64, md5: 16, sha224: 28, sha384: 48, ripemd160: 20 } as Record<string, number>)[a.mac_fun]));
  }
  const a = alg({ name: 'sha256', salt_position: 'prefix' });
  const one = await hashPassword(a, 'x');
  const two = await hashPassword(a, 'x');
  assert.notEqual(one.salt, two.salt, 'salts are random');
});

test('a malformed stored hash is a wrong password, never a throw', async () => {
  assert.equal(await checkPassword(alg({ name: 'bcrypt' }), 'x', 'not-a-bcrypt-hash', ''), false);
  assert.equal(await checkPassword(alg({ name: 'bcrypt' }), 'x', '', ''), false);
  assert.equal(await checkPassword(alg({ name: 'sha256', salt_position: 'prefix' }), 'x', 'zz', 'salt'), false);
});

test('parse: EMQX defaults and errors that name the key', () => {
  assert.deepEqual(alg(undefined), { name: 'sha256', salt_position: 'prefix' });
  assert.deepEqual(alg({ name: 'sha512' }), { name: 'sha512', salt_position: 'prefix' });
  assert.deepEqual(alg({ name: 'bcrypt' }), { name: 'bcrypt', salt_rounds: 10 });
  const err = (raw: unknown): string => { const p = parseHashAlgorithm(raw); assert.equal(p.ok, false, JSON.stringify(raw)); return (p as { error: string }).error; };
  assert.match(err('sha256'), /expected an object/);
  assert.match(err({}), /'name' is required/);
  assert.match(err({ name: 'sha3' }), /name: expected one of/);
  assert.match(err({ name: 'md5', salt_position: 'middle' }), /salt_position/);
  assert.match(err({ name: 'md5', salt_rounds: 4 }), /unknown key 'salt_rounds'/);
  assert.match(err({ name: 'bcrypt', salt_rounds: 3 }), /salt_rounds/);
  assert.match(err({ name: 'bcrypt', salt_rounds: 'ten' }), /salt_rounds/);
  assert.match(err({ name: 'pbkdf2', mac_fun: 'sha256' }), /iterations/);
  assert.match(err({ name: 'pbkdf2', mac_fun: 'sha256', iterations: 0 }), /iterations/);
  assert.match(err({ name: 'pbkdf2', mac_fun: 'whirlpool', iterations: 1 }), /mac_fun/);
  assert.match(err({ name: 'pbkdf2', mac_fun: 'sha', iterations: 1, dk_length: -1 }), /dk_length/);
  // OpenSSL 3 (Node 20) has no MD4 outside the legacy provider: a clear refusal, not a failure per connect.
  assert.match(err({ name: 'pbkdf2', mac_fun: 'md4', iterations: 1 }), /md4.*not available/);
});
