/**
 * The store's value encoding: a small tagged binary format for plain data, written straight
 * into the batch buffer a commit sends to the writer thread. It exists because node:v8's
 * serializer costs ~7 µs for a 200-byte message record (more than the SQLite insert itself);
 * this one costs well under 1 µs.
 *
 *   0 null | 1 false | 2 true | 3 int32 (i32) | 4 float64 | 5 string (u32 len, UTF-8)
 *   6 bytes (u32 len) → Buffer | 7 array (u32 n, items) | 8 object (u32 n, (u32 len, key, value)*)
 *   9 undefined (kept inside arrays and objects)
 *
 * Plain objects, arrays, strings, numbers, booleans, null and Buffers/Uint8Arrays round-trip.
 * Anything else is stored like JSON would store it (a Date as its ISO string, a Map or class
 * instance as its own enumerable properties, a bigint as a number, a function as null): values
 * are plain data, and a commit must never fail because of one odd value.
 */

const T_NULL = 0, T_FALSE = 1, T_TRUE = 2, T_INT = 3, T_FLOAT = 4, T_STR = 5, T_BYTES = 6, T_ARR = 7, T_OBJ = 8, T_UNDEF = 9;

/** Strings up to this length are tried as ASCII by hand before the native UTF-8 encoder. */
const ASCII_INLINE_MAX = 64;

/** A growable output buffer. */
export class Writer {
  buf: Buffer;
  off = 0;
  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.off + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.off++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.off = this.buf.writeUInt32LE(v, this.off);
  }

  /** u32 byte length, then the UTF-8 bytes. */
  str(s: string): void {
    const len = s.length;
    this.ensure(4 + len * 3);
    const buf = this.buf;
    const start = this.off + 4;
    let n = -1;
    if (len <= ASCII_INLINE_MAX) {
      // Short strings (object keys, topics, client ids) are nearly always ASCII: copying the char
      // codes here is several times cheaper than a call into the native UTF-8 encoder.
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        buf[start + i] = c;
      }
      if (i === len) n = len;
    }
    if (n < 0) n = buf.write(s, start, 'utf8');
    buf.writeUInt32LE(n, this.off);
    this.off = start + n;
  }

  bytes(b: Uint8Array): void {
    this.ensure(4 + b.length);
    this.off = this.buf.writeUInt32LE(b.length, this.off);
    this.buf.set(b, this.off);
    this.off += b.length;
  }

  value(v: unknown, depth = 0): void {
    if (depth > 100) throw new TypeError('store value nested more than 100 levels deep');
    switch (typeof v) {
      case 'string':
        this.u8(T_STR);
        this.str(v);
        return;
      case 'number':
        if ((v | 0) === v && !Object.is(v, -0)) {
          this.ensure(5);
          this.buf[this.off] = T_INT;
          this.off = this.buf.writeInt32LE(v, this.off + 1);
        } else {
          this.ensure(9);
          this.buf[this.off] = T_FLOAT;
          this.off = this.buf.writeDoubleLE(v, this.off + 1);
        }
        return;
      case 'boolean':
        this.u8(v ? T_TRUE : T_FALSE);
        return;
      case 'undefined':
        this.u8(T_UNDEF);
        return;
      case 'bigint':
        this.value(Number(v), depth);
        return;
      case 'object':
        break;
      default:
        this.u8(T_NULL); // functions, symbols
        return;
    }
    if (v === null) {
      this.u8(T_NULL);
    } else if (v instanceof Uint8Array) {
      this.u8(T_BYTES);
      this.bytes(v);
    } else if (Array.isArray(v)) {
      this.u8(T_ARR);
      this.u32(v.length);
      for (let i = 0; i < v.length; i++) this.value(v[i], depth + 1);
    } else if (v instanceof Date) {
      this.u8(T_STR);
      this.str(Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString());
    } else {
      const keys = Object.keys(v);
      this.u8(T_OBJ);
      this.u32(keys.length);
      for (let i = 0; i < keys.length; i++) {
        this.str(keys[i]!);
        this.value((v as Record<string, unknown>)[keys[i]!], depth + 1);
      }
    }
  }
}

/** Encode one value into a Buffer of its own. */
export function encodeValue(v: unknown): Buffer {
  const w = new Writer(256);
  w.value(v);
  return w.buf.subarray(0, w.off);
}

class Reader {
  off = 0;
  constructor(private readonly buf: Buffer) {}

  str(): string {
    const n = this.buf.readUInt32LE(this.off);
    const s = this.buf.toString('utf8', this.off + 4, this.off + 4 + n);
    this.off += 4 + n;
    return s;
  }

  value(): unknown {
    const b = this.buf;
    const tag = b[this.off++];
    switch (tag) {
      case T_NULL: return null;
      case T_FALSE: return false;
      case T_TRUE: return true;
      case T_UNDEF: return undefined;
      case T_INT: { const v = b.readInt32LE(this.off); this.off += 4; return v; }
      case T_FLOAT: { const v = b.readDoubleLE(this.off); this.off += 8; return v; }
      case T_STR: return this.str();
      case T_BYTES: {
        const n = b.readUInt32LE(this.off);
        const start = this.off + 4;
        this.off = start + n;
        return Buffer.from(b.subarray(start, start + n)); // a copy: callers may keep it for long
      }
      case T_ARR: {
        const n = b.readUInt32LE(this.off);
        this.off += 4;
        const out = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value();
        return out;
      }
      case T_OBJ: {
        const n = b.readUInt32LE(this.off);
        this.off += 4;
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = this.str();
          out[k] = this.value();
        }
        return out;
      }
      default:
        throw new RangeError(`bad value tag ${String(tag)} at offset ${this.off - 1}`);
    }
  }
}

/** Decode a value written by Writer.value / encodeValue. Throws RangeError on damaged input. */
export function decodeValue(buf: Buffer): unknown {
  const r = new Reader(buf);
  const v = r.value();
  if (r.off !== buf.length) throw new RangeError(`value has ${buf.length - r.off} trailing bytes`);
  return v;
}
