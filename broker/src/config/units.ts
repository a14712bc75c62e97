/**
 * Units in config values. Durations ("500ms", "30s", "15m", "2h", "1d", "infinity") become
 * milliseconds (Infinity for "infinity"); sizes ("256", "64KB", "1MB", "1GB") become bytes
 * (powers of 1024, like EMQX). A parse never rounds or clamps: anything not exactly
 * understood returns an error string that the loader turns into a ConfigError.
 */

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000,
};

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1, b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3,
};

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parse a duration into ms. A sum like "1h30m" is accepted; a bare number only when 0. */
export function parseDuration(input: unknown, allowInfinity = true): Parsed<number> {
  if (typeof input === 'number') {
    if (input === 0) return { ok: true, value: 0 };
    return { ok: false, error: `a duration needs a unit, e.g. "${input}s" or "${input}ms"` };
  }
  if (typeof input !== 'string') return { ok: false, error: `expected a duration like "30s", got ${describe(input)}` };
  const s = input.trim().toLowerCase();
  if (s === 'infinity') {
    return allowInfinity ? { ok: true, value: Infinity } : { ok: false, error: '"infinity" is not allowed here' };
  }
  if (s === '0') return { ok: true, value: 0 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return { ok: false, error: `expected a duration like "500ms", "30s", "15m", "2h" or "infinity", got ${JSON.stringify(input)}` };
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos === 0) return { ok: false, error: `expected a duration like "30s", got ${JSON.stringify(input)}` };
  if (!Number.isInteger(total)) return { ok: false, error: `duration ${JSON.stringify(input)} is not a whole number of milliseconds` };
  return { ok: true, value: total };
}

/** Parse a size into bytes: "256", "64KB", "1MB", "1.5MB" (must come out a whole byte count). */
export function parseSize(input: unknown): Parsed<number> {
  if (typeof input === 'number') {
    if (Number.isInteger(input) && input >= 0) return { ok: true, value: input };
    return { ok: false, error: `expected a whole number of bytes, got ${input}` };
  }
  if (typeof input !== 'string') return { ok: false, error: `expected a size like "1MB", got ${describe(input)}` };
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(input.trim().toLowerCase());
  const mult = m ? SIZE_UNITS[m[2]!] : undefined;
  if (!m || mult === undefined) {
    return { ok: false, error: `expected a size like "256", "64KB" or "1MB", got ${JSON.stringify(input)}` };
  }
  const value = Number(m[1]) * mult;
  if (!Number.isInteger(value)) return { ok: false, error: `size ${JSON.stringify(input)} is not a whole number of bytes` };
  return { ok: true, value };
}

/** Render ms back into the largest exact unit ("30s", "2h", "infinity") for docs and dumps. */
export function formatDuration(ms: number): string {
  if (ms === Infinity) return 'infinity';
  if (ms === 0) return '0';
  for (const [u, f] of [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % f === 0) return `${ms / f}${u}`;
  }
  return `${ms}ms`;
}

/** Render bytes into the largest exact unit ("1MB", "64KB", "100"). */
export function formatSize(bytes: number): string {
  for (const [u, f] of [['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024]] as const) {
    if (bytes !== 0 && bytes % f === 0) return `${bytes / f}${u}`;
  }
  return String(bytes);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return JSON.stringify(v);
  return `${typeof v} ${String(v)}`;
}
