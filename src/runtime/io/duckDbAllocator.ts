/**
 * DuckDB's allocator settings. libduckdb carries its own jemalloc, which reads its options once,
 * from DUCKDB_JE_MALLOC_CONF, when the library loads; so they are set here, in this module that
 * imports nothing of DuckDB, and the command line calls it before any command module is loaded
 * (src/cli/main.ts). A value the user set is kept as it is.
 *
 * One arena instead of jemalloc's default of one per core or so. A streaming read's chunks are
 * fetched on whichever libuv thread is free, and jemalloc gives each thread an arena of its own:
 * a Parquet page freed in one arena could not be reused by the next page decoded in another, and
 * stayed resident until its decay (DuckDB sets 1 s). Measured on 1M HH rows as DuckDB writes
 * them by default (2026-12-07), the Parquet reader alone: 632 -> 435 MiB peak RSS (100k rows: 413
 * -> 388); a convert, with the reader's chunk reset (parquetWorker.ts), median of 3 alternating
 * runs against the build before both: 832 -> 712 MiB, and no slower (bench convert, same hour:
 * Parquet 14.2 -> 13.3 s, JSON lines 13.9 -> 13.4 s).
 */

/** The environment variable libduckdb's jemalloc reads its options from. */
export const DUCKDB_MALLOC_CONF_VAR = 'DUCKDB_JE_MALLOC_CONF';

/** prefrank's options for it. */
export const DUCKDB_MALLOC_CONF = 'narenas:1';

/** Sets DuckDB's allocator options in `env` unless the user set them; before DuckDB loads. */
export function configureDuckDbAllocator(env: NodeJS.ProcessEnv = process.env): void {
  env[DUCKDB_MALLOC_CONF_VAR] ??= DUCKDB_MALLOC_CONF;
}
