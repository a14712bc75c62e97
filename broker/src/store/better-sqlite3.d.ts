/**
 * The slice of better-sqlite3's API the store uses. The package ships no types and
 * @types/better-sqlite3 is not a dependency; this keeps the store strictly typed without it.
 */
declare module 'better-sqlite3' {
  namespace Database {
    interface RunResult { changes: number; lastInsertRowid: number | bigint }
    interface Statement<P extends unknown[] = unknown[], R = unknown> {
      run(...params: P): RunResult;
      get(...params: P): R | undefined;
      all(...params: P): R[];
      iterate(...params: P): IterableIterator<R>;
      pluck(on?: boolean): this;
      raw(on?: boolean): this;
    }
    interface Options { readonly?: boolean; fileMustExist?: boolean; timeout?: number }
    interface Database {
      prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): Statement<P, R>;
      exec(sql: string): this;
      pragma(sql: string, opts?: { simple?: boolean }): unknown;
      transaction<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T;
      close(): this;
      readonly open: boolean;
      readonly inTransaction: boolean;
    }
  }
  interface DatabaseConstructor {
    new (file: string, options?: Database.Options): Database.Database;
  }
  const Database: DatabaseConstructor;
  export default Database;
}
