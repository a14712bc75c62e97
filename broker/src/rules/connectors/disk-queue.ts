/**
 * An action's buffer: a FIFO of serialized items, in memory up to `memBytes`, then in segment
 * files under its directory (`<data_dir>/sinks/<action id>/<seq>.seg`, each a run of
 * `[u32 length][bytes]` frames), bounded by `maxBytes` in all. Past the bound the OLDEST items
 * go first, each handed to `onDrop` so the caller counts it exactly.
 *
 * Order is kept by one rule: once anything is on disk, new items go to disk behind it; memory
 * refills from the oldest segment when it runs dry. On a clean `close()` the items still in
 * memory (and any the caller hands back, e.g. unacknowledged in-flight ones) are written as a
 * segment ahead of the others, so `open()` after a restart finds the whole queue in its order.
 * After a crash, items that were only in memory are lost; those already spilled are not.
 */
import fs from 'node:fs';
import path from 'node:path';

interface Segment { seq: number; file: string; count: number; bytes: number; fd: number | null; pending: Buffer[]; pendingBytes: number }

const SEGMENT_BYTES = 1 << 20;
const FLUSH_BYTES = 64 << 10;
/** Room below the first sequence number for head segments written at close. */
const FIRST_SEQ = 1_000_000_000;

export class DiskQueue {
  private mem: Buffer[] = [];
  private memHead = 0;
  private memBytes_ = 0;
  private segments: Segment[] = [];
  private nextSeq = FIRST_SEQ;
  private count_ = 0;
  private bytes_ = 0;
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly dir: string | null,
    private readonly maxBytes: number,
    private readonly memBytes: number,
    private readonly onDrop: (item: Buffer) => void,
  ) {}

  get length(): number { return this.count_; }
  get bytes(): number { return this.bytes_; }
  /** Items in segment files (not yet read back). */
  get onDisk(): number { let n = 0; for (const s of this.segments) n += s.count; return n; }

  /** Finds the segments a previous run left; returns how many items they hold. */
  open(): number {
    if (this.dir === null) return 0;
    fs.mkdirSync(this.dir, { recursive: true });
    const seqs = fs.readdirSync(this.dir).filter((f) => /^\d+\.seg$/.test(f)).map((f) => Number(f.slice(0, -4))).sort((a, b) => a - b);
    for (const seq of seqs) {
      const file = path.join(this.dir, `${seq}.seg`);
      const frames = readFrames(file);
      if (frames.length === 0) { fs.rmSync(file, { force: true }); continue; }
      let bytes = 0;
      for (const f of frames) bytes += f.length;
      this.segments.push({ seq, file, count: frames.length, bytes, fd: null, pending: [], pendingBytes: 0 });
      this.count_ += frames.length;
      this.bytes_ += bytes;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
    this.trim();
    return this.count_;
  }

  push(item: Buffer): void {
    this.count_++;
    this.bytes_ += item.length;
    if (this.dir !== null && (this.segments.length > 0 || this.memBytes_ + item.length > this.memBytes)) this.append(item);
    else { this.mem.push(item); this.memBytes_ += item.length; }
    this.trim();
  }

  /** Takes up to `n` items from the head. */
  shift(n: number): Buffer[] {
    const out: Buffer[] = [];
    while (out.length < n) {
      if (this.memHead === this.mem.length && !this.refill()) break;
      const b = this.mem[this.memHead]!;
      this.mem[this.memHead++] = undefined as unknown as Buffer;
      this.memBytes_ -= b.length;
      this.count_--;
      this.bytes_ -= b.length;
      out.push(b);
    }
    if (this.memHead === this.mem.length) { this.mem = []; this.memHead = 0; }
    else if (this.memHead > 4096) { this.mem = this.mem.slice(this.memHead); this.memHead = 0; }
    return out;
  }

  /** Writes what is in memory, after `front` (in-flight items handed back), ahead of the segments; closes files. */
  close(front: Buffer[] = []): void {
    if (this.flushTimer !== null) { clearTimeout(this.flushTimer); this.flushTimer = null; }
    for (const s of this.segments) this.closeSegment(s);
    if (this.dir === null) return;
    const head = [...front, ...this.mem.slice(this.memHead)];
    this.mem = []; this.memHead = 0; this.memBytes_ = 0;
    if (head.length === 0) return;
    const seq = (this.segments[0]?.seq ?? this.nextSeq) - 1;
    fs.writeFileSync(path.join(this.dir, `${seq}.seg`), Buffer.concat(head.flatMap(frame)));
  }

  /** Closes and deletes every segment (the action was deleted). */
  destroy(): void {
    this.close();
    if (this.dir !== null) fs.rmSync(this.dir, { recursive: true, force: true });
    this.segments = [];
    this.count_ = 0; this.bytes_ = 0;
  }

  private trim(): void {
    while (this.bytes_ > this.maxBytes && this.count_ > 0) {
      const [b] = this.shift(1);
      this.onDrop(b!);
    }
  }

  private append(item: Buffer): void {
    let s = this.segments[this.segments.length - 1];
    if (s === undefined || s.fd === null || s.bytes >= SEGMENT_BYTES) {
      if (s !== undefined) this.closeSegment(s);
      const seq = this.nextSeq++;
      const file = path.join(this.dir!, `${seq}.seg`);
      s = { seq, file, count: 0, bytes: 0, fd: fs.openSync(file, 'w'), pending: [], pendingBytes: 0 };
      this.segments.push(s);
    }
    s.count++;
    s.bytes += item.length;
    s.pending.push(...frame(item));
    s.pendingBytes += item.length + 4;
    if (s.pendingBytes >= FLUSH_BYTES) this.flush(s);
    // Written within a moment even when few items come, so a crash loses little of what spilled.
    else if (this.flushTimer === null) {
      this.flushTimer = setTimeout(() => { this.flushTimer = null; for (const x of this.segments) this.flush(x); }, 50);
      this.flushTimer.unref();
    }
  }

  private flush(s: Segment): void {
    if (s.fd === null || s.pending.length === 0) return;
    fs.writeSync(s.fd, Buffer.concat(s.pending));
    s.pending = [];
    s.pendingBytes = 0;
  }

  private closeSegment(s: Segment): void {
    this.flush(s);
    if (s.fd !== null) { fs.closeSync(s.fd); s.fd = null; }
  }

  /** Moves the oldest segment into memory; false when there is none. */
  private refill(): boolean {
    const s = this.segments.shift();
    if (s === undefined) return false;
    this.closeSegment(s);
    const frames = readFrames(s.file);
    fs.rmSync(s.file, { force: true });
    this.mem = frames;
    this.memHead = 0;
    this.memBytes_ = s.bytes;
    return frames.length > 0 || this.refill();
  }
}

function frame(b: Buffer): Buffer[] {
  const h = Buffer.allocUnsafe(4);
  h.writeUInt32BE(b.length, 0);
  return [h, b];
}

/** The frames of a segment; a torn last frame (a crash mid-write) is ignored. */
function readFrames(file: string): Buffer[] {
  let data: Buffer;
  try { data = fs.readFileSync(file); } catch { return []; }
  const out: Buffer[] = [];
  let i = 0;
  while (i + 4 <= data.length) {
    const n = data.readUInt32BE(i);
    if (i + 4 + n > data.length) break;
    out.push(data.subarray(i + 4, i + 4 + n));
    i += 4 + n;
  }
  return out;
}
