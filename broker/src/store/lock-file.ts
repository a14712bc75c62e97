/**
 * The directory lock. SQLite (like LMDB) lets several processes share one database file, but two
 * brokers writing one node's sessions would corrupt each other's view, so the store claims its
 * directory with a file holding the owner's pid, created exclusively. A lock whose pid is no longer
 * running (a crash, a kill -9) is stale and taken over; so is our own pid from a previous life
 * (a container restarts its broker as the same pid 1), and a pid that now belongs to a program
 * that is not node (checked in /proc/<pid>/cmdline where there is one).
 */
import fs from 'node:fs';
import path from 'node:path';
import { StoreError } from './store-error.js';

export const LOCK_FILE = 'petrel-store.lock';

/** Directories this process holds, so a second open in the same process is refused too. */
const heldHere = new Set<string>();

/** True when `pid` runs and (where /proc tells) is a node process: a recycled pid of some other program is not a holder. */
function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node|petrel/i.test(cmdline);
  } catch {
    return true; // no /proc (or not readable): trust the signal check
  }
}

export class DirLock {
  readonly file: string;
  private released = false;
  private constructor(private readonly dir: string) {
    this.file = path.join(dir, LOCK_FILE);
  }

  /** Claim `dir` (which must exist) for this process, or throw STORE_LOCKED naming the holder. */
  static acquire(dir: string): DirLock {
    const abs = path.resolve(dir);
    const lock = new DirLock(abs);
    if (heldHere.has(abs)) {
      throw new StoreError('STORE_LOCKED', abs, `store directory ${abs} is already open in this process (pid ${process.pid})`);
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(lock.file, `${process.pid}\n`, { flag: 'wx' });
        heldHere.add(abs);
        return lock;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') {
          throw new StoreError('STORE_OPEN_FAILED', lock.file, `cannot create lock file ${lock.file}: ${(err as Error).message}`, { cause: err });
        }
      }
      let holder = NaN;
      try {
        holder = Number.parseInt(fs.readFileSync(lock.file, 'utf8').trim(), 10);
      } catch {
        // Vanished or unreadable between our create and read: try again.
      }
      if (holder !== process.pid && pidAlive(holder)) {
        throw new StoreError('STORE_LOCKED', abs,
          `store directory ${abs} is locked by running process ${holder} (lock file ${lock.file}); stop that broker or use another data dir`);
      }
      try {
        fs.unlinkSync(lock.file); // stale: its owner is gone
      } catch {
        // Someone else removed it first; the exclusive create decides who wins.
      }
    }
    throw new StoreError('STORE_LOCKED', abs, `could not claim the lock file ${lock.file} (another process keeps taking it)`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.dir);
    try {
      if (fs.readFileSync(this.file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(this.file);
    } catch {
      // Already gone: nothing to release.
    }
  }
}
