// The package ships no types and @types/better-sqlite3 is not installed: the small surface the store uses.
declare module 'better-sqlite3' {
  namespace Database {
    interface RunResult {
      changes: number;
      lastInsertRowid: number | bigint;
    }
    interface Statement<P extends unknown[] = unknown[], R = unknown> {
      run(...params: P): RunResult;
      get(...params: P): R | undefined;
      all(...params: P): R[];
      iterate(...params: P): IterableIterator<R>;
      pluck(on?: boolean): this;
    }
    interface Transaction<F extends (...args: never[]) => unknown> {
      (...args: Parameters<F>): ReturnType<F>;
      deferred(...args: Parameters<F>): ReturnType<F>;
      immediate(...args: Parameters<F>): ReturnType<F>;
      exclusive(...args: Parameters<F>): ReturnType<F>;
    }
    interface Options {
      readonly?: boolean;
      fileMustExist?: boolean;
      timeout?: number;
      verbose?: (message?: unknown) => void;
    }
    interface Database {
      readonly open: boolean;
      readonly inTransaction: boolean;
      readonly name: string;
      readonly readonly: boolean;
      prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): Statement<P, R>;
      exec(sql: string): this;
      pragma(sql: string, options?: { simple?: boolean }): unknown;
      transaction<F extends (...args: never[]) => unknown>(fn: F): Transaction<F>;
      close(): this;
    }
  }
  interface DatabaseConstructor {
    new (filename: string, options?: Database.Options): Database.Database;
    (filename: string, options?: Database.Options): Database.Database;
  }
  const Database: DatabaseConstructor;
  export = Database;
}
