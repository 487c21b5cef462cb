/**
 * A small owner of one in-memory DuckDB database and one connection (@duckdb/node-api), for the
 * analysis commands. Opened by an async factory, closed once with `await using`.
 *
 * Values are always bound as named parameters ($name), never spliced into SQL text. Identifiers and
 * file paths that must appear in DDL (a view over files cannot take parameters) go through
 * `quoteIdent` / `quoteLiteral`.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBResultReader, type DuckDBValue, type Json, type JS } from '@duckdb/node-api';

export type SqlParams = Readonly<Record<string, DuckDBValue>>;

export interface DuckDbOptions {
  /** Worker threads; DuckDB's default is the number of cores. */
  readonly threads?: number;
  /** e.g. '2GB'; DuckDB's default is 80% of RAM. */
  readonly memoryLimit?: string;
  /** Whether DuckDB may load an extension already installed on this machine when a query needs one (its default: yes). */
  readonly autoloadExtensions?: boolean;
}

/** A DuckDB error, its message cut to the part a user needs (DuckDB appends "LINE n: ..." carets). */
export class DuckDbError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DuckDbError';
  }
}

/** Rows of a result, with the column names in order. */
export interface QueryResult<V> {
  readonly columns: readonly string[];
  /** DuckDB type names per column (e.g. 'VARCHAR', 'FLOAT'), for formatting. */
  readonly types: readonly string[];
  /** One array per row, values in column order (so duplicate column names survive). */
  readonly rows: readonly (readonly V[])[];
  /** False when the read stopped at a row limit and more rows remain. */
  readonly complete: boolean;
}

export function cleanDuckDbMessage(message: string): string {
  // DuckDB's messages end with a "LINE 1: ..." excerpt and a caret line; they do not fit one line.
  const cut = message.replace(/^Failed to extract statements: /, '').split(/\n\s*\nLINE \d+:|\nLINE \d+:/)[0];
  return cut.replace(/\s*\n\s*/g, ' ').trim();
}

function wrap(err: unknown): DuckDbError {
  const msg = (err as Error)?.message ?? String(err);
  return new DuckDbError(cleanDuckDbMessage(msg), { cause: err });
}

/** A double-quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A single-quoted SQL string literal (used only where DuckDB takes no parameter: DDL, COPY TO). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new DuckDbError('a string literal cannot hold a NUL character');
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The settings of every DuckDB instance prefrank opens (this class, the Parquet reader and encoder
 * workers): extensions are never downloaded (no network at run time).
 */
export function instanceConfig(options: DuckDbOptions = {}): Record<string, string> {
  const config: Record<string, string> = { autoinstall_known_extensions: 'false' };
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`threads must be a positive integer, got ${options.threads}`);
    config.threads = String(options.threads);
  }
  if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
  if (options.autoloadExtensions !== undefined) config.autoload_known_extensions = String(options.autoloadExtensions);
  return config;
}

export class DuckDb implements AsyncDisposable {
  private closed = false;
  /** Queries in flight: closing under one crashes the native side (bad_weak_ptr, then SIGSEGV). */
  private readonly pending = new Set<Promise<unknown>>();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  /** Opens an in-memory database (instanceConfig). */
  static async open(options: DuckDbOptions = {}): Promise<DuckDb> {
    const config = instanceConfig(options);
    const instance = await DuckDBInstance.create(':memory:', config).catch((e) => Promise.reject(wrap(e)));
    try {
      return new DuckDb(instance, await instance.connect());
    } catch (e) {
      instance.closeSync();
      throw wrap(e);
    }
  }

  /** Runs one call on the connection, tracked so that dispose can wait for it. */
  private async use<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.closed) throw new DuckDbError('the database is closed');
    const p = fn(this.connection);
    this.pending.add(p);
    try {
      return await p;
    } catch (e) {
      throw wrap(e);
    } finally {
      this.pending.delete(p);
    }
  }

  /** Runs a statement and drops its result (DDL, COPY). */
  async exec(sql: string, params?: SqlParams): Promise<void> {
    await this.use((c) => c.run(sql, params as Record<string, DuckDBValue> | undefined));
  }

  /** Creates (or replaces) a view. */
  async createView(qualifiedName: string, selectSql: string): Promise<void> {
    await this.exec(`CREATE OR REPLACE VIEW ${qualifiedName} AS ${selectSql}`);
  }

  /** How many statements the text holds (the `sql` command takes exactly one). */
  async statementCount(sql: string): Promise<number> {
    return this.use(async (c) => (await c.extractStatements(sql)).count);
  }

  /** The named parameters a single statement uses, in order of first use (`$min` gives 'min'). */
  async parameterNames(sql: string): Promise<string[]> {
    return this.use(async (c) => {
      const prepared = await c.prepare(sql);
      try {
        const names: string[] = [];
        for (let i = 1; i <= prepared.parameterCount; i++) names.push(prepared.parameterName(i));
        return names;
      } finally {
        prepared.destroySync();
      }
    });
  }

  /**
   * Reads at most `maxRows` rows of the query (all when infinite); values are converted to
   * JSON-safe values (BIGINT as string). `complete` is false when the result has more rows.
   *
   * Not through a streaming result: DuckDB's C API ends a stream that fails partway (a damaged
   * Parquet page after the first chunks) exactly as it ends a finished one, and @duckdb/node-api
   * does not read the error, so `SELECT * FROM pairs` over a damaged shard printed its first
   * 88,064 of 100,000 rows as the whole result and exited 0. A materialized result reports the
   * error; the query is wrapped in `LIMIT maxRows + 1`, so DuckDB stops scanning there and memory
   * stays bounded by the rows asked for (a repeated column name gets DuckDB's `_1` suffix). A
   * statement that cannot be a subquery (PRAGMA, EXPLAIN, several statements) is streamed as before,
   * without that check.
   */
  async readJson(sql: string, params?: SqlParams, maxRows = Number.POSITIVE_INFINITY): Promise<QueryResult<Json>> {
    return this.use(async (c) => {
      const values = params as Record<string, DuckDBValue> | undefined;
      let reader: DuckDBResultReader;
      if (!Number.isFinite(maxRows)) reader = await c.runAndReadAll(sql, values);
      else {
        // Newlines: a trailing -- comment must not swallow the closing parenthesis.
        const limited = `SELECT * FROM (\n${sql.replace(/[\s;]+$/, '')}\n) LIMIT ${maxRows + 1}`;
        try {
          reader = await c.runAndReadAll(limited, values);
        } catch (err) {
          if (!/Parser Error/.test((err as Error).message)) throw err;
          reader = await c.streamAndReadUntil(sql, maxRows + 1, values);
        }
      }
      const columns = reader.columnNames();
      const types = reader.columnTypes().map((t) => t.toString());
      const rows = reader.getRowsJson();
      return { columns, types, rows: rows.slice(0, Number.isFinite(maxRows) ? maxRows : rows.length), complete: rows.length <= maxRows };
    });
  }

  /** Runs a query whose result is small (aggregates) and returns JS values (BIGINT as bigint). */
  async all(sql: string, params?: SqlParams): Promise<Record<string, JS>[]> {
    return this.use(async (c) => (await c.runAndReadAll(sql, params as Record<string, DuckDBValue> | undefined)).getRowObjectsJS());
  }

  /** Closes once every query in flight has settled. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.pending]);
    this.connection.closeSync();
    this.instance.closeSync();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
