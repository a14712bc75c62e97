/**
 * `payload.x` without JSON.parse: one pass over a flat JSON object (strings without escapes,
 * numbers, true, false, null; no nested object or array; no tab or newline) that checks the whole text is JSON and
 * returns the top-level value of one key. Most telemetry is such an object, and a rule's WHERE
 * reading one field of it then costs a scan instead of building every field (measured: bench
 * `rules`, micro `rules`). Anything else — nesting, an escape, a control character, text that is
 * not JSON — answers SLOW and the caller decodes the payload fully, so errors and odd inputs get
 * exactly JSON.parse's answer.
 */
export const SLOW: unique symbol = Symbol('slow');

const enum C { QUOTE = 34, COMMA = 44, MINUS = 45, DOT = 46, ZERO = 48, NINE = 57, COLON = 58, E = 101, BIG_E = 69, PLUS = 43, OPEN = 123, CLOSE = 125 }

/** Past spaces (tabs and newlines never get here: NOT_FLAT). */
function ws(s: string, i: number): number {
  while (s.charCodeAt(i) === 32) i++;
  return i;
}

/**
 * Text this scan leaves to JSON.parse: an escape, or a control character (inside a string it is
 * invalid; between tokens it is pretty-printing, rare in device payloads). Without them the next
 * quote always ends a string, which indexOf finds far faster than a loop over characters.
 */
const NOT_FLAT = /[\u0000-\u001f\\]/;

/** End of a string whose opening quote is at i - 1 (-1: unterminated). */
function stringEnd(s: string, i: number): number {
  return s.indexOf('"', i);
}

function digits(s: string, i: number): number {
  while (s.charCodeAt(i) >= C.ZERO && s.charCodeAt(i) <= C.NINE) i++;
  return i;
}

/** End of a JSON number starting at i, or -1 when it is not one. */
function numberEnd(s: string, i: number): number {
  if (s.charCodeAt(i) === C.MINUS) i++;
  const c = s.charCodeAt(i);
  if (c === C.ZERO) i++;
  else if (c > C.ZERO && c <= C.NINE) i = digits(s, i + 1);
  else return -1;
  if (s.charCodeAt(i) === C.DOT) {
    const j = digits(s, i + 1);
    if (j === i + 1) return -1;
    i = j;
  }
  const e = s.charCodeAt(i);
  if (e === C.E || e === C.BIG_E) {
    i++;
    const sign = s.charCodeAt(i);
    if (sign === C.PLUS || sign === C.MINUS) i++;
    const j = digits(s, i);
    if (j === i) return -1;
    i = j;
  }
  return i;
}

/** A number of at most 9 characters: an integer read digit by digit, else Number() of the text. */
function smallInt(s: string, from: number, to: number): number {
  let i = from;
  const neg = s.charCodeAt(i) === C.MINUS;
  if (neg) i++;
  let n = 0;
  for (; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < C.ZERO || c > C.NINE) return Number(s.slice(from, to));
    n = n * 10 + (c - C.ZERO);
  }
  return neg ? -n : n;
}

/**
 * The value of top-level `key` in the JSON text `s` (undefined when the object has no such key;
 * the last one when it repeats, as JSON.parse), or SLOW when `s` is not a flat object this scan
 * reads.
 */
export function topLevelValue(s: string, key: string): unknown {
  if (NOT_FLAT.test(s)) return SLOW;
  let i = ws(s, 0);
  if (s.charCodeAt(i) !== C.OPEN) return SLOW;
  i = ws(s, i + 1);
  let found: unknown = undefined;
  if (s.charCodeAt(i) === C.CLOSE) return ws(s, i + 1) === s.length ? undefined : SLOW;
  for (;;) {
    if (s.charCodeAt(i) !== C.QUOTE) return SLOW;
    const ks = i + 1;
    const ke = stringEnd(s, ks);
    if (ke < 0) return SLOW;
    const match = ke - ks === key.length && s.startsWith(key, ks);
    i = ws(s, ke + 1);
    if (s.charCodeAt(i) !== C.COLON) return SLOW;
    i = ws(s, i + 1);
    const c = s.charCodeAt(i);
    let value: unknown;
    if (c === C.QUOTE) {
      const ve = stringEnd(s, i + 1);
      if (ve < 0) return SLOW;
      if (match) value = s.slice(i + 1, ve);
      i = ve + 1;
    } else if (c === C.MINUS || (c >= C.ZERO && c <= C.NINE)) {
      const ve = numberEnd(s, i);
      if (ve < 0) return SLOW;
      if (match) value = ve - i <= 9 ? smallInt(s, i, ve) : Number(s.slice(i, ve));
      i = ve;
    } else if (s.startsWith('true', i)) { value = true; i += 4; }
    else if (s.startsWith('false', i)) { value = false; i += 5; }
    else if (s.startsWith('null', i)) { value = null; i += 4; }
    else return SLOW;
    if (match) found = value;
    i = ws(s, i);
    const sep = s.charCodeAt(i);
    if (sep === C.COMMA) { i = ws(s, i + 1); continue; }
    if (sep === C.CLOSE) return ws(s, i + 1) === s.length ? found : SLOW;
    return SLOW;
  }
}

/**
 * topLevelValue over the payload's bytes, for a rule that reads the payload only as
 * `payload.<key>…`: no string of the whole payload is made. `key` as UTF-8 bytes. A string value
 * found is decoded from its bytes; JSON.parse of the decoded payload would give the same text
 * (a quote never ends a UTF-8 sequence, so an invalid sequence inside decodes alike).
 */
export function topLevelValueBytes(b: Uint8Array, key: Uint8Array): unknown {
  const n = b.length;
  let i = wsb(b, 0);
  if (b[i] !== C.OPEN) return SLOW;
  i = wsb(b, i + 1);
  let found: unknown = undefined;
  if (b[i] === C.CLOSE) return wsb(b, i + 1) === n ? undefined : SLOW;
  for (;;) {
    if (b[i] !== C.QUOTE) return SLOW;
    const ks = i + 1;
    const ke = stringEndBytes(b, ks);
    if (ke < 0) return SLOW;
    let match = ke - ks === key.length;
    for (let k = 0; match && k < key.length; k++) if (b[ks + k] !== key[k]) match = false;
    i = wsb(b, ke + 1);
    if (b[i] !== C.COLON) return SLOW;
    i = wsb(b, i + 1);
    const c = b[i]!;
    let value: unknown;
    if (c === C.QUOTE) {
      const ve = stringEndBytes(b, i + 1);
      if (ve < 0) return SLOW;
      if (match) value = Buffer.from(b.buffer, b.byteOffset + i + 1, ve - i - 1).toString();
      i = ve + 1;
    } else if (c === C.MINUS || (c >= C.ZERO && c <= C.NINE)) {
      const ve = numberEndBytes(b, i);
      if (ve < 0) return SLOW;
      if (match) value = numberBytes(b, i, ve);
      i = ve;
    } else if (c === 116 && b[i + 1] === 114 && b[i + 2] === 117 && b[i + 3] === 101) { value = true; i += 4; }
    else if (c === 102 && b[i + 1] === 97 && b[i + 2] === 108 && b[i + 3] === 115 && b[i + 4] === 101) { value = false; i += 5; }
    else if (c === 110 && b[i + 1] === 117 && b[i + 2] === 108 && b[i + 3] === 108) { value = null; i += 4; }
    else return SLOW;
    if (match) found = value;
    i = wsb(b, i);
    const sep = b[i];
    if (sep === C.COMMA) { i = wsb(b, i + 1); continue; }
    if (sep === C.CLOSE) return wsb(b, i + 1) === n ? found : SLOW;
    return SLOW;
  }
}

/** Past spaces; tabs and newlines are left to JSON.parse (see NOT_FLAT). */
function wsb(b: Uint8Array, i: number): number {
  while (b[i] === 32) i++;
  return i;
}

/** End of a string whose opening quote is at i - 1; -1 when unterminated or holding an escape or a control byte. */
function stringEndBytes(b: Uint8Array, i: number): number {
  const n = b.length;
  for (; i < n; i++) {
    const c = b[i]!;
    if (c === C.QUOTE) return i;
    if (c === 92 || c < 32) return -1;
  }
  return -1;
}

function digitsBytes(b: Uint8Array, i: number): number {
  while (i < b.length && b[i]! >= C.ZERO && b[i]! <= C.NINE) i++;
  return i;
}

function numberEndBytes(b: Uint8Array, i: number): number {
  if (b[i] === C.MINUS) i++;
  const c = b[i];
  if (c === C.ZERO) i++;
  else if (c !== undefined && c > C.ZERO && c <= C.NINE) i = digitsBytes(b, i + 1);
  else return -1;
  if (b[i] === C.DOT) {
    const j = digitsBytes(b, i + 1);
    if (j === i + 1) return -1;
    i = j;
  }
  const e = b[i];
  if (e === C.E || e === C.BIG_E) {
    i++;
    if (b[i] === C.PLUS || b[i] === C.MINUS) i++;
    const j = digitsBytes(b, i);
    if (j === i) return -1;
    i = j;
  }
  return i;
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * A JSON number's value. Up to 15 digits and no exponent: the digits as an integer (exact) divided
 * by a power of ten (exact), which IEEE division rounds correctly — the same double Number() gives
 * (the fast path of every correct decimal parser). Otherwise Number() of the text.
 */
function numberBytes(b: Uint8Array, from: number, to: number): number {
  let i = from;
  const neg = b[i] === C.MINUS;
  if (neg) i++;
  let m = 0;
  let digits = 0;
  let frac = -1;
  for (; i < to; i++) {
    const c = b[i]!;
    if (c === C.DOT) { frac = 0; continue; }
    if (c < C.ZERO || c > C.NINE || ++digits > 15) return Number(Buffer.from(b.buffer, b.byteOffset + from, to - from).toString('latin1'));
    m = m * 10 + (c - C.ZERO);
    if (frac >= 0) frac++;
  }
  const v = frac > 0 ? m / POW10[frac]! : m;
  return neg ? -v : v;
}
