/**
 * A corpus of Parquet files from other writers than prefrank's own, with the same rows in each:
 * DuckDB's C++ writer (every codec it writes, data pages v1 and v2, small row groups) and arrow-rs
 * through parquet-wasm (every codec, writer versions 1.0 and 2.0, the non-dictionary encodings for
 * strings, integers and floats, many small pages, LargeUtf8 columns). pyarrow and Spark are not on
 * these machines; these two writers cover the codecs and encodings their files use.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Float64, Int64, LargeUtf8, Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { DuckDb } from '../../src/runtime/io/DuckDb.js';
import { hhRows, writeJsonl } from './badInputs.js';

export interface ForeignFile {
  readonly name: string;
  /** Set when the file is valid but cannot be read here; the part must fail with this line. */
  readonly fails?: RegExp;
}

/** The rows every file holds: HH pairs with an int64 and a float64 pass-through column. */
export function foreignRows(n: number): { chosen: string; rejected: string; n: number; score: number }[] {
  return hhRows()
    .slice(0, n)
    .map((r, i) => ({ chosen: r.chosen, rejected: r.rejected, n: i, score: i / 7 }));
}

/**
 * Writes `reference.jsonl` (the rows as JSON lines) and the Parquet files into `dir`; returns the
 * Parquet files with what reading each must give.
 */
export async function writeForeignCorpus(dir: string, rows = 120): Promise<ForeignFile[]> {
  const data = foreignRows(rows);
  writeJsonl(join(dir, 'reference.jsonl'), data);
  const files: ForeignFile[] = [];
  {
    await using db = await DuckDb.open({ threads: 1 });
    for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd', 'brotli', 'lz4_raw'])
      for (const version of ['V1', 'V2']) {
        const name = `duckdb-${codec}-${version}.parquet`;
        await db.exec(
          `COPY (SELECT chosen, rejected, n::BIGINT AS n, score::DOUBLE AS score FROM read_json('${join(dir, 'reference.jsonl')}') ORDER BY n)
           TO '${join(dir, name)}' (FORMAT parquet, COMPRESSION ${codec}, PARQUET_VERSION ${version}, ROW_GROUP_SIZE 50)`,
        );
        files.push({ name });
      }
  }
  const table = (large: boolean) =>
    new Table({
      chosen: vectorFromArray(data.map((r) => r.chosen), large ? new LargeUtf8() : new Utf8()),
      rejected: vectorFromArray(data.map((r) => r.rejected), large ? new LargeUtf8() : new Utf8()),
      n: vectorFromArray(data.map((r) => BigInt(r.n)), new Int64()),
      score: vectorFromArray(data.map((r) => r.score), new Float64()),
    });
  const arrowRs = (name: string, props: pw.WriterPropertiesBuilder, large = false, fails?: RegExp) => {
    writeFileSync(join(dir, name), pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(table(large), 'stream')), props.build()));
    files.push(fails ? { name, fails } : { name });
  };
  const C = pw.Compression;
  const codecs = { uncompressed: C.UNCOMPRESSED, snappy: C.SNAPPY, gzip: C.GZIP, brotli: C.BROTLI, zstd: C.ZSTD, lz4raw: C.LZ4_RAW };
  for (const [codec, value] of Object.entries(codecs))
    for (const version of ['V1', 'V2'] as const) arrowRs(`arrowrs-${codec}-${version}.parquet`, new pw.WriterPropertiesBuilder().setCompression(value).setWriterVersion(pw.WriterVersion[version]));
  const E = pw.Encoding;
  for (const [encoding, value] of Object.entries({ plain: E.PLAIN, deltalength: E.DELTA_LENGTH_BYTE_ARRAY, deltabyte: E.DELTA_BYTE_ARRAY }))
    arrowRs(
      `arrowrs-encoding-${encoding}.parquet`,
      new pw.WriterPropertiesBuilder()
        .setDictionaryEnabled(false)
        .setWriterVersion(pw.WriterVersion.V2)
        .setColumnEncoding('chosen', value)
        .setColumnEncoding('rejected', value)
        .setColumnEncoding('n', E.DELTA_BINARY_PACKED)
        .setColumnEncoding('score', E.BYTE_STREAM_SPLIT),
    );
  arrowRs('arrowrs-small-pages.parquet', new pw.WriterPropertiesBuilder().setDataPageSizeLimit(512).setDictionaryPageSizeLimit(1024).setMaxRowGroupSize(40));
  arrowRs('arrowrs-largeutf8.parquet', new pw.WriterPropertiesBuilder(), true);
  // The deprecated Hadoop-framed LZ4 (what Spark's `lz4` writes): valid, but DuckDB has no reader for it.
  arrowRs('arrowrs-lz4hadoop.parquet', new pw.WriterPropertiesBuilder().setCompression(C.LZ4), false, /^error: shard \d+ failed: arrowrs-lz4hadoop\.parquet: not a readable Parquet file: .*Unsupported compression codec "LZ4".*rewrite it with another codec/m);
  return files.sort((a, b) => (a.name < b.name ? -1 : 1));
}
