/**
 * The settings of prefrank's Parquet shards, and the DuckDB `COPY ... TO` options that write them:
 * one definition for the encoder worker (parquetEncoderWorker.ts).
 */
import { quoteIdent, quoteLiteral } from './DuckDb.js';

export interface ParquetWriterOptions {
  readonly compression: 'zstd' | 'snappy' | 'none';
  /** Rows per row group, at most (ROW_GROUP_BYTES ends one sooner): large enough for DuckDB's scans to be efficient. */
  readonly rowGroupRows: number;
  /** key/value metadata stored in the file footer. */
  readonly metadata?: Readonly<Record<string, string>>;
}

const codecs = { zstd: 'zstd', snappy: 'snappy', none: 'uncompressed' } as const;

/**
 * A row group also ends at this much data in DuckDB's writer, which holds a row group's rows
 * uncompressed until it writes them: the writer's memory is bounded by bytes, not by rowGroupRows
 * rows of whatever length (a feature row of a 7B model tapped at every layer is 512 KiB). HH pairs
 * come to 16,384 rows a row group (8 chunks of 2,048). Measured (convert of 100k and 1M JSON lines of HH pairs,
 * 2026-12-07, one run each), peak RSS: 8 MiB 289 -> 353 MiB, 16 MiB 274 -> 335, 32 MiB 334 -> 431,
 * 64 MiB 385 -> 578; parquet-wasm's writer, before, 412 -> 483.
 */
export const ROW_GROUP_BYTES = '16MiB';

/**
 * The encoder's DuckDB settings. Insertion order need not be "preserved" because the encoder has
 * one thread and one source, so rows keep their order anyway; only without it does DuckDB honour
 * ROW_GROUP_SIZE_BYTES. The allocator thresholds make DuckDB hand freed row groups back to the
 * system sooner (1M-row JSON lines convert, peak RSS 569-733 MiB with DuckDB's defaults of 128 and
 * 512 MiB, 507-537 MiB with these).
 */
export const ENCODER_SETTINGS = `SET preserve_insertion_order = false; SET allocator_flush_threshold = '64MiB'; SET allocator_bulk_deallocation_flush_threshold = '64MiB'`;

/** `'file' (FORMAT parquet, ...)`: the target and options of the encoder's COPY. */
export function copyOptions(file: string, options: ParquetWriterOptions): string {
  const settings = [`FORMAT parquet`, `COMPRESSION ${codecs[options.compression]}`, `ROW_GROUP_SIZE ${options.rowGroupRows}`, `ROW_GROUP_SIZE_BYTES '${ROW_GROUP_BYTES}'`];
  const kv = Object.entries(options.metadata ?? {});
  if (kv.length) settings.push(`KV_METADATA {${kv.map(([k, v]) => `${quoteIdent(k)}: ${quoteLiteral(v)}`).join(', ')}}`);
  return `${quoteLiteral(file)} (${settings.join(', ')})`;
}
