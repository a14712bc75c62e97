/**
 * sprintf(Format, Args…) with Erlang io_lib:format control sequences, `~F.P.PadModC`.
 * Supported C: ~ n s p w P W B b c f e g i, the `t`/`l` modifiers (accepted; text is always
 * Unicode here) and a field width / precision / pad character. ~p and ~w print values the way
 * Erlang prints terms (<<"text">> for strings, #{…} for maps), so output matches EMQX's.
 * Not supported: ~x ~X ~# ~+ and `*` widths — a RuleFunctionError names the sequence.
 */
import { ArgError } from './errors.js';
import { isMap, text } from './values.js';

const CONTROL = /~(-?\d+)?(?:\.(\d+)?)?(?:\.(.))?([tl]*)(.)/y;

function erlangFloat(x: number): string {
  if (!Number.isFinite(x)) throw new ArgError(2, `${x} cannot be printed`);
  let s = String(x);
  if (s.includes('e')) {
    const [m, e] = s.split('e');
    s = `${m!.includes('.') ? m : m + '.0'}e${e!.replace('+', '')}`;
  }
  return s;
}

function printable(b: Buffer): boolean {
  const s = b.toString('utf8');
  return Buffer.byteLength(s) === b.length && !s.includes('\uFFFD') && !/[\x00-\x08\x0e-\x1f\x7f]/.test(s);
}

/** A value as Erlang's ~w/~p prints the corresponding term. */
export function erlangTerm(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v).toString() : erlangFloat(v);
  if (typeof v === 'string' || v instanceof Uint8Array) {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
    if (!printable(b)) return `<<${[...b].join(',')}>>`;
    const str = b.toString('utf8');
    return `<<${JSON.stringify(str)}${/[^\x00-\x7f]/.test(str) ? '/utf8' : ''}>>`;
  }
  if (Array.isArray(v)) return `[${v.map(erlangTerm).join(',')}]`;
  if (isMap(v)) return `#{${Object.keys(v).map((k) => `${erlangTerm(k)} => ${erlangTerm(v[k])}`).join(',')}}`;
  return String(v);
}

function fixed(x: number, p: number): string {
  return x.toFixed(Math.min(p, 100));
}

function exponential(x: number, p: number): string {
  const [m, e] = x.toExponential(Math.max(p - 1, 0)).split('e');
  return `${m}e${e!.replace('+', '')}`;
}

function field(s: string, width: number | undefined, padChar: string): string {
  if (width === undefined) return s;
  const w = Math.abs(width);
  if (s.length > w) return '*'.repeat(w);
  return width < 0 ? s + padChar.repeat(w - s.length) : padChar.repeat(w - s.length) + s;
}

export function sprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let next = 0;
  const take = (seq: string): unknown => {
    if (next >= args.length) throw new ArgError(1, `too few arguments for the format (at ${seq})`);
    return args[next++];
  };
  for (let i = 0; i < format.length; ) {
    const tilde = format.indexOf('~', i);
    if (tilde < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, tilde);
    CONTROL.lastIndex = tilde;
    const m = CONTROL.exec(format);
    if (m === null) throw new ArgError(1, `bad control sequence at position ${tilde + 1}`);
    i = CONTROL.lastIndex;
    const width = m[1] === undefined ? undefined : Number(m[1]);
    const prec = m[2] === undefined ? undefined : Number(m[2]);
    const padChar = m[3] ?? ' ';
    const c = m[5]!;
    const seq = m[0];
    let s: string;
    switch (c) {
      case '~': s = '~'; break;
      case 'n': s = '\n'; break;
      case 'i': take(seq); s = ''; break;
      case 's': {
        const v = take(seq);
        s = v === undefined || v === null ? String(v) : Array.isArray(v) ? v.join('') : text(v, next + 1);
        if (prec !== undefined) s = s.slice(0, prec);
        break;
      }
      case 'p': case 'w': case 'P': case 'W':
        s = erlangTerm(take(seq));
        break;
      case 'B': case 'b': {
        const v = take(seq);
        if (typeof v !== 'bigint' && !Number.isInteger(v)) throw new ArgError(next + 1, `${seq} needs an integer`);
        s = BigInt(v as number | bigint).toString(prec ?? 10);
        s = c === 'B' ? s.toUpperCase() : s.toLowerCase();
        break;
      }
      case 'c': {
        const v = take(seq);
        if (!Number.isInteger(v)) throw new ArgError(next + 1, `${seq} needs a character code`);
        s = String.fromCodePoint(v as number).repeat(prec ?? 1);
        break;
      }
      case 'f': case 'e': case 'g': {
        const v = take(seq);
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgError(next + 1, `${seq} needs a float`);
        const p = prec ?? 6;
        const useF = c === 'f' || (c === 'g' && Math.abs(v) >= 0.1 && Math.abs(v) < 10000);
        s = useF ? fixed(v, p) : exponential(v, p);
        break;
      }
      default:
        throw new ArgError(1, `control sequence ${seq} is not supported`);
    }
    out += field(s, width, padChar);
  }
  if (next < args.length) throw new ArgError(1, `${args.length - next} argument(s) left over by the format`);
  return out;
}
