/**
 * Notices when certificate, key, CA or CRL files change on disk, so a listener can take the
 * new ones without a restart. The directories holding the files are watched (not the files:
 * tools replace a file by renaming a new one over it, and Kubernetes swaps a `..data` symlink
 * in the directory, both of which a watch on the old file never sees). fs.watch is not
 * reliable everywhere (network filesystems, some containers), so the files' status is also
 * polled. Bursts of events (certificate written, then key) are debounced into one call; the
 * caller compares contents, so a spurious call costs one read of a few small files.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';

export interface FileWatcherOptions {
  /** Quiet time after the last event before onChange runs. */
  debounceMs?: number;
  /** Poll interval of the fallback. */
  pollMs?: number;
}

export class FileWatcher {
  private readonly files: string[];
  private readonly onChange: () => void;
  private readonly log: Logger;
  private readonly debounceMs: number;
  private readonly watchers: FSWatcher[];
  private readonly poll: NodeJS.Timeout;
  private debounce: NodeJS.Timeout | null;
  private signature: string;

  constructor(files: readonly string[], onChange: () => void, log: Logger, opts: FileWatcherOptions = {}) {
    this.files = [...new Set(files.filter((f) => f !== '').map((f) => resolve(f)))];
    this.onChange = onChange;
    this.log = log;
    this.debounceMs = opts.debounceMs ?? 300;
    this.watchers = [];
    this.debounce = null;
    this.signature = this.stat();
    const names = new Set(this.files.map((f) => basename(f)));
    for (const dir of new Set(this.files.map((f) => dirname(f)))) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(String(name)) || String(name).startsWith('..')) this.schedule();
        });
        w.on('error', (err) => this.log.debug({ dir, err: err.message }, 'watching a certificate directory failed; polling only'));
        this.watchers.push(w);
      } catch (err) {
        this.log.debug({ dir, err: (err as Error).message }, 'cannot watch a certificate directory; polling only');
      }
    }
    this.poll = setInterval(() => {
      const s = this.stat();
      if (s !== this.signature) this.schedule();
    }, opts.pollMs ?? 5000);
    this.poll.unref();
  }

  close(): void {
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
    clearInterval(this.poll);
    if (this.debounce !== null) { clearTimeout(this.debounce); this.debounce = null; }
  }

  private schedule(): void {
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.signature = this.stat();
      this.onChange();
    }, this.debounceMs);
    this.debounce.unref();
  }

  /** Size, mtime and inode of every file (following symlinks): what changes when a file does. */
  private stat(): string {
    return this.files.map((f) => {
      try {
        const s = statSync(f);
        return `${s.size}:${s.mtimeMs}:${s.ino}`;
      } catch {
        return 'missing';
      }
    }).join('|');
  }
}
