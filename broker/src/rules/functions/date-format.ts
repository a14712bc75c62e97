/**
 * EMQX's date format strings (emqx_utils_calendar), used by format_date and date_to_unix_ts:
 * %Y year (4 digits), %m month, %d day, %H hour, %M minute, %S second (2 digits each),
 * %N nanoseconds (9), %6N microseconds (6), %3N milliseconds (3), %z +hhmm, %:z +hh:mm,
 * %::z +hh:mm:ss. Everything else is literal. When parsing, a literal is skipped by its
 * length without being compared — EMQX does that for compatibility with 4.x rules such as
 * '%H-%M-%S' reading '10:40:12', and so do we.
 */
import { ArgError } from './errors.js';

export type Unit = 'second' | 'millisecond' | 'microsecond' | 'nanosecond';
export const UNIT_NS: Readonly<Record<Unit, bigint>> = {
  second: 1_000_000_000n, millisecond: 1_000_000n, microsecond: 1_000n, nanosecond: 1n,
};

type Part = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'ns' | 'us' | 'ms' | 'tz' | 'tz1' | 'tz2';
type Token = Part | { literal: string };

const TOKENS: readonly [string, Part][] = [
  ['%Y', 'year'], ['%m', 'month'], ['%d', 'day'], ['%H', 'hour'], ['%M', 'minute'], ['%S', 'second'],
  ['%N', 'ns'], ['%3N', 'ms'], ['%6N', 'us'], ['%z', 'tz'], ['%:z', 'tz1'], ['%::z', 'tz2'],
];
const SIZE: Readonly<Record<Part, number>> = {
  year: 4, month: 2, day: 2, hour: 2, minute: 2, second: 2, ns: 9, us: 6, ms: 3, tz: 5, tz1: 6, tz2: 9,
};

// Rules pass the same literal format with every message; parse it once.
const FORMAT_CACHE_MAX = 256;
const formats = new Map<string, readonly Token[]>();

export function parseFormat(fmt: string): readonly Token[] {
  let tokens = formats.get(fmt);
  if (tokens === undefined) {
    tokens = tokenize(fmt);
    if (formats.size >= FORMAT_CACHE_MAX) formats.delete(formats.keys().next().value!);
    formats.set(fmt, tokens);
  }
  return tokens;
}

function tokenize(fmt: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < fmt.length; ) {
    const hit = TOKENS.find(([t]) => fmt.startsWith(t, i));
    if (hit) {
      out.push(hit[1]);
      i += hit[0].length;
      continue;
    }
    const last = out[out.length - 1];
    if (last !== undefined && typeof last === 'object') last.literal += fmt[i];
    else out.push({ literal: fmt[i]! });
    i += 1;
  }
  return out;
}

const DAY_S = 86_400n;

/** Days since 1970-01-01 of a proleptic Gregorian date (any year, unlike Date.UTC's 0–99). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(2000, m, 0)).getUTCDate() - (m === 2 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)) ? 1 : 0);
}

function pad(n: number | bigint, width: number): string {
  return String(n).padStart(width, '0');
}

export function zone(offset: number, part: 'tz' | 'tz1' | 'tz2'): string {
  const sign = offset >= 0 ? '+' : '-';
  const a = Math.abs(offset);
  const h = pad(Math.floor(a / 3600), 2);
  const m = pad(Math.floor((a % 3600) / 60), 2);
  if (part === 'tz') return `${sign}${h}${m}`;
  return part === 'tz1' ? `${sign}${h}:${m}` : `${sign}${h}:${m}:${pad(a % 60, 2)}`;
}

/** `time` in `unit` since the epoch, shown at UTC+`offset` seconds. */
export function formatDate(time: bigint, unit: Unit, offset: number, fmt: string): string {
  const perSecond = UNIT_NS.second / UNIT_NS[unit];
  const shifted = time + BigInt(offset) * perSecond;
  // Floor, so times before 1970 show the right second (EMQX prints garbage for those).
  const secs = shifted / perSecond - (shifted % perSecond < 0n ? 1n : 0n);
  const d = new Date(Number(secs) * 1000);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 0) throw new ArgError(4, 'the time is out of range');
  let out = '';
  for (const t of parseFormat(fmt)) {
    if (typeof t === 'object') {
      out += t.literal;
      continue;
    }
    switch (t) {
      case 'year': out += pad(d.getUTCFullYear(), 4); break;
      case 'month': out += pad(d.getUTCMonth() + 1, 2); break;
      case 'day': out += pad(d.getUTCDate(), 2); break;
      case 'hour': out += pad(d.getUTCHours(), 2); break;
      case 'minute': out += pad(d.getUTCMinutes(), 2); break;
      case 'second': out += pad(d.getUTCSeconds(), 2); break;
      case 'ns': case 'us': case 'ms': {
        const ns = (((time % perSecond) + perSecond) % perSecond) * UNIT_NS[unit];
        out += t === 'ns' ? pad(ns, 9) : t === 'us' ? pad(ns / 1000n, 6) : pad(ns / 1_000_000n, 3);
        break;
      }
      default: out += zone(offset, t);
    }
  }
  return out;
}

const INT = /^[+-]?\d+$/;

/** Parses `input` by `fmt`; the result is in nanoseconds since the epoch. */
export function parseDate(input: string, fmt: string, toOffset: (s: string) => number): bigint {
  const got: Partial<Record<Part, number>> = {};
  let offset = 0;
  let rest = Buffer.from(input, 'utf8');
  for (const t of parseFormat(fmt)) {
    if (rest.length === 0) break;
    const size = typeof t === 'object' ? Buffer.byteLength(t.literal) : SIZE[t];
    if (rest.length < size) throw new ArgError(4, 'the date string is shorter than the format');
    const piece = rest.subarray(0, size).toString('utf8');
    rest = rest.subarray(size);
    if (typeof t === 'object') continue;
    if (t === 'tz' || t === 'tz1' || t === 'tz2') offset = toOffset(piece);
    else if (INT.test(piece)) got[t] = Number(piece);
    else throw new ArgError(4, `the date string does not match the format at ${JSON.stringify(piece)}`);
  }
  for (const p of ['year', 'month', 'day', 'hour', 'minute', 'second'] as const) {
    if (got[p] === undefined) throw new ArgError(3, `the format or the date string has no ${p}`);
  }
  const { year, month, day, hour, minute, second } = got as Record<Part, number>;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new ArgError(4, `${year}-${month}-${day} is not a date`);
  }
  const secs = BigInt(daysFromCivil(year, month, day)) * DAY_S + BigInt(hour * 3600 + minute * 60 + second - offset);
  const frac = BigInt(got.ns ?? 0) + BigInt(got.us ?? 0) * 1000n + BigInt(got.ms ?? 0) * 1_000_000n;
  return secs * UNIT_NS.second + frac;
}
