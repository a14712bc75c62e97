/**
 * Every kind of authorization source, by its `type`, and the reader of the config's
 * `authorization.sources` list. A kind's `parse` gets the whole entry, `type` and `enable`
 * included, and names the bad key in its error; this file adds the entry's position.
 */
import type { AuthzSourceKind } from '../types.js';
import { fileAuthzKind } from './sources/file.js';
import { builtInAuthzKind } from './sources/built-in-db.js';

export const AUTHZ_SOURCE_KINDS: readonly AuthzSourceKind[] = [
  fileAuthzKind,
  builtInAuthzKind,
];

export function authzKind(type: string): AuthzSourceKind | undefined {
  return AUTHZ_SOURCE_KINDS.find((k) => k.type === type);
}

/** One configured source: its kind's parsed config, and the entry as written (REST shows it back). */
export interface SourceConfig {
  readonly type: string;
  readonly enable: boolean;
  readonly cfg: unknown;
  readonly raw: Readonly<Record<string, unknown>>;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/** One entry (`where` prefixes errors: `sources[1]`). */
export function parseSource(v: unknown, where: string): Result<SourceConfig> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, error: `${where}: a source is an object with a type` };
  const raw = v as Record<string, unknown>;
  const known = AUTHZ_SOURCE_KINDS.map((k) => k.type).join(', ');
  if (typeof raw.type !== 'string') return { ok: false, error: `${where}.type: required (one of ${known})` };
  const kind = authzKind(raw.type);
  if (kind === undefined) return { ok: false, error: `${where}.type: unknown source type '${raw.type}' (known: ${known})` };
  if (raw.enable !== undefined && typeof raw.enable !== 'boolean') return { ok: false, error: `${where}.enable: must be true or false` };
  const p = kind.parse(raw);
  if (!p.ok) return { ok: false, error: `${where} (${raw.type}): ${p.error}` };
  return { ok: true, value: { type: raw.type, enable: raw.enable !== false, cfg: p.value, raw: { ...raw, enable: raw.enable !== false } } };
}

/** The config leaf `authorization.sources`: an ordered list, at most one source per type. */
export function parseSources(v: unknown): Result<readonly SourceConfig[]> {
  if (!Array.isArray(v)) return { ok: false, error: 'must be a list of sources' };
  const out: SourceConfig[] = [];
  for (let i = 0; i < v.length; i++) {
    const p = parseSource(v[i], `sources[${i}]`);
    if (!p.ok) return p;
    if (out.some((s) => s.type === p.value.type)) return { ok: false, error: `sources[${i}]: a second '${p.value.type}' source (one per type)` };
    out.push(p.value);
  }
  return { ok: true, value: out };
}
