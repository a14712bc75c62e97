/**
 * CoAP messages (RFC 7252 §3) on the `coap-packet` codec, plus what the gateway reads from
 * them: the Uri-Path, the Uri-Query as EMQX reads it (short names c, t, u, p, q, r expanded),
 * Observe (RFC 7641) and Block1/Block2 (RFC 7959).
 *
 * `coap-packet` is used for its codec only: the `coap` package's server owns its socket and
 * its own peer table, while a gateway's peers live in transport/udp.ts (max_connections,
 * max_conn_rate, counters) like every datagram gateway's.
 */
import { generate, parse, type NamedOption, type Option } from 'coap-packet';

export type MsgType = 'con' | 'non' | 'ack' | 'rst';

export interface CoapMessage {
  type: MsgType;
  /** "c.dd": "0.01" GET … "2.05" Content, "0.00" empty. */
  code: string;
  messageId: number;
  token: Buffer;
  options: Array<{ name: string | number; value: Buffer }>;
  payload: Buffer;
}

/** A block option value: block number, more flag, block size (16..1024). */
export interface Block { num: number; more: boolean; size: number }

export const METHODS: Readonly<Record<string, string>> = { '0.01': 'GET', '0.02': 'POST', '0.03': 'PUT', '0.04': 'DELETE' };

/** Options the gateway understands; an unknown *critical* (odd-numbered) option in a request is refused (§5.4.1). */
const KNOWN = new Set<string | number>(['If-Match', 'Uri-Host', 'ETag', 'If-None-Match', 'Observe', 'Uri-Port', 'Uri-Path', 'Content-Format',
  'Max-Age', 'Uri-Query', 'Accept', 'Block2', 'Block1', 'Size2', 'Size1', 'No-Response', 'Location-Path', 'Location-Query', 'Proxy-Uri', 'Proxy-Scheme']);

/** Critical options coap-packet knows by name but the gateway does not implement (RFC 8613, 9177, OCF). */
const CRITICAL_NAMED = new Set(['OSCORE', 'Q-Block1', 'Q-Block2', 'OCF-Accept-Content-Format-Version', 'OCF-Content-Format-Version']);

const SHORT_QUERY: Readonly<Record<string, string>> = { c: 'clientid', t: 'token', u: 'username', p: 'password', q: 'qos', r: 'retain' };

export type Decoded = { ok: true; msg: CoapMessage } | { ok: false; reason: string; con: boolean; messageId: number };

export function decode(buf: Buffer): Decoded {
  // The header alone tells whether a format error deserves a Reset (a CON) or silence (§4.2, §4.3).
  // Unknown versions are silently ignored (§3), so only a v1 CON is ever Reset.
  const con = buf.length >= 4 && (buf[0]! & 0xf0) === 0x40;
  const messageId = buf.length >= 4 ? buf.readUInt16BE(2) : 0;
  if (buf.length < 4) return { ok: false, reason: 'shorter than the 4-byte header', con, messageId };
  if (buf[0]! >> 6 !== 1) return { ok: false, reason: `version ${buf[0]! >> 6}, not 1`, con, messageId };
  if ((buf[0]! & 0x0f) > 8) return { ok: false, reason: 'token length above 8', con, messageId };
  let p;
  try { p = parse(buf); } catch (err) { return { ok: false, reason: (err as Error).message, con, messageId }; }
  // A payload marker followed by nothing is a format error (§3) that coap-packet lets through.
  if (p.payload.length === 0 && buf[buf.length - 1] === 0xff && markerAt(buf) === buf.length - 1) return { ok: false, reason: 'payload marker with no payload', con, messageId };
  const type: MsgType = p.confirmable ? 'con' : p.ack ? 'ack' : p.reset ? 'rst' : 'non';
  return { ok: true, msg: { type, code: p.code, messageId: p.messageId, token: p.token, options: p.options, payload: p.payload } };
}

/** Offset of the payload marker, walking the options (−1 when there is none). */
function markerAt(buf: Buffer): number {
  let i = 4 + (buf[0]! & 0x0f);
  while (i < buf.length) {
    const b = buf[i]!;
    if (b === 0xff) return i;
    const d = b >> 4;
    let l = b & 0x0f;
    i++;
    if (d === 13) i += 1; else if (d === 14) i += 2;
    if (l === 13) { l = buf[i]! + 13; i += 1; } else if (l === 14) { l = buf.readUInt16BE(i) + 269; i += 2; }
    i += l;
  }
  return -1;
}

export function encode(m: CoapMessage): Buffer {
  return generate({
    code: m.code, messageId: m.messageId, token: m.token, payload: m.payload,
    confirmable: m.type === 'con', ack: m.type === 'ack', reset: m.type === 'rst',
    options: m.options as Array<Option | NamedOption>,
  }, 65507);
}

export function option(m: CoapMessage, name: string): Buffer | undefined {
  for (const o of m.options) if (o.name === name) return o.value;
  return undefined;
}

export function uintOf(b: Buffer): number {
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return v;
}

export function uintBuf(v: number): Buffer {
  if (v === 0) return Buffer.alloc(0);
  const out: number[] = [];
  while (v > 0) { out.unshift(v & 0xff); v = Math.floor(v / 256); }
  return Buffer.from(out);
}

/** null when absent; 'bad' when SZX is 7 (reserved, RFC 7959 §2.2). */
export function blockOf(m: CoapMessage, name: 'Block1' | 'Block2'): Block | null | 'bad' {
  const b = option(m, name);
  if (b === undefined) return null;
  if (b.length > 3) return 'bad';
  const v = uintOf(b);
  const szx = v & 7;
  if (szx === 7) return 'bad';
  return { num: v >>> 4, more: (v & 8) !== 0, size: 1 << (szx + 4) };
}

export function blockBuf(b: Block): Buffer {
  return uintBuf((b.num << 4) | (b.more ? 8 : 0) | (Math.log2(b.size) - 4));
}

/** The first unknown critical option of a request, or null. */
export function unknownCritical(m: CoapMessage): string | number | null {
  for (const o of m.options) {
    if (KNOWN.has(o.name)) continue;
    const n = typeof o.name === 'number' ? o.name : Number(o.name);
    if (Number.isInteger(n) ? (n & 1) === 1 : CRITICAL_NAMED.has(o.name as string)) return o.name;
  }
  return null;
}

export function uriPath(m: CoapMessage): string[] {
  const out: string[] = [];
  for (const o of m.options) if (o.name === 'Uri-Path') out.push(o.value.toString('utf8'));
  return out;
}

/** Uri-Query as EMQX reads it: `k=v` pairs, short names expanded, the first of a repeated key wins. */
export function uriQuery(m: CoapMessage): Map<string, string> {
  const q = new Map<string, string>();
  for (const o of m.options) {
    if (o.name !== 'Uri-Query') continue;
    const s = o.value.toString('utf8');
    const eq = s.indexOf('=');
    const k = eq < 0 ? s : s.slice(0, eq);
    const key = SHORT_QUERY[k] ?? k;
    if (!q.has(key)) q.set(key, eq < 0 ? '' : s.slice(eq + 1));
  }
  return q;
}
