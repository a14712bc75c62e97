/**
 * Key order. The store orders keys by their UTF-8 bytes (that is what SQLite's BLOB comparison
 * and every on-disk index do). JavaScript's `<` compares UTF-16 code units instead, which
 * disagrees for characters above U+FFFF versus U+E000–U+FFFF; `compareKeys` fixes that up so
 * keys still in memory merge correctly with keys read from disk.
 */

/** Compare two strings by the byte order of their UTF-8 encodings. */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (part of a code point ≥ U+10000) sorts after every BMP character ≥ U+E000.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** The smallest byte string greater than every string starting with `prefix`, or null if none exists. */
export function prefixUpperBound(prefix: Buffer): Buffer | null {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return null;
  const out = Buffer.from(prefix.subarray(0, end));
  out[end - 1]! += 1;
  return out;
}
