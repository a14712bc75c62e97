/**
 * Time and date functions. Units are EMQX's: 'second', 'millisecond', 'microsecond',
 * 'nanosecond'. Timestamps are integers (a bigint where they pass 2^53, e.g. nanoseconds).
 * RFC 3339 output uses the host's local time zone, as EMQX does (set TZ to choose it);
 * offsets are an integer of seconds, 'Z'/'z', 'local', or ±hh:mm, ±hh:mm:ss, ±hhmm.
 */
import { ArgError, badArg } from './errors.js';
import { def, type Family } from './family.js';
import { formatDate, parseDate, UNIT_NS, type Unit } from './date-format.js';
import { big, intResult, text } from './values.js';

function unit(v: unknown, arg: number): Unit {
  const s = typeof v === 'string' || v instanceof Uint8Array ? text(v, arg) : '';
  if (s in UNIT_NS) return s as Unit;
  return badArg(arg, "'second', 'millisecond', 'microsecond' or 'nanosecond'", v);
}

function nowNs(): bigint {
  // Date.now() has only milliseconds; performance gives microseconds on the same clock.
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/** Floor division, as erlang:convert_time_unit rounds. */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

function localOffset(epochMs: number): number {
  return -new Date(epochMs).getTimezoneOffset() * 60;
}

const OFFSET = /^([+-])(?:(\d+):(\d+)(?::(\d+))?|(\d{2})(\d{2}))$/;

export function offsetSeconds(v: unknown, arg: number): number {
  if (typeof v === 'bigint' || Number.isInteger(v)) return Number(v);
  if (v === undefined) return 0;
  const s = typeof v === 'string' || v instanceof Uint8Array ? text(v, arg) : badArg(arg, 'a time offset', v);
  if (s === 'local') return localOffset(Date.now());
  if (s === 'Z' || s === 'z') return 0;
  const m = OFFSET.exec(s);
  if (m === null) return badArg(arg, "a time offset such as 'Z', 'local', '+08:00', '-0530' or '+08:00:00'", v);
  const h = Number(m[2] ?? m[5]);
  const min = Number(m[3] ?? m[6]);
  const sec = Number(m[4] ?? 0);
  if (h > 23 || min > 59 || sec > 59) return badArg(arg, 'an offset with hours ≤ 23, minutes and seconds ≤ 59', v);
  return (m[1] === '-' ? -1 : 1) * (h * 3600 + min * 60 + sec);
}

const DIGITS: Readonly<Record<Unit, number>> = { second: 0, millisecond: 3, microsecond: 6, nanosecond: 9 };

function toRfc3339(time: bigint, u: Unit): string {
  const perSecond = UNIT_NS.second / UNIT_NS[u];
  const secs = floorDiv(time, perSecond);
  const offset = localOffset(Number(secs) * 1000);
  const frac = DIGITS[u] === 0 ? '' : '.%' + (u === 'millisecond' ? '3N' : u === 'microsecond' ? '6N' : 'N');
  return formatDate(time, u, offset, `%Y-%m-%dT%H:%M:%S${frac}%:z`);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

function fromRfc3339(v: unknown, u: Unit): number | bigint {
  const s = text(v, 1);
  if (!RFC3339.test(s)) return badArg(1, 'an RFC 3339 date-time', v);
  const frac = RFC3339.exec(s)![7];
  // Whole seconds and zone through the date-format parser, then the fraction (truncated to 9 digits).
  const withoutFrac = s.replace(/\.\d+/, '');
  const ns = parseDate(withoutFrac.replace(/[Zz]$/, '+00:00'), '%Y-%m-%dT%H:%M:%S%:z', (z) => offsetSeconds(z, 1))
    + BigInt((frac ?? '').slice(0, 9).padEnd(9, '0'));
  return intResult(floorDiv(ns, UNIT_NS[u]));
}

function integerTime(v: unknown, arg: number): bigint {
  return big(v, arg);
}

export const TIME: Family = {
  now_timestamp: def(0, 1, (u?: unknown) => intResult(floorDiv(nowNs(), UNIT_NS[u === undefined ? 'second' : unit(u, 1)]))),
  now_rfc3339: def(0, 1, (u?: unknown) => {
    const un = u === undefined ? 'second' : unit(u, 1);
    return toRfc3339(floorDiv(nowNs(), UNIT_NS[un]), un);
  }),
  unix_ts_to_rfc3339: def(1, 2, (t: unknown, u?: unknown) => toRfc3339(integerTime(t, 1), u === undefined ? 'second' : unit(u, 2))),
  rfc3339_to_unix_ts: def(1, 2, (s: unknown, u?: unknown) => fromRfc3339(s, u === undefined ? 'second' : unit(u, 2))),
  format_date: def(3, 4, (u: unknown, off: unknown, fmt: unknown, t?: unknown) => {
    const un = unit(u, 1);
    const time = t === undefined ? floorDiv(nowNs(), UNIT_NS[un]) : integerTime(t, 4);
    return formatDate(time, un, offsetSeconds(off, 2), text(fmt, 3));
  }),
  date_to_unix_ts: def(3, 4, (...args: unknown[]) => {
    const un = unit(args[0], 1);
    const [off, fmt, input] = args.length === 4 ? args.slice(1) : [0, args[1], args[2]];
    const fmtPos = args.length === 4 ? 3 : 2;
    let ns: bigint;
    try {
      ns = parseDate(text(input, fmtPos + 1), text(fmt, fmtPos), (z) => offsetSeconds(z, fmtPos + 1));
    } catch (err) {
      if (err instanceof ArgError) throw new ArgError(fmtPos + 1, err.message);
      throw err;
    }
    return intResult(floorDiv(ns - BigInt(offsetSeconds(off, 2)) * UNIT_NS.second, UNIT_NS[un]));
  }),
  timezone_to_offset_seconds: def(1, 1, (z: unknown) => offsetSeconds(z, 1)),
  timezone_to_second: def(1, 1, (z: unknown) => offsetSeconds(z, 1)),
};
