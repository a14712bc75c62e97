/**
 * Password hashing as EMQX's `password_hash_algorithm` defines it, so password hashes stored by
 * EMQX (its built-in database export, Redis hashes, SQL rows) verify here unchanged:
 *
 * - `{name: plain|md5|sha|sha256|sha512, salt_position: prefix|suffix|disable}`: the digest of
 *   salt+password, password+salt or the password alone, as lowercase hex (`plain`: the bytes
 *   themselves). Hex compares ignore case; `plain` compares case-sensitively.
 * - `{name: bcrypt, salt_rounds}`: a crypt(3) string (`$2b$10$…`); the stored salt is the hash
 *   itself, as EMQX stores it. Verification runs on libuv's thread pool (@node-rs/bcrypt), never
 *   on the event loop.
 * - `{name: pbkdf2, mac_fun, iterations, dk_length?}`: PBKDF2-HMAC, lowercase hex; `dk_length`
 *   defaults to the digest's size.
 *
 * Salts generated here are 32 lowercase hex characters (16 random bytes), EMQX's format;
 * `plain` never gets a salt, as in EMQX.
 */
import { createHash, getHashes, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash as bcryptHash, verify as bcryptVerify } from '@node-rs/bcrypt';
import type { Parsed } from '../types.js';

export type SimpleHashName = 'plain' | 'md5' | 'sha' | 'sha256' | 'sha512';
export type SaltPosition = 'prefix' | 'suffix' | 'disable';
export type Pbkdf2MacFun = 'md4' | 'md5' | 'ripemd160' | 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

export type HashAlgorithm =
  | { readonly name: SimpleHashName; readonly salt_position: SaltPosition }
  | { readonly name: 'bcrypt'; readonly salt_rounds: number }
  | { readonly name: 'pbkdf2'; readonly mac_fun: Pbkdf2MacFun; readonly iterations: number; readonly dk_length?: number };

/** EMQX's default for every backend: `{name: sha256, salt_position: prefix}`. */
export const DEFAULT_HASH_ALGORITHM: HashAlgorithm = Object.freeze({ name: 'sha256', salt_position: 'prefix' });

const SIMPLE: readonly SimpleHashName[] = ['plain', 'md5', 'sha', 'sha256', 'sha512'];
const SALT_POSITIONS: readonly SaltPosition[] = ['prefix', 'suffix', 'disable'];
const MAC_FUNS: readonly Pbkdf2MacFun[] = ['md4', 'md5', 'ripemd160', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'];

/** EMQX's names → Node's digest names. */
const NODE_DIGEST: Record<Exclude<SimpleHashName, 'plain'> | Pbkdf2MacFun, string> = {
  md4: 'md4', md5: 'md5', ripemd160: 'ripemd160', sha: 'sha1', sha224: 'sha224', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512',
};
const DIGEST_SIZE: Record<Pbkdf2MacFun, number> = {
  md4: 16, md5: 16, ripemd160: 20, sha: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64,
};

/** bcrypt's own limits on the cost; EMQX clamps its config to 5..10, we honour what is asked. */
const BCRYPT_MIN_ROUNDS = 4;
const BCRYPT_MAX_ROUNDS = 31;
const BCRYPT_DEFAULT_ROUNDS = 10;
/** PBKDF2's limit on the derived key (EMQX refuses longer ones too). */
const MAX_DK_LENGTH = 2 ** 32 - 1;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

function unknownKeys(raw: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  const extra = Object.keys(raw).filter((k) => !allowed.includes(k));
  return extra.length ? `unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `'${k}'`).join(', ')} (allowed: ${allowed.join(', ')})` : undefined;
}

const fail = (error: string): Parsed<HashAlgorithm> => ({ ok: false, error: `password_hash_algorithm: ${error}` });

/** Validates an EMQX `password_hash_algorithm` value; an error names the key at fault. */
export function parseHashAlgorithm(raw: unknown): Parsed<HashAlgorithm> {
  if (raw === undefined || raw === null) return { ok: true, value: DEFAULT_HASH_ALGORITHM };
  if (!isObj(raw)) return fail(`expected an object like {name: sha256, salt_position: prefix}, got ${JSON.stringify(raw)}`);
  const name = raw.name;
  if (typeof name !== 'string') return fail(`'name' is required (one of ${[...SIMPLE, 'bcrypt', 'pbkdf2'].join(', ')})`);
  if ((SIMPLE as readonly string[]).includes(name)) {
    const extra = unknownKeys(raw, ['name', 'salt_position']);
    if (extra) return fail(extra);
    const pos = raw.salt_position ?? 'prefix';
    if (typeof pos !== 'string' || !(SALT_POSITIONS as readonly string[]).includes(pos)) {
      return fail(`salt_position: expected one of ${SALT_POSITIONS.join(', ')}, got ${JSON.stringify(pos)}`);
    }
    return { ok: true, value: Object.freeze({ name: name as SimpleHashName, salt_position: pos as SaltPosition }) };
  }
  if (name === 'bcrypt') {
    const extra = unknownKeys(raw, ['name', 'salt_rounds']);
    if (extra) return fail(extra);
    const rounds = raw.salt_rounds ?? BCRYPT_DEFAULT_ROUNDS;
    if (!isPosInt(rounds) || rounds < BCRYPT_MIN_ROUNDS || rounds > BCRYPT_MAX_ROUNDS) {
      return fail(`salt_rounds: expected an integer from ${BCRYPT_MIN_ROUNDS} to ${BCRYPT_MAX_ROUNDS}, got ${JSON.stringify(rounds)}`);
    }
    return { ok: true, value: Object.freeze({ name: 'bcrypt', salt_rounds: rounds }) };
  }
  if (name === 'pbkdf2') {
    const extra = unknownKeys(raw, ['name', 'mac_fun', 'iterations', 'dk_length']);
    if (extra) return fail(extra);
    const mac = raw.mac_fun;
    if (typeof mac !== 'string' || !(MAC_FUNS as readonly string[]).includes(mac)) {
      return fail(`mac_fun: expected one of ${MAC_FUNS.join(', ')}, got ${JSON.stringify(mac)}`);
    }
    if (!getHashes().includes(NODE_DIGEST[mac as Pbkdf2MacFun])) {
      return fail(`mac_fun: '${mac}' is not available in this Node.js build's OpenSSL (OpenSSL 3 moved it to the legacy provider)`);
    }
    if (!isPosInt(raw.iterations)) return fail(`iterations: expected a positive integer, got ${JSON.stringify(raw.iterations)}`);
    const dk = raw.dk_length;
    if (dk !== undefined && (!isPosInt(dk) || dk > MAX_DK_LENGTH)) {
      return fail(`dk_length: expected a positive integer up to ${MAX_DK_LENGTH}, got ${JSON.stringify(dk)}`);
    }
    const value: HashAlgorithm = dk === undefined
      ? { name: 'pbkdf2', mac_fun: mac as Pbkdf2MacFun, iterations: raw.iterations }
      : { name: 'pbkdf2', mac_fun: mac as Pbkdf2MacFun, iterations: raw.iterations, dk_length: dk };
    return { ok: true, value: Object.freeze(value) };
  }
  return fail(`name: expected one of ${[...SIMPLE, 'bcrypt', 'pbkdf2'].join(', ')}, got ${JSON.stringify(name)}`);
}

const toBuf = (v: Buffer | string): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

function simpleHash(name: SimpleHashName, pos: SaltPosition, password: Buffer, salt: Buffer): Buffer {
  const data = pos === 'prefix' ? Buffer.concat([salt, password]) : pos === 'suffix' ? Buffer.concat([password, salt]) : password;
  if (name === 'plain') return data;
  return Buffer.from(createHash(NODE_DIGEST[name]).update(data).digest('hex'), 'latin1');
}

function pbkdf2Hex(alg: Extract<HashAlgorithm, { name: 'pbkdf2' }>, password: Buffer, salt: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, alg.iterations, alg.dk_length ?? DIGEST_SIZE[alg.mac_fun], NODE_DIGEST[alg.mac_fun], (err, key) => {
      if (err) reject(err); else resolve(key.toString('hex'));
    });
  });
}

/**
 * Compares in time independent of where the inputs differ — and of their lengths too: both
 * sides are digested first, so a stored hash's length cannot be probed either.
 */
function sameBytes(a: Buffer, b: Buffer): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

const lowerAscii = (s: string): Buffer => Buffer.from(s.toLowerCase(), 'utf8');

/**
 * True when `password` matches the stored hash and salt. Never throws for a malformed stored
 * hash (a corrupt row is a wrong password, not a crash).
 */
export async function checkPassword(alg: HashAlgorithm, password: Buffer | string, storedHash: string, salt: string): Promise<boolean> {
  const pw = toBuf(password);
  switch (alg.name) {
    case 'bcrypt':
      try { return await bcryptVerify(pw, storedHash); } catch { return false; }
    case 'pbkdf2': {
      let hex: string;
      try { hex = await pbkdf2Hex(alg, pw, toBuf(salt)); } catch { return false; }
      return sameBytes(Buffer.from(hex, 'latin1'), lowerAscii(storedHash));
    }
    case 'plain':
      return sameBytes(simpleHash('plain', alg.salt_position, pw, toBuf(salt)), toBuf(storedHash));
    default:
      return sameBytes(simpleHash(alg.name, alg.salt_position, pw, toBuf(salt)), lowerAscii(storedHash));
  }
}

const newSalt = (): string => randomBytes(16).toString('hex');

/** Hashes a password for storage with a fresh salt, as EMQX's built-in database does. */
export async function hashPassword(alg: HashAlgorithm, password: Buffer | string): Promise<{ password_hash: string; salt: string }> {
  const pw = toBuf(password);
  switch (alg.name) {
    case 'bcrypt': {
      const h = await bcryptHash(pw, alg.salt_rounds);
      return { password_hash: h, salt: h };
    }
    case 'pbkdf2': {
      const salt = newSalt();
      return { password_hash: await pbkdf2Hex(alg, pw, Buffer.from(salt, 'utf8')), salt };
    }
    default: {
      const salt = alg.name === 'plain' || alg.salt_position === 'disable' ? '' : newSalt();
      return { password_hash: simpleHash(alg.name, alg.salt_position, pw, Buffer.from(salt, 'utf8')).toString(alg.name === 'plain' ? 'utf8' : 'latin1'), salt };
    }
  }
}
