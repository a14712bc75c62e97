/**
 * Every kind of authenticator the `authentication:` chain can name, by mechanism and backend.
 * A config entry `{mechanism, backend}` (JWT: no backend) finds its kind here; its id is
 * EMQX's: `mechanism:backend`, or the mechanism alone when there is no backend (`jwt`).
 */
import type { AuthenticatorKind, Parsed } from '../types.js';
import { builtInDbKind } from './built-in-db.js';
import { jwtKind } from './jwt.js';
import { scramKind } from './scram.js';
import { httpAuthnKind, mysqlAuthnKind, postgresqlAuthnKind, redisAuthnKind } from '../backends/index.js';

export const AUTHENTICATOR_KINDS: readonly AuthenticatorKind[] = [
  builtInDbKind,
  jwtKind,
  scramKind,
  redisAuthnKind,
  postgresqlAuthnKind,
  mysqlAuthnKind,
  httpAuthnKind,
];

/** EMQX's authenticator id. */
export function authenticatorId(mechanism: string, backend: string): string {
  return backend === '' ? mechanism : `${mechanism}:${backend}`;
}

export function findKind(mechanism: string, backend: string): AuthenticatorKind | undefined {
  return AUTHENTICATOR_KINDS.find((k) => k.mechanism === mechanism && k.backend === backend);
}

/** "password_based:built_in_database, jwt, …": for error messages. */
export function knownIds(): string {
  return AUTHENTICATOR_KINDS.map((k) => authenticatorId(k.mechanism, k.backend)).join(', ');
}

/** One entry of an `authentication:` list, validated by its kind; `raw` is what the user wrote (REST shows it). */
export interface AuthnEntry {
  readonly id: string;
  readonly mechanism: string;
  readonly backend: string;
  readonly enable: boolean;
  readonly raw: Readonly<Record<string, unknown>>;
  /** The kind's parsed config. */
  readonly config: unknown;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates one authenticator entry. The kind's `parse` sees the entry without `mechanism`,
 * `backend` and `enable` (the chain's keys). Errors start with the entry's id.
 */
export function parseAuthnEntry(raw: unknown): Parsed<AuthnEntry> {
  if (!isObj(raw)) return { ok: false, error: `expected an object like {mechanism: password_based, backend: built_in_database}, got ${JSON.stringify(raw)}` };
  // `id` is accepted (a config read back from the REST API carries it) when it matches.
  const { mechanism, backend = '', enable = true, id: given, ...rest } = raw;
  if (typeof mechanism !== 'string') return { ok: false, error: `mechanism is required (password_based, jwt or scram)` };
  if (typeof backend !== 'string') return { ok: false, error: `backend: expected a string, got ${JSON.stringify(backend)}` };
  if (typeof enable !== 'boolean') return { ok: false, error: `enable: expected true or false, got ${JSON.stringify(enable)}` };
  const id = authenticatorId(mechanism, backend);
  if (given !== undefined && given !== id) return { ok: false, error: `id: ${JSON.stringify(given)} does not match mechanism and backend (${id})` };
  const { id: _id, ...kept } = raw;
  const kind = findKind(mechanism, backend);
  if (kind === undefined) return { ok: false, error: `${id}: no such authenticator (known: ${knownIds()})` };
  const p = kind.parse(rest);
  if (!p.ok) return { ok: false, error: `${id}: ${p.error}` };
  return { ok: true, value: Object.freeze({ id, mechanism, backend, enable, raw: Object.freeze(kept), config: p.value }) };
}

/**
 * Validates an `authentication:` list (global or a listener's). Errors name the entry index
 * and the key (`[1] password_based:built_in_database: user_id_type: …`); an id may appear
 * once per chain, as in EMQX.
 */
export function parseAuthnList(raw: unknown): Parsed<readonly AuthnEntry[]> {
  if (raw === undefined || raw === null) return { ok: true, value: Object.freeze([]) };
  const list = isObj(raw) ? [raw] : raw; // EMQX accepts a single authenticator in place of a list
  if (!Array.isArray(list)) return { ok: false, error: `expected a list of authenticators, got ${JSON.stringify(raw)}` };
  const out: AuthnEntry[] = [];
  for (let i = 0; i < list.length; i++) {
    const e = parseAuthnEntry(list[i]);
    if (!e.ok) return { ok: false, error: `[${i}] ${e.error}` };
    if (out.some((o) => o.id === e.value.id)) return { ok: false, error: `[${i}] ${e.value.id}: this authenticator is already in the chain (each may appear once)` };
    out.push(e.value);
  }
  return { ok: true, value: Object.freeze(out) };
}

/**
 * An `authentication` setting that may be absent (null): a listener's (absent = the global
 * chain applies) or the global one (absent = the chain last saved through the REST API, if any).
 */
export function parseAuthnSetting(raw: unknown): Parsed<readonly AuthnEntry[] | null> {
  return raw === undefined || raw === null ? { ok: true, value: null } : parseAuthnList(raw);
}
