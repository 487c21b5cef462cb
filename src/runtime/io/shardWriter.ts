/**
 * One writer interface for shard files in either output format, so the shard operators and the
 * part life cycle (partSink) never branch on the format: they ask `openShardWriter`.
 */
import type { Schema, Table } from 'apache-arrow';
import { DEFAULT_OUTPUT_FORMAT, type OutputFormat } from '../../../schemas/layout.js';
import { ArrowWriter } from './ArrowWriter.js';
import { ParquetWriter, type ParquetWriterOptions } from './ParquetWriter.js';

export interface ShardWriterOptions extends ParquetWriterOptions {
  /** The file format; compression and row groups apply to Parquet only. Default parquet. */
  readonly format?: OutputFormat;
}

export interface ShardWriter {
  readonly path: string;
  readonly schema: Schema;
  rows: number;
  write(table: Table): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

export function openShardWriter(path: string, schema: Schema, options: ShardWriterOptions): ShardWriter {
  return (options.format ?? DEFAULT_OUTPUT_FORMAT) === 'arrow' ? new ArrowWriter(path, schema, options.metadata) : new ParquetWriter(path, schema, options);
}
