/**
 * Hashing: md5, sha (SHA-1), sha256, and hash(Algorithm, Data) with EMQX's algorithm names.
 * The digest comes back as lower-case hex text, as in EMQX.
 */
import { createHash } from 'node:crypto';
import { badArg } from './errors.js';
import { def, type Family } from './family.js';
import { bytes, text } from './values.js';

/** EMQX (Erlang crypto) names → Node/OpenSSL names. */
const ALGORITHMS: Readonly<Record<string, string>> = {
  md4: 'md4', md5: 'md5', sha: 'sha1', sha1: 'sha1',
  sha224: 'sha224', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512',
  sha3_224: 'sha3-224', sha3_256: 'sha3-256', sha3_384: 'sha3-384', sha3_512: 'sha3-512',
  shake128: 'shake128', shake256: 'shake256', blake2b: 'blake2b512', blake2s: 'blake2s256',
};

function digest(algorithm: string, data: unknown, arg: number): string {
  return createHash(algorithm).update(bytes(data, arg)).digest('hex');
}

export const HASH: Family = {
  md5: def(1, 1, (d: unknown) => digest('md5', d, 1)),
  sha: def(1, 1, (d: unknown) => digest('sha1', d, 1)),
  sha256: def(1, 1, (d: unknown) => digest('sha256', d, 1)),
  hash: def(2, 2, (a: unknown, d: unknown) => {
    const name = ALGORITHMS[text(a, 1)];
    if (name === undefined) return badArg(1, `one of ${Object.keys(ALGORITHMS).join(', ')}`, a);
    return digest(name, d, 2);
  }),
};
