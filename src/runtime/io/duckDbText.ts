/**
 * DuckDB VARCHAR vectors as UTF-8 bytes (columnBuffer.ts, TextSource), for the Parquet reader
 * (parquetWorker.ts): the bytes go from DuckDB's memory straight into the batch that crosses to the
 * main thread, and the strings are made there, where they are used.
 *
 * Why not @duckdb/node-api's converter: it makes a string per value in the worker (an ArrayBuffer
 * and a TextDecoder call each), which structured clone then copies out and in again. Measured on
 * 1M HH rows (1.39 GB of text, one thread, 2026-12-07): DuckDB's own decoding took 5.0 s, the
 * converter 8.5 s more, copying out the bytes 2.3 s more.
 *
 * A vector's rows are 16-byte string headers (duckdb_string_t): a uint32 length, then the bytes
 * inline when they fit in 12, else a 4-byte prefix and a pointer into DuckDB's memory, which only
 * the binding can read (get_data_from_pointer, one copy per string).
 */
import duckdb from '@duckdb/node-bindings';
import type { DuckDBDataChunk } from '@duckdb/node-api';
import { bitAt } from './bitmaps.js';
import type { TextColumn, TextSource } from './columnBuffer.js';

const HEADER = 16;
const INLINE = 12;

/**
 * Column `column` of a result chunk, a flat VARCHAR vector (as a query result's are). The source
 * holds the chunk: the headers and the strings they point to are DuckDB's until it is freed.
 */
export function textSource(chunk: DuckDBDataChunk, column: number): TextSource {
  const n = chunk.rowCount;
  const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
  const headers = duckdb.vector_get_data(vector, HEADER * n);
  const view = new DataView(headers.buffer, headers.byteOffset, headers.byteLength);
  // Validity: one bit per row in 64-bit words, or nothing when every row is valid.
  const validity = duckdb.vector_get_validity(vector, Math.ceil(n / 64) * 8);
  const isNull = (i: number) => validity !== null && validity !== undefined && bitAt(validity, i) === 0;
  return {
    bytes(from, to) {
      let total = 0;
      for (let i = from; i < to; i++) if (!isNull(i)) total += view.getUint32(HEADER * i, true);
      return total;
    },
    copy(from, to, into: TextColumn, row) {
      void chunk; // the chunk must outlive this source (see above)
      const { utf8, ends, nulls } = into;
      let at = ends[row];
      for (let i = from; i < to; i++, row++) {
        if (isNull(i)) nulls[row] = 1;
        else {
          const h = HEADER * i;
          const len = view.getUint32(h, true);
          if (len <= INLINE) for (let j = 0; j < len; j++) utf8[at + j] = headers[h + 4 + j];
          else utf8.set(duckdb.get_data_from_pointer(headers.buffer as ArrayBuffer, headers.byteOffset + h + 8, len), at);
          at += len;
        }
        ends[row + 1] = at;
      }
    },
  };
}
