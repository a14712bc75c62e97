/**
 * Deciding whether a desired object needs applying, and saying why.
 *
 * The live object carries more than we set (server defaults, status, other managers' fields), so
 * "needs apply" is: some field we set has another value live (`firstDifference`, a subset check
 * that returns the path, e.g. `spec.replicas: 3 → 5`, which becomes the Event message), or the
 * desired object changed since we last applied it (a hash annotation on the object, which also
 * catches fields we stopped setting — a subset check alone cannot see a removal).
 */
import { createHash } from 'node:crypto';

export const ANNOTATION_APPLIED_HASH = 'mqtt.petrel.dev/applied-hash';

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON with sorted keys, so equal objects hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObj(v)) {
    return `{${Object.keys(v).filter((k) => v[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function objectHash(obj: unknown): string {
  return createHash('sha256').update(canonicalJson(obj)).digest('hex').slice(0, 16);
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? 'absent';
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * The first path where `desired` is not contained in `live`, with both values; undefined when every
 * field of `desired` has the same value live. Lists must match element by element (same length);
 * list elements that are objects are compared as subsets too.
 */
export function firstDifference(desired: unknown, live: unknown, path = ''): string | undefined {
  if (isObj(desired)) {
    if (!isObj(live)) return `${path || '<root>'}: ${show(live)} → object`;
    for (const [k, v] of Object.entries(desired)) {
      if (v === undefined) continue;
      const d = firstDifference(v, live[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return undefined;
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) {
      return `${path}: ${Array.isArray(live) ? `${live.length} items` : show(live)} → ${desired.length} items`;
    }
    for (let i = 0; i < desired.length; i++) {
      const d = firstDifference(desired[i], live[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (desired === live) return undefined;
  // quantities and int-or-string values may come back normalised as strings/numbers
  if (desired !== null && live !== null && String(desired) === String(live) && typeof desired !== 'boolean') return undefined;
  return `${path}: ${show(live)} → ${show(desired)}`;
}

/** Why `live` must be re-applied to reach `desired` (with the hash annotation), or undefined. */
export function applyReason(desiredWithHash: { metadata?: { annotations?: Record<string, string> } }, live: unknown): string | undefined {
  if (live === undefined) return 'created';
  const want = desiredWithHash.metadata?.annotations?.[ANNOTATION_APPLIED_HASH];
  const have = (live as any)?.metadata?.annotations?.[ANNOTATION_APPLIED_HASH];
  const diff = firstDifference(desiredWithHash, live);
  if (diff) return diff.startsWith(`metadata.annotations.${ANNOTATION_APPLIED_HASH}`) ? 'desired state changed' : diff;
  if (want !== have) return 'desired state changed';
  return undefined;
}

/** A copy of `obj` carrying the hash of its content (computed without the annotation itself). */
export function withAppliedHash<T extends { metadata: { annotations?: Record<string, string> } }>(obj: T): T {
  const copy = structuredClone(obj);
  const annotations = { ...(copy.metadata.annotations ?? {}) };
  delete annotations[ANNOTATION_APPLIED_HASH];
  copy.metadata.annotations = annotations;
  const h = objectHash(copy);
  copy.metadata.annotations = { ...annotations, [ANNOTATION_APPLIED_HASH]: h };
  return copy;
}
