/**
 * DuckDB's allocator settings. libduckdb carries its own jemalloc, which reads its options once,
 * from DUCKDB_JE_MALLOC_CONF, when the library loads; so they are set here, in this module that
 * imports nothing of DuckDB, and the command line calls it before any command module is loaded
 * (src/cli/main.ts). A value the user set is kept as it is.
 *
 * One arena, where DuckDB asks jemalloc for about one per core (2 on a 2-core machine). A streaming
 * read's chunks are fetched on whichever libuv thread is free, and jemalloc spreads threads over
 * its arenas: a Parquet page freed in one arena could not be reused by the next page decoded in
 * another, and stayed resident until its decay (DuckDB sets 1 s). Measured on 1M HH rows as
 * DuckDB writes them by default (2026-12-07), the Parquet reader alone: 632 -> 435 MiB peak RSS
 * (100k rows: 413 -> 388); a convert, with the reader's chunk reset (parquetWorker.ts), median of
 * 3 alternating runs against the build before both: 832 -> 712 MiB, and no slower (bench convert,
 * same hour: Parquet 14.2 -> 13.3 s, JSON lines 13.9 -> 13.4 s).
 *
 * Not for the analysis commands: their queries run on every core, where one arena could make the
 * threads wait on each other, and they stream nothing through JS (`stats`, `report` and two `sql`
 * queries over 1M pairs took the same time and memory either way, on 2 cores).
 */

/** The environment variable libduckdb's jemalloc reads its options from. */
export const DUCKDB_MALLOC_CONF_VAR = 'DUCKDB_JE_MALLOC_CONF';

/** prefrank's options for it. */
export const DUCKDB_MALLOC_CONF = 'narenas:1';

/** The commands whose DuckDB runs analysis queries (src/cli/commands/): DuckDB's own settings. */
const ANALYSIS_COMMANDS: ReadonlySet<string> = new Set(['sql', 'stats', 'report']);

/**
 * Sets DuckDB's allocator options in `env` for `command` (the command line's first word), unless
 * the user set them; to be called before DuckDB loads.
 */
export function configureDuckDbAllocator(command: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if (command !== undefined && ANALYSIS_COMMANDS.has(command)) return;
  env[DUCKDB_MALLOC_CONF_VAR] ??= DUCKDB_MALLOC_CONF;
}
