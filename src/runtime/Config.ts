/**
 * The run's configuration: parsed once from flags, frozen, and handed to pipelines, which give each
 * operator only its slice. `configHash` covers exactly what decides the output bytes, so a rerun
 * with the same hash may resume and one with another hash is refused.
 */
import { createHash } from 'node:crypto';
import type { AdaptOptions } from '../../schemas/adapters.js';
import { DEFAULT_OUTPUT_FORMAT } from '../../schemas/layout.js';
import type { ValidateOptions } from '../../schemas/validate.js';
import type { ShardWriterOptions } from './io/shardWriter.js';
import type { ReadOptions } from './io/readers.js';

export interface IoConfig {
  readonly inputs: readonly string[];
  readonly outDir: string;
  readonly split: string;
  readonly read: ReadOptions;
  readonly adapt: AdaptOptions;
  readonly validate: ValidateOptions;
  readonly write: ShardWriterOptions;
  /** Batches in flight per part (flow control). */
  readonly window: number;
  /** Parquet files above this many rows are split into several parts (shards). */
  readonly partRows: number;
  /**
   * Plain JSON lines files above this many bytes are split into parts of about this size. Not in
   * ioSettings: the plan it makes is hashed (planKey), so a value that splits no file changes nothing.
   */
  readonly partBytes: number;
  readonly rank: number;
  readonly worldSize: number;
  readonly overwrite: boolean;
  /** A finished run with more rejected input rows than this share (or no output) ends non-zero. */
  readonly maxRejectRate: number;
  /** Without a terminal: seconds between progress lines in the log (0: none). Not part of the config hash. */
  readonly progressInterval: number;
}

/** Stable JSON: keys sorted at every level, so equal settings hash equally. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

export function hashConfig(settings: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(stableJson(settings)).digest('hex').slice(0, 16);
}

/** The IO settings that decide output bytes (not the output folder, rank or world size). */
export function ioSettings(c: IoConfig): Record<string, unknown> {
  // The output format only when it is not the default: a Parquet run keeps the hash it had before
  // the flag existed, so folders written then still resume.
  const outputFormat = c.write.format && c.write.format !== DEFAULT_OUTPUT_FORMAT ? { outputFormat: c.write.format } : {};
  return { split: c.split, format: c.adapt.format, pkuChoice: c.adapt.pkuChoice, batchRows: c.read.batchRows, maxRowBytes: c.read.maxRowBytes, maxTextChars: c.validate.maxTextChars, compression: c.write.compression, rowGroupRows: c.write.rowGroupRows, partRows: c.partRows, ...outputFormat };
}
