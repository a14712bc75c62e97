/**
 * `payload.x` without JSON.parse: one pass over a flat JSON object (strings without escapes,
 * numbers, true, false, null; no nested object or array) that checks the whole text is JSON and
 * returns the top-level value of one key. Most telemetry is such an object, and a rule's WHERE
 * reading one field of it then costs a scan instead of building every field (measured: bench
 * `rules`, micro `rules`). Anything else — nesting, an escape, a control character, text that is
 * not JSON — answers SLOW and the caller decodes the payload fully, so errors and odd inputs get
 * exactly JSON.parse's answer.
 */
export const SLOW: unique symbol = Symbol('slow');

const enum C { QUOTE = 34, COMMA = 44, MINUS = 45, DOT = 46, ZERO = 48, NINE = 57, COLON = 58, E = 101, BIG_E = 69, PLUS = 43, BACKSLASH = 92, OPEN = 123, CLOSE = 125 }

function ws(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++; else return i;
  }
}

/** End of a string whose opening quote is at i - 1, or -1 when it holds an escape or a control character. */
function stringEnd(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === C.QUOTE) return i;
    if (c === C.BACKSLASH || c < 32 || Number.isNaN(c)) return -1;
    i++;
  }
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

/**
 * The value of top-level `key` in the JSON text `s` (undefined when the object has no such key;
 * the last one when it repeats, as JSON.parse), or SLOW when `s` is not a flat object this scan
 * reads.
 */
export function topLevelValue(s: string, key: string): unknown {
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
      if (match) value = Number(s.slice(i, ve));
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
