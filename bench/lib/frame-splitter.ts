/**
 * Frame splitter: cuts a TCP byte stream into MQTT control packets without decoding them.
 *
 * The load generator must never be the bottleneck, so the receive side does not use mqtt-packet's
 * streaming parser (about 0.3 M packets/s here). An MQTT frame is one fixed-header byte, a
 * "remaining length" varint of 1–4 bytes, then that many bytes; that is all a counter needs.
 * For each complete frame the splitter calls `sink.onFrame(header, buf, bodyStart, bodyEnd)`
 * with a view into the chunk (no copy). A frame that straddles two chunks is kept as a small
 * tail and joined with the next chunk.
 */

export interface FrameSink {
  /** `header` is the fixed-header byte (type << 4 | flags); the body is buf[start, end). */
  onFrame(header: number, buf: Buffer, start: number, end: number): void;
}

/** Largest frame the generator accepts; a larger one means a broken stream. */
const MAX_FRAME = 16 * 1024 * 1024;

export class FrameSplitter {
  private tail: Buffer | null = null;
  readonly sink: FrameSink;
  frames = 0;

  constructor(sink: FrameSink) {
    this.sink = sink;
  }

  /** Feed one chunk; throws on a malformed length (the caller closes the socket). */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.tail !== null) {
      buf = Buffer.concat([this.tail, chunk]);
      this.tail = null;
    }
    const len = buf.length;
    let pos = 0;
    const sink = this.sink;
    while (pos < len) {
      if (len - pos < 2) break;
      const header = buf[pos];
      // Remaining length: up to 4 bytes, 7 bits each, high bit = continuation.
      let value = 0;
      let mult = 1;
      let i = pos + 1;
      let complete = false;
      for (let n = 0; n < 4; n++) {
        if (i >= len) break;
        const b = buf[i++];
        value += (b & 0x7f) * mult;
        if ((b & 0x80) === 0) { complete = true; break; }
        mult *= 128;
        if (n === 3) throw new Error('malformed remaining length');
      }
      if (!complete) break;
      if (value > MAX_FRAME) throw new Error(`frame too large: ${value}`);
      const end = i + value;
      if (end > len) break;
      this.frames++;
      sink.onFrame(header, buf, i, end);
      pos = end;
    }
    if (pos < len) this.tail = Buffer.from(buf.subarray(pos));
  }
}
