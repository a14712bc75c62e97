/**
 * Errors the store raises. Each carries a code so the broker (and an operator reading logs)
 * can tell a refused directory from a damaged file from a full disk; messages name the path.
 */

export type StoreErrorCode =
  | 'STORE_OPEN_FAILED'   // the directory or file cannot be created/opened (permissions, not a directory…)
  | 'STORE_CORRUPT'       // the file is not a store or fails its integrity check
  | 'STORE_LOCKED'        // another running process holds the directory
  | 'STORE_DISK_FULL'     // a commit failed because the disk (or maxBytes) is full
  | 'STORE_WRITE_FAILED'  // a commit failed for another reason (I/O error)
  | 'STORE_CLOSED'        // the store was used after close()
  | 'STORE_INVALID_KEY';  // a namespace or key the store cannot hold

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /** The file or directory concerned. */
  readonly path: string;
  constructor(code: StoreErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
    this.path = path;
  }
}
