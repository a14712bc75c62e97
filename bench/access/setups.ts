/**
 * The access-control setups the `access` scenario compares, made once per benchmark run in a
 * temp dir (the broker of every run reads them from there):
 *
 *   open    defaults: no authenticator, no authorization source
 *   sha256  built-in database, {name: sha256, salt_position: prefix}: a hash bootstrap file with a
 *           password and a salt per user (hashed here with the broker's own code, as EMQX stores them)
 *   bcrypt  built-in database, {name: bcrypt, salt_rounds: 10} (EMQX's default cost): one hash
 *           shared by every user (the same password), since hashing one per user up front would
 *           take longer than the benchmark; the cost of a check does not depend on whose hash it is
 *   jwt     JWT, HS256, `verify_claims: {sub: "${username}"}`: one token per user, signed here
 *   acl     open authentication + a file source of `--acl-rules` rules (bench/access/acl-conf.ts),
 *           `no_match: deny`, the authorization cache on (EMQX's defaults: 32 entries, 1 min)
 *
 * Every client has a username (`bench-<i>` for QoS 1 pair i — publisher and subscriber alike —,
 * `bench-c-<i>` for the connect phase, `bench-probe`), so the ACL's `${username}` rules and the
 * databases see distinct users. Each setup also names CONNECTs it must refuse (a wrong password,
 * a token signed with another secret or for another user) and filters the ACL must deny: the
 * scenario tries them first, so a setup that is not in force fails the run instead of passing
 * for a free one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { hashPassword, parseHashAlgorithm } from '../../broker/src/access/authn/password-hash.js';
import type { Credentials } from '../lib/packets.js';
import type { RunOptions, Setup, SetupPlan } from '../scenarios/common.js';
import { aclConf, BENCH_TOPIC } from './acl-conf.js';

export const SETUP_NAMES = ['open', 'sha256', 'bcrypt', 'jwt', 'acl'] as const;
export type SetupName = (typeof SETUP_NAMES)[number];

export const PROBE_USER = 'bench-probe';
export const pairUser = (i: number): string => `bench-${i}`;
export const connectUser = (i: number): string => `bench-c-${i}`;
/** Clients of the connect phase: fewer with bcrypt, whose every connect costs a hash. */
export function connectClients(setup: string, opts: RunOptions): number {
  return setup === 'bcrypt' ? Math.min(opts.bcryptConnections, opts.accessConnections) : opts.accessConnections;
}

function usernames(opts: RunOptions, connects: number): string[] {
  const out = [PROBE_USER];
  for (let i = 0; i < opts.pairs; i++) out.push(pairUser(i));
  for (let i = 0; i < connects; i++) out.push(connectUser(i));
  return out;
}

const secret = (): string => randomBytes(12).toString('base64url');

function bare(username: string): Credentials {
  return { username, password: null };
}

/** A users file of the built-in database (EMQX's hash CSV) and the clients' passwords. */
async function builtInSetup(name: 'sha256' | 'bcrypt', dir: string, opts: RunOptions): Promise<Setup> {
  const algRaw = name === 'sha256' ? { name: 'sha256', salt_position: 'prefix' } : { name: 'bcrypt', salt_rounds: 10 };
  const alg = parseHashAlgorithm(algRaw);
  if (!alg.ok) throw new Error(`${name}: ${alg.error}`);
  const users = usernames(opts, connectClients(name, opts));
  const passwords = new Map<string, string>();
  const lines = ['user_id,password_hash,salt,is_superuser'];
  let shared: { password: string; hash: { password_hash: string; salt: string } } | null = null;
  if (name === 'bcrypt') {
    const password = secret();
    shared = { password, hash: await hashPassword(alg.value, password) };
  }
  for (const u of users) {
    const password = shared ? shared.password : secret();
    const h = shared ? shared.hash : await hashPassword(alg.value, password);
    passwords.set(u, password);
    lines.push(`${u},${h.password_hash},${h.salt},false`);
  }
  const file = join(dir, `users-${name}.csv`);
  writeFileSync(file, lines.join('\n') + '\n');
  const credentials = (username: string): Credentials => {
    const password = passwords.get(username);
    if (password === undefined) throw new Error(`${name}: no user ${username} in ${file}`);
    return { username, password };
  };
  return {
    name,
    petrel: {
      authentication: [{
        mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username',
        password_hash_algorithm: algRaw, bootstrap_file: file, bootstrap_type: 'hash',
      }],
    },
    credentials,
    probe: credentials(PROBE_USER),
    mustRefuse: [{ username: PROBE_USER, password: `${credentials(PROBE_USER).password}-wrong` }],
    mustDenySubscribe: [],
  };
}

async function jwtSetup(opts: RunOptions): Promise<Setup> {
  const key = randomBytes(32).toString('hex');
  const exp = Math.floor(Date.now() / 1000) + 86_400;
  const sign = (sub: string, k = key) => new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(sub)
    .setExpirationTime(exp).sign(new TextEncoder().encode(k));
  const tokens = new Map<string, string>();
  for (const u of usernames(opts, connectClients('jwt', opts))) tokens.set(u, await sign(u));
  const credentials = (username: string): Credentials => {
    const password = tokens.get(username);
    if (password === undefined) throw new Error(`jwt: no token signed for ${username}`);
    return { username, password };
  };
  return {
    name: 'jwt',
    petrel: {
      authentication: [{
        mechanism: 'jwt', from: 'password', algorithm: 'hmac-based', secret: key, secret_base64_encoded: false,
        verify_claims: { sub: '${username}' },
      }],
    },
    credentials,
    probe: credentials(PROBE_USER),
    mustRefuse: [
      { username: PROBE_USER, password: await sign(PROBE_USER, `${key}-other`) },
      { username: PROBE_USER, password: await sign(pairUser(0)) },
    ],
    mustDenySubscribe: [],
  };
}

function aclSetup(dir: string, opts: RunOptions): Setup {
  const file = join(dir, 'acl.conf');
  writeFileSync(file, aclConf(opts.aclRules));
  return {
    name: 'acl',
    petrel: {
      authorization: {
        no_match: 'deny', deny_action: 'ignore',
        cache: { enable: true, max_size: 32, ttl: '1m' },
        sources: [{ type: 'file', enable: true, path: file }],
      },
    },
    credentials: bare,
    probe: bare(PROBE_USER),
    mustRefuse: [],
    // Denied by an early $SYS rule, and by the closing {deny, all} after the whole list.
    mustDenySubscribe: ['$SYS/#', BENCH_TOPIC(`${PROBE_USER}-other`)],
  };
}

/** Makes the chosen setups (files in a temp dir, tokens); `open` is always among them. */
export async function accessSetups(opts: RunOptions, names: readonly string[] = SETUP_NAMES): Promise<SetupPlan> {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-bench-access-'));
  try {
    const setups: Setup[] = [];
    for (const name of SETUP_NAMES) {
      if (name !== 'open' && !names.includes(name)) continue;
      if (name === 'open') setups.push({ name, petrel: {}, credentials: bare, probe: bare(PROBE_USER), mustRefuse: [], mustDenySubscribe: [] });
      else if (name === 'sha256' || name === 'bcrypt') setups.push(await builtInSetup(name, dir, opts));
      else if (name === 'jwt') setups.push(await jwtSetup(opts));
      else setups.push(aclSetup(dir, opts));
    }
    const judged = ['sha256', 'jwt', 'acl'].filter((s) => setups.some((x) => x.name === s));
    const others = setups.map((s) => s.name).filter((s) => s !== 'open' && s !== 'bcrypt');
    const targets = [
      { metric: 'msgs', setups: judged, minRatio: 0.9 },
      { metric: 'connRate', setups: others, why: 'reported', show: ['connRate', 'cpuPerConn'] },
      { metric: 'connRate', setups: setups.some((s) => s.name === 'bcrypt') ? ['bcrypt'] : [], why: "reported, not targeted: bcrypt's cost is paid per connect", show: ['connRate', 'cpuPerConn'] },
    ].filter((t) => t.setups.length > 0);
    return { setups, reference: 'open', targets, dispose: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
