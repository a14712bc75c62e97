/**
 * SCRAM authentication over MQTT 5 enhanced authentication (EMQX's `mechanism: scram`,
 * `backend: built_in_database`): the password never crosses the wire and the client learns
 * that the server knew it too. RFC 5802 with the hashes of RFC 7677, carried by CONNECT and
 * AUTH packets with Authentication Method `SCRAM-SHA-256` or `SCRAM-SHA-512`:
 *
 *   CONNECT  data = client-first  "n,,n=alice,r=<client nonce>"
 *   AUTH 18  data = server-first  "r=<client nonce><server nonce>,s=<salt>,i=4096"      → continue
 *   AUTH 18  data = client-final  "c=biws,r=<nonce>,p=<ClientProof>"
 *   CONNACK  data = server-final  "v=<ServerSignature>"                                 → allow
 *
 * The server checks H(ClientProof XOR HMAC(StoredKey, AuthMessage)) = StoredKey. Answers, as
 * EMQX's: a method this authenticator does not serve (the other hash, no method at all) or an
 * unknown user → ignore; a malformed message or a wrong proof → deny (not authorized).
 * Channel binding (`p=` in the GS2 header) is not offered, so a client asking for it is refused.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthRequest } from '../../hooks.js';
import type { AccessContext, Authenticator, AuthenticatorKind, AuthnOutcome, Parsed } from '../types.js';
import { sharedOf } from '../shared-store.js';
import { ScramUserDb, type ScramAlgorithm, type ScramRecord, type UserDb } from './scram-users.js';

export { UserDbError, type UserDb, type UserRow } from './user-db.js';

export interface ScramConfig {
  enable: boolean;
  algorithm: ScramAlgorithm;
  iterationCount: number;
}

const KEYS = new Set(['mechanism', 'backend', 'enable', 'algorithm', 'iteration_count']);

export function parseScramConfig(raw: Record<string, unknown>): Parsed<ScramConfig> {
  for (const k of Object.keys(raw)) if (!KEYS.has(k)) return { ok: false, error: `scram: unknown key '${k}'; known: ${[...KEYS].join(', ')}` };
  if (raw.mechanism !== undefined && raw.mechanism !== 'scram') return { ok: false, error: `scram: 'mechanism' must be scram, got ${JSON.stringify(raw.mechanism)}` };
  if (raw.backend !== undefined && raw.backend !== 'built_in_database') return { ok: false, error: `scram: 'backend' must be built_in_database, got ${JSON.stringify(raw.backend)}` };
  if (raw.enable !== undefined && typeof raw.enable !== 'boolean') return { ok: false, error: "scram: 'enable' must be true or false" };
  const algorithm = raw.algorithm ?? 'sha256';
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return { ok: false, error: `scram: 'algorithm' must be sha256 or sha512, got ${JSON.stringify(algorithm)}` };
  const it = raw.iteration_count ?? 4096;
  // RFC 7677 asks for at least 4096; fewer is allowed (EMQX allows it) but never zero.
  if (typeof it !== 'number' || !Number.isInteger(it) || it < 1 || it > 10_000_000) {
    return { ok: false, error: `scram: 'iteration_count' must be an integer from 1 to 10000000, got ${JSON.stringify(it)}` };
  }
  return { ok: true, value: { enable: raw.enable !== false, algorithm, iterationCount: it } };
}

export const scramKind: AuthenticatorKind<ScramConfig> = {
  mechanism: 'scram',
  backend: 'built_in_database',
  parse: parseScramConfig,
  create: (cfg, ctx) => new ScramAuthenticator(cfg, ctx),
};

const METHOD: Record<ScramAlgorithm, string> = { sha256: 'SCRAM-SHA-256', sha512: 'SCRAM-SHA-512' };
const NOT_AUTHORIZED: AuthnOutcome = { result: 'deny', reason: 'NOT_AUTHORIZED' };

/** What is kept between the two steps of one exchange (in the request's `state`). */
interface Exchange { user: string; clientFirstBare: string; serverFirst: string; nonce: string; gs2: string }

export class ScramAuthenticator implements Authenticator {
  readonly id = 'scram:built_in_database';
  readonly mechanism = 'scram' as const;
  readonly backend = 'built_in_database';
  readonly users: UserDb;
  private readonly db: ScramUserDb;
  private readonly cfg: ScramConfig;
  private readonly ctx: AccessContext;

  constructor(cfg: ScramConfig, ctx: AccessContext) {
    this.cfg = cfg;
    this.ctx = ctx;
    // Grouped as the built-in password database groups its users: per chain and authenticator.
    const chain = (ctx as AccessContext & { chainName?: string }).chainName ?? 'global';
    this.db = new ScramUserDb(sharedOf(ctx), `${chain}/${this.id}`, cfg.algorithm, cfg.iterationCount);
    this.users = this.db;
  }

  authenticate(req: AuthRequest): AuthnOutcome {
    if (req.method !== METHOD[this.cfg.algorithm] || req.data === null) return { result: 'ignore' };
    if (req.phase === 'continue') {
      const ex = req.state.scram as Exchange | undefined;
      if (ex === undefined) return { result: 'ignore' };
      req.state.scram = undefined; // one final message per exchange
      return this.final(ex, req.data.toString('utf8'));
    }
    req.state.scram = undefined;
    const first = parseClientFirst(req.data.toString('utf8'));
    if (typeof first === 'string') return this.refuse(req, first);
    const rec = this.db.record(first.user);
    if (rec === undefined) return { result: 'ignore', error: `SCRAM user ${JSON.stringify(first.user)} not found` };
    if (rec.algorithm !== this.cfg.algorithm) return this.refuse(req, `user ${first.user} was stored for ${rec.algorithm}`);
    const nonce = first.clientNonce + randomBytes(18).toString('base64');
    const serverFirst = `r=${nonce},s=${rec.salt},i=${rec.iteration_count}`;
    const ex: Exchange = { user: first.user, clientFirstBare: first.bare, serverFirst, nonce, gs2: first.gs2 };
    req.state.scram = ex;
    return { result: 'continue', data: Buffer.from(serverFirst, 'utf8') };
  }

  private final(ex: Exchange, msg: string): AuthnOutcome {
    // The user may have been deleted or changed between the two steps.
    const rec = this.db.record(ex.user);
    if (rec === undefined) return NOT_AUTHORIZED;
    const r = verifyClientFinal(msg, ex, rec, this.cfg.algorithm);
    if (!r.ok) {
      this.ctx.log.debug({ user: ex.user, reason: r.error }, 'SCRAM authentication refused');
      return NOT_AUTHORIZED;
    }
    return { result: 'allow', data: Buffer.from(r.serverFinal, 'utf8'), isSuperuser: rec.is_superuser };
  }

  private refuse(req: AuthRequest, why: string): AuthnOutcome {
    this.ctx.log.debug({ clientid: req.client.clientId, reason: why }, 'SCRAM authentication refused');
    return NOT_AUTHORIZED;
  }

  async close(): Promise<void> {}
}

// ---------------------------------------------------------------- the messages (RFC 5802 §7)

export interface ClientFirst { gs2: string; bare: string; user: string; clientNonce: string }

/** client-first-message → its parts, or why it is refused. */
export function parseClientFirst(msg: string): ClientFirst | string {
  const m = /^([nyp])(=[^,]*)?,(a=[^,]*)?,(.*)$/s.exec(msg);
  if (m === null) return 'client-first: no GS2 header';
  if (m[1] === 'p') return 'client-first: channel binding is not supported';
  if (m[1] !== 'p' && m[2] !== undefined) return 'client-first: bad GS2 header';
  const gs2 = msg.slice(0, msg.length - m[4]!.length);
  const bare = m[4]!;
  const attrs = bare.split(',');
  if (attrs[0]?.startsWith('m=')) return 'client-first: mandatory extension not supported';
  if (!attrs[0]?.startsWith('n=') || !attrs[1]?.startsWith('r=')) return 'client-first: expected n=<user>,r=<nonce>';
  const user = saslName(attrs[0].slice(2));
  if (user === null || user === '') return 'client-first: bad user name';
  const clientNonce = attrs[1].slice(2);
  if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) return 'client-first: bad nonce';
  // Unknown extensions are ignored [RFC 5802 §5.1], but they must still be attr=value.
  if (attrs.slice(2).some((a) => !/^[A-Za-z]=/.test(a))) return 'client-first: bad extension';
  if (m[3] !== undefined && saslName(m[3].slice(2)) !== user) return 'client-first: authorization identity differs from the user';
  return { gs2, bare, user, clientNonce };
}

/** RFC 5802 §5.1: ',' and '=' travel as =2C and =3D; any other '=' is an error. */
function saslName(s: string): string | null {
  if (/=(?!2C|3D)/.test(s)) return null;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** Checks a client-final message; returns the server-final message, or why it is refused. */
export function verifyClientFinal(
  msg: string, ex: Pick<Exchange, 'clientFirstBare' | 'serverFirst' | 'nonce' | 'gs2'>,
  rec: Pick<ScramRecord, 'stored_key' | 'server_key'>, alg: ScramAlgorithm,
): { ok: true; serverFinal: string } | { ok: false; error: string } {
  const no = (error: string) => ({ ok: false as const, error });
  const i = msg.lastIndexOf(',p=');
  if (i < 0) return no('client-final: no proof');
  const withoutProof = msg.slice(0, i);
  const attrs = withoutProof.split(',');
  if (attrs[0] !== `c=${Buffer.from(ex.gs2, 'utf8').toString('base64')}`) return no('client-final: channel binding does not match the GS2 header');
  if (attrs[1] !== `r=${ex.nonce}`) return no('client-final: nonce does not match');
  const proof = Buffer.from(msg.slice(i + 3), 'base64');
  const storedKey = Buffer.from(rec.stored_key, 'base64');
  if (proof.length !== storedKey.length) return no('client-final: proof has the wrong length');
  const authMessage = `${ex.clientFirstBare},${ex.serverFirst},${withoutProof}`;
  const clientSignature = createHmac(alg, storedKey).update(authMessage).digest();
  const clientKey = Buffer.alloc(proof.length);
  for (let k = 0; k < proof.length; k++) clientKey[k] = proof[k]! ^ clientSignature[k]!;
  if (!timingSafeEqual(createHash(alg).update(clientKey).digest(), storedKey)) return no('client-final: wrong proof (wrong password)');
  const serverSignature = createHmac(alg, Buffer.from(rec.server_key, 'base64')).update(authMessage).digest();
  return { ok: true, serverFinal: `v=${serverSignature.toString('base64')}` };
}
