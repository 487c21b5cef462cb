/**
 * parquet-wasm's writer settings for prefrank's shards: one definition for the encoder worker
 * (parquetEncoderWorker.ts) and for the schema-only file a writer without rows writes itself.
 */
import * as pw from 'parquet-wasm/node';

export interface ParquetWriterOptions {
  readonly compression: 'zstd' | 'snappy' | 'none';
  /** Rows per row group: large enough for DuckDB's scans to be efficient, small enough for memory. */
  readonly rowGroupRows: number;
  /** key/value metadata stored in the file footer. */
  readonly metadata?: Readonly<Record<string, string>>;
}

const codecs = { zstd: pw.Compression.ZSTD, snappy: pw.Compression.SNAPPY, none: pw.Compression.UNCOMPRESSED } as const;

export function writerProperties(options: ParquetWriterOptions): pw.WriterProperties {
  let props = new pw.WriterPropertiesBuilder()
    .setCompression(codecs[options.compression])
    .setMaxRowGroupSize(options.rowGroupRows)
    // A constant creator string keeps files byte-identical across library patch versions.
    .setCreatedBy('prefrank');
  if (options.metadata) props = props.setKeyValueMetadata(new Map(Object.entries(options.metadata)));
  return props.build();
}
