/**
 * One trace's log file on this node: lines are appended to memory and written by a timer
 * (every FLUSH_MS, or at once past FLUSH_BYTES waiting), through one file handle opened on
 * the first write — never a synchronous fs call, so a traced client's publish costs a string
 * push. The file is bounded (trace.max_file_size): the line that would cross the bound is
 * replaced by one saying the bound was reached, and nothing is written after it.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';

export const FLUSH_MS = 100;
export const FLUSH_BYTES = 64 * 1024;

export class TraceFile {
  readonly path: string;
  private readonly maxBytes: number;
  private readonly onError: (err: Error) => void;
  /** Bytes in the file plus bytes waiting. */
  size: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private full = false;
  private timer: NodeJS.Timeout | null = null;
  private handle: Promise<FileHandle> | null = null;
  /** The write in progress (flushes run one after another). */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  /** `size`: what the file already holds (a trace that ran before a restart appends). */
  constructor(path: string, size: number, maxBytes: number, onError: (err: Error) => void) {
    this.path = path;
    this.size = size;
    this.maxBytes = maxBytes;
    this.onError = onError;
    this.full = size >= maxBytes;
  }

  write(line: string): void {
    if (this.full || this.closed) return;
    let n = Buffer.byteLength(line);
    if (this.size + n > this.maxBytes) {
      this.full = true;
      line = `${new Date().toISOString()} [TRACE] trace file reached trace.max_file_size (${this.maxBytes} bytes): no more lines are written\n`;
      n = Buffer.byteLength(line);
    }
    this.size += n;
    this.pending.push(line);
    this.pendingBytes += n;
    if (this.pendingBytes >= FLUSH_BYTES) { void this.flush(); return; }
    if (this.timer === null) { this.timer = setTimeout(flushLater, FLUSH_MS, this); this.timer.unref(); }
  }

  /** Writes what waits; resolves once it is in the file. */
  flush(): Promise<void> {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    if (this.pending.length === 0) return this.chain;
    const data = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.chain = this.chain.then(async () => {
      const h = await (this.handle ??= open(this.path, 'a'));
      await h.appendFile(data);
    }).catch((err: Error) => this.onError(err));
    return this.chain;
  }

  /** Flushes and releases the file handle (the file stays). */
  async close(): Promise<void> {
    if (this.closed) return this.chain;
    await this.flush();
    this.closed = true;
    const h = this.handle;
    this.handle = null;
    if (h !== null) await h.then((x) => x.close(), () => undefined);
  }

  /** Closes, then deletes the file. */
  async remove(): Promise<void> {
    await this.close();
    await rm(this.path, { force: true });
  }
}

function flushLater(f: TraceFile): void {
  void f.flush();
}
